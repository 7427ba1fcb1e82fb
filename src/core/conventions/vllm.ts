/**
 * vLLM's engine metrics, as a vLLM OpenAI server exposes them on `/metrics`: the
 * names the simulator exports and the engine rules, alerts and dashboards read.
 * Nothing else spells a `vllm:` name.
 *
 * Source (checked 2026-12-02; the full repository was too large to mirror, so files were read one by one):
 * - vllm/v1/metrics/loggers.py, `PrometheusStatLogger.__init__` (github.com/vllm-project/vllm): the revision at
 *   commit 005a810bc40faa25b8870fbc8559c3462581eee3 and a later one (`create_metric_per_engine`,
 *   `vllm:inter_token_latency_seconds`, `vllm:num_requests_waiting_by_reason`): names, types, help texts,
 *   labels `model_name` and `engine` (one value per data-parallel engine core, `make_per_engine`), and
 *   `finished_reason` on `vllm:request_success`. Both agree on every family listed here but one:
 *   the later revision replaced `vllm:time_per_output_token_seconds` by `vllm:inter_token_latency_seconds`
 *   (same buckets), the name used here.
 * - The newest release the docs index holds is v0.32.0 (https://docs.vllm.ai/en/v0.32.0/usage/metrics/).
 * - vllm/v1/metrics/buckets.py (commit 139b1c3f17720f4bb6865309f365e6b1f1607a45): the default bucket
 *   families, locked by tests/v1/metrics/test_buckets.py (`DEFAULT_BUCKET_SNAPSHOTS`).
 * - vllm/v1/engine/__init__.py: `FINISH_REASON_STRINGS` = stop, length, abort, error, repetition; the counter
 *   is created for every reason at start-up, so each is exported at 0 before its first request.
 *
 * Counters are declared in Python without `_total` (`name="vllm:num_preemptions"`); prometheus_client
 * appends it on exposition, so the scraped name, the one listed here, ends in `_total`.
 * A copy transcribed independently from the same source is test/fixtures/vllm-metrics.json, which the
 * simulator's exposition is checked against.
 */

/** The newest vLLM release whose documentation was consulted beside the source files named above. */
export const VLLM_VERSION = 'v0.32.0';

/** vLLM's label names. */
export const VLLM_LABEL = { model: 'model_name', engine: 'engine', finishedReason: 'finished_reason' } as const;

/** `finished_reason` of `vllm:request_success_total` (vllm/v1/engine/__init__.py, `FINISH_REASON_STRINGS`). */
export const VLLM_FINISH_REASONS = ['stop', 'length', 'abort', 'error', 'repetition'] as const;

export type VllmFinishReason = (typeof VLLM_FINISH_REASONS)[number];

/** vllm/v1/metrics/buckets.py, `REQUEST_LATENCY_BUCKETS`: e2e, queue, inference, prefill and decode times. */
export const VLLM_REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
] as const;

/** vllm/v1/metrics/buckets.py, `TIME_TO_FIRST_TOKEN_BUCKETS`. */
export const VLLM_TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
] as const;

/** vllm/v1/metrics/buckets.py, `INTER_TOKEN_LATENCY_BUCKETS`. */
export const VLLM_INTER_TOKEN_LATENCY_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
] as const;

/**
 * vllm/v1/metrics/buckets.py, `build_1_2_5_buckets(max_model_len)`: 1, 2, 5, 10, 20, 50 ... up to the
 * model's context length, for the per-request token counts.
 */
export function vllmRequestTokenBuckets(maxModelLen: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * exp > maxModelLen) return out;
      out.push(m * exp);
    }
  }
}

/** The scraped names llmwatch uses. */
export const VLLM_METRIC = {
  running: 'vllm:num_requests_running',
  waiting: 'vllm:num_requests_waiting',
  kvCacheUsage: 'vllm:kv_cache_usage_perc',
  preemptions: 'vllm:num_preemptions_total',
  prefixCacheQueries: 'vllm:prefix_cache_queries_total',
  prefixCacheHits: 'vllm:prefix_cache_hits_total',
  promptTokens: 'vllm:prompt_tokens_total',
  generationTokens: 'vllm:generation_tokens_total',
  requestSuccess: 'vllm:request_success_total',
  timeToFirstToken: 'vllm:time_to_first_token_seconds',
  interTokenLatency: 'vllm:inter_token_latency_seconds',
  e2eLatency: 'vllm:e2e_request_latency_seconds',
  queueTime: 'vllm:request_queue_time_seconds',
  promptTokensPerRequest: 'vllm:request_prompt_tokens',
  generationTokensPerRequest: 'vllm:request_generation_tokens',
} as const;

export type VllmMetricKey = keyof typeof VLLM_METRIC;

/** One vLLM metric family: its scraped name, type, help text (vLLM's own), labels and buckets. */
export interface VllmMetricDef {
  readonly key: VllmMetricKey;
  readonly type: 'gauge' | 'counter' | 'histogram';
  readonly help: string;
  /** Label names besides `model_name` and `engine`, which every family has. */
  readonly extraLabels: readonly string[];
  /** Histograms: the bounds, or `request_tokens` for the 1-2-5 series up to the model's context length. */
  readonly buckets?: readonly number[] | 'request_tokens';
}

