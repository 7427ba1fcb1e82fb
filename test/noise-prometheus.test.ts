import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { renderAlertmanager } from '../src/monitoring/writers/alertmanager.ts';
import { SqliteAuditStore } from '../src/responder/audit-store.ts';
import { startConsole } from '../src/console/server.ts';
import type { NoiseReport } from '../src/stack/noise.ts';
import { stackNoiseSource } from '../src/stack/noise-report.ts';
import { freePort } from './helpers/processes.ts';
import { startPrometheus } from './helpers/prometheus.ts';

// `llmwatch noise` against a real Prometheus with a known alert history: the test drives a small
// exporter whose gauges fire and resolve alerting rules on a schedule it controls (each change
// waits until Prometheus shows it, bounded), then runs the real CLI over that range through the
// generated Alertmanager config, with and without the noise-reduction rules (docs/noise.md).

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

/** Rules like the generated ones (summed per model, the generated labels), each fired by one gauge. */
const RULES = {
  groups: [
    {
      name: 'noise-test',
      rules: [
        { alert: 'ModelServerUnreachable', expr: 'sum by (model) (noise_signal{signal="unreachable"}) > 0', labels: { severity: 'critical', service: 'openllm', upstream: 'vllm' } },
        { alert: 'HighErrorRate', expr: 'sum by (model) (noise_signal{signal="errors"}) > 0', labels: { severity: 'critical', service: 'openllm' } },
        { alert: 'HighTimeToFirstToken', expr: 'sum by (model) (noise_signal{signal="ttft"}) > 0', labels: { severity: 'critical', service: 'openllm' } },
        { alert: 'HighInferenceLatency', expr: 'sum by (model) (noise_signal{signal="latency"}) > 0', labels: { severity: 'warning', service: 'openllm' } },
      ],
    },
  ],
};

