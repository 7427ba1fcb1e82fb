/**
 * Every metric name, label name and closed label-value set llmwatch exports.
 * Nothing else spells a metric name: the gateway, the rules generator, the
 * dashboards and the tests all import it from here.
 */

import type { Endpoint } from '../openai/endpoints.ts';

/** Default metric prefix, the source article's. */
export const DEFAULT_PREFIX = 'openllm_';

/** Label names. */
export const LABEL = {
  model: 'model',
  endpoint: 'endpoint',
  upstream: 'upstream',
  /** One replica of an upstream, `host:port` (`endpoint` is taken: it names the API endpoint). */
  upstreamEndpoint: 'upstream_endpoint',
  status: 'status',
  code: 'code',
  kind: 'kind',
  source: 'source',
  reason: 'reason',
  result: 'result',
  upstreamModel: 'upstream_model',
  key: 'key',
  action: 'action',
  store: 'store',
  op: 'op',
  version: 'version',
  nodeVersion: 'node_version',
  finishReason: 'finish_reason',
} as const;

/**
 * `status` label of `requests_total`: the request's SLI class, decided once in
 * the gateway (`classifyFailure` in src/core/metering/exchange.ts). `error` is a
 * server-side failure (upstream 5xx, refused, reset, timeout, overload 429/503
 * from the queue or the upstream): the error-rate, availability and
 * error-budget alerts count only these. `client_error` is the client's own
 * doing (other 4xx from the upstream, a `content_filter` block): visible, never
 * a page. `cancelled`: the client went away first.
 */
export const REQUEST_STATUS = ['success', 'error', 'client_error', 'cancelled'] as const;

export type RequestStatus = (typeof REQUEST_STATUS)[number];

/** `code` label of `requests_total`: the HTTP status class the client saw. */
export const CODE_CLASS = ['2xx', '4xx', '5xx'] as const;

export type CodeClass = (typeof CODE_CLASS)[number];

/** `kind` label of `tokens_processed_total`. */
export const TOKEN_KIND = ['prompt', 'completion'] as const;

export type TokenKind = (typeof TOKEN_KIND)[number];

/**
 * `source` label of `tokens_processed_total`: `usage` when the server reported
 * the count, `estimate` when llmwatch counted it with its own tokenizer.
 */
export const TOKEN_SOURCE = ['usage', 'estimate'] as const;

export type TokenSource = (typeof TOKEN_SOURCE)[number];

/**
 * `reason` label of `upstream_errors_total`: connection refused, a timeout
 * (connect, headers or idle body), a connection reset or a stream cut before
 * `[DONE]`, an HTTP 5xx or 429 answer, an answer that is not the protocol
 * (bad JSON, bad SSE), or an error event sent inside a stream.
 */
export const UPSTREAM_ERROR_REASON = ['refused', 'timeout', 'reset', 'http_5xx', 'http_429', 'malformed', 'stream_error'] as const;

export type UpstreamErrorReason = (typeof UPSTREAM_ERROR_REASON)[number];

/** `reason` label of `gateway_rejected_requests_total`: refused before any model was chosen. */
export const REJECT_REASON = [
  'invalid_json',
  'body_too_large',
  'invalid_request',
  'unknown_model',
  'not_found',
  'method_not_allowed',
  'unauthorized',
  'unsupported_media_type',
  'request_timeout',
  'bad_http',
  'connection_limit',
] as const;

export type RejectReason = (typeof REJECT_REASON)[number];

/** `result` label of `cache_requests_total`. */
export const CACHE_RESULT = ['hit', 'miss', 'bypass'] as const;

export type CacheResult = (typeof CACHE_RESULT)[number];

/** `op` label of `cache_errors_total`. */
export const CACHE_OP = ['get', 'set', 'connect'] as const;

export type CacheOp = (typeof CACHE_OP)[number];

/**
 * `op` label of `route_store_errors_total`: connecting to the shared route
 * store, reading the routes, writing a switch.
 */
export const ROUTE_STORE_OP = ['connect', 'read', 'write'] as const;

export type RouteStoreOp = (typeof ROUTE_STORE_OP)[number];

/** `reason` label of `safety_classifier_failures_total`. */
export const CLASSIFIER_FAILURE = ['dropped', 'timeout', 'error'] as const;

export type ClassifierFailure = (typeof CLASSIFIER_FAILURE)[number];

