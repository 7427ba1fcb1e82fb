import { TARGET_LABEL } from '../../core/conventions/alerts.ts';
import { DASHBOARD_TAG, DASHBOARD_UID } from '../../core/conventions/deploy.ts';
import { LABEL, metricName, recordedNames } from '../../core/conventions/metrics.ts';
import type { Quantile } from '../../core/conventions/metrics.ts';
import type { MonitoringModel } from '../model.ts';
import { rate, sel, sumBy } from '../promql.ts';
import { commonAnnotations, datasourceVariable, panel } from './common.ts';
import type { Dashboard, Query, Variable } from '../../core/dashboard-model.ts';
import { byVariable, count, firingAlerts, max, orZero, sum } from './queries.ts';
import { alertThreshold } from './thresholds.ts';
import { behaviourRow } from './behaviour.ts';

const MODEL_VAR = 'model';
const INSTANCE_VAR = 'instance';
const QUANTILES: ReadonlyArray<readonly [Quantile, string]> = [
  ['p50', 'P50'],
  ['p95', 'P95'],
  ['p99', 'P99'],
];

/**
 * The LLM service overview: the source article's latency panel (P50 and P95
 * per model, section 7.2) with P99 beside them, then time to first token,
 * traffic, errors, throughput, capacity, cache, output safety and
 * behaviour (docs/drift.md). Per-model
 * panels read the recorded names (summed over every gateway replica, the
 * series the alerts read); per-replica panels read the gateway's own metrics.
 */
