import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { hasCode } from '../src/core/errors.ts';
import { GEN_ERR_DUPLICATE_JOB } from '../src/monitoring/errors.ts';
import type { MonitoringModel } from '../src/monitoring/model.ts';
import { plainRuleGroup } from '../src/monitoring/writers/kubernetes.ts';
import { PROMETHEUS_CONFIG_PATH, renderPrometheusConfig } from '../src/monitoring/writers/prometheus-config.ts';
import { dumpYaml } from '../src/monitoring/yaml.ts';
import { fixtureModel } from './helpers/model-fixture.ts';

const run = promisify(execFile);

const FULL_SPEC = {
  prometheus: { scrapeInterval: '10s', evaluationInterval: '20s', externalLabels: { region: 'eu-west', cluster: 'gpu-1' } },
  targets: {
    gateways: ['gw-1:8000', 'gw-2:8000'],
    nodeExporter: ['gpu-host:9100'],
    gpuExporter: { source: 'dcgm', targets: ['gpu-host:9400'] },
    responder: ['responder:9095'],
    alertmanagers: ['am-1:9093', 'am-2:9093'],
    modelServers: [
      { name: 'vllm-a', kind: 'vllm', targets: ['vllm-a:8001'] },
      { name: 'tgi', kind: 'tgi', targets: ['tgi:8080', 'tgi-2:8080'], metricsPath: '/prom' },
    ],
  },
};

function configOf(model: MonitoringModel): Record<string, any> {
  const files = renderPrometheusConfig(model);
  assert.deepEqual(
    files.map((f) => f.path),
    [PROMETHEUS_CONFIG_PATH],
  );
  return parseYaml(files[0]!.content);
}

/**
 * Lays out the generated config with the model's rule files beside it, as the
 * pipeline will (`prometheus/rules/<file>.yml`), in a temp dir removed after the test.
 */
function writeTree(t: { after(fn: () => void): void }, model: MonitoringModel): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-promcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
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

