import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadMonitoringSpec, monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { GEN_ERR_INVALID_SPEC } from '../src/monitoring/errors.ts';
import { GENERATED_MARK, diffGenerated, generate } from '../src/monitoring/generate.ts';
import type { AlertingRule } from '../src/monitoring/model.ts';
import { generateInto, run, testFilesBeyondDefault } from './helpers/promtool.ts';

function alertRules(spec = monitoringSpec({})): AlertingRule[] {
  return buildModel(spec).groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r));
}

function exprOf(name: string, spec = monitoringSpec({})): string[] {
  return alertRules(spec)
    .filter((r) => r.alert === name)
    .map((r) => r.expr);
}

describe('generated rules pass the real promtool', () => {
  test('default spec: check config, check rules, and every unit test', (t) => {
    const { dir, cleanup } = generateInto(monitoringSpec({}));
    t.after(cleanup);
    const prom = join(dir, 'prometheus');
    const rules = readdirSync(join(prom, 'rules')).map((f) => `rules/${f}`);
    const checked = run('promtool', ['check', 'rules', ...rules], prom);
    assert.equal(checked.status, 0, checked.output);
    const tests = readdirSync(join(prom, 'tests'));
    const tested = run('promtool', ['test', 'rules', ...tests], join(prom, 'tests'));
    assert.equal(tested.status, 0, tested.output);
    assert.equal((tested.output.match(/SUCCESS/g) ?? []).length, tests.length);
  });

  test('per-model overrides: their own rules and tests, and the default rule excludes them', (t) => {
    const spec = monitoringSpec({
      alerts: { HighErrorRate: { threshold: 0.01, minRequestRate: 5 } },
      models: {
        'llama-70b': { alerts: { HighInferenceLatency: { threshold: 5, for: '5m' } } },
        'llama-1b': { alerts: { HighInferenceLatency: { threshold: 0.5 }, HighErrorRate: { enabled: false } } },
      },
      targets: { gpuExporter: { targets: ['10.0.0.5:9835'] }, modelServers: [{ name: 'vllm', kind: 'vllm', targets: ['10.0.0.6:8000'] }] },
    });
    assert.deepEqual(exprOf('HighInferenceLatency', spec), [
      'model_endpoint:openllm_inference_duration_seconds:p95{endpoint!="embeddings", model!~"llama-1b|llama-70b"} > 2 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 100',
      'model_endpoint:openllm_inference_duration_seconds:p95{endpoint!="embeddings", model="llama-1b"} > 0.5 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 100',
      'model_endpoint:openllm_inference_duration_seconds:p95{endpoint!="embeddings", model="llama-70b"} > 5 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 100',
    ]);
    // Disabled for llama-1b: the default rule leaves it out and no rule of its own exists.
    assert.deepEqual(exprOf('HighErrorRate', spec), ['openllm_request_error_rate{model!~"llama-1b"} > 0.01 and on (model) model:openllm_requests_judged:rate5m >= 5 and on (model) model:openllm_requests_judged:rate5m * 300 >= 100']);
    const { dir, cleanup } = generateInto(spec);
    t.after(cleanup);
    const tests = join(dir, 'prometheus', 'tests');
    // The test files byte-identical to the default spec's, with the rules they load (the drift alerts':
    // a week of evaluations each), passed the test above; the ones these overrides change run here.
    const { own, same } = testFilesBeyondDefault(dir);
    assert.ok(own.includes('HighInferenceLatency.yml') && own.includes('HighErrorRate.yml') && !same.includes('recording.yml'), `own: ${own.join(', ')}`);
    const tested = run('promtool', ['test', 'rules', ...own], tests);
    assert.equal(tested.status, 0, tested.output);
    assert.equal((tested.output.match(/SUCCESS/g) ?? []).length, own.length);
    const latency = parse(readFileSync(join(tests, 'HighInferenceLatency.yml'), 'utf8')) as { tests: Array<{ name: string }> };
    assert.ok(latency.tests.some((x) => x.name.includes('llama-70b')));
    assert.ok(latency.tests.some((x) => x.name.includes('llama-1b')));
    // GPU exporter and model servers deployed: their absence is an alert now.
    assert.ok(exprOf('TargetAbsent', spec).some((e) => e.includes('absent(up{job="llmwatch-gpu"})')));
    assert.ok(exprOf('TargetAbsent', spec).some((e) => e.includes('absent(up{job="model-server-vllm"})')));
  });
});