/** `action` label of `output_flagged_total`. */
export const FLAG_ACTION = ['observed', 'redacted', 'blocked'] as const;

export type FlagAction = (typeof FLAG_ACTION)[number];

/**
 * `finish_reason` label of `answers_total`: why the model stopped, as the OpenAI API says it
 * (`stop`, `length` at `max_tokens`, `content_filter`, `tool_calls`, and the older
 * `function_call` read as `tool_calls`); any other value, or none, is `other`. A closed set:
 * a server cannot grow the series count.
 */
export const FINISH_REASON = ['stop', 'length', 'content_filter', 'tool_calls', 'other'] as const;

export type FinishReason = (typeof FINISH_REASON)[number];

/**
 * The finish reasons whose `answers_total` series exist from start-up, at zero: the drift
 * alerts' ratios read them (truncations, filtered answers) and must see zero, not nothing.
 * `tool_calls` and `other` appear with their first answer (tool use has its own counter).
 */
export const FINISH_REASON_PRECREATED: readonly FinishReason[] = ['stop', 'length', 'content_filter'];

/** `endpoint` label of rejections that matched no endpoint. */
export const ENDPOINT_NONE = 'none';

/** Metric names without prefix; {@link metricName} adds it. */
export const METRIC = {
  inferenceDuration: 'inference_duration_seconds',
  tokensProcessed: 'tokens_processed_total',
  requests: 'requests_total',
  queueLength: 'queue_length',
  queueWait: 'queue_wait_seconds',
  requestsInFlight: 'requests_in_flight',
  timeToFirstToken: 'time_to_first_token_seconds',
  timePerOutputToken: 'time_per_output_token_seconds',
  promptTokens: 'request_prompt_tokens',
  completionTokens: 'request_completion_tokens',
  upstreamErrors: 'upstream_errors_total',
  rejectedRequests: 'gateway_rejected_requests_total',
  buildInfo: 'build_info',
  /** Response cache lookups by `result` (hit, miss, bypass). */
  cacheRequests: 'cache_requests_total',
  /** Cache store failures (Redis down, timeouts): the request went on without the cache. */
  cacheErrors: 'cache_errors_total',
  /**
   * The seed's gauge, kept: the rolling mean toxicity score of the last 100 outputs scored by
   * one gateway replica, 0..1, per model. It has no notion of time (it holds its value while
   * idle), so no alert reads it; HighToxicityScore reads `outputSafetyScore` over a window.
   */
  outputToxicity: 'output_toxicity_score',
  /** Distribution of the toxicity scores of single outputs. */
  outputSafetyScore: 'output_safety_score',
  /** Outputs at or above the model's safety threshold, by what was done (`observed`, `redacted`, `blocked`). */
  outputFlagged: 'output_flagged_total',
  /** Outputs the external classifier could not score (error, timeout, or dropped when saturated). */
  safetyClassifierFailures: 'safety_classifier_failures_total',
  /** Requests sent to each target (upstream and model name there), failover attempts included. */
  upstreamRequests: 'upstream_requests_total',
  /** 1 for the target a model is routed to now, 0 for its others. */
  routeActive: 'route_active',
  /** 1 for a model's primary target (its first in the config), 0 for its fallbacks; fixed at start-up. */
  routePrimary: 'route_primary',
  /** Route changes through this replica's admin API (a change learned from the shared route store is not counted again). */
  routeSwitches: 'route_switches_total',
  /** 1 while the shared route store (Redis, `routes.store: redis`) answers, 0 while this replica keeps its last known routes. */
  routeStoreUp: 'route_store_up',
  /** Shared route store failures by `op` (connect, read, write). */
  routeStoreErrors: 'route_store_errors_total',
  /** Values in the shared route store that name no configured target of their model: ignored, the route kept. */
  routeStoreInvalid: 'route_store_invalid_values_total',
  /** Requests retried on the next target after the current one failed. */
  failovers: 'failovers_total',
  /** Requests by client key name (only when client keys are configured). */
  clientRequests: 'client_requests_total',
  /**
   * Behaviour signals (docs/drift.md): answers of chat and completions requests delivered by a
   * model (cache hits left out), by the `finish_reason` of their first choice.
   */
  answers: 'answers_total',
  /** Answers whose first sentences the refusal detector took for a refusal. */
  answerRefusals: 'answer_refusals_total',
  /** Answers with neither text nor a tool call. */
  answerEmpty: 'answer_empty_total',
  /** Answers that call at least one tool. */
  answerToolCalls: 'answer_tool_calls_total',
  /** Answers the refusal classifier could not judge (error, timeout, or dropped when saturated). */
  refusalClassifierFailures: 'refusal_classifier_failures_total',
  /** Endpoints (replicas) an upstream has, admitted or ejected. */
  upstreamEndpoints: 'upstream_endpoints',
  /** Requests sent to one endpoint of an upstream and not finished; the only per-endpoint load series. */
  upstreamEndpointInFlight: 'upstream_endpoint_in_flight',
  /** 1 while an endpoint is ejected for failing (passive health check), else 0. */
  upstreamEndpointEjected: 'upstream_endpoint_ejected',
  /** Times an endpoint was ejected. */
  upstreamEndpointEjections: 'upstream_endpoint_ejections_total',
  /** Ollama's `load_duration` per answer (only when an upstream serves the Ollama API). */
  modelLoadDuration: 'model_load_duration_seconds',
} as const;