test('the default spec scrapes the gateway, node-exporter, the responder, Prometheus and Alertmanager, and no GPU exporter', () => {
  const config = configOf(fixtureModel());
  assert.deepEqual(config.global, { scrape_interval: '15s', evaluation_interval: '15s' });
  assert.deepEqual(config.rule_files, ['rules/*.yml']);
  assert.deepEqual(config.alerting, { alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: ['127.0.0.1:9093'] }] }] });
  assert.deepEqual(config.scrape_configs, [
    { job_name: 'llmwatch-gateway', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:8000'] }] },
    { job_name: 'node', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:9100'] }], relabel_configs: [HOST_RELABEL] },
    { job_name: 'llmwatch-responder', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:9095'] }] },
    // Prometheus and Alertmanager scrape themselves: the meta alerts read these series.
    { job_name: 'prometheus', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:9090'] }] },
    { job_name: 'alertmanager', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:9093'] }] },
  ]);
});

/** The `host` label (address without port) on the node and GPU jobs: what "a node down silences its GPU alerts" matches on. */
const HOST_RELABEL = { source_labels: ['__address__'], regex: '(.+):\\d+', target_label: 'host', replacement: '$1' };

test('the host label is the address without its port, so a node exporter and a GPU exporter on one machine share it', () => {
  // Prometheus anchors relabel regexes at both ends (RE2; the same here for these addresses).
  const re = new RegExp(`^(?:${HOST_RELABEL.regex})$`);
  const host = (address: string) => address.replace(re, HOST_RELABEL.replacement);
  assert.equal(host('gpu-host:9100'), 'gpu-host');
  assert.equal(host('gpu-host:9835'), 'gpu-host');
  assert.equal(host('10.0.0.7:9400'), '10.0.0.7');
  assert.equal(host('[fe80::1]:9100'), '[fe80::1]');
  const jobs = Object.fromEntries(configOf(fixtureModel(FULL_SPEC)).scrape_configs.map((j: { job_name: string }) => [j.job_name, j]));
  assert.deepEqual(jobs.node.relabel_configs, [HOST_RELABEL]);
  assert.deepEqual(jobs['llmwatch-gpu'].relabel_configs, [HOST_RELABEL]);
  assert.equal(jobs['llmwatch-gateway'].relabel_configs, undefined);
});

test('a full spec: external labels sorted, a GPU job, one job per model server with its server label and path', () => {
  const config = configOf(fixtureModel(FULL_SPEC));
  assert.deepEqual(config.global, { scrape_interval: '10s', evaluation_interval: '20s', external_labels: { cluster: 'gpu-1', region: 'eu-west' } });
  assert.deepEqual(Object.keys(config.global.external_labels), ['cluster', 'region']);
  assert.deepEqual(config.alerting.alertmanagers[0].static_configs, [{ targets: ['am-1:9093', 'am-2:9093'] }]);
  assert.deepEqual(
    config.scrape_configs.map((j: { job_name: string }) => j.job_name),
    ['llmwatch-gateway', 'node', 'llmwatch-gpu', 'llmwatch-responder', 'prometheus', 'alertmanager', 'model-server-vllm-a', 'model-server-tgi'],
  );
  const jobs = Object.fromEntries(config.scrape_configs.map((j: { job_name: string }) => [j.job_name, j]));
  assert.deepEqual(jobs['llmwatch-gateway'].static_configs, [{ targets: ['gw-1:8000', 'gw-2:8000'] }]);
  assert.deepEqual(jobs['llmwatch-gpu'].static_configs, [{ targets: ['gpu-host:9400'] }]);
  // Every Alertmanager Prometheus sends to is scraped.
  assert.deepEqual(jobs.alertmanager.static_configs, [{ targets: ['am-1:9093', 'am-2:9093'] }]);
  assert.deepEqual(jobs['model-server-tgi'], {
    job_name: 'model-server-tgi',
    metrics_path: '/prom',
    static_configs: [{ targets: ['tgi:8080', 'tgi-2:8080'], labels: { server: 'tgi' } }],
  });
  assert.deepEqual(jobs['model-server-vllm-a'].static_configs, [{ targets: ['vllm-a:8001'], labels: { server: 'vllm-a' } }]);
});

test('jobs with no targets are left out (a dcgm source with no targets included)', () => {
  const config = configOf(fixtureModel({ targets: { nodeExporter: [], responder: [], prometheus: [], gpuExporter: { source: 'dcgm' } } }));
  assert.deepEqual(
    config.scrape_configs.map((j: { job_name: string }) => j.job_name),
    // The Alertmanagers are always there: Prometheus sends to at least one.
    ['llmwatch-gateway', 'alertmanager'],
  );
});

test('two model servers with one name are refused, naming the field', () => {
  const model = fixtureModel({
    targets: {
      modelServers: [
        { name: 'vllm', targets: ['a:8001'] },
        { name: 'vllm', targets: ['b:8001'] },
      ],
    },
  });
  assert.throws(
    () => renderPrometheusConfig(model),
    (err) => hasCode(err, GEN_ERR_DUPLICATE_JOB) && /targets\.modelServers\[1\]\.name/.test(err.message),
  );
});

test('no deprecated or folded output, and the same bytes every run', () => {
  const content = renderPrometheusConfig(fixtureModel(FULL_SPEC))[0]!.content;
  assert.equal(renderPrometheusConfig(fixtureModel(FULL_SPEC))[0]!.content, content);
  assert.doesNotMatch(content, /retention|ignored-mount-points|api_version: v1/);
  assert.doesNotMatch(content, /^# /m, 'the pipeline adds the header, not the writer');
});

for (const [name, spec] of [
  ['default spec', {}],
  ['full spec', FULL_SPEC],
] as const) {
  test(`promtool check config accepts the config and finds the rule files (${name})`, async (t) => {
    const model = fixtureModel(spec);
    const file = writeTree(t, model);
    const { stdout } = await run('promtool', ['check', 'config', file], { timeout: 20_000 });
    assert.match(stdout, /is valid prometheus config file syntax/);
    // The glob is resolved relative to the config: every rule file is found and checked.
    assert.match(stdout, new RegExp(`SUCCESS: ${model.groups.length} rule files found`));
    for (const group of model.groups) {
      assert.match(stdout, new RegExp(`rules/${group.file}\\.yml\\n  SUCCESS: ${group.rules.length} rules found`));
    }
  });
}

test('promtool rejects the config when a rule file matched by the glob is broken (the glob is really followed)', async (t) => {
  const file = writeTree(t, fixtureModel());
  writeFileSync(join(dirname(file), 'rules', 'broken.yml'), 'groups:\n  - name: broken\n    rules:\n      - record: x\n        expr: sum(\n');
  await assert.rejects(run('promtool', ['check', 'config', file], { timeout: 20_000 }), (err: { stdout?: string; stderr?: string }) =>
    /broken\.yml/.test(`${err.stdout}${err.stderr}`),
  );
});
