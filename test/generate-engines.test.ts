import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import OpenAI from 'openai';
import { parse } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { ENGINE_ALERTS } from '../src/core/conventions/alerts.ts';
import { DASHBOARD_UID } from '../src/core/conventions/deploy.ts';
import { VLLM_METRIC, vllmRecordedNames } from '../src/core/conventions/vllm.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { buildDashboards } from '../src/monitoring/dashboards/build.ts';
import { GEN_ERR_INVALID_SPEC } from '../src/monitoring/errors.ts';
import { generate } from '../src/monitoring/generate.ts';
import type { AlertingRule, RecordingRule } from '../src/monitoring/model.ts';
import { ALERT_TABLE_BEGIN, ALERT_TABLE_END, engineAlertTable } from '../src/monitoring/writers/alert-table.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { startPrometheus } from './helpers/prometheus.ts';
import { generateInto, run } from './helpers/promtool.ts';

const VLLM_SPEC = { targets: { modelServers: [{ name: 'vllm', kind: 'vllm', targets: ['10.0.0.6:8000', '10.0.0.7:8000'] }] } };

const rules = (spec = monitoringSpec(VLLM_SPEC)) => buildModel(spec).groups.flatMap((g) => g.rules);
const alertExpr = (name: string, spec = monitoringSpec(VLLM_SPEC)) =>
  rules(spec)
    .filter((r): r is AlertingRule => 'alert' in r && r.alert === name)
    .map((r) => r.expr);