export type MetricKey = keyof typeof METRIC;

/** The full name of a metric under a prefix, e.g. `openllm_requests_total`. */
export function metricName(key: MetricKey, prefix: string = DEFAULT_PREFIX): string {
  return prefix + METRIC[key];
}

/** Names used in Prometheus exposition: a counter `x_total` is declared as `x`. */
export function counterBaseName(fullName: string): string {
  return fullName.endsWith('_total') ? fullName.slice(0, -'_total'.length) : fullName;
}

/**
 * Vetted histogram bounds, each with where it comes from.
 */
export const BUCKETS = {
  /** The source article's recommended latency buckets (section 7.1). */
  inferenceDuration: [0.1, 0.3, 0.5, 1, 2, 3, 5, 10],
  /** Close to vLLM's `vllm:time_to_first_token_seconds` bounds, trimmed to 14 buckets. */
  timeToFirstToken: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10],
  /** Close to vLLM's `vllm:time_per_output_token_seconds` bounds. */
  timePerOutputToken: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1],
  /** Queue wait: from "no wait" to the default queue timeout. */
  queueWait: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  /** Token counts by powers of two, 16 to 128k (context sizes of current models). */
  tokens: [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072],
  /** Model load time (Ollama's `load_duration`): from an already loaded model (milliseconds) to a cold load of a large one (a minute). */
  modelLoad: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
} as const satisfies Record<string, readonly number[]>;

/**
 * Which names the gateway exports its request histograms under: `openllm`
 * (llmwatch's own, the source article's), `otel` (the OpenTelemetry GenAI
 * semantic conventions, {@link GENAI_METRIC}), or `both` (one observation
 * updates both families). Metrics the conventions do not define (request
 * counters, queue, cache, safety, routes) keep their llmwatch names in every naming.
 */
export const METRICS_NAMING = ['openllm', 'otel', 'both'] as const;

export type MetricsNaming = (typeof METRICS_NAMING)[number];

/**
 * The version of the OpenTelemetry semantic conventions the GenAI names, attributes and buckets
 * below were checked against: v1.41.0 (2026-04-28), the last release of
 * open-telemetry/semantic-conventions that holds the GenAI conventions
 * (docs/gen-ai/gen-ai-metrics.md, model/gen-ai/metrics.yaml); from v1.42.0 they live in
 * open-telemetry/semantic-conventions-genai, unreleased, whose development head replaces
 * `gen_ai.client.token.usage` with per-direction token counters (docs/gateway.md, "OpenTelemetry names").
 */
export const GENAI_SEMCONV_VERSION = '1.41.0';

/**
 * The GenAI metrics as Prometheus exposes them (OpenTelemetry's Prometheus compatibility
 * spec, specification/compatibility/prometheus_and_openmetrics.md: dots become `_`, the unit
 * `s` becomes the suffix `_seconds`, the annotation `{token}` is dropped, histograms get no `_total`).
 */
export const GENAI_METRIC = {
  /** `gen_ai.client.token.usage`, histogram, `{token}`: input and output tokens of each operation. */
  tokenUsage: 'gen_ai_client_token_usage',
  /** `gen_ai.client.operation.duration`, histogram, `s`: every operation, failed ones with `error_type`. */
  operationDuration: 'gen_ai_client_operation_duration_seconds',
  /** `gen_ai.server.time_to_first_token`, histogram, `s`: successful streamed answers. */
  timeToFirstToken: 'gen_ai_server_time_to_first_token_seconds',
  /** `gen_ai.server.time_per_output_token`, histogram, `s`: successful streamed answers of two tokens or more. */
  timePerOutputToken: 'gen_ai_server_time_per_output_token_seconds',
} as const;

