import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { durationSeconds } from '../core/config/duration.ts';
import { JOB } from '../core/conventions/deploy.ts';
import { BUCKETS, DCGM, GPU_LABEL, GPU_METRIC, LABEL, NODE, metricName } from '../core/conventions/metrics.ts';
import type { AlertContext, AlertDef } from './alert-def.ts';
import { humanize, humanizeDuration, humanizePercentage } from './humanize.ts';
import { andOn, eq, ne, num, sel, unlessOn } from './promql.ts';
import { ENDPOINT_NAMES } from '../core/openai/endpoints.ts';
import type { Endpoint } from '../core/openai/endpoints.ts';
import { DRIFT_CATALOG } from './drift.ts';
import { engineCatalogFor } from './engines.ts';
import { fastWindow } from './recording.ts';
import { histogramFamily, outputTokensFamily } from './families.ts';
import type { GatewayFamily } from './families.ts';
import { REPLICAS, SERIES_MINUTES, counter, gauge, minutesOf, seriesOf, stepValues } from './scenario.ts';
import type { InputSeries, Scenario } from './scenario.ts';

const M = LABEL.model;

/** Check time of a scenario: the rate window filled, then the `for` elapsed, then a margin. */
function checkAt(c: AlertContext): number {
  return 5 + minutesOf(c.tuning.for) + 5;
}

function gatewayLabels(model: string, instance: string, extra: Record<string, string> = {}) {
  return { job: JOB.gateway, instance, model, ...extra };
}

/** A counter growing by `perMinute` for `minutes`, then holding its value, as an idle exporter's counter does. */
function counterThenFlat(perMinute: number, minutes: number): string {
  return `0+${perMinute}x${minutes} ${perMinute * minutes}+0x${SERIES_MINUTES - minutes - 1}`;
}

/**
 * The low-traffic guard of a ratio or quantile alert: `and` the window held at least
 * `minEvents` events (a per-second rate times the window), or nothing when the guard is off.
 */
function enoughEvents(c: AlertContext, ratePerSecond: string, on: readonly string[] = [M]): string {
  if (c.tuning.minEvents <= 0) return '';
  return ` and on (${on.join(', ')}) ${ratePerSecond} * ${num(durationSeconds(c.spec.rateWindow))} >= ${num(c.tuning.minEvents)}`;
}

/** The same series on each of the three gateway replicas. */
function onReplicas(make: (instance: string) => InputSeries[]): InputSeries[] {
  return REPLICAS.flatMap(make);
}

const E = LABEL.endpoint;
/** Latency, TTFT and TPOT quantiles are per model and endpoint. */
const BY_ENDPOINT = [M, E] as const;

/** What a histogram alert reads: the gateway histogram, its bounds, and the endpoints the gateway creates it for. */
interface HistogramSubject {
  /** The histogram in the spec's naming (llmwatch's or OpenTelemetry's): its name, bounds and series labels. */
  readonly family: GatewayFamily;
  readonly q: number;
  /** The endpoint the scenarios make slow. */
  readonly endpoint: Endpoint;
  /** Another endpoint of the same model, fast and busy, that must not pool with it. */
  readonly pooledWith: Endpoint;
  /** Endpoints the gateway pre-creates the histogram for (at zero, from start-up): what idle looks like. */
  readonly idleEndpoints: readonly Endpoint[];
}

/**
 * Latency-histogram scenarios: every observation falls in one bucket. Firing
 * puts it in the first bucket whose lower bound is at or above the threshold,
 * so the interpolated quantile lies above it; healthy puts it in the first
 * bucket, wholly below the threshold.
 */
function histogramScenarios(c: AlertContext, model: string, h: HistogramSubject): Scenario[] {
  const { q, endpoint } = h;
  const { metric, bounds } = h.family;
  const labelsOf = (instance: string, ep: Endpoint, extra: Record<string, string> = {}) => ({ job: JOB.gateway, instance, ...h.family.labels(model, ep), ...extra });
  const t = c.tuning.threshold;
  const lower = bounds.findIndex((b) => b >= t);
  const at = checkAt(c);
  const series = (bucket: number, perMinute: number, ep: Endpoint = endpoint) =>
    onReplicas((instance) => [
      ...[...bounds.map(num), '+Inf'].map((le, i) =>
        counter(`${metric}_bucket`, labelsOf(instance, ep, { le }), i >= bucket ? perMinute : 0),
      ),
      counter(`${metric}_count`, labelsOf(instance, ep), perMinute),
    ]);
  const firingValue = bounds[lower]! + (bounds[lower + 1]! - bounds[lower]!) * q;
  const fires = [{ labels: { [M]: model, [E]: endpoint }, value: firingValue }];
  // Enough traffic to clear minEvents in the window twice over.
  const perMinute = Math.max(60, Math.ceil((2 * c.tuning.minEvents) / (REPLICAS.length * minutesOf(c.spec.rateWindow))));
  // One answer a minute on one replica, every fifth one slow: each window holds five answers, one of
  // them above the threshold, so the P95 (rank 4.75 of 5) lies in the slow bucket all along.
  const handful = (): InputSeries[] => {
    const upTo = (t: number, slowToo: boolean) => t - Math.floor(t / 5) + (slowToo ? Math.floor(t / 5) : 0);
    const values = (slowToo: boolean) => Array.from({ length: SERIES_MINUTES + 1 }, (_, t) => upTo(t, slowToo)).join(' ');
    return [
      ...[...bounds.map(num), '+Inf'].map((le, i) => ({
        series: seriesOf(`${metric}_bucket`, labelsOf(REPLICAS[0], endpoint, { le })),
        values: values(i >= lower + 1),
      })),
      { series: seriesOf(`${metric}_count`, labelsOf(REPLICAS[0], endpoint)), values: values(true) },
    ];
  };
  return [
    { name: 'firing', series: series(lower + 1, perMinute), at, expect: fires },
    { name: 'healthy', series: series(0, perMinute), at, expect: [] },
    // What the gateway exports before its first request: every (model, endpoint) histogram it creates, at zero.
    { name: 'idle', series: h.idleEndpoints.flatMap((ep) => series(0, 0, ep)), at, expect: [] },
    // Per endpoint: 40 times as many fast answers on another endpoint of the same model would put a
    // pooled P95 in the fast bucket (the slow ones are 1 in 41); per endpoint the slow one still fires.
    { name: `slow ${endpoint} beside busy fast ${h.pooledWith}`, series: [...series(lower + 1, perMinute), ...series(0, perMinute * 40, h.pooledWith)], at, expect: fires },
    // Without the minimum of events this pages: one slow answer in five is the whole tail.
    ...(c.tuning.minEvents > 5 ? [{ name: 'one slow answer among a handful', series: handful(), at: at + 10, expect: [] }] : []),
  ];
}

function histogramCheck(bounds: readonly number[], what: string) {
  return (c: AlertContext): string | undefined => {
    const t = c.tuning.threshold;
    const lower = bounds.findIndex((b) => b >= t);
    if (t <= bounds[0]! || lower === -1 || lower >= bounds.length - 1) {
      return `threshold ${t} must lie between the first and the second-largest ${what} bucket bounds (${bounds.join(', ')}), so that values on both sides of it can be measured`;
    }
    return undefined;
  };
}

const sec = (t: number) => humanizeDuration(t);

/** The P95 of a per-(model, endpoint) quantile family above the threshold, with its minimum of events. */
function quantileExpr(c: AlertContext, quantile: string, count: string, matchers: readonly string[]): string {
  return `${sel(quantile, ...matchers)} > ${num(c.tuning.threshold)}${enoughEvents(c, count, BY_ENDPOINT)}`;
}

/** Endpoints whose answers are generated tokens (the TTFT and TPOT histograms exist for these only). */
const GENERATING: readonly Endpoint[] = ['chat_completions', 'completions'];

export const HIGH_INFERENCE_LATENCY: AlertDef = {
  name: 'HighInferenceLatency',
  scope: 'model',
  category: 'performance',
  // The article's end-to-end alert, kept, but no longer a page: arrival to last byte grows with the
  // answer's length (a healthy 256-token answer at 30 tokens/s takes 8.7 s), so it cannot tell a slow
  // server from a long answer. The pages are HighTimeToFirstToken and HighTimePerOutputToken.
  defaults: { threshold: 2, for: '3m', severity: 'warning', minRequestRate: 0, minEvents: 100 },
  identity: [M, E],
  humanizer: 'humanizeDuration',
  summary: 'P95 inference latency of {{ $labels.model }} ({{ $labels.endpoint }}) is above {threshold}',
  description:
    'The 95th percentile of end-to-end inference latency (arrival to last byte) of {{ $labels.endpoint }} requests to model {{ $labels.model }} has been above {threshold} for {for} (now {{ $value | humanizeDuration }}). It grows with answer length: see HighTimeToFirstToken and HighTimePerOutputToken for what users feel.',
  showThreshold: sec,
  // Chat and completions; embeddings have their own alert (HighEmbeddingLatency) and threshold.
  expr: (c, m) => quantileExpr(c, c.names.latencyQuantile('p95'), c.names.latencyCount, [ne(E, 'embeddings'), ...m]),
  scenarios: (c, model) =>
    histogramScenarios(c, model, {
      family: histogramFamily(c.spec, 'latency'),
      q: 0.95,
      endpoint: 'chat_completions',
      pooledWith: 'embeddings',
      idleEndpoints: ENDPOINT_NAMES,
    }),
  validate: (c) => histogramCheck(histogramFamily(c.spec, 'latency').bounds, 'latency')(c),
  runbook: {
    meaning:
      'One chat or completions request in twenty to this model takes longer than the threshold, measured at the gateway from arrival to the last byte, queue wait included. This is the source article\'s alert, with a known limit: end-to-end latency grows with the length of the answer (256 tokens at 30 tokens/s take 8.7 s, healthy), so a change in what clients ask for raises it as much as a slow server does. It is a warning; the pages are HighTimeToFirstToken and HighTimePerOutputToken, which do not grow with answer length.',
    impact: 'Users wait; non-streaming clients and chat UIs may time out; upstream clients may retry and add load.',
    diagnosis: [
      'Did answers get longer? `{prefix}request_completion_tokens` by model: if the P95 of completion tokens rose with the latency, the server is fine.',
      'Is it queueing? `model:{prefix}queue_length:sum` and `{prefix}queue_wait_seconds`: a long queue means too little capacity.',
      'Is it prefill or decode? Compare `model_endpoint:{prefix}time_to_first_token_seconds:p95` (prefill, queue) with `model_endpoint:{prefix}time_per_output_token_seconds:p95` (decode).',
      'Is the GPU saturated or swapping KV cache? GPU memory and utilisation, and the model server\'s own metrics (vLLM: `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc` (KV cache in use, 0 to 1)).',
    ],
    mitigation: [
      'Let the automatic response below act first (its steps are the playbook the responder runs); by hand, the same levers: scale the model server out, or switch the model to a lighter fallback (`POST /admin/routes/<model>` on the gateway).',
      'Scale out by hand, or lower `max_tokens` for the heaviest clients.',
      'Once latency recovers, switch the model back (a playbook step with `revertOnResolve` does this when the alert resolves).',
    ],
  },
};