/** The families the simulator exports, in vLLM's order of declaration. */
export const VLLM_METRIC_DEFS: readonly VllmMetricDef[] = [
  { key: 'running', type: 'gauge', help: 'Number of requests in model execution batches.', extraLabels: [] },
  { key: 'waiting', type: 'gauge', help: 'Number of requests waiting to be processed.', extraLabels: [] },
  { key: 'kvCacheUsage', type: 'gauge', help: 'KV-cache usage. 1 means 100 percent usage.', extraLabels: [] },
  { key: 'prefixCacheQueries', type: 'counter', help: 'Prefix cache queries, in terms of number of queried tokens.', extraLabels: [] },
  { key: 'prefixCacheHits', type: 'counter', help: 'Prefix cache hits, in terms of number of cached tokens.', extraLabels: [] },
  { key: 'preemptions', type: 'counter', help: 'Cumulative number of preemption from the engine.', extraLabels: [] },
  { key: 'promptTokens', type: 'counter', help: 'Number of prefill tokens processed.', extraLabels: [] },
  { key: 'generationTokens', type: 'counter', help: 'Number of generation tokens processed.', extraLabels: [] },
  { key: 'requestSuccess', type: 'counter', help: 'Count of successfully processed requests.', extraLabels: [VLLM_LABEL.finishedReason] },
  { key: 'promptTokensPerRequest', type: 'histogram', help: 'Number of prefill tokens processed.', extraLabels: [], buckets: 'request_tokens' },
  { key: 'generationTokensPerRequest', type: 'histogram', help: 'Number of generation tokens processed.', extraLabels: [], buckets: 'request_tokens' },
  { key: 'timeToFirstToken', type: 'histogram', help: 'Histogram of time to first token in seconds.', extraLabels: [], buckets: VLLM_TTFT_BUCKETS },
  { key: 'interTokenLatency', type: 'histogram', help: 'Histogram of inter-token latency in seconds.', extraLabels: [], buckets: VLLM_INTER_TOKEN_LATENCY_BUCKETS },
  { key: 'e2eLatency', type: 'histogram', help: 'Histogram of e2e request latency in seconds.', extraLabels: [], buckets: VLLM_REQUEST_LATENCY_BUCKETS },
  { key: 'queueTime', type: 'histogram', help: 'Histogram of time spent in WAITING phase for request.', extraLabels: [], buckets: VLLM_REQUEST_LATENCY_BUCKETS },
];

/** The quantiles recorded for vLLM's latency histograms. */
export const VLLM_QUANTILES = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

export type VllmQuantile = (typeof VLLM_QUANTILES)[number][0];

/**
 * Names of the engine recording rules (`level:metric:operation`, the level being vLLM's `model_name`):
 * per served model, summed or maxed over every replica and data-parallel rank.
 */
export function vllmRecordedNames(window = '5m') {
  const level = VLLM_LABEL.model;
  return {
    running: `${level}:vllm_num_requests_running:sum`,
    waiting: `${level}:vllm_num_requests_waiting:sum`,
    /** The fullest engine core's KV cache: one full core preempts, whatever the others hold. */
    kvCacheUsageMax: `${level}:vllm_kv_cache_usage_perc:max`,
    preemptionRate: `${level}:vllm_num_preemptions:rate${window}`,
    promptTokenRate: `${level}:vllm_prompt_tokens:rate${window}`,
    generationTokenRate: `${level}:vllm_generation_tokens:rate${window}`,
    /** Finished requests per second, by `finished_reason`. */
    finishedRate: `${level}:vllm_request_success:rate${window}`,
    /** Prefix-cache hits over queries, in tokens. */
    prefixCacheHitRatio: `${level}:vllm_prefix_cache_hits:ratio_rate${window}`,
    ttftQuantile: (q: VllmQuantile) => `${level}:vllm_time_to_first_token_seconds:${q}`,
    e2eQuantile: (q: VllmQuantile) => `${level}:vllm_e2e_request_latency_seconds:${q}`,
    queueTimeQuantile: (q: VllmQuantile) => `${level}:vllm_request_queue_time_seconds:${q}`,
  };
}

/**
 * A number as vLLM's exposition writes it (prometheus_client's `floatToGoString`): Python's `repr` of
 * a float (`1.0`, `0.001`, `2560.0`), switching to an exponent from 1e+06 as Go does. Its `le` labels
 * are spelled so: `le="1.0"`, where prom-client writes `le="1"`.
 */
export function goFloat(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  const s = pythonRepr(v);
  const dot = s.indexOf('.');
  if (v > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[.0]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

/** Python's `repr(float)`: the shortest round-trip digits, always with a point or an exponent. */
function pythonRepr(v: number): string {
  if (Object.is(v, -0)) return '-0.0';
  const abs = Math.abs(v);
  // Python switches to exponents at 1e16 and below 1e-4; JavaScript at 1e21 and below 1e-6.
  if (abs !== 0 && (abs >= 1e16 || abs < 1e-4)) {
    const [m, e] = v.toExponential().split('e') as [string, string];
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = String(v);
  return s.includes('.') ? s : `${s}.0`;
}
