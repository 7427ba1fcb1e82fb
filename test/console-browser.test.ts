import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_ALERT, eventually, launchChromium, startConsoleWorld } from './helpers/console.ts';

test('the console in headless Chromium: latency chart with data, the firing alert with its runbook, nothing fetched outside 127.0.0.1', { timeout: 120_000 }, async (t) => {
  const world = await startConsoleWorld();
  t.after(() => world.close());
  const chrome = await launchChromium();
  t.after(() => chrome.close());
  const page = await chrome.context.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  await page.goto(world.console.url);
  await page.locator('[data-panel="llmwatch-overview/latency"]').waitFor();
  assert.equal(await page.locator('.panel').count() > 30, true, 'every dashboard panel is drawn');

  // Traffic through the gateway, then wait (bounded) for Prometheus to scrape and record it,
  // reloading the range picker each round rather than waiting for the 10 s refresh.
  await world.traffic(5);
  await eventually('the latency chart shows data', async () => {
    await world.traffic(1);
    await page.selectOption('#range', '900');
    const state = await page.locator('[data-panel="llmwatch-overview/latency"]').getAttribute('data-state');
    return state === 'data' ? state : undefined;
  }, 40_000);
  const latency = page.locator('[data-panel="llmwatch-overview/latency"]');
  assert.equal(await latency.locator('canvas').count(), 1);
  assert.match(await latency.locator('.u-legend').innerText(), /P95 llama-3\.1-8b-instruct/);

  // The model selector lists the model seen in traffic.
  await eventually('the model selector', async () => ((await page.locator('#var-model option').allInnerTexts()).includes('llama-3.1-8b-instruct') ? true : undefined));

  const row = page.locator(`#alerts tr[data-alert="${TEST_ALERT.name}"][data-state="firing"]`);
  await row.waitFor({ timeout: 30_000 });
  assert.equal(await row.locator('a.runbook').getAttribute('href'), TEST_ALERT.runbookURL);
  assert.match(await page.locator('#alertmanager-alerts').innerText(), new RegExp(TEST_ALERT.name));

  // No drill has run in this world: the section says how to run one.
  assert.match(await page.locator('#drills-body').innerText(), /No drill yet: run llmwatch drill all/);
  assert.match(await page.locator('#noise-body').innerText(), /No alert noise here: the console was started without a stack\./);

  // A panel with no series says so.
  assert.equal(await page.locator('[data-panel="llmwatch-hosts/gpu-memory"]').getAttribute('data-state'), 'nodata');
  assert.match(await page.locator('[data-panel="llmwatch-hosts/gpu-memory"] .note').innerText(), /no data yet/);
  assert.equal(await page.locator('#banner').isHidden(), true);

  assert.deepEqual(pageErrors, []);
  const outside = requested.filter((u) => new URL(u).hostname !== '127.0.0.1');
  assert.deepEqual(outside, [], 'the page requests nothing outside 127.0.0.1');
});

test('the console in headless Chromium: Prometheus unreachable shows a banner', { timeout: 60_000 }, async (t) => {
  const world = await startConsoleWorld();
  t.after(() => world.close());
  const chrome = await launchChromium({ width: 390, height: 844 });
  t.after(() => chrome.close());
  const page = await chrome.context.newPage();
  await world.prom.close();
  await page.goto(world.console.url);
  await page.locator('#banner').waitFor({ state: 'visible', timeout: 20_000 });
  assert.match(await page.locator('#banner').innerText(), /Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable/);
  await page.locator('[data-panel="llmwatch-overview/latency"][data-state="error"]').waitFor();
  // Phone width: one column, each panel as wide as the grid.
  const widths = await page.locator('#llmwatch-overview .grid').first().evaluate((g) => [g.clientWidth, ...[...g.children].map((c) => (c as HTMLElement).offsetWidth)]);
  for (const w of widths.slice(1)) assert.equal(w, widths[0]);
});