export const HIGH_EMBEDDING_LATENCY: AlertDef = {
  name: 'HighEmbeddingLatency',
  scope: 'model',
  category: 'performance',
  // Embeddings generate no tokens: end to end is all there is, and it does not grow with an answer.
  defaults: { threshold: 1, for: '5m', severity: 'warning', minRequestRate: 0, minEvents: 100 },
  identity: [M, E],
  humanizer: 'humanizeDuration',
  summary: 'P95 embeddings latency of {{ $labels.model }} is above {threshold}',
  description: 'The 95th percentile of latency of embeddings requests to model {{ $labels.model }} has been above {threshold} for {for} (now {{ $value | humanizeDuration }}).',
  showThreshold: sec,
  expr: (c, m) => quantileExpr(c, c.names.latencyQuantile('p95'), c.names.latencyCount, [eq(E, 'embeddings'), ...m]),
  scenarios: (c, model) =>
    histogramScenarios(c, model, {
      family: histogramFamily(c.spec, 'latency'),
      q: 0.95,
      endpoint: 'embeddings',
      pooledWith: 'chat_completions',
      idleEndpoints: ENDPOINT_NAMES,
    }),
  validate: (c) => histogramCheck(histogramFamily(c.spec, 'latency').bounds, 'latency')(c),
  runbook: {
    meaning: 'One embeddings request in twenty to this model takes longer than the threshold, arrival to last byte at the gateway, queue wait included. Embeddings have their own alert because they share nothing with chat latency: pooled with chat, fast embeddings would hide slow chat, and slow batch embeddings would page for chat.',
    impact: 'Search, retrieval (RAG) and indexing that wait on embeddings slow down; a RAG chat waits before its prompt is even sent.',
    diagnosis: [
      'Did inputs grow? `{prefix}request_prompt_tokens{endpoint="embeddings"}`: large batches take longer, healthy.',
      'Is it queueing behind chat on a shared server? `model:{prefix}queue_length:sum`, and the server\'s own queue (`vllm:num_requests_waiting`).',
    ],
    mitigation: ['Serve embeddings from their own server so they do not queue behind long generations.', 'Cap batch sizes of bulk indexing clients.'],
  },
};

export const HIGH_TIME_TO_FIRST_TOKEN: AlertDef = {
  name: 'HighTimeToFirstToken',
  scope: 'model',
  category: 'performance',
  // A page: what a streaming user feels first, and it does not grow with the answer's length.
  // 2.5 s is a bucket bound here and in vLLM's own histogram; see docs/tuning.md.
  defaults: { threshold: 2.5, for: '5m', severity: 'critical', minRequestRate: 0, minEvents: 100 },
  identity: [M, E],
  humanizer: 'humanizeDuration',
  summary: 'P95 time to first token of {{ $labels.model }} ({{ $labels.endpoint }}) is above {threshold}',
  description: 'Streamed {{ $labels.endpoint }} requests to model {{ $labels.model }} have waited more than {threshold} for their first token (95th percentile) for {for} (now {{ $value | humanizeDuration }}).',
  showThreshold: sec,
  expr: (c, m) => quantileExpr(c, c.names.ttftQuantile('p95'), c.names.ttftCount, m),
  scenarios: (c, model) =>
    histogramScenarios(c, model, {
      family: histogramFamily(c.spec, 'ttft'),
      q: 0.95,
      endpoint: 'chat_completions',
      pooledWith: 'completions',
      idleEndpoints: GENERATING,
    }),
  validate: (c) => histogramCheck(histogramFamily(c.spec, 'ttft').bounds, 'time-to-first-token')(c),
  runbook: {
    meaning: 'Streaming users see nothing for longer than the threshold: time in the gateway\'s queue, the server\'s queue, and prefill of the prompt. It does not grow with the length of the answer, so it pages.',
    impact: 'Chat UIs feel frozen even when tokens then flow fast.',
    diagnosis: [
      'Queue: `model:{prefix}queue_length:sum`, `{prefix}queue_wait_seconds`.',
      'Prompt sizes: `{prefix}request_prompt_tokens` (long prompts mean long prefill).',
      'Model server scheduling (vLLM: `vllm:num_requests_waiting`, chunked prefill settings).',
    ],
    mitigation: ['Add capacity or lower the gateway\'s `maxConcurrency` so the server is not oversubscribed.', 'Cap prompt sizes for bulk clients.', 'Switch the model to a lighter fallback while capacity is short.'],
  },
};

export const HIGH_TIME_PER_OUTPUT_TOKEN: AlertDef = {
  name: 'HighTimePerOutputToken',
  scope: 'model',
  category: 'performance',
  // A page: the pace of a stream, whatever its length. 0.15 s a token (under 7 tokens/s) is about
  // the pace people read at, so slower than that the user waits on the model; see docs/tuning.md.
  defaults: { threshold: 0.15, for: '5m', severity: 'critical', minRequestRate: 0, minEvents: 100 },
  identity: [M, E],
  humanizer: 'humanizeDuration',
  summary: 'P95 time per output token of {{ $labels.model }} ({{ $labels.endpoint }}) is above {threshold}',
  description: 'Streamed {{ $labels.endpoint }} answers of model {{ $labels.model }} have taken more than {threshold} per token after the first (95th percentile of each answer\'s mean) for {for} (now {{ $value | humanizeDuration }}).',
  showThreshold: sec,
  expr: (c, m) => quantileExpr(c, c.names.tpotQuantile('p95'), c.names.tpotCount, m),
  scenarios: (c, model) =>
    histogramScenarios(c, model, {
      family: histogramFamily(c.spec, 'tpot'),
      q: 0.95,
      endpoint: 'chat_completions',
      pooledWith: 'completions',
      idleEndpoints: GENERATING,
    }),
  validate: (c) => histogramCheck(histogramFamily(c.spec, 'tpot').bounds, 'time-per-output-token')(c),
  runbook: {
    meaning: 'Streamed answers arrive slower than the threshold per token (the mean gap between tokens after the first, per answer; 95th percentile over answers): decode is slow. It does not grow with answer length, so it pages.',
    impact: 'Text trickles out slower than people read; long answers take minutes; non-streaming clients time out.',
    diagnosis: [
      'Batch size on the model server: `vllm:num_requests_running`. Decode slows as the batch grows; the gateway\'s `maxConcurrency` bounds it.',
      'Long prompts interleaved with decode (chunked prefill): `{prefix}request_prompt_tokens`.',
      'GPU: utilisation, temperature throttling (HighGpuTemperature), another process on the GPU.',
    ],
    mitigation: ['Lower the gateway\'s `maxConcurrency` (smaller batches decode faster) or add replicas.', 'Switch the model to a lighter fallback while capacity is short.', 'Move the server off a throttling GPU.'],
  },
};

