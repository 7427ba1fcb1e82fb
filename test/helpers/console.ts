import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { startConsole } from '../../src/console/server.ts';
import type { ConsoleHandle } from '../../src/console/server.ts';
import { ResponderConfigSchema } from '../../src/core/config/responder-config.ts';
import { monitoringSpec } from '../../src/core/config/monitoring-spec.ts';
import { validateConfig } from '../../src/core/config/validate.ts';
import { buildModel } from '../../src/monitoring/build.ts';
import { buildDashboards } from '../../src/monitoring/dashboards/build.ts';
import { generate, writeGenerated } from '../../src/monitoring/generate.ts';
import { startResponder } from '../../src/responder/server.ts';
import type { ResponderHandle } from '../../src/responder/server.ts';
import { startAlertmanager } from './alertmanager.ts';
import type { Alertmanager } from './alertmanager.ts';
import { startPrometheus } from './prometheus.ts';
import type { Prometheus } from './prometheus.ts';
import { MODEL, startPair } from './stack.ts';
import type { Pair } from './stack.ts';

/** The always-firing alert the console tests look for, with its runbook link. */
export const TEST_ALERT = { name: 'ConsoleTestAlwaysFiring', runbookURL: 'http://127.0.0.1:9/runbooks/ConsoleTestAlwaysFiring.md' } as const;

/** A running set for the console: gateway+simulator, the real Prometheus (generated rules plus one always-firing alert), Alertmanager, the responder, and the console over them. */
export interface ConsoleWorld {
  readonly pair: Pair;
  readonly prom: Prometheus;
  readonly am: Alertmanager;
  readonly responder: ResponderHandle;
  readonly console: ConsoleHandle;
  /** Sends `n` chat requests through the gateway. */
  traffic(n: number, model?: string): Promise<void>;
  /** Merges a partial profile over the simulator's (`PUT /admin/profiles/{model}`), e.g. `{ ttftMs: 1500 }`. */
  profile(patch: Record<string, unknown>, model?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a {@link ConsoleWorld} with a 10 s rate window so the recorded
 * latency series appear within seconds of the first requests.
 */
export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-console-'));
  const stops: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const spec = monitoringSpec({ rateWindow: '10s', prometheus: { scrapeInterval: '1s', evaluationInterval: '1s' } });
    writeGenerated(dir, generate(spec));
    writeFileSync(
      join(dir, 'prometheus/rules/console-test.yml'),
      [
        'groups:',
        '  - name: console-test',
        '    rules:',
        `      - alert: ${TEST_ALERT.name}`,
        '        expr: vector(1) > 0',
        '        labels: { severity: warning }',
        `        annotations: { summary: "always firing (console test)", runbook_url: "${TEST_ALERT.runbookURL}" }`,
        '',
      ].join('\n'),
    );
    const pair = await startPair();
    stops.push(() => pair.close());
    const am = await startAlertmanager('route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n');
    stops.push(() => am.close());
    const prom = await startPrometheus(
      [new URL(pair.gw.url).host],
      `rule_files: ["${join(dir, 'prometheus/rules')}/*.yml"]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["${new URL(am.url).host}"]\n`,
    );
    stops.push(() => prom.close());
    const tokenFile = join(dir, 'responder-token');
    writeFileSync(tokenFile, 'console-test-responder-token-0123456789\n');
    const responder = await startResponder(
      validateConfig(ResponderConfigSchema, {
        port: 0,
        auth: { tokenFile },
        auditPath: join(dir, 'audit.db'),
        prometheusURL: prom.url,
        gateway: { url: pair.gw.url, adminToken: 'console-test-admin-token-0123456789' },
        playbooks: {},
      }),
      { port: 0 },
    );
    stops.push(() => responder.close());
    const handle = await startConsole({
      prometheus: prom.url,
      alertmanager: am.url,
      responder: responder.url,
      responderToken: 'console-test-responder-token-0123456789',
      dashboards: buildDashboards(buildModel(spec)),
      port: 0,
    });
    stops.push(() => handle.close());
    return {
      pair,
      prom,
      am,
      responder,
      console: handle,
      traffic: async (n, model = MODEL) => {
        for (let i = 0; i < n; i++) await pair.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      },
      profile: async (patch, model = MODEL) => {
        const res = await fetch(`${pair.simURL}/admin/profiles/${encodeURIComponent(model)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
        if (!res.ok) throw new Error(`simulator profile: HTTP ${res.status} ${await res.text()}`);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Polls `check` every 250 ms until it returns a value, for at most `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A headless Debian Chromium (`apt-get install chromium`) with a fresh profile, driven by playwright-core. */
export async function launchChromium(viewport = { width: 1400, height: 900 }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'llmwatch-chromium-'));
  // A persistent context is how playwright takes a user data dir of our choosing: a fresh one per launch.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
