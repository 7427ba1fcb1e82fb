import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { RECEIVER, SEVERITIES } from '../src/core/conventions/alerts.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { ALERTMANAGER_CONFIG_PATH, renderAlertmanager, severityReceivers, unreachableRoutes } from '../src/monitoring/writers/alertmanager.ts';
import { startAlertmanager, startWebhookSink } from './helpers/alertmanager.ts';
import type { GettableAlert } from './helpers/alertmanager.ts';
import { fixtureModel } from './helpers/model-fixture.ts';

const run = promisify(execFile);

/** Receivers of every kind, secrets from files, and a bearer token file for the responder. */
const FULL_SPEC = {
  alertmanager: {
    groupWait: '10s',
    groupInterval: '1m',
    repeatInterval: '2h',
    receivers: {
      oncall: {
        pagerduty: [{ routingKeyFile: '/etc/alertmanager/secrets/pagerduty-routing-key' }],
        email: [{ to: 'oncall@example.com', from: 'alertmanager@example.com', smarthost: 'smtp.example.com:587', authUsername: 'am', authPasswordFile: '/etc/alertmanager/secrets/smtp-password' }],
      },
      'team-chat': { slack: [{ apiURLFile: '/etc/alertmanager/secrets/slack-url', channel: '#llm-alerts' }] },
      legacy: { pagerduty: [{ serviceKeyFile: '/etc/alertmanager/secrets/pagerduty-service-key' }] },
      heartbeat: { webhook: [{ url: 'https://api.opsgenie.com/v2/heartbeats/llmwatch/ping', credentialsFile: '/etc/alertmanager/secrets/genie-key', credentialsType: 'GenieKey' }] },
    },
    routes: { critical: ['oncall', 'legacy'], warning: ['team-chat'] },
    watchdog: { receiver: 'heartbeat', repeatInterval: '1m' },
    responderURL: 'http://127.0.0.1:1/alerts',
    responderTokenFile: '/etc/llmwatch/responder-token',
  },
};

/** Writes one generated config to a temp dir removed after the test. */
function writeConfig(t: { after(fn: () => void): void }, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-amcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, content);
  return file;
}

function configOf(specData: Record<string, unknown> = {}): string {
  const files = renderAlertmanager(fixtureModel(specData));
  assert.deepEqual(
    files.map((f) => f.path),
    [ALERTMANAGER_CONFIG_PATH],
  );
  return files[0]!.content;
}

/** The receivers of a parsed config, by name, in file order. */
function receiversOf(config: { receivers: Array<{ name: string }> }): Record<string, any> {
  return Object.fromEntries(config.receivers.map((r) => [r.name, r]));
}