export const LOW_TOKEN_THROUGHPUT: AlertDef = {
  name: 'LowTokenThroughput',
  scope: 'model',
  category: 'performance',
  defaults: { threshold: 50, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: [M],
  humanizer: 'humanize',
  summary: 'Token throughput of {{ $labels.model }} is below {threshold} tokens/s while it is busy',
  description: 'Model {{ $labels.model }} has generated fewer than {threshold} tokens/s for {for} while at least one request was always in flight (now {{ $value | humanize }} tokens/s).',
  showThreshold: (t) => humanize(t),
  // The article's rule, avg(rate(...)) < 50, fires at night when nobody asks anything: this one
  // sums over replicas and only speaks while the model is busy (a request in flight on average).
  expr: (c, m) => andOn([M], `${sel(c.names.tokenThroughput, ...m)} < ${num(c.tuning.threshold)}`, `${c.names.inFlightAvg} >= 1`),
  scenarios: (c, model) => {
    const t = c.tuning.threshold;
    // Generated tokens in the spec's naming: llmwatch's counter, or the OpenTelemetry token histogram's sum.
    const tokens = outputTokensFamily(c.spec);
    const inFlight = metricName('requestsInFlight', c.spec.metricsPrefix);
    const at = checkAt(c);
    const slow = Math.floor((t * 60) / 3 / 2);
    const fast = Math.ceil(((t * 60) / 3) * 2) + 1;
    const series = (perMinute: number, busy: number) =>
      onReplicas((instance) => [
        counter(tokens.metric, { job: JOB.gateway, instance, ...tokens.labels(model, 'chat_completions') }, perMinute),
        gauge(inFlight, gatewayLabels(model, instance, { upstream: 'vllm' }), busy),
      ]);
    return [
      { name: 'firing', series: series(slow, 1), at, expect: [{ labels: { [M]: model }, value: (3 * slow) / 60 }] },
      { name: 'healthy', series: series(fast, 1), at, expect: [] },
      // No traffic at all: the article's version fires here; this one must not.
      { name: 'idle', series: series(0, 0), at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'The model is busy (requests are always in flight) yet produces fewer tokens per second than the threshold, summed over every gateway replica.',
    impact: 'Answers arrive slowly; capacity is lower than planned.',
    diagnosis: [
      'Time per output token: `{prefix}time_per_output_token_seconds` (decode speed).',
      'GPU: utilisation, memory, temperature throttling; another process on the GPU.',
      'Batch size on the model server (vLLM: `vllm:num_requests_running`).',
    ],
    mitigation: ['Restart a degraded model server replica; move it off a throttling GPU.', 'Switch to a lighter model while capacity is short.'],
  },
};

export const QUEUE_BACKLOG: AlertDef = {
  name: 'QueueBacklog',
  scope: 'model',
  category: 'performance',
  defaults: { threshold: 10, for: '2m', severity: 'warning', minRequestRate: 0 },
  identity: [M],
  humanizer: 'humanize',
  summary: 'More than {threshold} requests to {{ $labels.model }} are queued',
  description: 'More than {threshold} requests to model {{ $labels.model }} have been waiting for an upstream slot, over all gateway replicas, for {for} (now {{ $value | humanize }}).',
  showThreshold: (t) => humanize(t),
  expr: (c, m) => `${sel(c.names.queueLength, ...m)} > ${num(c.tuning.threshold)}`,
  scenarios: (c, model) => {
    const q = Math.floor(c.tuning.threshold / 3) + 1;
    const metric = metricName('queueLength', c.spec.metricsPrefix);
    const at = checkAt(c);
    const series = (v: number) => onReplicas((instance) => [gauge(metric, gatewayLabels(model, instance, { upstream: 'vllm' }), v)]);
    return [
      { name: 'firing', series: series(q), at, expect: [{ labels: { [M]: model }, value: 3 * q }] },
      { name: 'healthy', series: series(Math.floor(c.tuning.threshold / 6)), at, expect: [] },
      { name: 'idle', series: series(0), at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'Requests wait at the gateway because every upstream slot (`maxConcurrency`) is taken.',
    impact: 'Latency grows by the wait; past `maxQueue` clients get 429, past `queueTimeoutMs` 503.',
    diagnosis: ['Request rate per model: `model:{prefix}requests:rate5m`.', 'Latency and in-flight requests: is the server slower, or is demand higher?'],
    mitigation: [
      'Add capacity (scale the model server out); a HighInferenceLatency playbook with a `scale` step does it on its own (see its Automatic response).',
      'Raise `maxConcurrency` only if the server has headroom (GPU memory, KV cache).',
    ],
  },
};

export const HIGH_TIMEOUT_RATE: AlertDef = {
  name: 'HighTimeoutRate',
  scope: 'model',
  category: 'performance',
  // The latency histogram sees successes only: a request that hangs until the gateway's timeout is
  // never observed there, so hangs get their own alert, from the timeouts counted per request sent.
  defaults: { threshold: 0.05, for: '5m', severity: 'warning', minRequestRate: 0, minEvents: 20 },
  identity: [M],
  humanizer: 'humanizePercentage',
  summary: 'Requests to {{ $labels.model }} hang until they time out',
  description: 'More than {threshold} of the requests the gateway sent for model {{ $labels.model }} timed out (no connection, no headers, or a stalled stream past the gateway\'s timeouts) for {for} (now {{ $value | humanizePercentage }}). The latency alerts cannot see these: they observe successes only.',
  showThreshold: humanizePercentage,
  expr: (c, m) => `${sel(c.names.timeoutRatio, ...m)} > ${num(c.tuning.threshold)}${enoughEvents(c, c.names.sentRate)}`,
  validate: (c) => (c.tuning.threshold > 0 && c.tuning.threshold < 1 ? undefined : 'threshold is a share of requests and must lie between 0 and 1'),
  scenarios: (c, model) => {
    const p = c.spec.metricsPrefix;
    const at = checkAt(c);
    const n = Math.max(60, Math.ceil((2 * c.tuning.minEvents) / (REPLICAS.length * minutesOf(c.spec.rateWindow))));
    const hung = Math.min(n, Math.ceil(n * Math.min(1, c.tuning.threshold * 2)));
    const series = (perMinute: number, timeouts: number) =>
      onReplicas((instance) => [
        counter(metricName('upstreamRequests', p), gatewayLabels(model, instance, { upstream: 'vllm', upstream_model: model }), perMinute),
        counter(metricName('upstreamErrors', p), gatewayLabels(model, instance, { upstream: 'vllm', reason: 'timeout' }), timeouts),
      ]);
    return [
      { name: 'firing', series: series(n, hung), at, expect: [{ labels: { [M]: model }, value: hung / n }] },
      { name: 'healthy', series: series(n, 0), at, expect: [] },
      { name: 'idle', series: series(0, 0), at, expect: [] },
      // One request a minute, every fifth one hung (20% in every window, all along): below minEvents, silent.
      ...(c.tuning.minEvents > 5
        ? [{
            name: 'one hang among a handful',
            series: [
              counter(metricName('upstreamRequests', p), gatewayLabels(model, REPLICAS[0], { upstream: 'vllm', upstream_model: model }), 1),
              {
                series: seriesOf(metricName('upstreamErrors', p), gatewayLabels(model, REPLICAS[0], { upstream: 'vllm', reason: 'timeout' })),
                values: Array.from({ length: SERIES_MINUTES + 1 }, (_, t) => Math.floor(t / 5)).join(' '),
              },
            ],
            at,
            expect: [],
          }]
        : []),
    ];
  },
  runbook: {
    meaning: 'Requests sent to the model server hang: no connection within `connectTimeoutMs`, no headers within `headersTimeoutMs`, or a stream that stalls past `idleTimeoutMs`. The gateway ends them with 504 `upstream_timeout` (counted as server-side errors), but they never reach the latency histograms, which observe successes only.',
    impact: 'Clients wait the whole timeout, then fail; SDKs retry and add load.',
    diagnosis: [
      'Which timeout: the gateway\'s log; `{prefix}upstream_errors_total{reason="timeout"}` by upstream.',
      'Is the server overloaded (queue, `vllm:num_requests_waiting`), deadlocked, or is the GPU stuck (Xid errors in `dmesg`)?',
    ],
    mitigation: ['Restart the hung model server replica; switch the model to its fallback while it recovers.', 'Check the gateway timeouts fit the longest legitimate prefill.'],
  },
};

export const HIGH_ERROR_RATE: AlertDef = {
  name: 'HighErrorRate',
  scope: 'model',
  category: 'error',
  defaults: { threshold: 0.001, for: '1m', severity: 'critical', minRequestRate: 1, minEvents: 100 },
  identity: [M],
  humanizer: 'humanizePercentage',
  summary: 'More than {threshold} of requests to {{ $labels.model }} fail',
  description: 'More than {threshold} of requests to model {{ $labels.model }} have failed for {for} (now {{ $value | humanizePercentage }}).',
  showThreshold: humanizePercentage,
  // At 0.1%, one failed request pages at low traffic: the rule speaks only above minRequestRate.
  // Both the ratio and the gate count judged requests only (success and server-side error):
  // client errors neither raise the rate nor dilute it, nor open the gate.
  expr: (c, m) =>
    andOn([M], `${sel(c.names.errorRate, ...m)} > ${num(c.tuning.threshold)}`, `${c.names.judgedRate} >= ${num(c.tuning.minRequestRate)}`) + enoughEvents(c, c.names.judgedRate),
  scenarios: (c, model) => {
    const requests = metricName('requests', c.spec.metricsPrefix);
    const at = checkAt(c);
    // Per replica per minute; enough traffic to clear minRequestRate three times over.
    const n = Math.max(600, Math.ceil(c.tuning.minRequestRate * 60), Math.ceil((2 * c.tuning.minEvents) / (REPLICAS.length * minutesOf(c.spec.rateWindow))));
    const errors = Math.min(n / 2, Math.max(1, Math.ceil(n * c.tuning.threshold * 10)));
    const series = (total: number, failed: number) =>
      onReplicas((instance) => [
        counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'success', code: '2xx' }), total - failed),
        counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'error', code: '5xx' }), failed),
      ]);
    const lowTraffic: InputSeries[] = [
      ...onReplicas((instance) => [counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'success', code: '2xx' }), 1)]),
      { series: `${requests}{job="${JOB.gateway}",instance="${REPLICAS[0]}",model="${model}",endpoint="chat_completions",status="error",code="5xx"}`, values: '0x3 1x177' },
    ];
    const clientErrors = (perMinute: number) =>
      onReplicas((instance) => [counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'client_error', code: '4xx' }), perMinute)]);
    return [
      { name: 'firing', series: series(n, errors), at, expect: [{ labels: { [M]: model }, value: errors / n }] },
      { name: 'healthy', series: series(n, 0), at, expect: [] },
      { name: 'idle', series: series(0, 0), at, expect: [] },
      // The article's rule pages here: one failure among three requests a minute.
      { name: 'one failure at low traffic', series: lowTraffic, at: 6, expect: [] },
      // A client sending bad requests (400s, content_filter blocks) is not the service failing.
      { name: 'client error flood', series: [...series(n, 0), ...clientErrors(n * 4)], at, expect: [] },
      // What exporters really do (issue 14, point 10): a gateway replica restarts (its counters drop to 0
      // and grow again) while failing: rate() sees the reset, the alert still fires, at the same ratio.
      {
        name: 'replica restarts while failing',
        series: series(n, errors).map((x) =>
          x.series.includes(REPLICAS[0]) ? { ...x, values: x.values.replace(/^0\+(\d+)x180$/, (_m, d: string) => `0+${d}x7 0+${d}x172`) } : x,
        ),
        at,
        expect: [{ labels: { [M]: model }, value: errors / n }],
      },
      // ... and a healthy replica restarting pages nobody.
      {
        name: 'replica restarts while healthy',
        series: series(n, 0).map((x) => (x.series.includes(REPLICAS[0]) ? { ...x, values: x.values.replace(/^0\+(\d+)x180$/, (_m, d: string) => `0+${d}x7 0+${d}x172`) } : x)),
        at,
        expect: [],
      },
      // A replica disappears (scaled in): its series go stale; the others still carry the alert.
      {
        name: 'a replica disappears while failing',
        series: series(n, errors).map((x) => (x.series.includes(REPLICAS[2]) ? { ...x, values: x.values.replace(/^0\+(\d+)x180$/, (_m, d: string) => `0+${d}x4 stale`) } : x)),
        at,
        expect: [{ labels: { [M]: model }, value: errors / n }],
      },
      // Client errors neither dilute the server-side rate nor open the traffic gate.
      { name: 'server errors among a client error flood', series: [...series(n, errors), ...clientErrors(n * 4)], at, expect: [{ labels: { [M]: model }, value: errors / n }] },
    ];
  },
  runbook: {
    meaning: 'A share of the requests routed to the model failed server-side (5xx from the server, refused, timeouts, resets, 429 from the queue or the server, queue timeout), above the threshold, while judged traffic (successes and server-side failures) is above the minimum rate. Client errors (other 4xx, content_filter blocks) are not counted: they raise ClientErrorFlood instead.',
    impact: 'Users get errors; SDKs retry and add load.',
    diagnosis: [
      'Which failure? `sum by (reason) (rate({prefix}upstream_errors_total[5m]))`: refused (server down), timeout, reset, http_5xx, http_429, malformed, stream_error.',
      'Overload: `{prefix}requests_total{code="4xx",status="error"}` is 429 (queue full, or the server\'s rate limit); `GW_ERR_QUEUE_TIMEOUT` answers count as 5xx.',
      'The model server\'s logs around the first failure.',
    ],
    mitigation: [
      'Switch the model to its fallback (`POST /admin/routes/<model>` on the gateway), or let a playbook for this alert do it (Automatic response below).',
      'Restart or roll back the model server; check GPU memory (out-of-memory errors arrive as 5xx or stream errors).',
    ],
  },
};

