import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { generate } from '../src/monitoring/generate.ts';
import { generateInto, run } from './helpers/promtool.ts';

/** Every generated part that reads the gateway's histograms: the alerts on them and the SLO burn rates. */
const SPEC = { slo: { enabled: true } };

interface RuleFile {
  groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

function rules(files: ReturnType<typeof generate>): Array<{ record?: string; alert?: string; expr: string }> {
  return files.filter((f) => f.path.startsWith('prometheus/rules/')).flatMap((f) => (parse(f.content) as RuleFile).groups.flatMap((g) => g.rules));
}

test('metricsNaming: otel: the recording rules read the OpenTelemetry families and record the very same names; alerts are unchanged', () => {
  const own = rules(generate(monitoringSpec(SPEC)));
  const otel = rules(generate(monitoringSpec({ ...SPEC, metricsNaming: 'otel' })));
  assert.deepEqual(otel.map((r) => r.record ?? r.alert), own.map((r) => r.record ?? r.alert));
  // Every alert expression is the same: alerts read recorded names (and counters both namings export).
  assert.deepEqual(
    otel.filter((r) => r.alert !== undefined).map((r) => r.expr),
    own.filter((r) => r.alert !== undefined).map((r) => r.expr),
  );
  const text = otel.map((r) => r.expr).join('\n');
  // Raw reads only: the recorded names (`model_endpoint:openllm_...:p95`) keep llmwatch's spelling.
  for (const gone of ['openllm_inference_duration_seconds_', 'openllm_time_to_first_token_seconds_', 'openllm_time_per_output_token_seconds_', 'openllm_tokens_processed_total', 'openllm_request_completion_tokens_']) {
    assert.ok(!new RegExp(`(^|[^:\\w])${gone}`, 'm').test(text), `an otel rule still reads ${gone}`);
  }
  assert.ok(own.some((r) => /(^|[^:\w])openllm_inference_duration_seconds_bucket/.test(r.expr)), 'the check above can fail');
  const expr = (name: string) => otel.find((r) => r.record === name)!.expr;
  // Successes only (llmwatch's latency counts successes), relabelled to model and endpoint, per bucket.
  assert.equal(
    expr('model_endpoint:openllm_inference_duration_seconds:p95'),
    'histogram_quantile(0.95, sum by (model, endpoint, le) (label_replace(label_replace(label_replace(label_replace(rate(gen_ai_client_operation_duration_seconds_bucket{error_type=""}[5m]), "model", "$1", "gen_ai_request_model", "(.+)"), "endpoint", "chat_completions", "gen_ai_operation_name", "chat"), "endpoint", "completions", "gen_ai_operation_name", "text_completion"), "endpoint", "embeddings", "gen_ai_operation_name", "embeddings")))',
  );
  assert.equal(expr('openllm_token_throughput_per_second'), 'sum by (model) (label_replace(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="output"}[5m]), "model", "$1", "gen_ai_request_model", "(.+)"))');
  assert.match(expr('model:openllm_requests_slow:ratio_rate5m'), /gen_ai_server_time_to_first_token_seconds_bucket\{le="2.5"\}/);
  // OutputLengthDrift's signal: the mean completion size of successful answers, `_sum` over `_count`, in either naming
  // (a median of the OpenTelemetry token histogram's fourfold buckets would not see a halving); no answers, no sample.
  const length = 'model:openllm_request_completion_tokens:mean_1h';
  assert.equal(
    own.find((r) => r.record === length)!.expr,
    'sum by (model) (rate(openllm_request_completion_tokens_sum{endpoint!="embeddings"}[1h])) / (sum by (model) (rate(openllm_request_completion_tokens_count{endpoint!="embeddings"}[1h])) > 0)',
  );
  assert.equal(
    expr(length),
    'sum by (model) (label_replace(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="output"}[1h]), "model", "$1", "gen_ai_request_model", "(.+)"))' +
      ' / (sum by (model) (label_replace(rate(gen_ai_client_token_usage_count{gen_ai_token_type="output"}[1h]), "model", "$1", "gen_ai_request_model", "(.+)")) > 0)',
  );
  // The counters the conventions do not define are read under llmwatch's names.
  assert.match(expr('model:openllm_requests:rate5m'), /openllm_requests_total/);
});

test('promtool: the recording rules, the histogram alerts, the latency burn rate and OutputLengthDrift, tested on OpenTelemetry-named series', (t) => {
  const { dir, cleanup } = generateInto(monitoringSpec({ ...SPEC, metricsNaming: 'otel' }));
  t.after(cleanup);
  const prom = join(dir, 'prometheus');
  // OutputLengthDrift: firing on a step change, silent when healthy, idle, or drifted the same way a week earlier.
  for (const file of ['recording', 'HighTimeToFirstToken', 'HighTimePerOutputToken', 'HighInferenceLatency', 'HighEmbeddingLatency', 'LowTokenThroughput', 'LatencyBudgetBurn', 'OutputLengthDrift']) {
    const tests = readFileSync(join(prom, 'tests', `${file}.yml`), 'utf8');
    // The tests feed the families the rules read: OpenTelemetry's, never llmwatch's histograms.
    assert.match(tests, /gen_ai_(client|server)_\w+/, file);
    assert.doesNotMatch(tests, /series: '?openllm_(inference_duration_seconds|time_to_first_token_seconds|time_per_output_token_seconds|request_completion_tokens)/, file);
    const r = run('promtool', ['test', 'rules', `tests/${file}.yml`], prom);
    assert.equal(r.status, 0, `${file}: ${r.output}`);
  }
  // The recording test holds exact values: counts of successes (failed operations beside them left out) and medians.
  const recording = parse(readFileSync(join(prom, 'tests', 'recording.yml'), 'utf8')) as { tests: Array<{ name: string; promql_expr_test: Array<{ expr: string; exp_samples: Array<{ value: number }> }> }> };
  const histograms = recording.tests.find((x) => x.name.includes('OpenTelemetry'))!;
  const value = (expr: string) => histograms.promql_expr_test.find((e) => e.expr === expr)!.exp_samples[0]!.value;
  assert.equal(value('model_endpoint:openllm_inference_duration_seconds_count:rate5m'), 3);
  // The third bucket of the conventions' operation duration bounds is (0.02, 0.04]; of TTFT (0.005, 0.01].
  assert.equal(value('model_endpoint:openllm_inference_duration_seconds:p50'), 0.03);
  assert.equal(value('model_endpoint:openllm_time_to_first_token_seconds:p50'), 0.0075);
});

test("promtool: the otel rules on llmwatch-named series fail (the tests above can fail), and llmwatch's rules on OpenTelemetry-named series do too", { timeout: 120_000 }, (t) => {
  const otel = generateInto(monitoringSpec({ ...SPEC, metricsNaming: 'otel' }));
  const own = generateInto(monitoringSpec(SPEC));
  t.after(() => {
    otel.cleanup();
    own.cleanup();
  });
  for (const [rulesFrom, testsFrom] of [
    [otel.dir, own.dir],
    [own.dir, otel.dir],
  ] as const) {
    const prom = join(rulesFrom, 'prometheus');
    for (const alert of ['HighTimeToFirstToken', 'OutputLengthDrift']) {
      copyFileSync(join(testsFrom, 'prometheus', 'tests', `${alert}.yml`), join(prom, 'tests', 'swapped.yml'));
      const r = run('promtool', ['test', 'rules', 'tests/swapped.yml'], prom);
      assert.notEqual(r.status, 0, `${alert}: ${r.output}`);
      // The step change must go unseen: its firing case fails on the other naming's series.
      assert.match(r.output, new RegExp(`${alert} \\((critical|warning), example-model\\): firing`));
    }
  }
  assert.ok(readdirSync(join(otel.dir, 'prometheus', 'tests')).length > 10);
});

test('metricsNaming: otel: an SLO latency line must be a bucket bound of the OpenTelemetry histogram, with the field named', () => {
  assert.throws(
    () => monitoringSpec({ metricsNaming: 'otel', slo: { enabled: true, latencyIndicator: 'e2e' } }),
    (e: Error) => /slo\.latencyThreshold/.test(e.message) && /OpenTelemetry operation duration buckets \(0\.01, 0\.02/.test(e.message),
  );
  // 2.56 is one of the conventions' duration bounds; 2.5 one of their TTFT bounds (the default line).
  assert.doesNotThrow(() => monitoringSpec({ metricsNaming: 'otel', slo: { enabled: true, latencyIndicator: 'e2e', latencyThreshold: 2.56 } }));
  assert.doesNotThrow(() => monitoringSpec({ metricsNaming: 'otel', slo: { enabled: true } }));
  assert.throws(() => monitoringSpec({ metricsNaming: 'both' }), /metricsNaming/);
});
