import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { hasCode } from '../src/core/errors.ts';
import { GEN_ERR_DUPLICATE_GROUP, GEN_ERR_EMPTY_OUTPUT } from '../src/monitoring/errors.ts';
import { PROMETHEUS_RULE_PATH, SERVICE_MONITOR_PATH, renderKubernetes } from '../src/monitoring/writers/kubernetes.ts';
import { dumpYaml } from '../src/monitoring/yaml.ts';
import { fixtureModel } from './helpers/model-fixture.ts';

const run = promisify(execFile);

function manifests(specData: Record<string, unknown> = {}) {
  const model = fixtureModel(specData);
  const files = renderKubernetes(model);
  assert.deepEqual(
    files.map((f) => f.path),
    [PROMETHEUS_RULE_PATH, SERVICE_MONITOR_PATH],
  );
  for (const f of files) assert.equal(parseAllDocuments(f.content).length, 1, `${f.path}: one YAML document`);
  return { model, files, rule: parseYaml(files[0]!.content), monitor: parseYaml(files[1]!.content) };
}

test('the PrometheusRule holds every rule group of the model, every rule exactly once', () => {
  const { model, rule } = manifests();
  assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(rule.kind, 'PrometheusRule');
  assert.deepEqual(rule.metadata, { name: 'llmwatch-rules', labels: { 'app.kubernetes.io/part-of': 'llmwatch' } });
  assert.deepEqual(
    rule.spec.groups.map((g: { name: string }) => g.name),
    model.groups.map((g) => g.name),
  );
  const inManifest: unknown[] = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
  const inModel = model.groups.flatMap((g) => g.rules);
  assert.equal(inManifest.length, inModel.length);
  for (const expected of inModel) {
    // deepStrictEqual ignores key order: the same rule, whatever order the writer puts its keys in.
    const matches = inManifest.filter((r) => {
      try {
        assert.deepEqual(r, { ...expected });
        return true;
      } catch {
        return false;
      }
    });
    assert.equal(matches.length, 1, `exactly one copy of ${JSON.stringify(expected)}`);
  }
});

test('the PrometheusRule groups are valid Prometheus rules (promtool check rules)', async (t) => {
  const { model, rule } = manifests();
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-k8s-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.yml');
  writeFileSync(file, dumpYaml({ groups: rule.spec.groups }));
  const { stdout } = await run('promtool', ['check', 'rules', file], { timeout: 20_000 });
  assert.match(stdout, new RegExp(`SUCCESS: ${model.groups.flatMap((g) => g.rules).length} rules found`));
});

test('the ServiceMonitor selects the gateway Service by app name and scrapes its http port at the spec interval', () => {
  const { monitor } = manifests({ prometheus: { scrapeInterval: '30s' } });
  assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(monitor.kind, 'ServiceMonitor');
  assert.deepEqual(monitor.metadata, { name: 'llmwatch-gateway', labels: { 'app.kubernetes.io/part-of': 'llmwatch' } });
  assert.deepEqual(monitor.spec.selector, { matchLabels: { 'app.kubernetes.io/name': 'llmwatch-gateway' } });
  // The job label comes from the app name, so in-cluster series carry job="llmwatch-gateway" like the rules expect.
  assert.equal(monitor.spec.jobLabel, 'app.kubernetes.io/name');
  assert.deepEqual(monitor.spec.endpoints, [{ port: 'http', path: '/metrics', interval: '30s' }]);
});

test('the manifests are the same bytes every run, with no header and no YAML aliases', () => {
  const a = manifests().files;
  assert.deepEqual(manifests().files, a);
  for (const f of a) {
    assert.doesNotMatch(f.content, /^# /m);
    assert.doesNotMatch(f.content, /[&*]a\d/);
  }
});

test('a model with no rule groups or with two groups of one name is refused', () => {
  const model = fixtureModel();
  assert.throws(
    () => renderKubernetes({ ...model, groups: [] }),
    (err) => hasCode(err, GEN_ERR_EMPTY_OUTPUT),
  );
  assert.throws(
    () => renderKubernetes({ ...model, groups: [...model.groups, model.groups[0]!] }),
    (err) => hasCode(err, GEN_ERR_DUPLICATE_GROUP) && err.message.includes(model.groups[0]!.name),
  );
});
