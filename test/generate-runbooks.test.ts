import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { GEN_ERR_ALERT_NAME, GEN_ERR_DUPLICATE_ALERT, GEN_ERR_EMPTY_OUTPUT, GEN_ERR_RUNBOOK_URL } from '../src/monitoring/errors.ts';
import type { AlertingRule, MonitoringModel } from '../src/monitoring/model.ts';
import { RUNBOOKS_DIR, renderRunbooks } from '../src/monitoring/writers/runbooks.ts';
import { fixtureModel } from './helpers/model-fixture.ts';

function pages(model: MonitoringModel = fixtureModel()): Map<string, string> {
  return new Map(renderRunbooks(model).map((f) => [f.path, f.content]));
}

function section(page: string, title: string): string {
  const start = page.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `section ${title} missing`);
  const rest = page.slice(start + title.length + 5);
  const end = rest.indexOf('\n## ');
  return (end < 0 ? rest : rest.slice(0, end)).trim();
}

test('one runbook per alert at the path its runbook_url points to, plus the index', () => {
  const model = fixtureModel();
  const files = pages(model);
  assert.deepEqual(
    [...files.keys()],
    [...model.alerts.map((a) => `${RUNBOOKS_DIR}/${a.name}.md`), `${RUNBOOKS_DIR}/README.md`],
  );
  for (const alert of model.alerts) {
    const path = `${RUNBOOKS_DIR}/${alert.name}.md`;
    assert.ok(alert.runbookURL.endsWith(path.slice('docs'.length)), `${alert.runbookURL} ends with ${path}`);
  }
});

test('a runbook has the title, severity, category, meaning, impact and numbered steps of its alert', () => {
  const model = fixtureModel();
  const alert = model.alerts.find((a) => a.name === 'HighInferenceLatency')!;
  const page = pages(model).get(`${RUNBOOKS_DIR}/HighInferenceLatency.md`)!;
  assert.ok(page.startsWith('# HighInferenceLatency\n\nP95 inference latency is too high\n'));
  // Severities in fixed order, whatever order the catalog gave.
  assert.match(page, /\| Severity \| critical, warning \|/);
  assert.match(page, /\| Category \| performance \|/);
  assert.match(page, /\| One alert per \| `model` \|/);
  // No receivers in the spec: the page says the responder alone is told, and no person.
  assert.match(page, /\| Notifies \| critical: llmwatch-responder only, no person \(declare receivers in alertmanager\.receivers and alertmanager\.routes\); warning: llmwatch-responder only, no person/);
  const routed = pages(fixtureModel({ alertmanager: { receivers: { oncall: { pagerduty: [{ routingKeyFile: '/k' }] }, team: {} }, routes: { critical: ['oncall'], warning: ['team'] } } }));
  assert.match(routed.get(`${RUNBOOKS_DIR}/HighInferenceLatency.md`)!, /\| Notifies \| critical: oncall, llmwatch-responder; warning: team, llmwatch-responder \|/);
  assert.equal(section(page, 'Meaning'), alert.runbook.meaning);
  assert.equal(section(page, 'Impact'), alert.runbook.impact);
  assert.equal(
    section(page, 'Diagnosis'),
    '1. Query `model_endpoint:openllm_inference_duration_seconds:p95`.\n2. Look at the logs:\n   ```sh\n   journalctl -u llmwatch\n   ```',
  );
  assert.equal(section(page, 'Mitigation'), '1. The responder scales out.\n2. Switch to a smaller model.');
  assert.ok(page.endsWith('[All runbooks](README.md)\n'));
});

test('a runbook quotes the exact PromQL of every rule of its alert', () => {
  const model = fixtureModel();
  const page = pages(model).get(`${RUNBOOKS_DIR}/HighInferenceLatency.md`)!;
  const rules = model.groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r && r.alert === 'HighInferenceLatency');
  assert.equal(rules.length, 2);
  const quoted = section(page, 'Rules');
  for (const rule of rules) {
    assert.ok(quoted.includes(`- \`${rule.labels.severity}\` after ${rule.for}:\n\n  \`\`\`promql\n  ${rule.expr}\n  \`\`\``), quoted);
  }
});

