import { DASHBOARD_TAG, DASHBOARD_UID } from '../../core/conventions/deploy.ts';
import { VLLM_LABEL, VLLM_METRIC, vllmRecordedNames } from '../../core/conventions/vllm.ts';
import type { VllmQuantile } from '../../core/conventions/vllm.ts';
import { vllmServers } from '../engines.ts';
import type { MonitoringModel } from '../model.ts';
import { num, rate, sel } from '../promql.ts';
import { commonAnnotations, datasourceVariable, panel } from './common.ts';
import type { Dashboard, Query } from '../../core/dashboard-model.ts';
import { byVariable } from './queries.ts';
import { alertThreshold } from './thresholds.ts';

const MODEL_VAR = 'model_name';
const CORE = '{{instance}} engine {{engine}}';
const QUANTILES: ReadonlyArray<readonly [VllmQuantile, string]> = [
  ['p50', 'P50'],
  ['p95', 'P95'],
  ['p99', 'P99'],
];

/**
 * The inference engines (vLLM servers of the spec): the scheduler (running, waiting), the KV cache
 * and preemptions per engine core (replica and data-parallel rank, where the engine alerts look),
 * then per served model the prefix cache, latency as the engine measures it, and tokens. Undefined
 * when the spec declares no vLLM server.
 */
export function enginesDashboard(model: MonitoringModel): Dashboard | undefined {
  const { spec } = model;
  if (vllmServers(spec).length === 0) return undefined;
  const w = spec.rateWindow;
  const n = vllmRecordedNames(w);
  const m = byVariable(VLLM_LABEL.model, MODEL_VAR);
  const perCore = (metric: string): Query => ({ expr: sel(metric, m), legend: `{{${VLLM_LABEL.model}}} ${CORE}` });
  const perModel = (metric: string, legend = `{{${VLLM_LABEL.model}}}`): Query => ({ expr: sel(metric, m), legend });
  const quantiles = (name: (q: VllmQuantile) => string): Query[] => QUANTILES.map(([q, label]) => perModel(name(q), `${label} {{${VLLM_LABEL.model}}}`));
  return {
    uid: DASHBOARD_UID.engines,
    title: 'Inference engines',
    description: `vLLM's own metrics, scraped from ${vllmServers(spec)
      .map((s) => s.name)
      .join(', ')}: scheduler, KV cache and preemptions per engine core, then prefix cache, latency and tokens per served model.`,
    tags: [DASHBOARD_TAG],
    variables: [datasourceVariable(), { kind: 'labelValues', name: MODEL_VAR, label: 'Model', selector: VLLM_METRIC.running, labelName: VLLM_LABEL.model }],
    annotations: commonAnnotations(spec),
    rows: [
      {
        title: 'Scheduler',
        panels: [
          panel('timeseries', {
            key: 'engine-running',
            title: 'Running requests',
            description: `Requests in the running batch of each engine core (\`${VLLM_METRIC.running}\`), at most \`--max-num-seqs\`.`,
            unit: 'count',
            queries: [perCore(VLLM_METRIC.running)],
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'engine-waiting',
            title: 'Waiting requests',
            description: `Requests queued at each engine core (\`${VLLM_METRIC.waiting}\`), preempted ones included: what KEDA and the engine-aware autoscalers scale on.`,
            unit: 'count',
            queries: [perCore(VLLM_METRIC.waiting)],
            threshold: alertThreshold(model, 'VllmQueueGrowingAtCapacity', 'above'),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'engine-queue-time',
            title: 'Time in the queue',
            description: `P50, P95 and P99 per model of the time requests waited before the engine first ran them (\`${n.queueTimeQuantile('p95')}\`).`,
            unit: 'seconds',
            queries: quantiles(n.queueTimeQuantile),
            min: 0,
            width: 8,
            height: 8,
          }),
        ],
      },
      {
        title: 'KV cache',
        panels: [
          panel('timeseries', {
            key: 'kv-cache-usage',
            title: 'KV cache usage',
            description: `The share of KV-cache blocks held by running requests, per engine core (\`${VLLM_METRIC.kvCacheUsage}\`).`,
            unit: 'ratio',
            queries: [perCore(VLLM_METRIC.kvCacheUsage)],
            threshold: alertThreshold(model, 'VllmKvCacheNearFull', 'above'),
            min: 0,
            max: 1,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'preemptions',
            title: 'Preemptions a minute',
            description: `Requests preempted for want of KV blocks, per engine core, a minute (\`${VLLM_METRIC.preemptions}\`).`,
            unit: 'count',
            queries: [{ expr: `${rate(sel(VLLM_METRIC.preemptions, m), w)} * ${num(60)}`, legend: `{{${VLLM_LABEL.model}}} ${CORE}` }],
            threshold: alertThreshold(model, 'VllmPreemptionsRising', 'above'),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'prefix-cache-hit-ratio',
            title: 'Prefix cache hit ratio',
            description: `Prompt tokens whose KV was already cached, over prompt tokens looked up, per model (\`${n.prefixCacheHitRatio}\`).`,
            unit: 'ratio',
            queries: [perModel(n.prefixCacheHitRatio)],
            min: 0,
            max: 1,
            width: 8,
            height: 8,
          }),
        ],
      },
      {
        title: 'Latency and tokens, as the engine measures them',
        panels: [
          panel('timeseries', {
            key: 'engine-ttft',
            title: 'Time to first token',
            description: `P50, P95 and P99 per model from the engine's arrival to its first token (\`${n.ttftQuantile('p95')}\`); the gateway's adds the network and its own queue.`,
            unit: 'seconds',
            queries: quantiles(n.ttftQuantile),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'engine-e2e',
            title: 'End-to-end latency',
            description: `P50, P95 and P99 per model of the engine's request latency (\`${n.e2eQuantile('p95')}\`).`,
            unit: 'seconds',
            queries: quantiles(n.e2eQuantile),
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'engine-tokens',
            title: 'Tokens per second',
            description: `Prompt tokens prefilled and tokens generated per second, per model (\`${n.promptTokenRate}\`, \`${n.generationTokenRate}\`).`,
            unit: 'tokensPerSecond',
            queries: [perModel(n.promptTokenRate, `prompt {{${VLLM_LABEL.model}}}`), perModel(n.generationTokenRate, `generated {{${VLLM_LABEL.model}}}`)],
            min: 0,
            width: 8,
            height: 8,
          }),
          panel('timeseries', {
            key: 'engine-finished',
            title: 'Finished requests by reason',
            description: `Requests finished per second, per model and \`${VLLM_LABEL.finishedReason}\` (stop, length, abort, error, repetition): a rise in abort is clients leaving (\`${n.finishedRate}\`).`,
            unit: 'requestsPerSecond',
            queries: [perModel(n.finishedRate, `{{${VLLM_LABEL.model}}} {{${VLLM_LABEL.finishedReason}}}`)],
            min: 0,
            width: 24,
            height: 8,
          }),
        ],
      },
    ],
  };
}
