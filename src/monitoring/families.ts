import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { BUCKETS, DEFAULT_GENAI_PROVIDER, GENAI_BUCKETS, GENAI_LABEL, GENAI_METRIC, GENAI_OPERATION, LABEL, metricName } from '../core/conventions/metrics.ts';
import { ENDPOINT_NAMES } from '../core/openai/endpoints.ts';
import type { Endpoint } from '../core/openai/endpoints.ts';
import { anyOf, eq, ne } from './promql.ts';

/**
 * The gateway's series the rules read, in the spec's `metricsNaming`: llmwatch's
 * own names, or the OpenTelemetry GenAI families (docs/gateway.md, "OpenTelemetry
 * names"). Every read goes through {@link GatewayFamily.relabel}, so what the
 * rules record carries llmwatch's `model` and `endpoint` labels in either naming
 * and the recorded names, alerts and dashboards over them are the same.
 */
export interface GatewayFamily {
  /** The series name (a histogram's base name: `_bucket`, `_count` and `_sum` are appended). */
  readonly metric: string;
  /** Matchers every read needs: successes only (`error_type=""`) and the token type, under `otel`. */
  readonly matchers: readonly string[];
  /** Bucket bounds, for histograms. */
  readonly bounds: readonly number[];
  /** Wraps an instant vector of the family's series so each carries `model`, and `endpoint` when `byEndpoint`. */
  relabel(v: string, byEndpoint?: boolean): string;
  /** The labels (besides job and instance) of the family's series for one model and endpoint, as the gateway exports them: for test series. */
  labels(model: string, endpoint: Endpoint): Record<string, string>;
}

export type HistogramKey = 'latency' | 'ttft' | 'tpot';

const OWN: Readonly<Record<HistogramKey, 'inferenceDuration' | 'timeToFirstToken' | 'timePerOutputToken'>> = {
  latency: 'inferenceDuration',
  ttft: 'timeToFirstToken',
  tpot: 'timePerOutputToken',
};

const OTEL: Readonly<Record<HistogramKey, keyof typeof GENAI_METRIC>> = {
  latency: 'operationDuration',
  ttft: 'timeToFirstToken',
  tpot: 'timePerOutputToken',
};

const identity = (v: string) => v;

/** The latency, time-to-first-token or time-per-output-token histogram of the spec's naming. */
export function histogramFamily(spec: Readonly<Pick<MonitoringSpec, 'metricsNaming' | 'metricsPrefix' | 'latencyBuckets'>>, key: HistogramKey): GatewayFamily {
  switch (spec.metricsNaming) {
    case 'openllm':
      return {
        metric: metricName(OWN[key], spec.metricsPrefix),
        matchers: [],
        bounds: key === 'latency' ? spec.latencyBuckets : BUCKETS[OWN[key]],
        relabel: identity,
        labels: (model, endpoint) => ({ [LABEL.model]: model, [LABEL.endpoint]: endpoint }),
      };
    case 'otel':
      return {
        metric: GENAI_METRIC[OTEL[key]],
        // The operation duration counts failed operations too (with error_type); llmwatch's latency is of successes.
        matchers: key === 'latency' ? [eq(GENAI_LABEL.errorType, '')] : [],
        bounds: GENAI_BUCKETS[OTEL[key]],
        relabel: otelToOwnLabels,
        labels: otelLabels,
      };
  }
}

/**
 * Generated tokens, the throughput rule's counter: `tokens_processed_total{kind="completion"}`,
 * or under `otel` the sum of `gen_ai_client_token_usage{gen_ai_token_type="output"}` (tokens of
 * successful operations: a failed or cancelled stream's tokens are in llmwatch's counter only).
 */
export function outputTokensFamily(spec: Readonly<Pick<MonitoringSpec, 'metricsNaming' | 'metricsPrefix'>>): GatewayFamily {
  switch (spec.metricsNaming) {
    case 'openllm':
      return {
        metric: metricName('tokensProcessed', spec.metricsPrefix),
        matchers: [eq(LABEL.kind, 'completion')],
        bounds: [],
        relabel: identity,
        labels: (model) => ({ [LABEL.model]: model, [LABEL.kind]: 'completion', [LABEL.source]: 'usage' }),
      };
    case 'otel': {
      // The output sizes' histogram (completionSizeFamily), read by its sum.
      const size = completionSizeFamily(spec);
      return { ...size, metric: `${size.metric}_sum`, bounds: [] };
    }
  }
}

/**
 * The completion size of each successful chat and completions answer, the drift rules' output
 * length (read as `_sum` / `_count`, the mean): `request_completion_tokens` (embeddings left out),
 * or under `otel` `gen_ai_client_token_usage{gen_ai_token_type="output"}` (embeddings have no output
 * series). Both count the same answers: the gateway observes one size into either family.
 */
export function completionSizeFamily(spec: Readonly<Pick<MonitoringSpec, 'metricsNaming' | 'metricsPrefix'>>): GatewayFamily {
  switch (spec.metricsNaming) {
    case 'openllm':
      return {
        metric: metricName('completionTokens', spec.metricsPrefix),
        matchers: [ne(LABEL.endpoint, 'embeddings')],
        bounds: BUCKETS.tokens,
        relabel: identity,
        labels: (model, endpoint) => ({ [LABEL.model]: model, [LABEL.endpoint]: endpoint }),
      };
    case 'otel':
      return {
        metric: GENAI_METRIC.tokenUsage,
        matchers: [eq(GENAI_LABEL.tokenType, 'output')],
        bounds: GENAI_BUCKETS.tokenUsage,
        relabel: otelToOwnLabels,
        labels: (model, endpoint) => ({ ...otelLabels(model, endpoint), [GENAI_LABEL.tokenType]: 'output' }),
      };
  }
}

function otelLabels(model: string, endpoint: Endpoint): Record<string, string> {
  return { [GENAI_LABEL.operation]: GENAI_OPERATION[endpoint], [GENAI_LABEL.provider]: DEFAULT_GENAI_PROVIDER, [GENAI_LABEL.requestModel]: model };
}

/**
 * `gen_ai_request_model` copied to `model`, and `gen_ai_operation_name` mapped back to the
 * llmwatch endpoint it stands for (`text_completion` to `completions`, ...): the `sum by`
 * around it then drops the `gen_ai_*` labels.
 */
function otelToOwnLabels(v: string, byEndpoint = true): string {
  const withModel = `label_replace(${v}, "${LABEL.model}", "$1", "${GENAI_LABEL.requestModel}", "(.+)")`;
  if (!byEndpoint) return withModel;
  return ENDPOINT_NAMES.reduce((acc, e) => `label_replace(${acc}, "${LABEL.endpoint}", "${e}", "${GENAI_LABEL.operation}", "${anyOf([GENAI_OPERATION[e]])}")`, withModel);
}
