import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { renderAlertmanager } from '../src/monitoring/writers/alertmanager.ts';
import { startAlertmanager, startWebhookSink } from './helpers/alertmanager.ts';
import type { GettableAlert } from './helpers/alertmanager.ts';

// Noise reduction in the generated Alertmanager config (issue 18, point 5): inhibition by cause,
// maintenance windows, grouping per model; checked by amtool and by a real Alertmanager.

const run = promisify(execFile);

/** The generated config for a spec, from the real model builder (the whole catalog). */
function configFor(specData: Record<string, unknown>): string {
  return renderAlertmanager(buildModel(monitoringSpec(specData)))[0]!.content;
}

const GPU_SPEC = { targets: { nodeExporter: ['gpu-host:9100'], gpuExporter: { targets: ['gpu-host:9835'] } } };

function writeConfig(t: { after(fn: () => void): void }, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-noise-amcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, content);
  return file;
}

test('the cause inhibitions: an unreachable or unavailable model silences its latency, errors and throughput; a node down its GPU job', () => {
  const config = parseYaml(configFor(GPU_SPEC));
  const rules = config.inhibit_rules as Array<{ source_matchers: string[]; target_matchers: string[]; equal: string[] }>;
  const unreachable = rules.find((r) => r.source_matchers[0] === 'alertname="ModelServerUnreachable"')!;
  assert.deepEqual(unreachable.equal, ['service', 'model']);
  const targets = (r: { target_matchers: string[] }) => /^alertname=~"(.*)"$/.exec(r.target_matchers[0]!)![1]!.split('|');
  assert.deepEqual(targets(unreachable), [
    'HighInferenceLatency',
    'HighTimeToFirstToken',
    'HighTimePerOutputToken',
    'HighEmbeddingLatency',
    'LowTokenThroughput',
    'QueueBacklog',
    'HighTimeoutRate',
    'HighErrorRate',
    'ModelUnavailable',
    'ErrorBudgetBurn',
    'LatencyBudgetBurn',
    // Behaviour drift (docs/drift.md): the answers that still come are no evidence of the model changing.
    'OutputLengthDrift',
    'TruncationDrift',
    'RefusalDrift',
    'EmptyAnswerDrift',
    'ToolCallDrift',
  ]);
  const unavailable = rules.find((r) => r.source_matchers[0] === 'alertname="ModelUnavailable"')!;
  // The symptom never silences its cause, nor itself.
  assert.ok(!targets(unavailable).includes('ModelServerUnreachable'));
  assert.ok(!targets(unavailable).includes('ModelUnavailable'));
  // Not the clients' fault, not content, not efficiency: those stay loud through an outage.
  for (const r of [unreachable, unavailable]) for (const kept of ['ClientErrorFlood', 'HighToxicityScore', 'LowCacheHitRate', 'ModelServedByFallback']) assert.ok(!targets(r).includes(kept), kept);
  assert.deepEqual(
    rules.find((r) => r.equal.includes('host')),
    { source_matchers: ['alertname="TargetDown"', 'job="node"'], target_matchers: ['job="llmwatch-gpu"', 'alertname!="Watchdog"'], equal: ['host'] },
  );
  // Without a GPU exporter there is nothing for a node to explain.
  assert.ok(!(parseYaml(configFor({})).inhibit_rules as Array<{ equal: string[] }>).some((r) => r.equal.includes('host')));
  // An alert turned off is not named in a rule.
  const off = parseYaml(configFor({ alerts: { HighEmbeddingLatency: { enabled: false } } }));
  assert.doesNotMatch(JSON.stringify(off.inhibit_rules), /HighEmbeddingLatency/);
});

test('groupBy: per alert by default, per model on request', () => {
  assert.deepEqual(parseYaml(configFor({})).route.group_by, ['alertname', 'service', 'model', 'instance']);
  assert.deepEqual(parseYaml(configFor({ alertmanager: { groupBy: 'model' } })).route.group_by, ['service', 'model', 'instance']);
  assert.throws(() => monitoringSpec({ alertmanager: { groupBy: 'host' } }), /alertmanager\.groupBy/);
});

const MAINTENANCE = {
  alertmanager: {
    receivers: { pager: { webhook: [{ url: 'http://127.0.0.1:1/pager' }] } },
    routes: { critical: ['pager'] },
    maintenance: {
      'weekly-deploy': [{ weekdays: ['tuesday'], times: [{ start: '02:00', end: '04:00' }], location: 'Europe/Berlin' }],
      'year-end': [{ months: ['december'], daysOfMonth: ['24:26', '-1'] }],
    },
  },
};