/** The GenAI attributes as Prometheus labels (dots become `_`). */
export const GENAI_LABEL = {
  /** `gen_ai.operation.name`: `chat`, `text_completion`, `embeddings` ({@link GENAI_OPERATION}). */
  operation: 'gen_ai_operation_name',
  /** `gen_ai.provider.name`: the gateway's `metrics.providerName` (default `openai`, the protocol it speaks). */
  provider: 'gen_ai_provider_name',
  /** `gen_ai.request.model`: the model the client asked for (llmwatch's `model` label). */
  requestModel: 'gen_ai_request_model',
  /** `gen_ai.token.type`: `input` or `output`. */
  tokenType: 'gen_ai_token_type',
  /** `error.type`: on failed operations only ({@link GENAI_ERROR_TYPE}). */
  errorType: 'error_type',
} as const;

/** `gen_ai.operation.name` of each endpoint: the conventions' well-known values. */
export const GENAI_OPERATION = {
  chat_completions: 'chat',
  completions: 'text_completion',
  embeddings: 'embeddings',
} as const satisfies Readonly<Record<Endpoint, string>>;

/** `gen_ai.token.type` values, in the order of llmwatch's `kind` (`prompt`, `completion`). */
export const GENAI_TOKEN_TYPE = ['input', 'output'] as const;

/**
 * `error_type` of a failed operation: the request's SLI class and the status class its client
 * saw, as `requests_total` counts them (`status`_`code`), and `cancelled` (the client went
 * away, nginx's 499). The conventions let an instrumentation choose low-cardinality values
 * and ask it to document them: this is the list.
 */
export const GENAI_ERROR_TYPE = ['error_5xx', 'error_4xx', 'client_error_4xx', 'cancelled'] as const;

export type GenAiErrorType = (typeof GENAI_ERROR_TYPE)[number];

/** The conventions' explicit bucket boundaries (the `ExplicitBucketBoundaries` advice of each metric, v1.41.0). */
export const GENAI_BUCKETS = {
  tokenUsage: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  operationDuration: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  timeToFirstToken: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  timePerOutputToken: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5],
} as const satisfies Record<keyof typeof GENAI_METRIC, readonly number[]>;

/** Default `gen_ai.provider.name`: the gateway speaks the OpenAI API to its upstreams, whatever serves it. */
export const DEFAULT_GENAI_PROVIDER = 'openai';

/**
 * Names recorded by the generated rules: the source article's derived metrics
 * (kept exactly, so its dashboards and queries work) and `level:metric:operation`
 * aggregates (https://prometheus.io/docs/practices/rules/#naming-and-aggregation).
 */