export const CLIENT_ERROR_FLOOD: AlertDef = {
  name: 'ClientErrorFlood',
  scope: 'model',
  category: 'error',
  // Never a page: clients sending bad requests is their problem to fix, and ours to see.
  defaults: { threshold: 0.5, for: '15m', severity: 'warning', minRequestRate: 1 },
  identity: [M],
  humanizer: 'humanizePercentage',
  summary: 'More than {threshold} of requests to {{ $labels.model }} are client errors',
  description: 'More than {threshold} of requests to model {{ $labels.model }} have been refused as client errors (4xx other than 429, content_filter blocks) for {for} (now {{ $value | humanizePercentage }}). The model is serving; some client is sending bad requests.',
  showThreshold: humanizePercentage,
  expr: (c, m) =>
    andOn([M], `${sel(c.names.clientErrorRatio, ...m)} > ${num(c.tuning.threshold)}`, `${c.names.requestRate} >= ${num(c.tuning.minRequestRate)}`),
  validate: (c) => (c.tuning.threshold > 0 && c.tuning.threshold < 1 ? undefined : 'threshold is a share of requests and must lie between 0 and 1'),
  scenarios: (c, model) => {
    const requests = metricName('requests', c.spec.metricsPrefix);
    const at = checkAt(c);
    const n = Math.max(60, Math.ceil(c.tuning.minRequestRate * 60));
    const bad = Math.ceil(n * (1 + c.tuning.threshold) / 2);
    const series = (total: number, clientErrors: number) =>
      onReplicas((instance) => [
        counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'success', code: '2xx' }), total - clientErrors),
        counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'client_error', code: '4xx' }), clientErrors),
      ]);
    const few = Math.floor(n * c.tuning.threshold / 2);
    // Checked while a flood goes on, before `for` has passed: only meaningful with a `for` of several minutes.
    const young = minutesOf(c.tuning.for) >= 5;
    return [
      { name: 'firing', series: series(n, bad), at, expect: [{ labels: { [M]: model }, value: bad / n }] },
      { name: 'healthy', series: series(n, few), at, expect: [] },
      { name: 'idle', series: series(0, 0), at, expect: [] },
      // A flood that started less than `for` ago is not yet sustained: checked while it goes on.
      ...(!young ? [] : [{
        name: 'flood younger than for',
        series: [
          ...onReplicas((instance) => [counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'success', code: '2xx' }), n)]),
          ...onReplicas((instance) => [
            { series: seriesOf(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'client_error', code: '4xx' })), values: `0x10 0+${n * 2}x170` },
          ]),
        ],
        at: 10 + minutesOf(c.tuning.for) - 2,
        expect: [],
      }]),
    ];
  },
  runbook: {
    meaning: 'Most requests to the model are refused as the client\'s own errors: upstream 4xx other than 429 (prompt longer than the context, bad parameters, 413, 422), and the gateway\'s content_filter blocks. The model server is fine; these never count against the error rate or the error budget.',
    impact: 'The clients sending them get no answers; a broken client release or a prompt template that outgrew the context.',
    diagnosis: [
      'Which endpoint: `sum by (endpoint) (rate({prefix}requests_total{status="client_error"}[5m]))`.',
      'Which client, when client keys are configured: `rate({prefix}client_requests_total[5m])` by key.',
      'Content filter or bad requests: `{prefix}output_flagged_total{action="blocked"}` counts blocks; the rest are 4xx from the server (its logs say which, e.g. vLLM\'s "maximum context length").',
    ],
    mitigation: ['Tell the team owning the client; cap its rate with its own key if it hurts others.', 'A prompt template that outgrew the context: raise `max_model_len` on the server or trim the template.'],
  },
};

export const MODEL_SERVER_UNREACHABLE: AlertDef = {
  name: 'ModelServerUnreachable',
  scope: 'model',
  category: 'availability',
  // Over a one-minute window, per upstream: fires about a minute after every request to it fails to connect.
  defaults: { threshold: 0.9, for: '30s', severity: 'critical', minRequestRate: 0, keepFiringFor: '10m' },
  keepFiringForWhy:
    'Switching the model away from the dead upstream (the responder\'s switch-model, or a route switched by hand) stops the requests to it, and with no requests its failure ratio has no value: without keep_firing_for the alert would resolve about a minute after the switch, the responder would switch back (revertOnResolve), the requests would fail again and the alert re-fire: a flap every three minutes or so, each with a minute of failures. Held 10 minutes, the alert resolves and the route goes back at most every ~12 minutes, which then probes the upstream with real traffic; ModelServedByFallback stays visible meanwhile.',
  identity: [M, LABEL.upstream],
  humanizer: 'humanizePercentage',
  summary: 'The gateway cannot reach upstream {{ $labels.upstream }} of {{ $labels.model }}',
  description: 'More than {threshold} of the requests the gateway sent to upstream {{ $labels.upstream }} for model {{ $labels.model }} over the last minute were refused, timed out or reset, for {for} (now {{ $value | humanizePercentage }}), whatever the cache or other targets served.',
  showThreshold: humanizePercentage,
  // Per upstream, from the requests sent to it: cache hits and a failover target's successes cannot mask it.
  expr: (c, m) => `${sel(c.names.unreachableRatio(fastWindow(c.spec)), ...m)} >= ${num(c.tuning.threshold)}`,
  validate: (c) => (c.tuning.threshold > 0 && c.tuning.threshold <= 1 ? undefined : 'threshold is the share of requests to an upstream that failed to connect, and must lie in (0, 1]'),
  scenarios: (c, model) => {
    const p = c.spec.metricsPrefix;
    const at = checkAt(c);
    const errors = metricName('upstreamErrors', p);
    const sent = metricName('upstreamRequests', p);
    const requests = metricName('requests', p);
    // Requests sent per minute to upstream `up` on each replica, `refused` of them refused.
    const target = (up: string, upModel: string, perMinute: number, refused: number): InputSeries[] =>
      onReplicas((instance) => [
        counter(sent, gatewayLabels(model, instance, { upstream: up, upstream_model: upModel }), perMinute),
        counter(errors, gatewayLabels(model, instance, { upstream: up, reason: 'refused' }), refused),
      ]);
    // What the clients saw: answers from the cache and from the fallback all succeeded.
    const servedFine = onReplicas((instance) => [counter(requests, gatewayLabels(model, instance, { endpoint: 'chat_completions', status: 'success', code: '2xx' }), 600)]);
    return [
      { name: 'firing', series: target('vllm', model, 60, 60), at, expect: [{ labels: { [M]: model, upstream: 'vllm' }, value: 1 }] },
      { name: 'healthy', series: target('vllm', model, 60, 0), at, expect: [] },
      { name: 'idle', series: target('vllm', model, 0, 0), at, expect: [] },
      // Failover sends every request on to the backup, and the cache answers most: the old rule's
      // `unless successes > 0` stayed silent here.
      {
        name: 'masked by cache hits and failover successes',
        series: [...target('vllm', model, 60, 60), ...target('backup', `${model}-backup`, 60, 0), ...servedFine],
        at,
        expect: [{ labels: { [M]: model, upstream: 'vllm' }, value: 1 }],
      },
      { name: 'a few refused among many', series: target('vllm', model, 60, 3), at, expect: [] },
    ];
  },
  // Every request refused for 21 minutes, then none sent (the model switched away): the ratio has
  // no value from minute 22, the minute the one-minute window holds only flat counters.
  recovery: (c, model) => {
    const p = c.spec.metricsPrefix;
    return {
      series: onReplicas((instance) => [
        { series: seriesOf(metricName('upstreamRequests', p), gatewayLabels(model, instance, { upstream: 'vllm', upstream_model: model })), values: counterThenFlat(60, 21) },
        { series: seriesOf(metricName('upstreamErrors', p), gatewayLabels(model, instance, { upstream: 'vllm', reason: 'refused' })), values: counterThenFlat(60, 21) },
      ]),
      clearsAt: 22,
      expect: [{ labels: { [M]: model, upstream: 'vllm' }, value: 1 }],
    };
  },
  runbook: {
    meaning: 'Requests the gateway sends to this upstream for this model do not reach it: almost all of them over the last minute were refused, timed out or reset. It is measured per upstream from the requests sent to it, so answers from the cache or from a fallback target (failover) do not hide it.',
    impact: 'The model is down for every client, unless a fallback target (failover, or a switched route) serves it: ModelServedByFallback says so.',
    diagnosis: ['`GET /models` on the upstream\'s `baseURL` (the gateway config\'s `upstreams` section), from the gateway host: `curl -sS` it; a refusal, a timeout or a 404 (a baseURL without `/v1`) is the cause.', 'The model server\'s process, container or pod: crashed, OOM-killed, still loading weights?', '`GET /readyz` on the gateway lists each upstream.'],
    mitigation: ['Restart the model server; the responder can switch the model to a fallback on another upstream.'],
  },
};