test('the automatic-response line follows the routing: the responder for critical and warning, nothing for info', () => {
  const files = pages();
  const critical = section(files.get(`${RUNBOOKS_DIR}/HighErrorRate.md`)!, 'Automatic response');
  assert.match(critical, /at critical, firing and resolved, to the llmwatch responder \(`llmwatch-responder`\)/);
  assert.match(critical, /playbook its config sets for `HighErrorRate`/);
  const info = files.get(`${RUNBOOKS_DIR}/LowCacheHitRate.md`)!;
  assert.match(section(info, 'Automatic response'), /^None: /);
  assert.match(info, /\| Notifies \| info: no one \(recorded only\) \|/);
  assert.doesNotMatch(section(info, 'Automatic response'), /runs the playbook/);
});

test('the index lists every alert, sorted by name, linked to its page, table cells escaped', () => {
  const model = fixtureModel();
  const withPipe = { ...model, alerts: model.alerts.map((a) => (a.name === 'TargetDown' ? { ...a, summary: 'A target | is\ndown' } : a)) };
  const index = pages(withPipe).get(`${RUNBOOKS_DIR}/README.md`)!;
  const rows = index.split('\n').filter((l) => l.startsWith('| ['));
  assert.deepEqual(rows, [
    '| [HighErrorRate](HighErrorRate.md) | critical | error | More than the threshold of requests to `<model>` fail |',
    '| [HighGpuMemoryUsage](HighGpuMemoryUsage.md) | critical, warning | resource | GPU `<gpu>` on `<instance>` is above the threshold memory |',
    '| [HighInferenceLatency](HighInferenceLatency.md) | critical, warning | performance | P95 inference latency is too high |',
    '| [LowCacheHitRate](LowCacheHitRate.md) | info | efficiency | The response cache rarely hits |',
    '| [TargetDown](TargetDown.md) | critical | availability | A target \\| is down |',
  ]);
});

test('the summary template reads as prose: label references and threshold placeholders are replaced', () => {
  const page = pages().get(`${RUNBOOKS_DIR}/TargetDown.md`)!;
  assert.ok(page.startsWith('# TargetDown\n\nTarget `<instance>` of job `<job>` is down\n'), page);
  assert.doesNotMatch(page.split('## Rules')[0]!, /\{\{|\{threshold\}/);
});

test('the output is the same bytes every run, with no generated-code header (the pipeline adds it)', () => {
  const a = renderRunbooks(fixtureModel());
  assert.deepEqual(renderRunbooks(fixtureModel()), a);
  for (const f of a) assert.doesNotMatch(f.content, /Code generated/);
});

test('a model the runbooks cannot be written from is refused with its code', () => {
  const model = fixtureModel();
  const [first] = model.alerts;
  assert.throws(
    () => renderRunbooks({ ...model, alerts: [] }),
    (err) => hasCode(err, GEN_ERR_EMPTY_OUTPUT),
  );
  assert.throws(
    () => renderRunbooks({ ...model, alerts: [...model.alerts, first!] }),
    (err) => hasCode(err, GEN_ERR_DUPLICATE_ALERT),
  );
  assert.throws(
    () => renderRunbooks({ ...model, alerts: [{ ...first!, name: '../evil', runbookURL: 'x/../evil.md' }] }),
    (err) => hasCode(err, GEN_ERR_ALERT_NAME),
  );
  assert.throws(
    () => renderRunbooks({ ...model, alerts: [{ ...first!, runbookURL: 'https://example.test/runbooks/high-latency' }] }),
    (err) => hasCode(err, GEN_ERR_RUNBOOK_URL) && err.message.includes(first!.name),
  );
});