export function recordedNames(prefix: string = DEFAULT_PREFIX, window = '5m') {
  const m = (key: MetricKey) => metricName(key, prefix);
  return {
    // The article's names, ratios 0..1 and rates per second, per model.
    /** Server-side failures over judged requests (successes and server-side failures). */
    errorRate: `${prefix}request_error_rate`,
    tokenThroughput: `${prefix}token_throughput_per_second`,
    cacheHitRate: `${prefix}cache_hit_rate`,
    requestRate: `model:${counterBaseName(m('requests'))}:rate${window}`,
    /** Server-side failures (`status="error"`) per second. */
    errorRateAbs: `model:${prefix}request_errors:rate${window}`,
    /** Client errors (`status="client_error"`) per second. */
    clientErrorRateAbs: `model:${prefix}request_client_errors:rate${window}`,
    /** Requests the server-side SLI judges (successes and server-side failures) per second: client errors and cancellations left out. */
    judgedRate: `model:${prefix}requests_judged:rate${window}`,
    /** Share of routed requests that were client errors. */
    clientErrorRatio: `model:${prefix}request_client_errors:ratio_rate${window}`,
    successRate: `model:${prefix}request_successes:rate${window}`,
    inFlightAvg: `model:${m('requestsInFlight')}:avg${window}`,
    queueLength: `model:${m('queueLength')}:sum`,
    /**
     * Mean toxicity score of the answers scored within the rate window, weighted by answers
     * across every replica (the score histogram's `_sum` over its `_count`); no answers, no value.
     * The name is the seed's; it no longer averages the per-replica rolling-mean gauges.
     */
    toxicity: `model:${m('outputToxicity')}:avg`,
    /** Answers scored for toxicity per second. */
    scoredAnswers: `model:${prefix}output_safety_scores:rate${window}`,
    cacheLookups: `model:${prefix}cache_lookups:rate${window}`,
    upstreamFailures: `model:${prefix}upstream_connection_errors:rate${window}`,
    /**
     * Per model and upstream: the share of requests sent to the upstream that could not reach it
     * (refused, timed out, reset), over a short window (`fastWindow`). Cache hits and other
     * targets' successes do not enter it.
     */
    unreachableRatio: (fast: string) => `model_upstream:${prefix}upstream_connection_errors:ratio_rate${fast}`,
    /** Per model: the share of requests sent upstream that timed out (connect, headers, or a stalled body: hangs). */
    timeoutRatio: `model:${prefix}upstream_timeouts:ratio_rate${window}`,
    /** Per model: requests sent upstream per second, failover attempts included. */
    sentRate: `model:${counterBaseName(m('upstreamRequests'))}:rate${window}`,
    /** Per model and target: requests sent per second, failover attempts included. */
    targetRequests: `model_target:${counterBaseName(m('upstreamRequests'))}:rate${window}`,
    /** Per model and endpoint: latency observations (successful requests) per second. */
    latencyCount: `model_endpoint:${m('inferenceDuration')}_count:rate${window}`,
    /** Per model and endpoint: time-to-first-token observations (streamed answers) per second. */
    ttftCount: `model_endpoint:${m('timeToFirstToken')}_count:rate${window}`,
    /** Per model and endpoint: time-per-output-token observations (streamed answers of two tokens or more) per second. */
    tpotCount: `model_endpoint:${m('timePerOutputToken')}_count:rate${window}`,
    /** SLO: judged requests (success and server-side error) over a window, as a count. */
    judgedEvents: (window: string) => `model:${prefix}requests_judged:increase${window}`,
    /** SLO: answers the latency objective judges (observations of its indicator's histogram) over a window, as a count. */
    latencyEvents: (window: string) => `model:${prefix}requests_latency_judged:increase${window}`,
    /**
     * Quantiles per model and endpoint: chat, completions and embeddings never pool, so fast
     * embeddings cannot hide slow chat.
     */
    latencyQuantile: (q: Quantile) => `model_endpoint:${m('inferenceDuration')}:${q}`,
    ttftQuantile: (q: Quantile) => `model_endpoint:${m('timeToFirstToken')}:${q}`,
    tpotQuantile: (q: Quantile) => `model_endpoint:${m('timePerOutputToken')}:${q}`,
    /** SLO: share of judged requests (client errors and cancellations left out) that failed server-side, over a window. */
    errorRatio: (window: string) => `model:${prefix}request_errors:ratio_rate${window}`,
    /** SLO: share of judged answers slower than the latency objective (time to first token by default), over a window. */
    slowRatio: (window: string) => `model:${prefix}requests_slow:ratio_rate${window}`,
  } as const;
}

export type Quantile = 'p50' | 'p95' | 'p99';

/** The behaviour signals a drift alert compares with its baselines (docs/drift.md). */
export type DriftSignal = 'outputLength' | 'truncated' | 'refused' | 'empty' | 'toolCalls';

/**
 * Names recorded by the drift rules, per model: each signal over the drift `window` (`current`),
 * and its rolling baseline, the mean of `current` over the `rolling` window that ends where the
 * current window starts (`rolling`); the seasonal baseline is `current` itself read `offset` ago
 * (`seasonal`, an expression: nothing to record). `answers` is the answers counted in the current
 * window, for the minimum-traffic guard, and `seasonalAnswers` the same `offset` ago.
 * @example driftRecordedNames('openllm_', '1h', '1w', '1d').signal('refused').seasonal
 * // 'model:openllm_answer_refusals:ratio_rate1h offset 1w'
 */