describe('the latency SLO judges what users wait for', () => {
  const recorded = (spec: ReturnType<typeof monitoringSpec>) =>
    buildModel(spec)
      .groups.flatMap((g) => g.rules)
      .filter((r): r is { record: string; expr: string } => 'record' in r && r.record === 'model:openllm_requests_slow:ratio_rate1h')
      .map((r) => r.expr);

  test('by default: time to first token at 2.5 s, so a long answer is not a slow one', () => {
    assert.deepEqual(recorded(monitoringSpec({})), [
      '1 - sum by (model) (rate(openllm_time_to_first_token_seconds_bucket{le="2.5"}[1h])) / sum by (model) (rate(openllm_time_to_first_token_seconds_count[1h]))',
    ]);
  });

  test('latencyIndicator e2e: the end-to-end latency of the article, its generated promtool cases passing', (t) => {
    const spec = monitoringSpec({ slo: { latencyIndicator: 'e2e' } });
    assert.deepEqual(recorded(spec), [
      '1 - sum by (model) (rate(openllm_inference_duration_seconds_bucket{le=~"2|2\\\\.0"}[1h])) / sum by (model) (rate(openllm_inference_duration_seconds_count[1h]))',
    ]);
    const { dir, cleanup } = generateInto(spec);
    t.after(cleanup);
    const tests = join(dir, 'prometheus', 'tests');
    const tested = run('promtool', ['test', 'rules', 'LatencyBudgetBurn.yml'], tests);
    assert.equal(tested.status, 0, tested.output);
  });
});