export function overviewDashboard(model: MonitoringModel): Dashboard {
  const { spec } = model;
  const p = spec.metricsPrefix;
  const n = recordedNames(p, spec.rateWindow);
  const w = spec.rateWindow;
  const m = byVariable(LABEL.model, MODEL_VAR);
  const replica = byVariable(TARGET_LABEL.instance, INSTANCE_VAR);
  const perModel = (metric: string, legend = '{{model}}'): Query => ({ expr: sel(metric, m), legend });
  const quantiles = (name: (q: Quantile) => string): Query[] => QUANTILES.map(([q, label]) => perModel(name(q), `${label} {{model}} {{endpoint}}`));

  const variables: Variable[] = [
    datasourceVariable(),
    { kind: 'labelValues', name: MODEL_VAR, label: 'Model', selector: metricName('requests', p), labelName: LABEL.model },
    { kind: 'labelValues', name: INSTANCE_VAR, label: 'Gateway', selector: metricName('buildInfo', p), labelName: TARGET_LABEL.instance },
  ];

  return {
    uid: DASHBOARD_UID.overview,
    title: 'LLM service overview',
    description: `Latency, time to first token, traffic, errors, throughput, queue, cache and output safety of the ${spec.service} models behind the llmwatch gateways.`,
    tags: [DASHBOARD_TAG],
    variables,
    annotations: commonAnnotations(spec),
    rows: [
      {
        title: 'At a glance',
        panels: [
          panel('stat', {
            key: 'request-rate-now',
            title: 'Total requests per second',
            description: `Requests routed to the chosen models, all replicas, over ${w}.`,
            unit: 'requestsPerSecond',
            queries: [{ expr: sum(sel(n.requestRate, m)), legend: 'requests/s' }],
            width: 6,
            height: 4,
          }),
          panel('stat', {
            key: 'error-rate-now',
            title: 'Overall error rate',
            description: `Server-side failures over judged requests (successes and server-side failures; client errors left out) of the chosen models together, over ${w}.`,
            unit: 'ratio',
            queries: [{ expr: `${sum(sel(n.errorRateAbs, m))} / ${sum(sel(n.judgedRate, m))}`, legend: 'errors' }],
            threshold: alertThreshold(model, 'HighErrorRate', 'above'),
            width: 6,
            height: 4,
          }),
          panel('stat', {
            key: 'latency-p95-now',
            title: 'P95 latency, slowest model',
            description: 'The highest 95th percentile of inference latency among the chosen models.',
            unit: 'seconds',
            queries: [{ expr: max(sel(n.latencyQuantile('p95'), m)), legend: 'P95' }],
            threshold: alertThreshold(model, 'HighInferenceLatency', 'above'),
            width: 6,
            height: 4,
          }),
          panel('stat', {
            key: 'alerts-now',
            title: 'Firing alerts',
            description: `Alerts of service \`${spec.service}\` firing now, every severity: see the Alerts and remediation dashboard.`,
            unit: 'count',
            queries: [{ expr: orZero(count(firingAlerts(spec.service))), legend: 'firing' }],
            threshold: { value: 1, direction: 'above', severity: 'warning' },
            width: 6,
            height: 4,
          }),
        ],
      },
      {
        title: 'Latency',
        panels: [
          panel('timeseries', {
            key: 'latency',
            title: 'Inference latency',
            description:
              'P50, P95 and P99 per model from arrival at the gateway to the last byte, queue wait included ' +
              `(the source article's latency panel, with P99 added), from the \`${n.latencyQuantile('p95')}\` family of recording rules.`,
            unit: 'seconds',
            queries: quantiles(n.latencyQuantile),
            threshold: alertThreshold(model, 'HighInferenceLatency', 'above'),
            min: 0,
            width: 12,
            height: 9,
          }),
          panel('timeseries', {
            key: 'ttft',
            title: 'Time to first token',
            description: 'P50, P95 and P99 per model of streamed requests, from arrival to the first content token: queue plus prefill.',
            unit: 'seconds',
            queries: quantiles(n.ttftQuantile),
            threshold: alertThreshold(model, 'HighTimeToFirstToken', 'above'),
            min: 0,
            width: 12,
            height: 9,
          }),
        ],
      },
      {
        title: 'Traffic and errors',
        panels: [
          panel('timeseries', {
            key: 'request-rate',
            title: 'Requests per second',
            description: `Requests routed to each model, summed over every gateway replica (\`${n.requestRate}\`).`,
            unit: 'requestsPerSecond',
            queries: [perModel(n.requestRate)],
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'error-rate',
            title: 'Error rate',
            description: `Server-side failures over judged requests per model (\`${n.errorRate}\`, the article's name), and the share of requests that were client errors (\`${n.clientErrorRatio}\`: other 4xx, content_filter blocks; they never page). No traffic shows no value, not 0.`,
            unit: 'ratio',
            queries: [perModel(n.errorRate, 'errors {{model}}'), perModel(n.clientErrorRatio, 'client errors {{model}}')],
            threshold: alertThreshold(model, 'HighErrorRate', 'above'),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'upstream-errors',
            title: 'Upstream errors by reason',
            description: 'Failed exchanges with the model servers, per chosen gateway replica: refused, timeout, reset, http_5xx, http_429, malformed, stream_error.',
            unit: 'requestsPerSecond',
            queries: [
              {
                expr: sumBy([LABEL.model, LABEL.reason], rate(sel(metricName('upstreamErrors', p), m, replica), w)),
                legend: '{{model}} {{reason}}',
              },
            ],
            min: 0,
            width: 8,
            height: 8,
          }),
        ],
      },
      {
        title: 'Throughput and capacity',
        panels: [
          panel('timeseries', {
            key: 'token-throughput',
            title: 'Token throughput',
            description: `Completion tokens generated per second per model (\`${n.tokenThroughput}\`, the article's name).`,
            unit: 'tokensPerSecond',
            queries: [perModel(n.tokenThroughput)],
            threshold: alertThreshold(model, 'LowTokenThroughput', 'below'),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'queue-length',
            title: 'Queue length',
            description: 'Requests waiting for an upstream slot, per model, summed over every gateway replica.',
            unit: 'count',
            queries: [perModel(n.queueLength)],
            threshold: alertThreshold(model, 'QueueBacklog', 'above'),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'in-flight',
            title: 'Requests in flight',
            description: 'Requests holding an upstream slot, per model and chosen gateway replica.',
            unit: 'count',
            queries: [
              {
                expr: sumBy([LABEL.model, TARGET_LABEL.instance], sel(metricName('requestsInFlight', p), m, replica)),
                legend: '{{model}} on {{instance}}',
              },
            ],
            min: 0,
            width: 8,
            height: 8,
          }),
        ],
      },
      {
        title: 'Cache and output safety',
        panels: [
          panel('timeseries', {
            key: 'cache-hit-rate',
            title: 'Cache hit rate',
            description: `Hits over cacheable lookups per model (\`${n.cacheHitRate}\`, the article's name); bypassed requests are not lookups.`,
            unit: 'ratio',
            queries: [perModel(n.cacheHitRate)],
            threshold: alertThreshold(model, 'LowCacheHitRate', 'below'),
            min: 0,
            max: 1,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'toxicity',
            title: 'Output toxicity',
            description: 'Mean toxicity score per answer over the rate window, across every gateway replica, per model, 0 to 1. No answers, no value.',
            unit: 'count',
            queries: [perModel(n.toxicity)],
            threshold: alertThreshold(model, 'HighToxicityScore', 'above'),
            min: 0,
            max: 1,
            width: 12,
            height: 8,
          }),
        ],
      },
      behaviourRow(model, m),
    ],
  };
}