export function driftRecordedNames(prefix: string, window: string, offset: string, rolling: string) {
  const base: Record<DriftSignal, string> = {
    outputLength: `model:${prefix}${METRIC.completionTokens}:mean`,
    truncated: `model:${prefix}answers_truncated:ratio`,
    refused: `model:${prefix}answer_refusals:ratio`,
    empty: `model:${prefix}answer_empty:ratio`,
    toolCalls: `model:${prefix}answer_tool_calls:ratio`,
  };
  // A mean size is over a window (`mean_1h`), a ratio over a rate window (`ratio_rate1h`).
  const current = (s: DriftSignal) => (s === 'outputLength' ? `${base[s]}_${window}` : `${base[s]}_rate${window}`);
  const answers = `model:${counterBaseName(prefix + METRIC.answers)}:increase${window}`;
  return {
    signal: (s: DriftSignal) => ({ current: current(s), seasonal: `${current(s)} offset ${offset}`, rolling: `${current(s)}_avg${rolling}_offset${window}` }),
    answers,
    seasonalAnswers: `${answers} offset ${offset}`,
  } as const;
}

/** Host and GPU names: node-exporter's own, and the article's. */
export const NODE = {
  cpuSeconds: 'node_cpu_seconds_total',
  memTotal: 'node_memory_MemTotal_bytes',
  memAvailable: 'node_memory_MemAvailable_bytes',
  networkTransmit: 'node_network_transmit_bytes_total',
  /** The article's names, recorded over node-exporter. */
  cpuUsagePercent: 'node_cpu_usage_percent',
  memoryUsageBytes: 'node_memory_usage_bytes',
  memoryUtilisation: 'instance:node_memory_utilisation:ratio',
  gpuMemoryUsage: 'node_gpu_memory_usage_bytes',
  gpuMemoryTotal: 'node_gpu_memory_total_bytes',
  gpuMemoryUtilisation: 'gpu:node_gpu_memory_utilisation:ratio',
} as const;

/** The responder's own metrics (prefix `llmwatch_responder_`). */
export const RESPONDER_METRIC = {
  webhooks: 'llmwatch_responder_webhooks_total',
  alerts: 'llmwatch_responder_alerts_received_total',
  decisions: 'llmwatch_responder_decisions_total',
  actions: 'llmwatch_responder_actions_total',
  actionDuration: 'llmwatch_responder_action_duration_seconds',
  breaker: 'llmwatch_responder_breaker_tripped',
  killSwitch: 'llmwatch_responder_kill_switch',
  dryRun: 'llmwatch_responder_dry_run',
  auditBytes: 'llmwatch_responder_audit_db_bytes',
  pendingActions: 'llmwatch_responder_pending_runs',
} as const;

/** `result` of `llmwatch_responder_webhooks_total`: accepted, or why it was refused. */
export const WEBHOOK_RESULT = ['accepted', 'unauthorized', 'forbidden', 'too_large', 'invalid_json', 'invalid_payload', 'unsupported_media_type'] as const;

export type WebhookResult = (typeof WEBHOOK_RESULT)[number];

/** `why` of `llmwatch_responder_decisions_total`. */
export const DECISION_WHY = ['playbook', 'revert', 'duplicate', 'info_tier', 'no_playbook', 'kill_switch', 'breaker', 'nothing_to_revert'] as const;

export type DecisionWhy = (typeof DECISION_WHY)[number];

/** `outcome` of `llmwatch_responder_actions_total`. */
export const ACTION_OUTCOME = ['success', 'failure', 'dry-run', 'skipped', 'interrupted', 'cancelled', 'abandoned'] as const;

export const RESPONDER_ACTIONS = ['scale', 'switch-model', 'notify', 'exec', 'noop'] as const;

/**
 * The GPU exporter (`llmwatch exporter`): the source article's `node_gpu_*`
 * family, extended with utilisation, temperature and power, and the health of
 * the nvidia-smi collector itself. The same `node_gpu_*` names are recorded
 * from NVIDIA dcgm-exporter's series when the spec says `source: dcgm`.
 */
export const GPU_METRIC = {
  memoryUsage: NODE.gpuMemoryUsage,
  memoryTotal: NODE.gpuMemoryTotal,
  /** 0..1: the share of the last sample period a kernel ran (nvidia-smi `utilization.gpu` / 100). */
  utilisation: 'node_gpu_utilization_ratio',
  temperature: 'node_gpu_temperature_celsius',
  power: 'node_gpu_power_watts',
  /** 1 when the last nvidia-smi run gave every GPU's readings, 0 when it failed. */
  collectorSuccess: 'llmwatch_gpu_collector_success',
  collectorDuration: 'llmwatch_gpu_collector_duration_seconds',
  /** 1, labelled with the `reason` of the most recent failed run; absent until one fails. */
  collectorLastError: 'llmwatch_gpu_collector_last_error_info',
  collectorErrors: 'llmwatch_gpu_collector_errors_total',
} as const;