describe('engines in the spec: model servers of kind vllm', () => {
  test('without a vLLM server there is no engine rule, alert, test or dashboard', () => {
    for (const data of [{}, { targets: { modelServers: [{ name: 'tgi', kind: 'tgi', targets: ['10.0.0.8:8080'] }] } }]) {
      const spec = monitoringSpec(data);
      const model = buildModel(spec);
      assert.ok(!model.groups.some((g) => g.file === 'engine-recording'));
      assert.ok(!model.alerts.some((a) => (ENGINE_ALERTS as readonly string[]).includes(a.name)));
      assert.ok(!model.tests.some((t) => t.file === 'engine-recording'));
      assert.ok(!buildDashboards(model).some((d) => d.uid === DASHBOARD_UID.engines));
    }
  });

  test('the exact PromQL of the engine alerts, table-driven', () => {
    assert.deepEqual(alertExpr('VllmKvCacheNearFull'), ['vllm:kv_cache_usage_perc > 0.95']);
    assert.deepEqual(alertExpr('VllmPreemptionsRising'), ['rate(vllm:num_preemptions_total[5m]) * 60 > 1']);
    assert.deepEqual(alertExpr('VllmQueueGrowingAtCapacity'), [
      'vllm:num_requests_waiting > 5 and deriv(vllm:num_requests_waiting[5m]) > 0 and min_over_time(vllm:num_requests_waiting[5m]) > 0 and vllm:num_requests_running > 0',
    ]);
    const tuned = monitoringSpec({ ...VLLM_SPEC, alerts: { VllmKvCacheNearFull: { threshold: 0.9, for: '10m' }, VllmPreemptionsRising: { enabled: false } } });
    assert.deepEqual(alertExpr('VllmKvCacheNearFull', tuned), ['vllm:kv_cache_usage_perc > 0.9']);
    assert.deepEqual(alertExpr('VllmPreemptionsRising', tuned), []);
    const recorded = rules().filter((r): r is RecordingRule => 'record' in r);
    const n = vllmRecordedNames('5m');
    assert.deepEqual(
      recorded.filter((r) => r.record === n.kvCacheUsageMax || r.record === n.ttftQuantile('p95')).map((r) => [r.record, r.expr]),
      [
        [n.kvCacheUsageMax, 'max by (model_name) (vllm:kv_cache_usage_perc)'],
        [n.ttftQuantile('p95'), 'histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))'],
      ],
    );
  });

  test('the engine alerts\' table in docs/engines.md is what the catalog generates (npm run docs:alerts)', () => {
    const text = readFileSync(new URL('../docs/engines.md', import.meta.url), 'utf8');
    const begin = text.indexOf(ALERT_TABLE_BEGIN);
    const end = text.indexOf(ALERT_TABLE_END);
    assert.ok(begin !== -1 && end > begin);
    assert.equal(text.slice(begin + ALERT_TABLE_BEGIN.length, end).trim(), engineAlertTable(), 'stale: run npm run docs:alerts');
    assert.deepEqual(
      engineAlertTable().split('\n').slice(2).map((r) => r.split(' | ')[0]!.slice(2)),
      [...ENGINE_ALERTS],
    );
  });

  test('a KV-cache threshold outside 0..1 names the field', () => {
    assert.throws(
      () => buildModel(monitoringSpec({ ...VLLM_SPEC, alerts: { VllmKvCacheNearFull: { threshold: 1.2 } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /alerts\.VllmKvCacheNearFull/.test((err as Error).message),
    );
  });

  test('promtool: rules check, and every alert fires on one engine core among two replicas of two ranks, silent when healthy and idle', (t) => {
    const { dir, cleanup } = generateInto(monitoringSpec(VLLM_SPEC));
    t.after(cleanup);
    const prom = join(dir, 'prometheus');
    const ruleFiles = readdirSync(join(prom, 'rules')).map((f) => `rules/${f}`);
    assert.ok(ruleFiles.includes('rules/engine-recording.yml'));
    const checked = run('promtool', ['check', 'rules', ...ruleFiles], prom);
    assert.equal(checked.status, 0, checked.output);
    const files = ['VllmKvCacheNearFull.yml', 'VllmPreemptionsRising.yml', 'VllmQueueGrowingAtCapacity.yml', 'engine-recording.yml'];
    const tested = run('promtool', ['test', 'rules', ...files], join(prom, 'tests'));
    assert.equal(tested.status, 0, tested.output);
    assert.equal((tested.output.match(/SUCCESS/g) ?? []).length, files.length);
    for (const alert of ENGINE_ALERTS) {
      const doc = parse(readFileSync(join(prom, 'tests', `${alert}.yml`), 'utf8')) as {
        tests: Array<{ name: string; input_series: Array<{ series: string }>; alert_rule_test: Array<{ exp_alerts: Array<{ exp_labels: Record<string, string> }> }> }>;
      };
      const names = doc.tests.map((x) => x.name.slice(x.name.indexOf('): ') + 3));
      for (const kind of ['firing', 'healthy', 'idle']) assert.ok(names.some((x) => x.startsWith(kind)), `${alert}: ${kind}`);
      const firing = doc.tests.find((x) => x.name.includes(': firing'))!;
      // Series as vLLM's: two replicas, two data-parallel ranks, and only the bad core fires.
      assert.ok(firing.input_series.some((s) => s.series.includes('instance="vllm-1:8000"') && s.series.includes('engine="0"')));
      assert.ok(firing.input_series.some((s) => s.series.includes('instance="vllm-2:8000"') && s.series.includes('engine="1"')));
      assert.deepEqual(
        firing.alert_rule_test[0]!.exp_alerts.map((a) => [a.exp_labels.instance, a.exp_labels.engine, a.exp_labels.model_name, a.exp_labels.server]),
        [['vllm-2:8000', '1', 'example-model', 'vllm']],
      );
    }
  });

  test('Prometheus scrapes the engines directly: a job in prometheus.yml, in compose, and a ServiceMonitor on Kubernetes', () => {
    const files = generate(monitoringSpec(VLLM_SPEC));
    const file = (path: string) => files.find((f) => f.path === path)?.content ?? '';
    const jobOf = (yaml: string) =>
      (parse(yaml) as { scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[]; labels?: Record<string, string> }> }> }).scrape_configs.find(
        (j) => j.job_name === 'model-server-vllm',
      );
    const own = jobOf(file('prometheus/prometheus.yml'));
    assert.deepEqual(own?.static_configs, [{ targets: ['10.0.0.6:8000', '10.0.0.7:8000'], labels: { server: 'vllm' } }]);
    assert.equal(own?.metrics_path, '/metrics');
    assert.deepEqual(jobOf(file('compose/prometheus.yml'))?.static_configs[0]?.targets, ['vllm:8000']);
    assert.ok(files.some((f) => f.path.startsWith('k8s/') && f.content.includes('model-server-vllm')), 'a Kubernetes scrape object for the engine');
  });

  test('the engines dashboard draws the alerts\' levels and reads only what vLLM exports or the rules record', () => {
    const model = buildModel(monitoringSpec(VLLM_SPEC));
    const board = buildDashboards(model).find((d) => d.uid === DASHBOARD_UID.engines);
    assert.ok(board !== undefined);
    const panels = board.rows.flatMap((r) => r.panels);
    assert.equal(panels.find((p) => p.key === 'kv-cache-usage')?.threshold?.value, 0.95);
    assert.equal(panels.find((p) => p.key === 'preemptions')?.threshold?.alert?.name, 'VllmPreemptionsRising');
    assert.equal(panels.find((p) => p.key === 'engine-waiting')?.threshold?.alert?.name, 'VllmQueueGrowingAtCapacity');
    const defined = new Set<string>([...Object.values(VLLM_METRIC), ...model.groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r).map((r) => r.record))]);
    for (const p of panels) {
      for (const q of p.queries) {
        for (const name of q.expr.match(/[a-z_]+:[a-z_:0-9]+/g) ?? []) assert.ok(defined.has(name), `${p.key} reads ${name}`);
        // Valid PromQL once Grafana fills in the variable (Prometheus' own lezer parser).
        let broken = false;
        parser.parse(q.expr.replaceAll('$model_name', '.*')).iterate({ enter: (node) => void (node.type.isError && (broken = true)) });
        assert.ok(!broken, `${p.key}: ${q.expr}`);
      }
    }
    assert.ok(generate(monitoringSpec(VLLM_SPEC)).some((f) => f.path === `grafana/dashboards/${DASHBOARD_UID.engines}.json`));
  });
});

