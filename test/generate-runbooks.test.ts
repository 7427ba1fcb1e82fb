import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { GEN_ERR_ALERT_NAME, GEN_ERR_DUPLICATE_ALERT, GEN_ERR_EMPTY_OUTPUT, GEN_ERR_RUNBOOK_URL } from '../src/monitoring/errors.ts';
import type { AlertingRule, MonitoringModel } from '../src/monitoring/model.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RUNBOOKS_DIR, narrowed, renderRunbooks, runbookFor } from '../src/monitoring/writers/runbooks.ts';
import { run } from './helpers/promtool.ts';
import { ARTICLE_PLAYBOOKS } from '../src/core/config/playbook-spec.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { EXTERNAL_METRICS } from '../src/monitoring/writers/runbooks.ts';
import { metricDefinitions, seriesNames } from '../src/stack/metric-defs.ts';
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

test('the automatic response follows the routing and the actual playbooks: the steps of the spec\'s playbook, none without one, nothing for info', () => {
  const files = pages();
  const critical = section(files.get(`${RUNBOOKS_DIR}/HighErrorRate.md`)!, 'Automatic response');
  assert.match(critical, /at critical, firing and resolved, to the llmwatch responder \(`llmwatch-responder`\)/);
  // The fixture's spec has no playbooks: the deployed responder runs the article's, which answers neither of the fixture's alerts.
  assert.match(critical, /Playbook: none\. No playbook in the spec answers `HighErrorRate`/);
  assert.match(section(files.get(`${RUNBOOKS_DIR}/HighInferenceLatency.md`)!, 'Automatic response'), /Playbook: none/);
  // The article's latency playbook, given for HighInferenceLatency: its steps, in words.
  const withArticle = pages(fixtureModel({ playbooks: { HighInferenceLatency: ARTICLE_PLAYBOOKS.HighTimeToFirstToken } }));
  const article = section(withArticle.get(`${RUNBOOKS_DIR}/HighInferenceLatency.md`)!, 'Automatic response');
  assert.match(article, /at most once per target every 10m:\n\n1\. `scale` \(deployment=openllm, namespace=default, max=3\); only if `sum\(openllm_queue_length\{model="\(the alert's model\)"\}\)` is above 20; stops here when it succeeds\n2\. `switch-model` \(model=\(the alert's model\), target=fallback\); undone when the alert resolves\n3\. `notify` \(channel=chat\); always, whatever happened before$/);
  // The spec's own playbook replaces it, step for step.
  const own = pages(fixtureModel({ playbooks: { HighErrorRate: { cooldown: '30m', steps: [{ action: 'notify', params: { channel: 'pager' } }] } } }));
  assert.match(section(own.get(`${RUNBOOKS_DIR}/HighErrorRate.md`)!, 'Automatic response'), /every 30m:\n\n1\. `notify` \(channel=pager\)$/);
  assert.match(section(own.get(`${RUNBOOKS_DIR}/HighInferenceLatency.md`)!, 'Automatic response'), /Playbook: none/);
  const info = files.get(`${RUNBOOKS_DIR}/LowCacheHitRate.md`)!;
  assert.match(section(info, 'Automatic response'), /^None: /);
  assert.match(info, /\| Notifies \| info: no one \(recorded only\) \|/);
  assert.doesNotMatch(section(info, 'Automatic response'), /Playbook/);
});

test('a runbook filled in for one firing instance: its labels in the queries, the playbook and the silence', () => {
  const model = fixtureModel({ playbooks: { HighInferenceLatency: ARTICLE_PLAYBOOKS.HighTimeToFirstToken }, alertmanager: { receivers: { oncall: { pagerduty: [{ routingKeyFile: '/k' }] } }, routes: { critical: ['oncall'] } } });
  const page = runbookFor(model, 'HighInferenceLatency', { model: 'llama "3"', instance: 'not-identity:1', alertname: 'x' })!;
  assert.match(page, /\| This page is for \| `model="llama "3""` \|/);
  const check = section(page, 'Check it now');
  assert.match(check, /ALERTS\{alertname="HighInferenceLatency", model="llama \\"3\\""\}/);
  assert.match(check, /and on \(model\) label_replace\(vector\(1\), "model", "llama \\"3\\"", "", ""\)/);
  assert.doesNotMatch(check, /instance/, 'only identity labels narrow the queries');
  assert.match(section(page, 'Automatic response'), /`switch-model` \(model=llama "3", target=fallback\)/);
  assert.match(section(page, 'Silence'), /amtool silence add alertname=HighInferenceLatency 'model=llama "3"' --duration=2h/);
  assert.match(section(page, 'Escalation'), /- At critical: `oncall`, first after 30s, again every 5m while it fires\./);
  assert.equal(runbookFor(model, 'NoSuchAlert'), undefined);
});

test('the narrowed expression selects exactly that instance in the real Prometheus engine (promtool)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-narrow-'));
  try {
    const expr = narrowed('sum by (model, upstream) (rate(reqs_total[5m])) > 0', [['model', 'a$1.b'], ['upstream', 'u']]);
    writeFileSync(join(dir, 'rules.yml'), stringify({ groups: [{ name: 'g', rules: [{ alert: 'Narrowed', expr }] }] }));
    writeFileSync(
      join(dir, 'test.yml'),
      stringify({
        rule_files: ['rules.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              { series: 'reqs_total{model="a$1.b",upstream="u"}', values: '0+60x10' },
              { series: 'reqs_total{model="a$1.b",upstream="v"}', values: '0+60x10' },
              { series: 'reqs_total{model="axb",upstream="u"}', values: '0+60x10' },
            ],
            alert_rule_test: [{ eval_time: '6m', alertname: 'Narrowed', exp_alerts: [{ exp_labels: { alertname: 'Narrowed', model: 'a$1.b', upstream: 'u' } }] }],
          },
        ],
      }),
    );
    const r = run('promtool', ['test', 'rules', 'test.yml'], dir);
    assert.equal(r.status, 0, r.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

/** Issue 20 point 3: a runbook is read at 3 a.m.: nothing left to fill in, and every metric it names exists. */
for (const [what, specData] of [
  ['the default spec', {}],
  ['a spec with its own metric prefix, model servers and playbooks', {
    metricsPrefix: 'acme_',
    targets: { modelServers: [{ name: 'vllm-a', kind: 'vllm', targets: ['10.0.0.5:8000'] }] },
    playbooks: { HighErrorRate: { steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' } }] } },
  }],
] as const) {
  test(`generated runbooks of ${what}: no unfilled placeholder, no metric that nothing defines`, async () => {
    const spec = monitoringSpec(specData);
    const model = buildModel(spec);
    const defined = new Set<string>([...EXTERNAL_METRICS, 'ALERTS', 'ALERTS_FOR_STATE']);
    for (const def of await metricDefinitions(spec.metricsPrefix, spec.latencyBuckets)) for (const n of seriesNames(def)) defined.add(n);
    for (const g of model.groups) {
      for (const r of g.rules) {
        if ('record' in r) defined.add(r.record);
        // What the rules read from exporters (node-exporter, Prometheus, Alertmanager, DCGM) is defined by the rules that read it.
        for (const name of r.expr.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []) defined.add(name);
      }
    }
    const files = renderRunbooks(model);
    assert.ok(files.length > 10);
    const metricLike = new RegExp(`(?:[a-z_]+:)?(?:${spec.metricsPrefix}|llmwatch_|vllm:|node_|DCGM_|prometheus_|alertmanager_|nvidia_)[A-Za-z0-9_:]*`, 'g');
    for (const f of files) {
      assert.doesNotMatch(f.content, /\{\{|\{[A-Za-z_][A-Za-z0-9_]*\}/, `${f.path} has an unfilled placeholder`);
      if (spec.metricsPrefix !== 'openllm_') assert.doesNotMatch(f.content, /openllm_/, `${f.path} names the default prefix`);
      assert.doesNotMatch(f.content, /gpu_cache_usage_perc/, 'vLLM removed it');
      // Names in code spans and code blocks; URLs (percent-encoded links) are left out.
      const code = [...f.content.matchAll(/`([^`\n]+)`|```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1] ?? m[2] ?? '').join('\n');
      for (const name of code.match(metricLike) ?? []) {
        const bare = name.replace(/^\(|[.,:]$/g, '');
        assert.ok(defined.has(bare), `${f.path} names ${bare}, which no metric or rule defines`);
      }
    }
  });
}
