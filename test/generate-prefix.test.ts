import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { generate } from '../src/monitoring/generate.ts';

/** A spec with every generated part switched on: GPU exporter, a vLLM model server, the responder, the default playbooks. */
const SPEC = {
  targets: {
    gpuExporter: { source: 'llmwatch', targets: ['127.0.0.1:9835'] },
    modelServers: [{ name: 'vllm', kind: 'vllm', targets: ['127.0.0.1:8001'] }],
  },
};

test("a custom metric prefix: no generated file (rules, tests, dashboards, runbooks, responder playbooks) names the default prefix's metrics", () => {
  const files = generate(monitoringSpec({ ...SPEC, metricsPrefix: 'acme_' }));
  const kinds = ['prometheus/rules/', 'grafana/', 'docs/runbooks/', 'compose/responder.yaml'];
  for (const kind of kinds) assert.ok(files.some((f) => f.path.includes(kind)), `generates ${kind}`);
  const offending = files.filter((f) => /openllm_/.test(f.content)).map((f) => `${f.path}: ${f.content.match(/.{0,60}openllm_\w*/)![0]}`);
  assert.deepEqual(offending, []);
  // The names are there, under the spec's prefix: the runbooks, and the default playbook's queue condition.
  const runbook = files.find((f) => f.path.endsWith('runbooks/HighTimeToFirstToken.md'))!;
  assert.match(runbook.content, /acme_queue_wait_seconds/);
  assert.match(runbook.content, /sum\(acme_queue_length\{model=/);
  assert.match(files.find((f) => f.path === 'compose/responder.yaml')!.content, /sum\(acme_queue_length\{model=/);
});

test('the default prefix is where those names come from (the check above can fail)', () => {
  const files = generate(monitoringSpec(SPEC));
  assert.ok(files.some((f) => f.path.includes('docs/runbooks/') && /openllm_queue_wait_seconds/.test(f.content)));
  assert.ok(files.some((f) => f.path.includes('prometheus/rules/') && /openllm_requests_total/.test(f.content)));
});

test('the catalog and the default playbooks write no metric prefix into their texts', () => {
  for (const file of ['src/monitoring/catalog.ts', 'src/monitoring/meta-catalog.ts', 'src/monitoring/writers/runbooks.ts', 'src/core/config/playbook-spec.ts']) {
    // Comments may cite the source article's names; code and texts may not.
    const code = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*(\/\/|\*|\/\*\*)/.test(l))
      .join('\n');
    assert.doesNotMatch(code, /openllm_/, file);
  }
});