/**
 * Labels of every GPU series: `gpu` is nvidia-smi's index, `name` the GPU's
 * product name. (Not `model`: that label is the LLM's everywhere in llmwatch.)
 * `hostname` is only set on series mapped from dcgm-exporter; `simulated="true"` only on
 * readings of the simulator's simulated GPUs (`llmwatch exporter --simulated`).
 */
export const GPU_LABEL = { gpu: 'gpu', uuid: 'uuid', name: 'name', hostname: 'hostname', simulated: 'simulated' } as const;

/** `reason` label of the GPU collector's errors: the closed set of ways an nvidia-smi run fails. */
export const GPU_COLLECTOR_ERROR = ['missing_binary', 'timeout', 'exit_code', 'parse_error'] as const;

export type GpuCollectorError = (typeof GPU_COLLECTOR_ERROR)[number];

/**
 * NVIDIA dcgm-exporter's names, from its default counters
 * (https://github.com/NVIDIA/dcgm-exporter/blob/main/etc/default-counters.csv) and the
 * labels of its GPU series (internal/pkg/rendermetrics/render_metrics.go): `gpu`,
 * `UUID`, `modelName`, `Hostname` (left out with `--no-hostname`), and `GPU_I_ID`
 * on MIG instances. Framebuffer sizes are in MiB.
 */
export const DCGM = {
  fbUsed: 'DCGM_FI_DEV_FB_USED',
  fbFree: 'DCGM_FI_DEV_FB_FREE',
  /** Percent, 0..100. */
  gpuUtil: 'DCGM_FI_DEV_GPU_UTIL',
  gpuTemp: 'DCGM_FI_DEV_GPU_TEMP',
  powerUsage: 'DCGM_FI_DEV_POWER_USAGE',
  label: { gpu: 'gpu', uuid: 'UUID', modelName: 'modelName', hostname: 'Hostname', gpuInstance: 'GPU_I_ID' },
} as const;

/**
 * Prometheus' own metrics (2.42, read from a running server's `/metrics`) that its
 * self-alerts use. Per-group and per-Alertmanager series appear once a rule group
 * or an Alertmanager is configured.
 */
export const PROMETHEUS_SELF_METRIC = {
  ruleEvaluationFailures: 'prometheus_rule_evaluation_failures_total',
  notificationsDropped: 'prometheus_notifications_dropped_total',
  notificationsErrors: 'prometheus_notifications_errors_total',
  notificationsSent: 'prometheus_notifications_sent_total',
  notificationsQueueLength: 'prometheus_notifications_queue_length',
  notificationsQueueCapacity: 'prometheus_notifications_queue_capacity',
  configReloadSuccessful: 'prometheus_config_last_reload_successful',
  tsdbCompactionsFailed: 'prometheus_tsdb_compactions_failed_total',
  /** Labels: `rule_group` (`<file>;<group>`), `alertmanager` (its API URL). */
  label: { ruleGroup: 'rule_group', alertmanager: 'alertmanager' },
} as const;

/** Alertmanager's own metrics (0.25, read from a running server's `/metrics`); each integration is pre-zeroed. */
export const ALERTMANAGER_SELF_METRIC = {
  notifications: 'alertmanager_notifications_total',
  notificationsFailed: 'alertmanager_notifications_failed_total',
  configReloadSuccessful: 'alertmanager_config_last_reload_successful',
  /** Label: `integration` (webhook, slack, pagerduty, email, ...). */
  label: { integration: 'integration' },
} as const;

/** Series and labels Prometheus itself writes: `up` per target, `ALERTS` per pending or firing alert. */
export const PROMETHEUS_SERIES = { up: 'up', alerts: 'ALERTS' } as const;

/** node-exporter's own names the dashboards read besides those in {@link NODE}. */
export const NODE_EXPORTER = {
  networkReceive: 'node_network_receive_bytes_total',
  /** The `device` label of network series, and the loopback device the dashboards leave out. */
  deviceLabel: 'device',
  loopback: 'lo',
} as const;

/** Label names of the responder's metrics (see {@link RESPONDER_METRIC}). */
export const RESPONDER_LABEL = { result: 'result', status: 'status', decision: 'decision', why: 'why', action: 'action', outcome: 'outcome' } as const;
