/**
 * Every metric name, label name and closed label-value set llmwatch exports.
 * Nothing else spells a metric name: the gateway, the rules generator, the
 * dashboards and the tests all import it from here.
 */

/** Default metric prefix, the source article's. */
export const DEFAULT_PREFIX = 'openllm_';

/** Label names. */
export const LABEL = {
  model: 'model',
  endpoint: 'endpoint',
  upstream: 'upstream',
  status: 'status',
  code: 'code',
  kind: 'kind',
  source: 'source',
  reason: 'reason',
  version: 'version',
  nodeVersion: 'node_version',
} as const;

/** `status` label of `requests_total`. */
export const REQUEST_STATUS = ['success', 'error', 'cancelled'] as const;
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
] as const;
export type RejectReason = (typeof REJECT_REASON)[number];

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
} as const satisfies Record<string, readonly number[]>;