test('a real Prometheus scrapes the simulator as a vLLM engine, and the engine recording rules read its series', async (t) => {
  const sim = await startSimulator(
    simulatorConfig({ defaults: { ttftMs: 0, tpotMs: 5, jitter: 0, outputTokens: { min: 60, max: 60 } }, engine: { blockSize: 16, kvCacheTokens: 640, dataParallelSize: 2 } }),
    { port: 0 },
  );
  t.after(() => sim.close());
  const target = `127.0.0.1:${sim.port}`;
  const spec = engineSpec(target);
  const { dir, cleanup } = generateInto(spec);
  t.after(cleanup);
  const prometheus = await startPrometheus([target], `rule_files:\n  - ${join(dir, 'prometheus', 'rules', 'engine-recording.yml')}\n`);
  t.after(() => prometheus.close());
  const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 20_000 });
  const n = vllmRecordedNames(spec.rateWindow);
  const value = async (expr: string) => {
    const r = await prometheus.query(expr);
    return r.length === 0 ? undefined : Number(r[0]!.value[1]);
  };
  // Traffic until the recorded generation rate and the scrape of both ranks show it.
  let generated: number | undefined;
  for (let i = 0; i < 60 && !(generated !== undefined && generated > 0); i++) {
    await Promise.all(['a', 'b', 'c', 'd'].map((salt) => client.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: `${salt} ${'word '.repeat(40)}` }] })));
    generated = await value(`${n.generationTokenRate}{model_name="llama-3.1-8b-instruct"}`);
  }
  assert.ok(generated !== undefined && generated > 0, 'generation tokens recorded per model');
  assert.equal(await value(`count(${VLLM_METRIC.kvCacheUsage}{model_name="llama-3.1-8b-instruct"})`), 2, 'both data-parallel ranks scraped');
  assert.equal(await value(`up{instance="${target}"}`), 1);
  const stops = await value(`sum(${VLLM_METRIC.requestSuccess}{finished_reason="stop"})`);
  assert.ok(stops !== undefined && stops >= 4);
  // The TTFT quantile reads vLLM's bounds as they are written (le="0.001" ... le="2560.0").
  assert.ok((await value(`${n.ttftQuantile('p95')}{model_name="llama-3.1-8b-instruct"}`)) !== undefined);
});

/** A spec whose engine is the simulator, with a rate window a 1-second scrape fills in seconds. */
function engineSpec(target: string) {
  return monitoringSpec({ rateWindow: '10s', targets: { modelServers: [{ name: 'sim', kind: 'vllm', targets: [target] }] } });
}