async function routesTest(file: string, labels: Record<string, string>): Promise<string> {
  const args = ['config', 'routes', 'test', `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  const { stdout } = await run('amtool', args, { timeout: 10_000 });
  return stdout.trim();
}

test('the config carries the spec timings, the route tree, the inhibitions and the receivers, secrets as files', () => {
  const config = parseYaml(configOf(FULL_SPEC));
  assert.deepEqual(config.route.group_by, ['alertname', 'service', 'model', 'instance']);
  assert.equal(config.route.receiver, 'null');
  assert.deepEqual([config.route.group_wait, config.route.group_interval, config.route.repeat_interval], ['10s', '1m', '2h']);
  assert.deepEqual(config.route.routes, [
    { receiver: 'heartbeat', matchers: ['alertname="Watchdog"'], group_wait: '0s', group_interval: '1m', repeat_interval: '1m' },
    { receiver: 'oncall', matchers: ['severity="critical"'], continue: true },
    { receiver: 'legacy', matchers: ['severity="critical"'], continue: true },
    { receiver: 'team-chat', matchers: ['severity="warning"'], continue: true },
    { receiver: 'llmwatch-responder', matchers: ['severity=~"critical|warning"'] },
    { receiver: 'null', matchers: ['severity="info"'] },
  ]);
  assert.deepEqual(config.inhibit_rules, [
    // The group labels, then the other identity labels of the model's alerts (fixture: gpu, job), sorted.
    // Every rule spares the Watchdog.
    { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"', 'alertname!="Watchdog"'], equal: ['alertname', 'service', 'model', 'instance', 'gpu', 'job'] },
    { source_matchers: ['alertname="TargetDown"'], target_matchers: ['alertname!="TargetDown"', 'alertname!="Watchdog"'], equal: ['instance'] },
    { source_matchers: ['alertname="TargetAbsent"'], target_matchers: ['alertname="TargetDown"', 'alertname!="Watchdog"'], equal: ['job'] },
  ]);
  const receivers = receiversOf(config);
  // null, then the declared ones sorted, then the responder; no empty 'watchdog' when the spec names one.
  assert.deepEqual(Object.keys(receivers), ['null', 'heartbeat', 'legacy', 'oncall', 'team-chat', 'llmwatch-responder']);
  assert.deepEqual(receivers.null, { name: 'null' });
  assert.deepEqual(receivers.oncall.pagerduty_configs, [
    { routing_key_file: '/etc/alertmanager/secrets/pagerduty-routing-key', send_resolved: true, description: '{{ range .Alerts }}{{ .Annotations.summary }} {{ end }}' },
  ]);
  assert.equal(receivers.legacy.pagerduty_configs[0].service_key_file, '/etc/alertmanager/secrets/pagerduty-service-key');
  assert.deepEqual(receivers.oncall.email_configs, [
    {
      to: 'oncall@example.com',
      from: 'alertmanager@example.com',
      smarthost: 'smtp.example.com:587',
      auth_username: 'am',
      auth_password_file: '/etc/alertmanager/secrets/smtp-password',
      require_tls: true,
      send_resolved: false,
    },
  ]);
  assert.equal(receivers['team-chat'].slack_configs[0].api_url_file, '/etc/alertmanager/secrets/slack-url');
  assert.equal(receivers['team-chat'].slack_configs[0].channel, '#llm-alerts');
  assert.deepEqual(receivers.heartbeat.webhook_configs, [
    {
      url: 'https://api.opsgenie.com/v2/heartbeats/llmwatch/ping',
      send_resolved: true,
      max_alerts: 0,
      http_config: { authorization: { type: 'GenieKey', credentials_file: '/etc/alertmanager/secrets/genie-key' } },
    },
  ]);
  assert.deepEqual(receivers['llmwatch-responder'].webhook_configs, [
    {
      url: 'http://127.0.0.1:1/alerts',
      send_resolved: true,
      max_alerts: 0,
      http_config: { authorization: { type: 'Bearer', credentials_file: '/etc/llmwatch/responder-token' } },
    },
  ]);
  // No secret value anywhere in the file: only the paths that hold them.
  assert.doesNotMatch(configOf(FULL_SPEC), /api_url:|routing_key:|service_key:|auth_password:|credentials:/);
});

test('with no receivers declared, critical and warning reach only the responder, the Watchdog an empty receiver, and both commands warn', () => {
  const config = parseYaml(configOf());
  const receivers = receiversOf(config);
  assert.deepEqual(Object.keys(receivers), ['null', 'watchdog', 'llmwatch-responder']);
  assert.deepEqual(receivers.watchdog, { name: 'watchdog' });
  assert.deepEqual(receivers['llmwatch-responder'].webhook_configs, [{ url: 'http://127.0.0.1:9095/alerts', send_resolved: true, max_alerts: 0 }]);
  assert.deepEqual([config.route.group_wait, config.route.group_interval, config.route.repeat_interval], ['30s', '5m', '5m']);
  const problems = unreachableRoutes(monitoringSpec({}));
  assert.equal(problems.length, 3);
  assert.match(problems[0]!, /^route severity="critical" reaches no receiver that tells anyone/);
  assert.match(problems[1]!, /^route severity="warning" /);
  assert.match(problems[2]!, /^route alertname="Watchdog" reaches no dead man's switch/);
  assert.deepEqual(unreachableRoutes(monitoringSpec(FULL_SPEC)), []);
  // A route to a receiver with no integration is no better than none.
  const empty = monitoringSpec({ alertmanager: { receivers: { pager: {} }, routes: { critical: ['pager'] } } });
  assert.match(unreachableRoutes(empty)[0]!, /severity="critical" reaches no receiver that tells anyone \(pager, llmwatch-responder\)/);
});

test('the output is byte-for-byte the same on every run and never folds a line', () => {
  const a = configOf(FULL_SPEC);
  assert.equal(configOf(FULL_SPEC), a);
  assert.doesNotMatch(a, /&a\d|\*a\d/, 'no YAML anchors or aliases');
  assert.doesNotMatch(a, /^# /m, 'the pipeline adds the header, not the writer');
});

for (const [name, spec] of [
  ['default spec', {}],
  ['full spec', FULL_SPEC],
] as const) {
  test(`amtool check-config accepts the config (${name})`, async (t) => {
    const file = writeConfig(t, configOf(spec));
    const { stdout } = await run('amtool', ['check-config', file], { timeout: 10_000 });
    assert.match(stdout, /SUCCESS/);
    assert.match(stdout, /3 inhibit rules/);
    assert.match(stdout, new RegExp(`${name === 'default spec' ? 3 : 6} receivers`));
  });

  test(`amtool routes each severity to its tier (${name})`, async (t) => {
    const file = writeConfig(t, configOf(spec));
    // The contract, spelled out: P0 goes to the spec's critical receivers and the responder,
    // P1 to its warning receivers and the responder, info is recorded only.
    const full = name === 'full spec';
    const expected: Record<string, string> = {
      critical: full ? 'oncall,legacy,llmwatch-responder' : 'llmwatch-responder',
      warning: full ? 'team-chat,llmwatch-responder' : 'llmwatch-responder',
      info: 'null',
    };
    for (const severity of SEVERITIES) {
      assert.equal(severityReceivers(monitoringSpec(spec))[severity].join(','), expected[severity]);
      assert.equal(await routesTest(file, { severity, alertname: 'HighInferenceLatency', model: 'm' }), expected[severity], severity);
    }
    assert.equal(await routesTest(file, { severity: 'critical', alertname: 'TargetDown', instance: '10.0.0.1:8000' }), expected.critical);
    // The Watchdog reaches the dead man's switch only: never a person, never the responder.
    const dog = full ? 'heartbeat' : RECEIVER.watchdog;
    assert.equal(await routesTest(file, { severity: 'info', alertname: 'Watchdog', service: 'openllm', category: 'meta' }), dog);
    assert.equal(await routesTest(file, { severity: 'critical', alertname: 'Watchdog' }), dog);
    // An alert that carries no known severity is still kept, never lost to an error.
    assert.equal(await routesTest(file, { alertname: 'Stray', model: 'm' }), RECEIVER.none);
    assert.equal(await routesTest(file, { severity: 'page', alertname: 'Stray' }), RECEIVER.none);
  });
}

/** Polls Alertmanager until `ready` holds for its alerts; bounded, so a broken config fails instead of hanging. */
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

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function find(alerts: GettableAlert[], labels: Record<string, string>): GettableAlert | undefined {
  return alerts.find((a) => Object.entries(labels).every(([k, v]) => a.labels[k] === v));
}

test('a real Alertmanager inhibits and delivers as the generated config says', async (t) => {
  const sink = await startWebhookSink();
  t.after(() => sink.close());
  // The Slack URL and the chat webhook's token are secrets: Alertmanager reads them from files.
  const secrets = mkdtempSync(join(tmpdir(), 'llmwatch-am-secrets-'));
  t.after(() => rmSync(secrets, { recursive: true, force: true }));
  writeFileSync(join(secrets, 'slack-url'), `${sink.url}/pager\n`);
  writeFileSync(join(secrets, 'chat-token'), 'chat-s3cret\n');
  const config = configOf({
    alertmanager: {
      groupWait: '1s',
      groupInterval: '1s',
      responderURL: `${sink.url}/responder`,
      receivers: {
        pager: { slack: [{ apiURLFile: join(secrets, 'slack-url') }] },
        chat: { webhook: [{ url: `${sink.url}/chat`, credentialsFile: join(secrets, 'chat-token') }] },
        watchdog: { webhook: [{ url: `${sink.url}/watchdog` }] },
      },
      routes: { critical: ['pager'], warning: ['chat'] },
      watchdog: { repeatInterval: '1m' },
    },
  });
  assert.doesNotMatch(config, /chat-s3cret|\/pager/);
  const am = await startAlertmanager(config);
  t.after(() => am.close());
  const base = { service: 'openllm', category: 'performance' };
  const annotations = { summary: 'P95 latency too high on m', runbook_url: 'https://example.test/runbooks/HighInferenceLatency.md' };

  await t.test('a critical alert suppresses the warning of the same alert and model, not of another model', async () => {
    await am.post([
      { labels: { ...base, alertname: 'HighInferenceLatency', model: 'm', severity: 'critical' }, annotations },
      { labels: { ...base, alertname: 'HighInferenceLatency', model: 'm', severity: 'warning' }, annotations },
      { labels: { ...base, alertname: 'HighInferenceLatency', model: 'other', severity: 'warning' }, annotations },
    ]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (list) => find(list, { model: 'm', severity: 'warning' })?.status.state === 'suppressed' && find(list, { model: 'other' })?.status.state === 'active',
      'the warning of model m to be suppressed',
    );
    const critical = find(alerts, { model: 'm', severity: 'critical' })!;
    const warning = find(alerts, { model: 'm', severity: 'warning' })!;
    assert.equal(critical.status.state, 'active');
    assert.deepEqual(warning.status.inhibitedBy, [critical.fingerprint]);
    assert.deepEqual(find(alerts, { model: 'other' })!.status.inhibitedBy, []);
    assert.deepEqual(
      critical.receivers.map((r) => r.name),
      ['pager', 'llmwatch-responder'],
    );
  });

  await t.test('the responder and the pager get the critical, chat never gets the suppressed warning', async () => {
    const labelsSent = (path: string) =>
      sink
        .received(path)
        .flatMap((b) => (b as { alerts?: Array<{ labels: Record<string, string> }> }).alerts ?? [])
        .map((a) => `${a.labels.model}/${a.labels.severity}`);
    await waitFor(() => labelsSent('/responder').includes('m/critical') && labelsSent('/chat').includes('other/warning'), 'the responder and chat notifications');
    await waitFor(() => sink.received('/pager').length > 0, 'the pager (Slack) notification');
    assert.ok(!labelsSent('/responder').includes('m/warning'), JSON.stringify(sink.received('/responder')));
    assert.ok(!labelsSent('/chat').includes('m/warning'), JSON.stringify(sink.received('/chat')));
    // The chat webhook's token, read by Alertmanager from its file.
    assert.ok(sink.authorizations('/chat').every((a) => a === 'Bearer chat-s3cret'), JSON.stringify(sink.authorizations('/chat')));
    const payload = sink.received('/responder')[0] as { receiver: string; status: string; version: string };
    assert.equal(payload.receiver, 'llmwatch-responder');
    assert.equal(payload.version, '4');
    // The Slack text template renders the summary and the runbook link.
    const slack = JSON.stringify(sink.received('/pager'));
    assert.match(slack, /P95 latency too high on m/);
    assert.match(slack, /Runbook: https:\/\/example\.test\/runbooks\/HighInferenceLatency\.md/);
  });

  await t.test('a critical on one host or GPU does not hide the warning of another (alerts with no model label)', async () => {
    const host = { ...base, alertname: 'HighGpuMemoryUsage', category: 'resource' };
    await am.post([
      { labels: { ...host, severity: 'critical', instance: 'host-a:9835', gpu: '0' } },
      { labels: { ...host, severity: 'warning', instance: 'host-a:9835', gpu: '0' } },
      { labels: { ...host, severity: 'warning', instance: 'host-a:9835', gpu: '1' } },
      { labels: { ...host, severity: 'warning', instance: 'host-b:9835', gpu: '0' } },
    ]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (list) => find(list, { alertname: 'HighGpuMemoryUsage', severity: 'warning', instance: 'host-a:9835', gpu: '0' })?.status.state === 'suppressed',
      'the warning of host-a GPU 0 to be suppressed',
    );
    assert.equal(find(alerts, { alertname: 'HighGpuMemoryUsage', instance: 'host-a:9835', gpu: '1' })!.status.state, 'active');
    assert.equal(find(alerts, { alertname: 'HighGpuMemoryUsage', instance: 'host-b:9835' })!.status.state, 'active');
  });

  await t.test('TargetDown suppresses the other alerts about the same instance only', async () => {
    await am.post([
      { labels: { ...base, alertname: 'TargetDown', severity: 'critical', job: 'llmwatch-gateway', instance: '10.0.0.1:8000' } },
      { labels: { ...base, alertname: 'HighErrorRate', severity: 'critical', instance: '10.0.0.1:8000', model: 'm' } },
      { labels: { ...base, alertname: 'HighErrorRate', severity: 'critical', instance: '10.0.0.2:8000', model: 'm' } },
    ]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (list) => find(list, { alertname: 'HighErrorRate', instance: '10.0.0.1:8000' })?.status.state === 'suppressed',
      'HighErrorRate on the down instance to be suppressed',
    );
    const down = find(alerts, { alertname: 'TargetDown', instance: '10.0.0.1:8000' })!;
    assert.equal(down.status.state, 'active');
    assert.deepEqual(find(alerts, { alertname: 'HighErrorRate', instance: '10.0.0.1:8000' })!.status.inhibitedBy, [down.fingerprint]);
    const elsewhere = find(alerts, { alertname: 'HighErrorRate', instance: '10.0.0.2:8000' })!;
    assert.equal(elsewhere.status.state, 'active');
  });

  await t.test('TargetAbsent suppresses TargetDown of the same job only', async () => {
    await am.post([
      { labels: { ...base, alertname: 'TargetAbsent', severity: 'critical', job: 'node' } },
      { labels: { ...base, alertname: 'TargetDown', severity: 'critical', job: 'node', instance: '10.0.0.3:9100' } },
      { labels: { ...base, alertname: 'TargetDown', severity: 'critical', job: 'llmwatch-responder', instance: '10.0.0.3:9095' } },
    ]);
    const alerts = await waitForAlerts(
      () => am.alerts(),
      (list) => find(list, { alertname: 'TargetDown', job: 'node' })?.status.state === 'suppressed',
      'TargetDown of job node to be suppressed',
    );
    const absent = find(alerts, { alertname: 'TargetAbsent', job: 'node' })!;
    assert.equal(absent.status.state, 'active');
    assert.deepEqual(find(alerts, { alertname: 'TargetDown', job: 'node' })!.status.inhibitedBy, [absent.fingerprint]);
    assert.equal(find(alerts, { alertname: 'TargetDown', job: 'llmwatch-responder' })!.status.state, 'active');
  });

  await t.test('nothing inhibits the Watchdog, and it reaches the dead man\'s switch only', async () => {
    // Last: a TargetDown with no instance label (`equal` also holds when both lack a label),
    // which without the Watchdog's exclusion would silence it, and every other alert lacking one.
    const watchdog = { alertname: 'Watchdog', severity: 'info', service: 'openllm', category: 'meta' };
    await am.post([
      { labels: { ...base, alertname: 'TargetDown', severity: 'critical', job: 'alertmanager' } },
      { labels: watchdog, annotations: { summary: 'The alerting pipeline is alive' } },
    ]);
    const alerts = await waitForAlerts(() => am.alerts(), (list) => find(list, { alertname: 'Watchdog' }) !== undefined, 'the Watchdog');
    const dog = find(alerts, { alertname: 'Watchdog' })!;
    assert.equal(dog.status.state, 'active');
    assert.deepEqual(dog.status.inhibitedBy, []);
    assert.deepEqual(dog.receivers.map((r) => r.name), ['watchdog']);
    await waitFor(() => sink.received('/watchdog').length > 0, "the dead man's switch notification");
    const sent = (path: string) => sink.received(path).flatMap((b) => (b as { alerts?: Array<{ labels: Record<string, string> }> }).alerts ?? []);
    assert.ok(sent('/watchdog').every((a) => a.labels.alertname === 'Watchdog'));
    assert.ok(!sent('/responder').some((a) => a.labels.alertname === 'Watchdog'));
    assert.ok(!sent('/chat').some((a) => a.labels.alertname === 'Watchdog'));
  });
});