/** groupWait 1s: the test's alerts fire for seconds, not the default 30 s a group waits before notifying. */
const PAGER = { groupWait: '1s', receivers: { oncall: { webhook: [{ url: 'http://127.0.0.1:1/page' }] } }, routes: { critical: ['oncall'] } };

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its end (at most 60 s); in `cwd`, where no llmwatch.yaml is found unless the test puts one. */
async function runCli(args: string[], cwd = tmpdir()): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-noise-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('llmwatch noise on a real Prometheus: a known history, counted; fewer pages with the noise rules than without', { timeout: 240_000 }, async (t) => {
  const dir = tempDir(t);
  // The exporter the test drives: one gauge per signal and model.
  const signals = new Map<string, number>();
  const server = createServer((_req, res) => {
    const lines = [...signals].map(([key, v]) => `noise_signal{${key}} ${v}`);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE noise_signal gauge\n${lines.join('\n')}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const set = (model: string, values: Record<string, number>) => {
    for (const [signal, v] of Object.entries(values)) signals.set(`signal="${signal}",model="${model}"`, v);
  };
  set('m', { unreachable: 0, errors: 0, latency: 0 });
  set('n', { errors: 0, ttft: 0 });
  writeFileSync(join(dir, 'rules.yml'), stringifyYaml(RULES));
  const prom = await startPrometheus([`127.0.0.1:${(server.address() as AddressInfo).port}`], `rule_files:\n  - ${join(dir, 'rules.yml')}\n`);
  t.after(() => prom.close());

  const firing = async (model: string) => (await prom.query(`ALERTS{alertstate="firing",model="${model}"}`)).map((s) => s.metric.alertname!).sort();
  /** Waits (at most 20 s) until exactly these alerts fire for the model. */
  const until = async (model: string, names: string[]) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const now = await firing(model);
      if (JSON.stringify(now) === JSON.stringify([...names].sort())) return;
      if (Date.now() > deadline) assert.fail(`model ${model}: expected ${names.join(',') || 'nothing'} firing, got ${now.join(',') || 'nothing'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** Holds a state over a few evaluations (1 s each), so it spans several steps of the history. */
  const hold = () => new Promise((r) => setTimeout(r, 3000));

  // Prometheus and the exporter are up and scraped (the scrape of all-zero gauges) before the range starts.
  await until('m', []);
  const start = Math.floor(Date.now() / 1000);
  // 1. An outage of model m: its upstream unreachable, and the errors and latency that follow, together.
  set('m', { unreachable: 1, errors: 1, latency: 1 });
  await until('m', ['HighErrorRate', 'HighInferenceLatency', 'ModelServerUnreachable']);
  await hold();
  set('m', { unreachable: 0, errors: 0, latency: 0 });
  await until('m', []);
  await hold();
  // 2. Model n: errors and slow first tokens together, resolved, then errors alone again (a flap).
  set('n', { errors: 1, ttft: 1 });
  await until('n', ['HighErrorRate', 'HighTimeToFirstToken']);
  await hold();
  set('n', { errors: 0, ttft: 0 });
  await until('n', []);
  await hold();
  set('n', { errors: 1 });
  await until('n', ['HighErrorRate']);
  await hold();
  set('n', { errors: 0 });
  await until('n', []);
  await hold();
  const end = Math.ceil(Date.now() / 1000);

  // The config llmwatch generates, per model, and the same without the noise rules of issue 18
  // (no cause inhibitions, grouped per alert): what the routing was before them.
  const generated = parseYaml(renderAlertmanager(buildModel(monitoringSpec({ alertmanager: { ...PAGER, groupBy: 'model' } })))[0]!.content);
  writeFileSync(join(dir, 'with.yml'), stringifyYaml(generated));
  const before = {
    ...generated,
    route: { ...generated.route, group_by: ['alertname', 'service', 'model', 'instance'] },
    // The cause inhibitions: an unreachable or unavailable model, and one served by its fallback (its drift alerts).
    inhibit_rules: generated.inhibit_rules.filter((r: { source_matchers: string[] }) => !/ModelServerUnreachable|ModelUnavailable|ModelServedByFallback/.test(r.source_matchers.join())),
  };
  // What is left: critical over warning, and a down or absent target over what it hides.
  assert.equal(before.inhibit_rules.length, 3);
  writeFileSync(join(dir, 'without.yml'), stringifyYaml(before));

  // What the responder did, in its audit database: one switch for the outage, one skipped.
  const audit = new SqliteAuditStore(join(dir, 'responder.db'));
  const webhookId = audit.recordWebhook({ receivedAt: start * 1000 + 1000, status: 'accepted', body: '{}' });
  const decisionId = audit.recordDecision({
    webhookId,
    at: start * 1000 + 1000,
    fingerprint: 'f1',
    alertname: 'ModelServerUnreachable',
    status: 'firing',
    severity: 'critical',
    tier: 'critical',
    decision: 'act',
    reason: 'playbook ModelServerUnreachable',
    dryRun: false,
  });
  audit.recordAction({ decisionId, action: 'switch-model', target: 'm', startedAt: start * 1000 + 1500, durationMs: 12, outcome: 'success', detail: 'switched' });
  audit.recordAction({ decisionId, step: 1, action: 'notify', target: 'chat', startedAt: start * 1000 + 1600, durationMs: 0, outcome: 'skipped', detail: 'condition false' });
  // An action outside the range is not counted.
  audit.recordAction({ decisionId, step: 2, action: 'notify', target: 'chat', startedAt: (end + 3600) * 1000, durationMs: 0, outcome: 'success', detail: 'later' });
  audit.close();

  const noise = async (config: string): Promise<NoiseReport> => {
    // --dir: an empty folder, so no running stack on this machine is read instead.
    const run = await runCli(['noise', '--dir', dir, '--prometheus', prom.url, '--alertmanager-config', join(dir, config), '--audit', join(dir, 'responder.db'), '--start', String(start), '--end', String(end), '--json']);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as NoiseReport;
  };
  const withRules = await noise('with.yml');
  const without = await noise('without.yml');
  const row = (r: NoiseReport, name: string) => r.alerts.find((a) => a.alertname === name)!;

  // The step is Prometheus' evaluation interval (1 s in the test Prometheus), read from it.
  assert.equal(withRules.stepSeconds, 1);
  assert.deepEqual(withRules.pagers, ['llmwatch-responder', 'oncall']);
  // The history as driven: fired, flaps, firing time of at least the holds.
  assert.equal(row(withRules, 'HighErrorRate').fired, 3);
  assert.equal(row(withRules, 'HighErrorRate').series, 2);
  assert.equal(row(withRules, 'HighErrorRate').flaps, 1);
  assert.equal(row(withRules, 'ModelServerUnreachable').fired, 1);
  assert.equal(row(withRules, 'HighTimeToFirstToken').fired, 1);
  assert.equal(row(withRules, 'HighInferenceLatency').fired, 1);
  assert.ok(row(withRules, 'ModelServerUnreachable').firingSeconds >= 3, JSON.stringify(row(withRules, 'ModelServerUnreachable')));
  assert.deepEqual(row(withRules, 'ModelServerUnreachable').actions, { success: 1, failure: 0, dryRun: 0, skipped: 1, other: 0 });
  assert.deepEqual(withRules.totals.actions, { success: 1, failure: 0, dryRun: 0, skipped: 1, other: 0 });

  // With the noise rules: the outage pages once (its errors and latency are inhibited by the cause),
  // n's errors and slow tokens are one page, the re-fire one more: 3 pages.
  assert.equal(row(withRules, 'HighErrorRate').inhibited, 1);
  assert.equal(row(withRules, 'HighInferenceLatency').inhibited, 1);
  assert.equal(row(withRules, 'HighTimeToFirstToken').grouped, 1);
  assert.equal(row(withRules, 'HighTimeToFirstToken').pages, 0);
  assert.equal(withRules.totals.pages, 3);
  // Without them: every critical alert is its own page: 5.
  assert.equal(without.totals.inhibited, 0);
  assert.equal(without.totals.grouped, 0);
  assert.equal(row(without, 'HighErrorRate').pages, 3);
  assert.equal(without.totals.pages, 5);

  // The terminal table shows the same figures.
  const table = await runCli(['noise', '--dir', dir, '--prometheus', prom.url, '--alertmanager-config', join(dir, 'with.yml'), '--start', String(start), '--end', String(end)]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^pages: notification groups opened on llmwatch-responder, oncall$/m);
  assert.match(table.stdout, /^total +6 +\S+ +1 +2 +0 +1 +3 +[\d.]+$/m);

  // The console's noise page: the same report, from the same inputs, at /api/noise.
  const consoleWith = await startConsole({ prometheus: prom.url, dashboards: [], port: 0, noise: stackNoiseSource(prom.url, join(dir, 'with.yml'), join(dir, 'responder.db')) });
  t.after(() => consoleWith.close());
  const get = async (path: string) => {
    const res = await fetch(`${consoleWith.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const page = await get(`/api/noise?start=${start}&end=${end}`);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  assert.deepEqual(page.body, withRules);
  // `range`: seconds back from now (its end rounded down to 10 s), this history inside it once 10 s have passed.
  await new Promise((r) => setTimeout(r, Math.max(0, end * 1000 + 10_000 - Date.now())));
  const recent = await get('/api/noise?range=3600');
  assert.equal(recent.status, 200, JSON.stringify(recent.body));
  assert.equal((recent.body as unknown as NoiseReport).totals.fired, 6);
  for (const bad of ['range=abc', 'range=10', `range=${8 * 86400}`, 'start=100&end=50', 'start=0&end=9999999999']) {
    const r = await get(`/api/noise?${bad}`);
    assert.equal(r.status, 400, bad);
    assert.equal((r.body.error as { code: string }).code, 'bad_param', bad);
  }
  // Prometheus gone: a 502 naming what failed, and the console keeps serving.
  const closedURL = `http://127.0.0.1:${await freePort()}`;
  const consoleClosed = await startConsole({ prometheus: closedURL, dashboards: [], port: 0, noise: stackNoiseSource(closedURL, join(dir, 'with.yml'), undefined) });
  t.after(() => consoleClosed.close());
  const down = await fetch(`${consoleClosed.url}/api/noise?range=600`);
  assert.equal(down.status, 502);
  assert.match(((await down.json()) as { error: { message: string } }).error.message, /^The alert noise report could not be built: cannot read Prometheus' evaluation interval at /);
  assert.equal((await fetch(`${consoleClosed.url}/api/dashboards`)).status, 200);
  // A console without a noise source says so.
  const consoleNone = await startConsole({ prometheus: prom.url, dashboards: [], port: 0 });
  t.after(() => consoleNone.close());
  const none = await fetch(`${consoleNone.url}/api/noise?range=600`);
  assert.equal(none.status, 404);
  assert.match(((await none.json()) as { error: { message: string } }).error.message, /started without a stack/);
});

test('llmwatch noise: bad flags and unreadable inputs end in one llmwatch: line naming the flag and the fix', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t);
  const closed = `http://127.0.0.1:${await freePort()}`;
  const line = (run: Run) => {
    assert.equal(run.code === 0, false, run.stdout);
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('llmwatch: '));
    assert.equal(lines.length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /^\s+at .+[(:]\d+/m, 'no stack trace');
    return lines[0]!;
  };
  const base = ['noise', '--dir', dir];
  const runCliIn = (args: string[]) => runCli(args, dir);
  assert.equal(line(await runCli([...base, '--since', 'soon'])), "llmwatch: option '--since <duration>' argument 'soon' is invalid. --since must be a duration with one unit, such as 30s, 15m, 6h or 7d");
  assert.equal(line(await runCli([...base, '--flap-window', '10'])), "llmwatch: option '--flap-window <duration>' argument '10' is invalid. --flap-window must be a duration with one unit, such as 30s, 15m, 6h or 7d");
  assert.equal(line(await runCli([...base, '--end', 'yesterday'])), "llmwatch: option '--end <time>' argument 'yesterday' is invalid. a time must be RFC 3339 (2026-12-02T17:00:00Z) or unix seconds");
  assert.equal(line(await runCli([...base, '--pager', 'a,,b'])), "llmwatch: option '--pager <receivers>' argument 'a,,b' is invalid. give receiver names separated by commas, such as oncall,pagerduty");
  assert.match(line(await runCli([...base, '--start', '2026-12-02T10:00:00Z', '--end', '2026-12-02T09:00:00Z'])), /^llmwatch: the range starts \(2026-12-02T10:00:00\.000Z\) at or after it ends \(2026-12-02T09:00:00\.000Z\); give --start before --end$/);
  assert.match(line(await runCli(base)), /^llmwatch: No Prometheus to read: .*stack\.json is missing\. Start a stack with 'llmwatch up', or pass --prometheus URL\.$/);
  assert.match(line(await runCli([...base, '--prometheus', closed])), new RegExp(`^llmwatch: cannot read Prometheus' evaluation interval at ${closed}: .*; check --prometheus, or give --step$`));
  assert.match(line(await runCli([...base, '--prometheus', closed, '--step', '1h', '--since', '30m'])), /^llmwatch: the step \(3600s\) is longer than the range \(1800s\); widen the range or shorten --step$/);
  assert.match(line(await runCliIn([...base, '--prometheus', closed, '--step', '15s', '--pager', 'nobody'])), /^llmwatch: --pager nobody: no route of the Alertmanager config reaches it \(routed receivers: llmwatch-responder, null, watchdog\)$/);
  assert.match(line(await runCli([...base, '--prometheus', closed, '--step', '15s', '--audit', join(dir, 'none.db')])), /none\.db does not exist; name the responder's audit database \(its auditPath\) with --audit, or leave --audit out$/);
  writeFileSync(join(dir, 'not-audit.db'), 'plain text');
  assert.match(line(await runCli([...base, '--prometheus', closed, '--step', '15s', '--audit', join(dir, 'not-audit.db')])), /not-audit\.db is not a responder audit database llmwatch can read/);
  assert.match(line(await runCli([...base, '--prometheus', closed, '--step', '15s'])), new RegExp(`^llmwatch: cannot read the alert history from Prometheus at ${closed}: .*; check --prometheus$`));
  writeFileSync(join(dir, 'am.yml'), 'route: [');
  assert.match(line(await runCli([...base, '--prometheus', closed, '--alertmanager-config', join(dir, 'am.yml')])), /am\.yml is not an Alertmanager config llmwatch can read .*; name the generated one with --alertmanager-config$/);
  assert.match(line(await runCli([...base, '--prometheus', closed, '--alertmanager-config', join(dir, 'missing.yml')])), /missing\.yml does not exist/);
});
