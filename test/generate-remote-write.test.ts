import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { monitoringSpec, REMOTE_WRITE_RESERVED_HEADERS } from '../src/core/config/monitoring-spec.ts';
import type { MonitoringModel } from '../src/monitoring/model.ts';
import { plainRuleGroup } from '../src/monitoring/writers/kubernetes.ts';
import { PROMETHEUS_CONFIG_PATH, renderPrometheusConfig } from '../src/monitoring/writers/prometheus-config.ts';
import { dumpYaml } from '../src/monitoring/yaml.ts';
import { fixtureModel } from './helpers/model-fixture.ts';
import { freePort, startChild, waitReady } from './helpers/processes.ts';
import type { Child } from './helpers/processes.ts';
import { MODEL, SMALL_MODEL, startPair } from './helpers/stack.ts';

const run = promisify(execFile);

const MIMIR = {
  name: 'mimir',
  url: 'https://mimir.example/api/v1/push',
  headers: { 'X-Scope-OrgID': 'tenant-1' },
  basicAuth: { username: 'tenant-1', passwordFile: '/etc/prometheus/secrets/mimir-password' },
  queue: { capacity: 20000, maxShards: 30, maxSamplesPerSend: 5000, batchSendDeadline: '10s' },
  keepMetrics: ['openllm_.*', 'llmwatch:.*'],
};
const THANOS = { name: 'thanos', url: 'http://thanos-receive:19291/api/v1/receive', credentialsFile: '/etc/prometheus/secrets/thanos-token' };

function configOf(model: MonitoringModel): Record<string, any> {
  return parseYaml(renderPrometheusConfig(model)[0]!.content);
}

