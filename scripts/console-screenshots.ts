// Screenshots of `llmwatch console` during a latency drill, for docs/images/.
// Starts a whole local stack on free ports (CI timings), drives traffic,
// slows the drill model's time to first token to 2.5 s, waits until
// HighInferenceLatency fires and the responder switches the model, then
// captures the page at desktop and phone width.
//   npx tsx scripts/console-screenshots.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startStack } from '../src/stack/stack.ts';
import { compressedTimings } from '../src/stack/timings.ts';
import { launchChromium } from '../test/helpers/console.ts';

const OUT = resolve(import.meta.dirname, '../docs/images');
const dir = mkdtempSync(join(tmpdir(), 'llmwatch-shots-'));
const stack = await startStack({ dir, ports: 'free', timings: compressedTimings(), log: (line) => console.log(line) });
const { urls, drillModel, fallbackModel } = stack.info;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let running = true;

async function client(model: string, stream: boolean): Promise<void> {
  while (running) {
    await fetch(`${urls.gateway}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Summarise the incident.' }], max_tokens: 24, stream }),
    })
      .then((r) => r.arrayBuffer())
      .catch(() => undefined);
    await sleep(150);
  }
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(500);
  }
}

const chrome = await launchChromium({ width: 1440, height: 900 });
try {
  // Streamed requests too: time to first token is measured on streams.
  const clients = [client(drillModel, true), client(drillModel, false), client(drillModel, true), client(fallbackModel, true)];
  console.log('baseline traffic for 45 s');
  await sleep(45_000);
  console.log(`latency spike: ${drillModel} time to first token 2.5 s`);
  await fetch(`${urls.simulator}/admin/profiles/${encodeURIComponent(drillModel)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ttftMs: 2500 }),
  });
  await until(
    'HighInferenceLatency firing and the responder acting',
    async () => {
      const { actions } = (await (await fetch(`${urls.responder}/actions?alertname=HighInferenceLatency`)).json()) as { actions: unknown[] };
      return actions.length > 0;
    },
    90_000,
  );
  await sleep(6_000);

  const page = await chrome.context.newPage();
  await page.goto(urls.console);
  await page.selectOption('#range', '300');
  await page.locator('[data-panel="llmwatch-overview/latency"][data-state="data"]').waitFor({ timeout: 20_000 });
  await page.locator('#alerts tr[data-alert="HighInferenceLatency"]').waitFor({ timeout: 20_000 });
  await sleep(1_000);
  await page.screenshot({ path: join(OUT, 'console-overview.png'), fullPage: false });
  console.log(`wrote ${join(OUT, 'console-overview.png')}`);

  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(1_000);
  // The top of the page down to the latency charts: alerts, the at-a-glance numbers, latency.
  await page.screenshot({ path: join(OUT, 'console-phone.png'), fullPage: true, clip: { x: 0, y: 0, width: 390, height: 1500 } });
  console.log(`wrote ${join(OUT, 'console-phone.png')}`);
  running = false;
  await Promise.all(clients);
} finally {
  running = false;
  await chrome.close();
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