test('maintenance windows become time_intervals that mute every route but the Watchdog', () => {
  const config = parseYaml(configFor(MAINTENANCE));
  assert.deepEqual(config.time_intervals, [
    { name: 'weekly-deploy', time_intervals: [{ times: [{ start_time: '02:00', end_time: '04:00' }], weekdays: ['tuesday'], location: 'Europe/Berlin' }] },
    { name: 'year-end', time_intervals: [{ days_of_month: ['24:26', '-1'], months: ['december'] }] },
  ]);
  const routes = config.route.routes as Array<{ receiver: string; matchers: string[]; mute_time_intervals?: string[] }>;
  assert.equal(routes[0]!.matchers[0], 'alertname="Watchdog"');
  assert.equal(routes[0]!.mute_time_intervals, undefined);
  for (const r of routes.slice(1).filter((r) => r.receiver !== 'null')) assert.deepEqual(r.mute_time_intervals, ['weekly-deploy', 'year-end'], r.receiver);
  assert.equal(config.route.mute_time_intervals, undefined, 'Alertmanager refuses mute times on the root route');
  // No windows, no keys.
  assert.doesNotMatch(configFor({}), /time_intervals/);
});

test('maintenance windows are validated, field named', () => {
  const bad = (interval: Record<string, unknown>) => () => monitoringSpec({ alertmanager: { maintenance: { w: [interval] } } });
  assert.throws(bad({ times: [{ start: '04:00', end: '02:00' }] }), /alertmanager\.maintenance\.w\.0\.times\.0\.end: end must be after start/);
  assert.throws(bad({ times: [{ start: '2am', end: '04:00' }] }), /times\.0\.start: HH:MM/);
  assert.throws(bad({ weekdays: ['tuesdy'] }), /weekdays\.0: a weekday/);
  // Alertmanager refuses a range that runs backwards; so does the spec, saying how to write it.
  assert.throws(bad({ weekdays: ['saturday:sunday'] }), /weekdays\.0: a range must run forward within a week/);
  assert.throws(bad({ months: ['november:february'] }), /months\.0: a range must run forward within a year/);
  assert.throws(bad({ daysOfMonth: ['7:1'] }), /daysOfMonth\.0: a range must run forward/);
  assert.doesNotThrow(bad({ daysOfMonth: ['1:-1'], weekdays: ['monday:friday'], months: ['1:march'] }));
  assert.throws(bad({ location: 'Mars/Olympus' }), /location: an IANA time zone/);
  assert.throws(bad({ location: 'UTC' }), /give at least one of times/);
  assert.throws(() => monitoringSpec({ alertmanager: { maintenance: { 'Bad Name': [{ weekdays: ['monday'] }] } } }), /maintenance/);
  assert.throws(() => monitoringSpec({ alertmanager: { maintenance: { w: [] } } }), /maintenance\.w/);
});

for (const [name, spec] of [
  ['cause inhibitions with a GPU exporter', GPU_SPEC],
  ['maintenance windows and grouping per model', { ...MAINTENANCE, alertmanager: { ...MAINTENANCE.alertmanager, groupBy: 'model' } }],
] as const) {
  test(`amtool check-config accepts the config (${name})`, async (t) => {
    const { stdout } = await run('amtool', ['check-config', writeConfig(t, configFor(spec))], { timeout: 10_000 });
    assert.match(stdout, /SUCCESS/);
    assert.match(stdout, name.startsWith('cause') ? /7 inhibit rules/ : /6 inhibit rules/);
  });
}