/** Writes the generated config with the model's rule files beside it (`prometheus/rules/<file>.yml`) into `dir`. */
function writeTree(dir: string, model: MonitoringModel): string {
  for (const file of renderPrometheusConfig(model)) {
    mkdirSync(dirname(join(dir, file.path)), { recursive: true });
    writeFileSync(join(dir, file.path), file.content);
  }
  mkdirSync(join(dir, 'prometheus/rules'), { recursive: true });
  for (const group of model.groups) {
    writeFileSync(join(dir, 'prometheus/rules', `${group.file}.yml`), dumpYaml({ groups: [plainRuleGroup(group)] }));
  }
  return join(dir, PROMETHEUS_CONFIG_PATH);
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-rw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The spec's validation message, or '' when it is accepted. */
function refusal(remoteWrite: unknown[]): string {
  try {
    monitoringSpec({ prometheus: { remoteWrite } });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

test('no remoteWrite: no remote_write section', () => {
  assert.equal(configOf(fixtureModel()).remote_write, undefined);
});

test('remoteWrite targets become remote_write entries: auth from files only, queue settings, a keep relabelling', () => {
  const config = configOf(fixtureModel({ prometheus: { remoteWrite: [MIMIR, THANOS] } }));
  assert.deepEqual(config.remote_write, [
    {
      name: 'mimir',
      url: 'https://mimir.example/api/v1/push',
      headers: { 'X-Scope-OrgID': 'tenant-1' },
      basic_auth: { username: 'tenant-1', password_file: '/etc/prometheus/secrets/mimir-password' },
      queue_config: { capacity: 20000, max_shards: 30, max_samples_per_send: 5000, batch_send_deadline: '10s' },
      write_relabel_configs: [{ source_labels: ['__name__'], regex: '(?:openllm_.*)|(?:llmwatch:.*)', action: 'keep' }],
    },
    { name: 'thanos', url: 'http://thanos-receive:19291/api/v1/receive', authorization: { type: 'Bearer', credentials_file: '/etc/prometheus/secrets/thanos-token' } },
  ]);
  // The keep regex as Prometheus applies it (anchored at both ends).
  const keep = new RegExp(`^(?:${(config.remote_write as any[])[0].write_relabel_configs[0].regex})$`);
  assert.ok(keep.test('openllm_requests_total') && keep.test('llmwatch:error_ratio:rate5m'));
  assert.ok(!keep.test('node_cpu_seconds_total') && !keep.test('x_openllm_requests_total'));
});

test('a partial queue writes only the fields given', () => {
  const config = configOf(fixtureModel({ prometheus: { remoteWrite: [{ name: 'vm', url: 'http://vm:8428/api/v1/write', queue: { maxShards: 4 } }] } }));
  assert.deepEqual(config.remote_write, [{ name: 'vm', url: 'http://vm:8428/api/v1/write', queue_config: { max_shards: 4 } }]);
});

test('remoteWrite is validated with the field named', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ name: 'a', url: 'not a url' }, /prometheus\.remoteWrite\.0\.url/],
    [{ name: 'a', url: 'ftp://store/push' }, /remoteWrite\.0\.url.*http/],
    [{ name: 'a', url: 'https://user:secret@store/push' }, /remoteWrite\.0\.url.*credentials/],
    [{ name: 'a', url: 'http://s/push', queue: { maxShards: 0 } }, /remoteWrite\.0\.queue\.maxShards/],
    [{ name: 'a', url: 'http://s/push', queue: { capacity: 1.5 } }, /remoteWrite\.0\.queue\.capacity/],
    [{ name: 'a', url: 'http://s/push', queue: { maxSamplesPerSend: -1 } }, /remoteWrite\.0\.queue\.maxSamplesPerSend/],
    [{ name: 'a', url: 'http://s/push', queue: { batchSendDeadline: '5 seconds' } }, /remoteWrite\.0\.queue\.batchSendDeadline.*duration/],
    [{ name: 'a', url: 'http://s/push', keepMetrics: ['openllm_(?!x)'] }, /remoteWrite\.0\.keepMetrics\.0/],
    [{ name: 'a', url: 'http://s/push', keepMetrics: ['('] }, /remoteWrite\.0\.keepMetrics\.0/],
    [{ name: 'a b', url: 'http://s/push' }, /remoteWrite\.0\.name/],
    [{ name: 'a', url: 'http://s/push', basicAuth: { username: 'u', passwordFile: '/p' }, credentialsFile: '/t' }, /remoteWrite\.0\.credentialsFile.*not both/],
    [{ name: 'a', url: 'http://s/push', bearerToken: 'abc' }, /bearerToken.*never written inline.*credentialsFile/],
    [{ name: 'a', url: 'http://s/push', basicAuth: { username: 'u', password: 'p' } }, /remoteWrite\.0\.basicAuth.*password.*never written inline.*passwordFile/],
    [{ name: 'a', url: 'http://s/push', headers: { authorization: 'Bearer abc' } }, /remoteWrite\.0\.headers\.authorization.*secret.*credentialsFile/],
    [{ name: 'a', url: 'http://s/push', headers: { 'Content-Type': 'x' } }, /remoteWrite\.0\.headers\.Content-Type.*Prometheus sets this header itself/],
    [{ name: 'a', url: 'http://s/push', headers: { 'bad header': 'x' } }, /remoteWrite\.0\.headers\.bad header/],
  ];
  for (const [rw, expected] of cases) assert.match(refusal([rw]), expected, JSON.stringify(rw));
  assert.match(refusal([{ name: 'a', url: 'http://s/push' }, { name: 'a', url: 'http://t/push' }]), /remoteWrite\.1\.name.*already/);
  // The same fields, valid, are accepted (so the refusals above are about the values).
  assert.equal(refusal([MIMIR, THANOS]), '');
});

test('promtool check config accepts a config with remote_write targets', async (t) => {
  const model = fixtureModel({ prometheus: { remoteWrite: [MIMIR, THANOS] } });
  const file = writeTree(tempDir(t), model);
  const { stdout } = await run('promtool', ['check', 'config', file], { timeout: 20_000 });
  assert.match(stdout, /is valid prometheus config file syntax/);
});

test('promtool refuses a remote_write with both auth kinds (what the spec refuses up front)', async (t) => {
  const dir = tempDir(t);
  const file = writeTree(dir, fixtureModel({ prometheus: { remoteWrite: [THANOS] } }));
  const config = parseYaml(readFileSync(file, 'utf8'));
  config.remote_write[0].basic_auth = { username: 'u', password_file: '/p' };
  writeFileSync(file, dumpYaml(config));
  await assert.rejects(run('promtool', ['check', 'config', file], { timeout: 20_000 }), (err: { stdout?: string; stderr?: string }) =>
    /at most one of basic_auth/.test(`${err.stdout}${err.stderr}`),
  );
});