describe('the exact PromQL, table-driven', () => {
  const cases: Array<[string, string[]]> = [
    // Per model and endpoint: chat and completions here, embeddings in their own alert.
    ['HighInferenceLatency', ['model_endpoint:openllm_inference_duration_seconds:p95{endpoint!="embeddings"} > 2 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 100']],
    ['HighEmbeddingLatency', ['model_endpoint:openllm_inference_duration_seconds:p95{endpoint="embeddings"} > 1 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 100']],
    ['HighTimeToFirstToken', ['model_endpoint:openllm_time_to_first_token_seconds:p95 > 2.5 and on (model, endpoint) model_endpoint:openllm_time_to_first_token_seconds_count:rate5m * 300 >= 100']],
    ['HighTimePerOutputToken', ['model_endpoint:openllm_time_per_output_token_seconds:p95 > 0.15 and on (model, endpoint) model_endpoint:openllm_time_per_output_token_seconds_count:rate5m * 300 >= 100']],
    ['LowTokenThroughput', ['openllm_token_throughput_per_second < 50 and on (model) model:openllm_requests_in_flight:avg5m >= 1']],
    ['QueueBacklog', ['model:openllm_queue_length:sum > 10']],
    ['HighTimeoutRate', ['model:openllm_upstream_timeouts:ratio_rate5m > 0.05 and on (model) model:openllm_upstream_requests:rate5m * 300 >= 20']],
    ['HighErrorRate', ['openllm_request_error_rate > 0.001 and on (model) model:openllm_requests_judged:rate5m >= 1 and on (model) model:openllm_requests_judged:rate5m * 300 >= 100']],
    ['ModelUnavailable', ['model:openllm_request_errors:rate5m * 300 >= 3 unless on (model) model:openllm_request_successes:rate5m > 0']],
    ['ModelServerUnreachable', ['model_upstream:openllm_upstream_connection_errors:ratio_rate1m >= 0.9']],
    ['ModelServedByFallback', ['model_target:openllm_upstream_requests:rate5m > 0 unless on (model, upstream, upstream_model) openllm_route_primary == 1']],
    ['HighToxicityScore', ['model:openllm_output_toxicity_score:avg > 0.3']],
    ['LowCacheHitRate', ['openllm_cache_hit_rate < 0.3 and on (model) model:openllm_cache_lookups:rate5m >= 0.1']],
    ['HighGpuMemoryUsage', ['gpu:node_gpu_memory_utilisation:ratio > 0.95']],
    ['HighCpuUsage', ['node_cpu_usage_percent > 80']],
    ['HighHostMemoryUsage', ['instance:node_memory_utilisation:ratio > 0.85']],
    // Per upstream: more than one endpoint, the count unchanged for the whole window, the summed peak in flight fitting on one fewer.
    [
      'SpareReplicas',
      [
        'max by (upstream) (openllm_upstream_endpoints) > 1 and on (upstream) max by (upstream) (changes(openllm_upstream_endpoints[15m])) == 0 and on (upstream) sum by (upstream) (max_over_time(openllm_upstream_endpoint_in_flight[15m])) <= on (upstream) (max by (upstream) (openllm_upstream_endpoints) - 1) * 32 unless on (upstream) max by (upstream) (max_over_time(openllm_queue_length[15m])) > 0 unless on (upstream) max by (upstream) (max_over_time(openllm_upstream_endpoint_ejected[15m])) > 0',
      ],
    ],
    // One rule per severity (critical: the gateway; warning: the rest), so no two rules share name and labels.
    ['TargetDown', ['up{job="llmwatch-gateway"} == 0', 'up{job=~"node|llmwatch-responder|prometheus|alertmanager"} == 0']],
    [
      'TargetAbsent',
      ['absent(up{job="llmwatch-gateway"})', 'absent(up{job="node"}) or absent(up{job="llmwatch-responder"}) or absent(up{job="prometheus"}) or absent(up{job="alertmanager"})'],
    ],
    [
      'ErrorBudgetBurn',
      [
        // Minimum events per pair, auto: 1 / (burn rate x budget), so one bad request alone never pages.
        '(model:openllm_request_errors:ratio_rate1h > 14.4 * 0.001 and model:openllm_request_errors:ratio_rate5m > 14.4 * 0.001 and model:openllm_requests_judged:increase1h >= 70) or (model:openllm_request_errors:ratio_rate6h > 6 * 0.001 and model:openllm_request_errors:ratio_rate30m > 6 * 0.001 and model:openllm_requests_judged:increase6h >= 167)',
        '(model:openllm_request_errors:ratio_rate3d > 1 * 0.001 and model:openllm_request_errors:ratio_rate6h > 1 * 0.001 and model:openllm_requests_judged:increase3d >= 1000)',
      ],
    ],
  ];
  for (const [name, want] of cases) {
    test(name, () => assert.deepEqual(exprOf(name), want));
  }

  test('minEvents: tunable per alert and per model, 0 turns the guard off, refused where it means nothing; slo.minEvents fixes every pair', () => {
    const spec = monitoringSpec({
      alerts: { HighTimeToFirstToken: { minEvents: 0 } },
      models: { small: { alerts: { HighInferenceLatency: { minEvents: 20 } } } },
      slo: { minEvents: 50 },
    });
    assert.deepEqual(exprOf('HighTimeToFirstToken', spec), ['model_endpoint:openllm_time_to_first_token_seconds:p95 > 2.5']);
    assert.deepEqual(exprOf('HighInferenceLatency', spec), [
      'model_endpoint:openllm_inference_duration_seconds:p95{endpoint!="embeddings", model!~"small"} > 2 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 100',
      'model_endpoint:openllm_inference_duration_seconds:p95{endpoint!="embeddings", model="small"} > 2 and on (model, endpoint) model_endpoint:openllm_inference_duration_seconds_count:rate5m * 300 >= 20',
    ]);
    assert.match(exprOf('ErrorBudgetBurn', spec)[0]!, /increase1h >= 50\) or .*increase6h >= 50\)$/);
    assert.throws(
      () => buildModel(monitoringSpec({ alerts: { QueueBacklog: { minEvents: 10 } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /alerts\.QueueBacklog\.minEvents: QueueBacklog is not a ratio or quantile alert/.test(err.message),
    );
  });

  test('SpareReplicas: its window and threshold are tunable; it never pages; a window is refused on an alert without one', () => {
    const spec = monitoringSpec({ alerts: { SpareReplicas: { window: '30m', threshold: 8, for: '5m' } } });
    const [expr] = exprOf('SpareReplicas', spec);
    assert.match(expr!, /\(changes\(openllm_upstream_endpoints\[30m\]\)\) == 0/);
    assert.match(expr!, /max_over_time\(openllm_upstream_endpoint_in_flight\[30m\]\)\) <= on \(upstream\) \(max by \(upstream\) \(openllm_upstream_endpoints\) - 1\) \* 8 /);
    assert.throws(
      () => buildModel(monitoringSpec({ alerts: { SpareReplicas: { severity: 'critical' } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /alerts\.SpareReplicas: severity critical: spare replicas cost money, not users, and must never page/.test(err.message),
    );
    assert.throws(
      () => buildModel(monitoringSpec({ alerts: { QueueBacklog: { window: '10m' } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /alerts\.QueueBacklog\.window: QueueBacklog has no window of its own/.test(err.message),
    );
  });

  test('the article names are recorded exactly, over every gateway replica', () => {
    const recorded = buildModel(monitoringSpec({})).groups.flatMap((g) => g.rules.filter((r) => 'record' in r)) as Array<{ record: string; expr: string }>;
    const byName = Object.fromEntries(recorded.map((r) => [r.record, r.expr]));
    assert.equal(byName.openllm_request_error_rate, 'model:openllm_request_errors:rate5m / model:openllm_requests_judged:rate5m');
    assert.equal(byName.openllm_token_throughput_per_second, 'sum by (model) (rate(openllm_tokens_processed_total{kind="completion"}[5m]))');
    assert.equal(byName.openllm_cache_hit_rate, 'sum by (model) (rate(openllm_cache_requests_total{result="hit"}[5m])) / model:openllm_cache_lookups:rate5m');
    assert.equal(byName.node_cpu_usage_percent, '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))');
    assert.equal(byName.node_memory_usage_bytes, 'node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes');
    assert.equal(byName['model:openllm_requests:rate5m'], 'sum by (model) (rate(openllm_requests_total[5m]))');
  });

  test('every alert carries severity, service, category, summary, description and runbook_url', () => {
    for (const r of alertRules()) {
      assert.deepEqual(Object.keys(r.labels).sort(), ['category', 'service', 'severity'], r.alert);
      assert.deepEqual(Object.keys(r.annotations).sort(), ['description', 'runbook_url', 'summary'], r.alert);
      assert.match(r.annotations.runbook_url!, new RegExp(`/${r.alert}\\.md$`));
      assert.doesNotMatch(r.annotations.description!, /\{threshold\}|\{for\}/);
    }
  });
});

describe("the article's broken rules, beside ours, on the same input", () => {
  test('its HighCpuUsage stays silent at 90% CPU on four cores, and its LowTokenThroughput fires with no traffic', (t) => {
    const { dir, cleanup } = generateInto(monitoringSpec({}));
    t.after(cleanup);
    const tests = join(dir, 'prometheus', 'tests');
    writeFileSync(
      join(tests, 'article-rules.yml'),
      `groups:
  - name: article
    rules:
      - alert: ArticleHighCpuUsage
        expr: avg(rate(node_cpu_seconds_total{mode!="idle"}[5m])) by (instance) > 0.8
        for: 5m
      - alert: ArticleLowTokenThroughput
        expr: avg(rate(openllm_tokens_processed_total[5m])) < 50
        for: 5m
`,
    );
    // Our own CPU test input (90% busy, 4 cores x idle/user/system) and our idle throughput input.
    const cpu = parse(readFileSync(join(tests, 'HighCpuUsage.yml'), 'utf8')) as { tests: Array<{ name: string; input_series: unknown }> };
    const tput = parse(readFileSync(join(tests, 'LowTokenThroughput.yml'), 'utf8')) as { tests: Array<{ name: string; input_series: unknown }> };
    const busy = cpu.tests.find((x) => x.name.endsWith('firing'))!.input_series;
    const idle = tput.tests.find((x) => x.name.endsWith('idle'))!.input_series;
    const file = {
      rule_files: ['article-rules.yml'],
      evaluation_interval: '1m',
      tests: [
        { interval: '1m', input_series: busy, alert_rule_test: [{ eval_time: '15m', alertname: 'ArticleHighCpuUsage', exp_alerts: [] }] },
        {
          interval: '1m',
          input_series: idle,
          alert_rule_test: [{ eval_time: '15m', alertname: 'ArticleLowTokenThroughput', exp_alerts: [{ exp_labels: {} }] }],
        },
      ],
    };
    writeFileSync(join(tests, 'article.test.yml'), JSON.stringify(file));
    const r = run('promtool', ['test', 'rules', 'article.test.yml'], tests);
    assert.equal(r.status, 0, `the article's rules behave as DESIGN.md says they do:\n${r.output}`);
  });
});

describe('deterministic output', () => {
  test('the same spec gives the same bytes; every file carries the DO NOT EDIT mark', () => {
    const a = generate(monitoringSpec({}));
    const b = generate(monitoringSpec({}));
    assert.deepEqual(a, b);
    for (const f of a) assert.ok(f.content.includes(GENERATED_MARK), f.path);
    assert.deepEqual(
      a.map((f) => f.path),
      [...a.map((f) => f.path)].sort(),
    );
  });

  test('deploy/ is exactly what llmwatch.yaml generates (regenerate and commit after changing the generator)', () => {
    const root = new URL('..', import.meta.url).pathname;
    const differ = diffGenerated(join(root, 'deploy'), generate(loadMonitoringSpec(join(root, 'llmwatch.yaml'))));
    assert.deepEqual(differ, [], 'run: npm run llmwatch -- generate');
  });
});

describe('a spec that cannot be generated says which field and why', () => {
  test('a latency threshold beyond the buckets', () => {
    assert.throws(
      () => buildModel(monitoringSpec({ models: { big: { alerts: { HighInferenceLatency: { threshold: 20 } } } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /models\.big\.alerts\.HighInferenceLatency: threshold 20 must lie between/.test(err.message),
    );
  });
  test('a CPU threshold that is not a percentage', () => {
    assert.throws(
      () => buildModel(monitoringSpec({ alerts: { HighCpuUsage: { threshold: 120 } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /alerts\.HighCpuUsage: threshold is a percentage/.test(err.message),
    );
  });
});