export const MODEL_SERVED_BY_FALLBACK: AlertDef = {
  name: 'ModelServedByFallback',
  scope: 'model',
  category: 'availability',
  defaults: { threshold: 0, for: '1m', severity: 'warning', minRequestRate: 0 },
  identity: [M, LABEL.upstream, LABEL.upstreamModel],
  humanizer: 'humanize',
  summary: '{{ $labels.model }} is served by its fallback {{ $labels.upstream }}/{{ $labels.upstream_model }}',
  description: 'Requests to model {{ $labels.model }} have been sent to a target other than its primary, {{ $labels.upstream_model }} on {{ $labels.upstream }}, for {for} ({{ $value | humanize }} req/s): a switched route or failover. Users get the fallback\'s answers.',
  showThreshold: (t) => humanize(t),
  expr: (c, m) =>
    unlessOn(
      [M, LABEL.upstream, LABEL.upstreamModel],
      `${sel(c.names.targetRequests, ...m)} > ${num(c.tuning.threshold)}`,
      `${metricName('routePrimary', c.spec.metricsPrefix)} == 1`,
    ),
  validate: (c) => (c.tuning.threshold >= 0 ? undefined : 'threshold is a request rate and must be 0 or more'),
  scenarios: (c, model) => {
    const p = c.spec.metricsPrefix;
    const at = checkAt(c);
    const sent = metricName('upstreamRequests', p);
    const primary = metricName('routePrimary', p);
    const fallback = { upstream: 'small', upstream_model: `${model}-small` };
    const main = { upstream: 'vllm', upstream_model: model };
    const targets = (mainPerMinute: number, fallbackPerMinute: number): InputSeries[] =>
      onReplicas((instance) => [
        counter(sent, gatewayLabels(model, instance, main), mainPerMinute),
        counter(sent, gatewayLabels(model, instance, fallback), fallbackPerMinute),
        gauge(primary, gatewayLabels(model, instance, main), 1),
        gauge(primary, gatewayLabels(model, instance, fallback), 0),
      ]);
    return [
      { name: 'firing', series: targets(0, 60), at, expect: [{ labels: { [M]: model, ...fallback }, value: 3 }] },
      // Failover: every request tried on the primary, then sent on to the fallback.
      { name: 'failover', series: targets(60, 60), at, expect: [{ labels: { [M]: model, ...fallback }, value: 3 }] },
      { name: 'healthy', series: targets(60, 0), at, expect: [] },
      { name: 'idle', series: targets(0, 0), at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'Some requests to the model are served by a target other than its primary (the first in the gateway config): the route was switched (by the admin API or the responder), or failover moves requests there because the primary fails.',
    impact: 'Users get the fallback\'s answers: often a smaller, weaker or costlier model.',
    diagnosis: ['`{prefix}route_active`: which target serves now; `{prefix}route_switches_total` and the responder\'s audit log: who switched it.', '`{prefix}failovers_total` by upstream: is the primary failing? ModelServerUnreachable or HighErrorRate will say why.'],
    mitigation: ['Fix the primary, then switch back (`POST /admin/routes` or the responder\'s revert on resolve).'],
  },
};

export const MODEL_UNAVAILABLE: AlertDef = {
  name: 'ModelUnavailable',
  scope: 'model',
  category: 'availability',
  // The low-traffic answer to a dead model: the ratio alerts need minEvents, this needs only a few
  // failures and no success, so a model failing every request pages even at one request a minute.
  defaults: { threshold: 0, for: '2m', severity: 'critical', minRequestRate: 0, minEvents: 3 },
  identity: [M],
  humanizer: 'humanize',
  summary: 'Every request to {{ $labels.model }} fails',
  description: 'Every judged request to model {{ $labels.model }} over the last rate window failed server-side, and none succeeded, for {for} ({{ $value | humanize }} failures in the window).',
  showThreshold: (t) => humanize(t),
  expr: (c, m) =>
    unlessOn([M], `${sel(c.names.errorRateAbs, ...m)} * ${num(durationSeconds(c.spec.rateWindow))} >= ${num(Math.max(1, c.tuning.minEvents))}`, `${c.names.successRate} > 0`),
  validate: (c) =>
    c.tuning.threshold === 0 ? undefined : 'threshold has no meaning here (the alert fires when at least minEvents requests failed and none succeeded); tune minEvents instead',
  scenarios: (c, model) => {
    const requests = metricName('requests', c.spec.metricsPrefix);
    const w = minutesOf(c.spec.rateWindow);
    const need = Math.max(1, c.tuning.minEvents);
    const labels = (status: string, code: string) => gatewayLabels(model, REPLICAS[0], { endpoint: 'chat_completions', status, code });
    // One request a minute on one replica: successes until minute 30, then `failing` of them fail.
    const oneAMinute = (failFrom: number): InputSeries[] => [
      { series: seriesOf(requests, labels('success', '2xx')), values: `0+1x${failFrom} ${failFrom}+0x${SERIES_MINUTES - failFrom - 1}` },
      { series: seriesOf(requests, labels('error', '5xx')), values: `0x${failFrom} 0+1x${SERIES_MINUTES - failFrom - 1}` },
    ];
    const at = 30 + w + minutesOf(c.tuning.for) + 3;
    // A few requests, all failing, fewer than minEvents in any window: one request every `gap` minutes.
    const gap = w + 1;
    const sparse = Array.from({ length: SERIES_MINUTES + 1 }, (_, t) => Math.floor(t / gap)).join(' ');
    return [
      // At one request a minute, the last success leaves the window, then `for`: a page within minutes.
      { name: 'firing at one request a minute', series: oneAMinute(30), at, expect: [{ labels: { [M]: model }, value: w }] },
      { name: 'healthy', series: oneAMinute(SERIES_MINUTES - 1), at, expect: [] },
      { name: 'idle', series: [gauge(requests, labels('success', '2xx'), 0), gauge(requests, labels('error', '5xx'), 0)], at, expect: [] },
      // One failure among a handful of successes: the ratio alerts' case, silent here too.
      {
        name: 'one failure among a handful',
        series: [counter(requests, labels('success', '2xx'), 1), { series: seriesOf(requests, labels('error', '5xx')), values: '0x30 1x150' }],
        at,
        expect: [],
      },
      ...(need > 1 ? [{ name: 'failures fewer than minEvents', series: [{ series: seriesOf(requests, labels('error', '5xx')), values: sparse }], at, expect: [] }] : []),
    ];
  },
  runbook: {
    meaning: 'Every request routed to the model over the rate window failed server-side (5xx, refused, reset, timeout, overload), at least `minEvents` of them, and none succeeded. It needs no minimum traffic rate: it is the page for a dead model at low traffic, where the ratio alerts (HighErrorRate, ErrorBudgetBurn) stay silent below their minimum of events.',
    impact: 'The model answers nobody.',
    diagnosis: [
      'Which failure: `sum by (reason) (rate({prefix}upstream_errors_total[5m]))` and `{prefix}requests_total{status="error"}` by `code`.',
      'ModelServerUnreachable fires beside it when the server cannot be reached at all.',
      'The model server\'s logs: crashed, out of memory, a bad deploy?',
    ],
    mitigation: ['Restart or roll back the model server; switch the model to its fallback (`POST /admin/routes`).'],
  },
};

export const HIGH_TOXICITY_SCORE: AlertDef = {
  name: 'HighToxicityScore',
  scope: 'model',
  category: 'content',
  defaults: { threshold: 0.3, for: '2m', severity: 'warning', minRequestRate: 0 },
  identity: [M],
  humanizer: 'humanize',
  summary: 'Outputs of {{ $labels.model }} score above {threshold} for toxicity',
  description: 'The mean toxicity score of the outputs of model {{ $labels.model }} answered over the last rate window, over every gateway replica, has been above {threshold} for {for} (now {{ $value | humanize }}).',
  showThreshold: (t) => humanize(t),
  expr: (c, m) => `${sel(c.names.toxicity, ...m)} > ${num(c.tuning.threshold)}`,
  validate: (c) => (c.tuning.threshold > 0 && c.tuning.threshold < 1 ? undefined : 'threshold is a mean toxicity score and must lie between 0 and 1'),
  scenarios: (c, model) => {
    const t = c.tuning.threshold;
    const p = c.spec.metricsPrefix;
    const score = metricName('outputSafetyScore', p);
    const gaugeName = metricName('outputToxicity', p);
    const at = checkAt(c);
    const high = t + (1 - t) / 2;
    const low = t / 4;
    // Each replica answers `perMinute` outputs a minute, scoring `mean` on average.
    const answers = (instance: string, perMinute: number, mean: number): InputSeries[] => [
      counter(`${score}_sum`, gatewayLabels(model, instance), perMinute * mean),
      counter(`${score}_count`, gatewayLabels(model, instance), perMinute),
    ];
    const series = (mean: number) => onReplicas((instance) => answers(instance, 60, mean));
    // What the gateway really exports after `minutes` of toxic answers and then none: the histogram's
    // counters hold, and the seed's rolling-mean gauge keeps its last (toxic) value forever.
    const burstThenSilence = (minutes: number): InputSeries[] =>
      onReplicas((instance) => [
        { series: seriesOf(`${score}_sum`, gatewayLabels(model, instance)), values: counterThenFlat(60 * high, minutes) },
        { series: seriesOf(`${score}_count`, gatewayLabels(model, instance)), values: counterThenFlat(60, minutes) },
        gauge(gaugeName, gatewayLabels(model, instance), high),
      ]);
    return [
      { name: 'firing', series: series(high), at, expect: [{ labels: { [M]: model }, value: high }] },
      { name: 'healthy', series: series(low), at, expect: [] },
      // Idle from the start: the counters stay at 0 (pre-zeroed), the gauge at its initial 0.
      { name: 'idle', series: [...series(0).map((s) => ({ ...s, values: '0x180' })), ...onReplicas((instance) => [gauge(gaugeName, gatewayLabels(model, instance), 0)])], at, expect: [] },
      // Fires during a toxic burst ...
      { name: 'toxic burst', series: burstThenSilence(30), at: 28, expect: [{ labels: { [M]: model }, value: high }] },
      // ... and resolves once the burst has left the window, though the seed's gauge still reads toxic.
      { name: 'toxic burst then silence', series: burstThenSilence(30), at: 30 + minutesOf(c.spec.rateWindow) + 2, expect: [] },
      // One replica's few toxic answers cannot outvote hundreds of clean ones on the others
      // (the seed's avg of per-replica gauges read (0.95 + 2 x low) / 3 here, and fired).
      {
        name: 'one outlier replica',
        series: [
          ...answers(REPLICAS[0], 1, 0.95),
          ...answers(REPLICAS[1], 100, low),
          ...answers(REPLICAS[2], 100, low),
          gauge(gaugeName, gatewayLabels(model, REPLICAS[0]), 0.95),
          gauge(gaugeName, gatewayLabels(model, REPLICAS[1]), low),
          gauge(gaugeName, gatewayLabels(model, REPLICAS[2]), low),
        ],
        at,
        expect: [],
      },
    ];
  },
  runbook: {
    meaning: 'The answers of the model served over the last rate window score high on the gateway\'s toxicity scorer, on average per answer across every gateway replica (from the score histogram `{prefix}output_safety_score`: rate of `_sum` over rate of `_count`). With no answers in the window there is no value, so the alert resolves once toxic answers stop. (`{prefix}output_toxicity_score`, the per-replica rolling mean of the last 100 answers, is for dashboards only: it holds its value while idle.)',
    impact: 'Users may be shown abusive or harmful text; a compliance incident.',
    diagnosis: [
      '`{prefix}output_flagged_total` and the score histogram: a few outputs or many? Which replica: `sum by (instance) (rate({prefix}output_safety_score_sum[5m])) / sum by (instance) (rate({prefix}output_safety_score_count[5m]))`.',
      'Recent prompts: a jailbreak campaign? A changed system prompt or model version?',
    ],
    mitigation: ['Set the model\'s safety policy to `redact` or `block` in the gateway.', 'Switch to a safer model or roll back the change.'],
  },
};

export const LOW_CACHE_HIT_RATE: AlertDef = {
  name: 'LowCacheHitRate',
  scope: 'model',
  category: 'efficiency',
  defaults: { threshold: 0.3, for: '15m', severity: 'info', minRequestRate: 0.1 },
  identity: [M],
  humanizer: 'humanizePercentage',
  summary: 'Cache hit rate of {{ $labels.model }} is below {threshold}',
  description: 'Fewer than {threshold} of cacheable requests to model {{ $labels.model }} have been answered from the cache for {for} (now {{ $value | humanizePercentage }}).',
  showThreshold: humanizePercentage,
  expr: (c, m) => andOn([M], `${sel(c.names.cacheHitRate, ...m)} < ${num(c.tuning.threshold)}`, `${c.names.cacheLookups} >= ${num(c.tuning.minRequestRate)}`),
  scenarios: (c, model) => {
    const t = c.tuning.threshold;
    const metric = metricName('cacheRequests', c.spec.metricsPrefix);
    const at = checkAt(c);
    const n = Math.max(60, Math.ceil(c.tuning.minRequestRate * 60));
    const series = (hits: number, total: number) =>
      onReplicas((instance) => [
        counter(metric, gatewayLabels(model, instance, { result: 'hit' }), hits),
        counter(metric, gatewayLabels(model, instance, { result: 'miss' }), total - hits),
        counter(metric, gatewayLabels(model, instance, { result: 'bypass' }), total),
      ]);
    const low = Math.floor((n * t) / 2);
    return [
      { name: 'firing', series: series(low, n), at, expect: [{ labels: { [M]: model }, value: low / n }] },
      { name: 'healthy', series: series(Math.ceil((n * (1 + t)) / 2), n), at, expect: [] },
      { name: 'idle', series: series(0, 0), at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'Few cacheable requests (deterministic: temperature 0, or asked to be cached) are answered from the gateway\'s response cache.',
    impact: 'Cost and latency higher than they need be; no user-facing failure.',
    diagnosis: ['Cache size and TTL in the gateway config; evictions.', 'Did clients start varying their prompts (timestamps, ids in the prompt)?', 'With several replicas: is Redis shared and reachable?'],
    mitigation: ['Grow the cache or its TTL; share it in Redis across replicas.'],
  },
};

/**
 * GPUs as the alert scenarios see them: two GPUs on one host, scraped either from
 * `llmwatch exporter` (port 9835) or from NVIDIA dcgm-exporter (port 9400, its own
 * label names, one GPU used by a Kubernetes pod), per the spec's `targets.gpuExporter.source`.
 */
const SCENARIO_GPUS = [
  { gpu: '0', uuid: 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70', name: 'NVIDIA H100 80GB HBM3', pod: 'vllm-0' },
  { gpu: '1', uuid: 'GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', name: 'NVIDIA H100 80GB HBM3', pod: undefined },
] as const;
/** dcgm-exporter reports used and free framebuffer in MiB; used + free of an H100 80GB is about this. */
const SCENARIO_FB_MIB = 81_081;
const MIB = 1024 * 1024;

/** The labels a GPU series carries once it reads as `node_gpu_*`, whichever exporter produced it. */
function gpuLabels(c: AlertContext, i: 0 | 1): Record<string, string> {
  const g = SCENARIO_GPUS[i];
  const source = c.spec.targets.gpuExporter.source;
  switch (source) {
    case 'llmwatch':
      return { job: JOB.gpu, instance: 'gpu-host-1:9835', [GPU_LABEL.gpu]: g.gpu, [GPU_LABEL.uuid]: g.uuid, [GPU_LABEL.name]: g.name };
    case 'dcgm':
      // The recording rules keep job, instance, gpu and MIG's GPU_I_ID, and rename UUID, modelName and Hostname.
      return { job: JOB.gpu, instance: 'gpu-host-1:9400', [GPU_LABEL.gpu]: g.gpu, [GPU_LABEL.uuid]: g.uuid, [GPU_LABEL.name]: g.name, [GPU_LABEL.hostname]: 'gpu-host-1' };
    default:
      return assertNever(source);
  }
}

/** dcgm-exporter's own labels of a GPU series (internal/pkg/rendermetrics/render_metrics.go), pod attribution included. */
function dcgmLabels(i: 0 | 1): Record<string, string> {
  const g = SCENARIO_GPUS[i];
  const L = DCGM.label;
  return {
    job: JOB.gpu,
    instance: 'gpu-host-1:9400',
    [L.gpu]: g.gpu,
    [L.uuid]: g.uuid,
    pci_bus_id: `00000000:1${g.gpu}:00.0`,
    device: `nvidia${g.gpu}`,
    [L.modelName]: g.name,
    [L.hostname]: 'gpu-host-1',
    DCGM_FI_DRIVER_VERSION: '550.90.12',
    ...(g.pod === undefined ? {} : { container: 'vllm', namespace: 'llm', pod: g.pod }),
  };
}

/**
 * Both GPUs with these memory use ratios, as the spec's exporter reports them, and
 * the value `gpu:node_gpu_memory_utilisation:ratio` will have for each.
 */
function gpuMemorySeries(c: AlertContext, ratios: readonly [number, number]): { series: InputSeries[]; values: number[] } {
  const source = c.spec.targets.gpuExporter.source;
  switch (source) {
    case 'llmwatch': {
      const total = 81_559 * MIB;
      return {
        series: ([0, 1] as const).flatMap((i) => [
          gauge(GPU_METRIC.memoryUsage, gpuLabels(c, i), ratios[i] * total),
          gauge(GPU_METRIC.memoryTotal, gpuLabels(c, i), total),
        ]),
        values: ratios.map((r) => (r * total) / total),
      };
    }
    case 'dcgm': {
      const used = ratios.map((r) => Math.round(r * SCENARIO_FB_MIB));
      return {
        series: ([0, 1] as const).flatMap((i) => [
          gauge(DCGM.fbUsed, dcgmLabels(i), used[i]!),
          gauge(DCGM.fbFree, dcgmLabels(i), SCENARIO_FB_MIB - used[i]!),
        ]),
        values: used.map((u) => (u * MIB) / ((u + (SCENARIO_FB_MIB - u)) * MIB)),
      };
    }
    default:
      return assertNever(source);
  }
}

/** Both GPUs at these core temperatures, as the spec's exporter reports them. */
function gpuTemperatureSeries(c: AlertContext, celsius: readonly [number, number]): InputSeries[] {
  const source = c.spec.targets.gpuExporter.source;
  switch (source) {
    case 'llmwatch':
      return ([0, 1] as const).map((i) => gauge(GPU_METRIC.temperature, gpuLabels(c, i), celsius[i]));
    case 'dcgm':
      return ([0, 1] as const).map((i) => gauge(DCGM.gpuTemp, dcgmLabels(i), celsius[i]));
    default:
      return assertNever(source);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected GPU exporter source: ${String(x)}`);
}

export const HIGH_GPU_MEMORY_USAGE: AlertDef = {
  name: 'HighGpuMemoryUsage',
  scope: 'host',
  category: 'resource',
  // vLLM preallocates `--gpu-memory-utilization` of each GPU's memory, 0.9 by default, so a healthy
  // vLLM GPU reads about 0.9 all day: the line sits above it. A warning: a full GPU is a cause, and
  // what users feel of it (errors, a dead server) pages through the model alerts.
  defaults: { threshold: 0.95, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: ['instance', 'gpu'],
  humanizer: 'humanizePercentage',
  summary: 'GPU {{ $labels.gpu }} on {{ $labels.instance }} is above {threshold} memory',
  description: 'GPU {{ $labels.gpu }} on {{ $labels.instance }} has used more than {threshold} of its memory for {for} (now {{ $value | humanizePercentage }}).',
  showThreshold: humanizePercentage,
  // Per GPU: the article's avg by (instance) hides one full GPU among idle ones.
  // The same expression whichever exporter runs: dcgm-exporter's series are recorded under these names.
  expr: (c) => `${NODE.gpuMemoryUtilisation} > ${num(c.tuning.threshold)}`,
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const at = checkAt(c);
    const high = (1 + t) / 2;
    const firing = gpuMemorySeries(c, [high, t / 2]);
    return [
      { name: 'firing', series: firing.series, at, expect: [{ labels: gpuLabels(c, 0), value: firing.values[0]! }] },
      { name: 'healthy', series: gpuMemorySeries(c, [t / 2, t / 2]).series, at, expect: [] },
      // Both GPUs held by vLLM at its default --gpu-memory-utilization 0.9 (plus the CUDA context): healthy.
      ...(t > 0.92 ? [{ name: 'vLLM at its default 0.9 plus its CUDA context', series: gpuMemorySeries(c, [0.92, 0.9]).series, at, expect: [] }] : []),
      { name: 'idle', series: gpuMemorySeries(c, [0, 0]).series, at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'A GPU\'s memory is nearly full. LLM servers preallocate KV cache (vLLM: `--gpu-memory-utilization`, 0.9 by default), so a steady high value can be by design; growth past it means another process or a leak.',
    impact: 'Out-of-memory errors, evicted requests, a crashed model server.',
    diagnosis: ['`nvidia-smi` on the host: which processes hold memory?', 'Compare with the model server\'s configured memory fraction.'],
    mitigation: ['Stop the stray process; lower the server\'s memory fraction or max sequence length; move to a larger GPU.'],
  },
};

export const HIGH_GPU_TEMPERATURE: AlertDef = {
  name: 'HighGpuTemperature',
  scope: 'host',
  category: 'resource',
  defaults: { threshold: 85, for: '5m', severity: 'warning', minRequestRate: 0, keepFiringFor: '10m' },
  keepFiringForWhy:
    'A GPU at its slowdown temperature lowers its clocks, cools a few degrees, speeds up and heats again: the reading saws across the threshold every few minutes. Without keep_firing_for each dip would resolve the alert and each rise re-fire it after `for`; 10 minutes of calm end it.',
  identity: ['instance', 'gpu'],
  humanizer: 'humanize',
  summary: 'GPU {{ $labels.gpu }} on {{ $labels.instance }} is hotter than {threshold}',
  description: 'The core of GPU {{ $labels.gpu }} on {{ $labels.instance }} has been hotter than {threshold} for {for} (now {{ $value | humanize }}°C).',
  showThreshold: (t) => `${humanize(t)}°C`,
  expr: (c) => `${GPU_METRIC.temperature} > ${num(c.tuning.threshold)}`,
  validate: (c) =>
    c.tuning.threshold >= 40 && c.tuning.threshold <= 120
      ? undefined
      : 'threshold is a GPU core temperature in °C and must lie between 40 and 120 (data-centre GPUs slow down from about 85 °C)',
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const at = checkAt(c);
    return [
      { name: 'firing', series: gpuTemperatureSeries(c, [t + 5, t - 20]), at, expect: [{ labels: gpuLabels(c, 0), value: t + 5 }] },
      { name: 'healthy', series: gpuTemperatureSeries(c, [t - 15, t - 15]), at, expect: [] },
      // An idle GPU sits near room temperature.
      { name: 'idle', series: gpuTemperatureSeries(c, [30, 30]), at, expect: [] },
    ];
  },
  // Hot for 20 minutes (firing after `for`), then 15 °C under the threshold from minute 21.
  recovery: (c) => {
    const t = c.tuning.threshold;
    const [hot, cool] = gpuTemperatureSeries(c, [t + 5, t - 20]);
    return {
      series: [{ ...hot!, values: stepValues([[t + 5, 21], [t - 15, 1]]) }, cool!],
      clearsAt: 21,
      expect: [{ labels: gpuLabels(c, 0), value: t + 5 }],
    };
  },
  runbook: {
    meaning: 'A GPU core has stayed hotter than the threshold. GPUs lower their clocks near their slowdown temperature (`nvidia-smi -q -d TEMPERATURE`), so throughput drops before anything fails.',
    impact: 'Throttled clocks: fewer tokens per second and longer latency; at the shutdown temperature the GPU stops, and the model server with it.',
    diagnosis: [
      '`nvidia-smi -q -d TEMPERATURE,PERFORMANCE` on the host: the slowdown and shutdown temperatures, and whether "HW Thermal Slowdown" is active.',
      'One hot GPU points at the card (fan, heatsink); every GPU of the host at the cooling or the room.',
      '`node_gpu_power_watts` and `node_gpu_utilization_ratio`: hot under full load, or hot while idle?',
    ],
    mitigation: ['Fix the cooling; lower the power limit (`nvidia-smi -pl`) to trade speed for heat; move load to other GPUs.'],
  },
};

export const GPU_COLLECTOR_FAILING: AlertDef = {
  name: 'GpuCollectorFailing',
  scope: 'host',
  category: 'availability',
  defaults: { threshold: 0, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: ['instance'],
  humanizer: 'humanize',
  summary: 'The GPU exporter on {{ $labels.instance }} cannot read nvidia-smi',
  description: 'Every nvidia-smi run of the llmwatch GPU exporter on {{ $labels.instance }} has failed for {for}: its GPU series are gone and the GPU alerts are blind there (llmwatch_gpu_collector_last_error_info says why).',
  showThreshold: (t) => humanize(t),
  expr: () => `${GPU_METRIC.collectorSuccess} == 0`,
  validate: (c) =>
    c.tuning.threshold === 0 ? undefined : `threshold has no meaning here (the alert fires when ${GPU_METRIC.collectorSuccess} is 0 for 'for'); leave it out`,
  scenarios: (c) => {
    const at = checkAt(c);
    const labels = (host: number) => ({ job: JOB.gpu, instance: `gpu-host-${host}:9835` });
    const series = (host1: number) => [gauge(GPU_METRIC.collectorSuccess, labels(1), host1), gauge(GPU_METRIC.collectorSuccess, labels(2), 1)];
    return [
      { name: 'firing', series: series(0), at, expect: [{ labels: labels(1), value: 0 }] },
      { name: 'healthy', series: series(1), at, expect: [] },
      // A collector has no idle state: with no GPU work it still reads nvidia-smi.
      { name: 'idle', series: series(1), at, expect: [] },
      {
        name: 'one failed run',
        series: [{ series: `${GPU_METRIC.collectorSuccess}{job="${JOB.gpu}",instance="gpu-host-1:9835"}`, values: '1x10 0 1x168' }],
        at,
        expect: [],
      },
    ];
  },
  runbook: {
    meaning: 'The llmwatch GPU exporter runs nvidia-smi every interval, and every run has failed for the whole period. A failed run drops the GPU series (so no alert reads stale memory figures), which leaves HighGpuMemoryUsage and HighGpuTemperature blind for this host.',
    impact: 'GPU monitoring of the host is blind: a full or overheating GPU would go unnoticed.',
    diagnosis: [
      '`llmwatch_gpu_collector_last_error_info` has the reason: `missing_binary` (no nvidia-smi where the exporter looks), `timeout` (nvidia-smi hung: a stuck driver or a GPU fallen off the bus; look for Xid errors in `dmesg`), `exit_code` (the driver is not loaded, no device found), `parse_error` (output the exporter does not understand).',
      'The exporter\'s stderr has one line per change of state, with nvidia-smi\'s own message.',
      'Run `nvidia-smi` on the host by hand.',
    ],
    mitigation: [
      'Install or repair the NVIDIA driver, or start the exporter with `--nvidia-smi /path/to/nvidia-smi`.',
      'A GPU that fell off the bus needs a reset (`nvidia-smi -r`) or a reboot; drain the model server from it first.',
    ],
  },
};

export const HIGH_CPU_USAGE: AlertDef = {
  name: 'HighCpuUsage',
  scope: 'host',
  category: 'resource',
  defaults: { threshold: 80, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: ['instance'],
  humanizer: 'humanize',
  summary: 'CPU of {{ $labels.instance }} is above {threshold}%',
  description: 'CPU usage of {{ $labels.instance }}, over all its cores, has been above {threshold}% for {for} (now {{ $value | humanize }}%).',
  showThreshold: (t) => humanize(t),
  expr: (c) => `${NODE.cpuUsagePercent} > ${num(c.tuning.threshold)}`,
  validate: (c) => (c.tuning.threshold > 0 && c.tuning.threshold < 100 ? undefined : 'threshold is a percentage of CPU time and must lie between 0 and 100'),
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const at = checkAt(c);
    // Four cores, each with idle, user and system time: the shape that defeated the article's rule.
    const series = (busyPercent: number) =>
      [0, 1, 2, 3].flatMap((cpu) => [
        counter(NODE.cpuSeconds, { job: JOB.node, instance: 'node-1:9100', cpu: String(cpu), mode: 'idle' }, (60 * (100 - busyPercent)) / 100),
        counter(NODE.cpuSeconds, { job: JOB.node, instance: 'node-1:9100', cpu: String(cpu), mode: 'user' }, (60 * busyPercent * 0.9) / 100),
        counter(NODE.cpuSeconds, { job: JOB.node, instance: 'node-1:9100', cpu: String(cpu), mode: 'system' }, (60 * busyPercent * 0.1) / 100),
      ]);
    const busy = (100 + t) / 2;
    return [
      { name: 'firing', series: series(busy), at, expect: [{ labels: { instance: 'node-1:9100' }, value: busy }] },
      { name: 'healthy', series: series(t / 4), at, expect: [] },
      { name: 'idle', series: series(0), at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'The host\'s CPUs are busy more than the threshold share of the time (all modes but idle, averaged over cores).',
    impact: 'Tokenisation, the HTTP layer and the gateway slow down; GPU work may starve for CPU.',
    diagnosis: ['`top` or `pidstat` on the host; `rate(process_cpu_seconds_total[5m])` of llmwatch and the model server.'],
    mitigation: ['Move noisy neighbours away; give the model server more cores; add gateway replicas.'],
  },
};

export const HIGH_HOST_MEMORY_USAGE: AlertDef = {
  name: 'HighHostMemoryUsage',
  scope: 'host',
  category: 'resource',
  defaults: { threshold: 0.85, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: ['instance'],
  humanizer: 'humanizePercentage',
  summary: 'Memory of {{ $labels.instance }} is above {threshold} used',
  description: 'More than {threshold} of the memory of {{ $labels.instance }} has been in use for {for} (now {{ $value | humanizePercentage }}).',
  showThreshold: humanizePercentage,
  expr: (c) => `${NODE.memoryUtilisation} > ${num(c.tuning.threshold)}`,
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const total = 1e10;
    const at = checkAt(c);
    const labels = { job: JOB.node, instance: 'node-1:9100' };
    const series = (used: number) => [gauge(NODE.memTotal, labels, total), gauge(NODE.memAvailable, labels, (1 - used) * total)];
    const high = (1 + t) / 2;
    return [
      { name: 'firing', series: series(high), at, expect: [{ labels, value: 1 - ((1 - high) * total) / total }] },
      { name: 'healthy', series: series(t / 2), at, expect: [] },
      { name: 'idle', series: series(0.1), at, expect: [] },
    ];
  },
  runbook: {
    meaning: 'Little memory is available on the host (MemAvailable, which counts reclaimable cache as free).',
    impact: 'The OOM killer may end the model server or the gateway.',
    diagnosis: ['`free -h`, `ps aux --sort=-rss | head` on the host.', 'Model weights loaded into host memory (CPU offload, swap space settings).'],
    mitigation: ['Stop what does not belong; lower CPU offload; add memory.'],
  },
};

const U = [LABEL.upstream] as const;

/**
 * Scale-in's signal (issue 15): an upstream with a replica to spare. Like the Kubernetes HPA's
 * scale-down stabilization window, it needs the whole window behind it unchanged: the endpoint
 * count did not change in it (right after a scale-out or a scale-in it cannot hold, so each step
 * in is its own alert episode, with its own `startsAt`, acted on anew), nothing was queued in it,
 * no endpoint was ejected in it, and the peak load in it would fit on one replica fewer at no more
 * than `threshold` requests in flight each.
 * https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window
 */
export const SPARE_REPLICAS: AlertDef = {
  name: 'SpareReplicas',
  scope: 'upstream',
  category: 'efficiency',
  // Never a page: spare capacity costs money, not users. `threshold` is requests in flight per
  // replica: half the gateway's default `maxConcurrency` (64 slots an endpoint), so what is left
  // after a step in still runs at half its slots at the window's peak.
  defaults: { threshold: 32, for: '10m', window: '15m', severity: 'warning', minRequestRate: 0 },
  identity: [LABEL.upstream],
  humanizer: 'humanize',
  summary: 'Upstream {{ $labels.upstream }} has a replica to spare',
  description:
    'Upstream {{ $labels.upstream }} has had {{ $value | humanize }} endpoints (replicas) for {window} with nothing queued and no endpoint ejected, and the most requests in flight over that window, summed over its endpoints, would fit on one replica fewer at no more than {threshold} each; for {for}. A scale-in playbook may take one replica away; the next step waits for a new window.',
  showThreshold: (t) => humanize(t),
  expr: (c) => {
    const p = c.spec.metricsPrefix;
    const w = c.tuning.window!;
    const endpoints = metricName('upstreamEndpoints', p);
    // Gateway replicas each export the count; they agree but for a moment after a change: the largest.
    const count = `max by (${U.join(', ')}) (${endpoints})`;
    const stable = `max by (${U.join(', ')}) (changes(${endpoints}[${w}])) == 0`;
    // Each endpoint's own peak, summed over endpoints and gateway replicas: never below the peak of the
    // sum (peaks at different moments add up), so the estimate errs towards keeping the replica.
    const peak = `sum by (${U.join(', ')}) (max_over_time(${metricName('upstreamEndpointInFlight', p)}[${w}]))`;
    const fits = `${peak} <= on (${U.join(', ')}) (${count} - 1) * ${num(c.tuning.threshold)}`;
    const queued = `max by (${U.join(', ')}) (max_over_time(${metricName('queueLength', p)}[${w}])) > 0`;
    // An ejected endpoint serves nothing: the others carry its share, and the count overstates capacity.
    const ejected = `max by (${U.join(', ')}) (max_over_time(${metricName('upstreamEndpointEjected', p)}[${w}])) > 0`;
    return unlessOn(U, unlessOn(U, andOn(U, andOn(U, `${count} > 1`, stable), fits), queued), ejected);
  },
  validate: (c) => {
    if (c.tuning.severity === 'critical') return 'severity critical: spare replicas cost money, not users, and must never page (warning or info)';
    if (!(c.tuning.threshold > 0)) return `threshold ${c.tuning.threshold} must be above 0 requests in flight per replica`;
    return undefined;
  },
  scenarios: (c) => {
    const p = c.spec.metricsPrefix;
    const t = c.tuning.threshold;
    const window = minutesOf(c.tuning.window!);
    const settled = window + minutesOf(c.tuning.for) + 5;
    const endpointsOf = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:8000`);
    const labels = (instance: string, upstream: string, extra: Record<string, string> = {}) => ({ job: JOB.gateway, instance, upstream, ...extra });
    /** An upstream as every gateway replica sees it: its endpoint count (step values), each endpoint's requests in flight, and the queue. */
    const upstream = (name: string, count: string, maxEndpoints: number, inFlight: number, queue = `0x${SERIES_MINUTES}`, ejected = `0x${SERIES_MINUTES}`): InputSeries[] =>
      onReplicas((instance) => [
        { series: seriesOf(metricName('upstreamEndpoints', p), labels(instance, name)), values: count },
        { series: seriesOf(metricName('queueLength', p), labels(instance, name, { [M]: 'example-model' })), values: queue },
        ...endpointsOf(maxEndpoints).flatMap((e, i) => [
          gauge(metricName('upstreamEndpointInFlight', p), labels(instance, name, { [LABEL.upstreamEndpoint]: e }), inFlight),
          { series: seriesOf(metricName('upstreamEndpointEjected', p), labels(instance, name, { [LABEL.upstreamEndpoint]: e })), values: i === 0 ? ejected : `0x${SERIES_MINUTES}` },
        ]),
      ]);
    const flat = (n: number) => `${n}x${SERIES_MINUTES}`;
    const per = (endpoints: number, total: number) => Math.floor(total / (REPLICAS.length * endpoints));
    // Three endpoints, seen by three gateway replicas: 9 series whose peaks sum to at most 2 replicas' worth.
    const light = per(3, 2 * t);
    const busy = light + 1;
    const fires = (upstreamName: string, n: number) => [{ labels: { [LABEL.upstream]: upstreamName }, value: n }];
    // A blip of one queued request a few minutes before the check, inside the window.
    const blip = stepValues([[0, settled - 3], [1, 1], [0, 1]]);
    return [
      { name: 'firing: three replicas, light load all window', series: upstream('vllm', flat(3), 3, light), at: settled, expect: fires('vllm', 3) },
      { name: 'firing: three replicas, no traffic at all', series: upstream('vllm', flat(3), 3, 0), at: settled, expect: fires('vllm', 3) },
      // The peak needs all three replicas at the threshold: nothing to spare.
      { name: 'healthy', series: upstream('vllm', flat(3), 3, busy), at: settled, expect: [] },
      // One replica is the least there is.
      { name: 'idle', series: upstream('vllm', flat(1), 1, 0), at: settled, expect: [] },
      // A scale-out (2 -> 3) a few minutes ago: the window is not yet behind the new count.
      { name: 'silent right after a scale-out', series: upstream('vllm', stepValues([[2, settled - 5], [3, 5]]), 3, 0), at: settled, expect: [] },
      // A step in (3 -> 2): silent until the window has passed, then a new episode at the new count.
      { name: 'silent right after a step in', series: upstream('vllm', stepValues([[3, 10], [2, 10]]), 3, 0), at: 15, expect: [] },
      { name: 'fires again one window after a step in', series: upstream('vllm', stepValues([[3, 10], [2, 10]]), 3, 0), at: 10 + settled, expect: fires('vllm', 2) },
      { name: 'silent after a request queued within the window', series: upstream('vllm', flat(3), 3, 0, blip), at: settled, expect: [] },
      { name: 'silent while an endpoint was ejected within the window', series: upstream('vllm', flat(3), 3, 0, flat(0), blip), at: settled, expect: [] },
      // Per upstream: the busy one beside it keeps its replicas.
      { name: 'two upstreams: one spare, one busy', series: [...upstream('vllm', flat(3), 3, light), ...upstream('vllm-busy', flat(3), 3, busy)], at: settled, expect: fires('vllm', 3) },
    ];
  },
  runbook: {
    meaning:
      'An upstream of the gateway runs more replicas (endpoints) than its load needs: for the whole stabilization window its endpoint count stayed the same, nothing waited in the gateway\'s queue, no endpoint was ejected, and the most requests in flight (each endpoint\'s peak, summed over endpoints and gateway replicas) would fit on one replica fewer at the threshold each. Right after any scale the window is not behind the new count, so the alert resolves, and fires again, as a new episode, only once a full window has passed at the new count: a scale-in playbook steps down one replica per episode.',
    impact: 'None for users: replicas cost money (GPUs) while they wait. It is a warning, never a page.',
    diagnosis: [
      'Endpoints and their load: `{prefix}upstream_endpoints` and `{prefix}upstream_endpoint_in_flight` by `upstream_endpoint`.',
      'Was it a scale-out for a burst that is over? The queue (`{prefix}queue_length`) and QueueBacklog over the last hours.',
      'Is the traffic daily? A scale-in before a known peak only adds a scale-out later: raise `window` past the quiet hours, or keep a `min` in the playbook.',
    ],
    mitigation: [
      'Scale the model server in by one replica (a `scale` step with `direction: in`, `step: 1` and a `min`: a warning may run it, it is low risk); the gateway takes the replica out and lets its requests finish when the local stack\'s driver or your orchestrator drains it.',
      'Or lower the threshold, or lengthen `window`, if the load comes back within it.',
    ],
  },
};

/** Every tunable alert, in the order they are generated. */
export const CATALOG: readonly AlertDef[] = [
  HIGH_INFERENCE_LATENCY,
  HIGH_TIME_TO_FIRST_TOKEN,
  HIGH_TIME_PER_OUTPUT_TOKEN,
  HIGH_EMBEDDING_LATENCY,
  LOW_TOKEN_THROUGHPUT,
  QUEUE_BACKLOG,
  HIGH_TIMEOUT_RATE,
  HIGH_ERROR_RATE,
  CLIENT_ERROR_FLOOD,
  MODEL_SERVER_UNREACHABLE,
  MODEL_SERVED_BY_FALLBACK,
  MODEL_UNAVAILABLE,
  HIGH_TOXICITY_SCORE,
  LOW_CACHE_HIT_RATE,
  HIGH_GPU_MEMORY_USAGE,
  HIGH_CPU_USAGE,
  HIGH_HOST_MEMORY_USAGE,
  HIGH_GPU_TEMPERATURE,
  GPU_COLLECTOR_FAILING,
  SPARE_REPLICAS,
];

/**
 * The alerts a spec generates. GpuCollectorFailing reads the health gauge of
 * llmwatch's own exporter; dcgm-exporter has none (its failures show as
 * TargetDown or TargetAbsent), so with `source: dcgm` it is left out.
 */
export function catalogFor(spec: Readonly<MonitoringSpec>): readonly AlertDef[] {
  return [...CATALOG.filter((def) => def !== GPU_COLLECTOR_FAILING || spec.targets.gpuExporter.source === 'llmwatch'), ...DRIFT_CATALOG, ...engineCatalogFor(spec)];
}