async function waitForAlerts(list: () => Promise<GettableAlert[]>, ready: (alerts: GettableAlert[]) => boolean, what: string): Promise<GettableAlert[]> {
  const deadline = Date.now() + 10_000;
  let alerts: GettableAlert[] = [];
  while (Date.now() < deadline) {
    alerts = await list();
    if (ready(alerts)) return alerts;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}; alerts: ${JSON.stringify(alerts.map((a) => ({ labels: a.labels, status: a.status })))}`);
}

function find(alerts: GettableAlert[], labels: Record<string, string>): GettableAlert {
  const found = alerts.find((a) => Object.entries(labels).every(([k, v]) => a.labels[k] === v));
  assert.ok(found, `no alert ${JSON.stringify(labels)}`);
  return found;
}

test('a real Alertmanager inhibits by cause as the generated config says', async (t) => {
  const am = await startAlertmanager(configFor({ ...GPU_SPEC, alertmanager: { responderURL: 'http://127.0.0.1:1/alerts' } }));
  t.after(() => am.close());
  const model = (alertname: string, m: string, severity = 'critical') => ({ labels: { alertname, model: m, severity, service: 'openllm', category: 'error' } });
  const gpu = (alertname: string, host: string, extra: Record<string, string> = {}) => ({
    labels: { alertname, host, instance: `${host}:9835`, job: 'llmwatch-gpu', severity: 'warning', service: 'openllm', category: 'resource', ...extra },
  });

  await t.test('an unreachable upstream silences the error, latency and availability alerts of its model only', async () => {
    await am.post([
      { labels: { ...model('ModelServerUnreachable', 'm').labels, upstream: 'vllm', category: 'availability' } },
      model('HighErrorRate', 'm'),
      model('ModelUnavailable', 'm'),
      model('HighTimeToFirstToken', 'm'),
      model('ClientErrorFlood', 'm', 'warning'),
      model('HighErrorRate', 'other'),
    ]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (l) => l.length === 6 && l.filter((a) => a.status.state === 'suppressed').length === 3,
      'three alerts of model m to be suppressed',
    );
    const cause = find(alerts, { alertname: 'ModelServerUnreachable' });
    assert.equal(cause.status.state, 'active');
    for (const name of ['HighErrorRate', 'ModelUnavailable', 'HighTimeToFirstToken']) {
      assert.ok(find(alerts, { alertname: name, model: 'm' }).status.inhibitedBy.includes(cause.fingerprint), name);
    }
    assert.equal(find(alerts, { alertname: 'ClientErrorFlood', model: 'm' }).status.state, 'active');
    assert.equal(find(alerts, { alertname: 'HighErrorRate', model: 'other' }).status.state, 'active');
  });

  await t.test('a model unavailable silences its error rate, and never the unreachable upstream that caused it', async () => {
    await am.post([model('ModelUnavailable', 'n'), model('HighErrorRate', 'n'), model('ModelServerUnreachable', 'n')]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (l) => l.filter((a) => a.labels.model === 'n').length === 3 && find(l, { alertname: 'ModelUnavailable', model: 'n' }).status.state === 'suppressed',
      'model n: the unavailable alert to be suppressed by its cause',
    );
    assert.equal(find(alerts, { alertname: 'ModelServerUnreachable', model: 'n' }).status.state, 'active');
    assert.equal(find(alerts, { alertname: 'HighErrorRate', model: 'n' }).status.state, 'suppressed');
  });

  await t.test('a node down silences the GPU exporter alerts of the same host only', async () => {
    await am.post([
      { labels: { alertname: 'TargetDown', job: 'node', host: 'gpu-host', instance: 'gpu-host:9100', severity: 'warning', service: 'openllm', category: 'availability' } },
      gpu('TargetDown', 'gpu-host'),
      gpu('HighGpuTemperature', 'gpu-host', { gpu: '0' }),
      gpu('HighGpuTemperature', 'other-host', { gpu: '0' }),
    ]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (l) => l.filter((a) => a.labels.host !== undefined).length === 4 && find(l, { alertname: 'HighGpuTemperature', host: 'gpu-host' }).status.state === 'suppressed',
      'the GPU alerts of gpu-host to be suppressed',
    );
    const node = find(alerts, { alertname: 'TargetDown', job: 'node' });
    assert.equal(node.status.state, 'active');
    assert.deepEqual(find(alerts, { alertname: 'TargetDown', job: 'llmwatch-gpu' }).status.inhibitedBy, [node.fingerprint]);
    assert.equal(find(alerts, { alertname: 'HighGpuTemperature', host: 'other-host' }).status.state, 'active');
  });
});

test('a real Alertmanager mutes every route but the Watchdog while a maintenance window is open, and only then', async (t) => {
  const sink = await startWebhookSink();
  t.after(() => sink.close());
  const spec = (window: Record<string, unknown>) => ({
    alertmanager: {
      groupWait: '1s',
      groupInterval: '1s',
      responderURL: `${sink.url}/responder`,
      receivers: { pager: { webhook: [{ url: `${sink.url}/pager` }] }, watchdog: { webhook: [{ url: `${sink.url}/watchdog` }] } },
      routes: { critical: ['pager'] },
      maintenance: { window: [window] },
    },
  });
  const critical = { alertname: 'HighErrorRate', model: 'm', severity: 'critical', service: 'openllm', category: 'error' };
  const watchdog = { alertname: 'Watchdog', severity: 'info', service: 'openllm', category: 'meta' };
  const waitFor = async (cond: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // Open all day, every day: the page and the responder are muted, the Watchdog is not.
  const open = await startAlertmanager(configFor(spec({ times: [{ start: '00:00', end: '24:00' }] })));
  await open.post([{ labels: critical }, { labels: watchdog }]);
  await waitFor(() => sink.received('/watchdog').length > 0, 'the Watchdog through an open window');
  // The critical alert's group flushed with the Watchdog's (group_wait 1s); give it two more intervals.
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(sink.received('/pager'), []);
  assert.deepEqual(sink.received('/responder'), []);
  assert.equal(find(await open.alerts(), { alertname: 'HighErrorRate' }).status.state, 'active', 'muting is not inhibition: the alert stays listed');
  await open.close();

  // A window that never opens (a year long gone): the same alert pages.
  const closed = await startAlertmanager(configFor(spec({ years: ['2001'] })));
  t.after(() => closed.close());
  await closed.post([{ labels: critical }]);
  await waitFor(() => sink.received('/pager').length > 0 && sink.received('/responder').length > 0, 'the page and the responder outside the window');
});