test('the headers the spec refuses are exactly those promtool refuses (and a tenant header passes both)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'p.yml');
  const promtoolAccepts = async (header: string) => {
    writeFileSync(file, dumpYaml({ remote_write: [{ url: 'http://store/push', headers: { [header]: 'v' } }] }));
    return run('promtool', ['check', 'config', file], { timeout: 20_000 }).then(
      () => true,
      () => false,
    );
  };
  for (const header of [...REMOTE_WRITE_RESERVED_HEADERS, 'X-Scope-OrgID']) {
    const specAccepts = refusal([{ name: 'a', url: 'http://s/push', headers: { [header]: 'v' } }]) === '';
    assert.equal(specAccepts, header === 'X-Scope-OrgID', header);
    assert.equal(await promtoolAccepts(header), specAccepts, `promtool and the spec disagree on ${header}`);
  }
});

/** Starts the real Prometheus with `args`, on a free port, until ready; `close` stops it. */
async function startProm(dir: string, configFile: string, extra: string[] = []): Promise<{ url: string; child: Child; close(): Promise<void> }> {
  const port = await freePort();
  const child = startChild('prometheus', [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, `data-${port}`)}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...extra,
  ]);
  const url = `http://127.0.0.1:${port}`;
  const close = () => child.stop();
  await waitReady(`${url}/-/ready`, child, 'Prometheus', close);
  return { url, child, close };
}

async function query(url: string, expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
  return body.data.result;
}

test("a second real Prometheus with its remote-write receiver holds the gateway's series, sent by the generated config", async (t) => {
  const dir = tempDir(t);
  const pair = await startPair();
  t.after(() => pair.close());
  const sent = 3;
  for (let i = 0; i < sent; i++) await pair.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `hi ${i}` }] });

  // The store: Prometheus 2.42's flag (`prometheus --help`: --web.enable-remote-write-receiver), scraping nothing.
  writeFileSync(join(dir, 'store.yml'), 'global:\n  scrape_interval: 1m\n');
  const store = await startProm(dir, join(dir, 'store.yml'), ['--web.enable-remote-write-receiver']);
  t.after(() => store.close());

  // A password file Prometheus must read to send (the receiver ignores the header; an unreadable file would stop sending).
  writeFileSync(join(dir, 'store-password'), 'not-checked-by-the-receiver\n');
  const model = fixtureModel({
    prometheus: {
      scrapeInterval: '1s',
      evaluationInterval: '1s',
      externalLabels: { cluster: 'rw-test' },
      remoteWrite: [
        {
          name: 'store',
          url: `${store.url}/api/v1/write`,
          basicAuth: { username: 'llmwatch', passwordFile: join(dir, 'store-password') },
          headers: { 'X-Scope-OrgID': 'llmwatch' },
          queue: { batchSendDeadline: '1s', maxSamplesPerSend: 100 },
          keepMetrics: ['openllm_requests_total', 'up'],
        },
      ],
    },
    targets: { gateways: [new URL(pair.gw.url).host], nodeExporter: [], responder: [], prometheus: [], alertmanagers: [`127.0.0.1:${await freePort()}`] },
  });
  const source = await startProm(dir, writeTree(dir, model));
  t.after(() => source.close());

  // Bounded wait: 1 s scrapes and a 1 s send deadline, so a few seconds at most; 30 s cap.
  let value = NaN;
  for (let i = 0; i < 150 && value !== sent; i++) {
    const r = await query(store.url, 'sum(openllm_requests_total{cluster="rw-test", job="llmwatch-gateway"})');
    value = r.length === 1 ? Number(r[0]!.value[1]) : NaN;
    if (value !== sent) await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(value, sent, `store:\n${store.child.output()}\nsource:\n${source.child.output()}`);
  const byModel = await query(store.url, 'sum by (model) (openllm_requests_total{status="success"})');
  assert.deepEqual(Object.fromEntries(byModel.map((r) => [r.metric.model, Number(r.value[1])])), { [MODEL]: sent, [SMALL_MODEL]: 0 });
  // (the gateway exports every configured model's series from the start, at 0)
  // The keep-list is applied: series the source holds but the list leaves out never reach the store.
  const names = await query(source.url, 'count(count by (__name__) ({__name__=~"openllm_.+"}))');
  assert.ok(Number(names[0]?.value[1]) > 1, 'the source holds more openllm_ metrics than the one kept');
  assert.deepEqual(await query(store.url, 'count({__name__=~"openllm_.+", __name__!="openllm_requests_total"})'), []);
});
