import { Registry } from 'prom-client';
import { BUCKETS, DEFAULT_PREFIX } from '../core/conventions/metrics.ts';
import { GatewayMetrics } from '../core/metering/gateway-metrics.ts';
import { GpuMetrics } from '../exporter/gpu-metrics.ts';
import { EndpointMetrics } from '../gateway/endpoint-metrics.ts';
import { ResponderMetrics } from '../responder/metrics.ts';

/** One metric llmwatch exposes, read from the instruments themselves (not restated). */
export interface MetricDef {
  readonly component: 'gateway' | 'responder' | 'gpu-exporter';
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram bucket upper bounds (without +Inf). */
  readonly buckets?: readonly number[];
  /**
   * The values each label takes in the series the part creates up front (every closed set is
   * initialised at start-up, so its series exist before the first event); names the user
   * configures (`model`, `upstream`, ...) are left out.
   */
  readonly values: Readonly<Record<string, readonly string[]>>;
}

/** Labels whose values are names from the user's config or hardware, not a closed set. */
const CONFIGURED_LABELS = new Set(['model', 'upstream', 'upstream_endpoint', 'upstream_model', 'key', 'gpu', 'uuid', 'name', 'version', 'node_version', 'le', 'gen_ai_request_model', 'gen_ai_provider_name']);

/**
 * Every metric of the gateway, the responder and the GPU exporter, built the
 * way each part builds them, into a throw-away registry: the names, types,
 * labels and buckets they really expose. Process metrics (`process_*`,
 * `nodejs_*`) are prom-client's and left out.
 */
export async function metricDefinitions(prefix: string = DEFAULT_PREFIX, durationBuckets: readonly number[] = BUCKETS.inferenceDuration): Promise<MetricDef[]> {
  const read = async (component: MetricDef['component'], build: (r: Registry) => void): Promise<MetricDef[]> => {
    const registry = new Registry();
    build(registry);
    const values = new Map<string, Record<string, Set<string>>>();
    for (const m of await registry.getMetricsAsJSON()) {
      const perLabel: Record<string, Set<string>> = {};
      for (const v of m.values) {
        for (const [l, x] of Object.entries(v.labels)) if (!CONFIGURED_LABELS.has(l)) (perLabel[l] ??= new Set()).add(String(x));
      }
      values.set(m.name, perLabel);
    }
    return registry.getMetricsAsArray().filter((m) => !/^(process|nodejs)_/.test((m as unknown as { name: string }).name)).map((m) => {
      const metric = m as unknown as { name: string; help: string; labelNames?: string[]; upperBounds?: number[]; type?: string; constructor: { name: string } };
      const type = metric.constructor.name.toLowerCase() as MetricDef['type'];
      return {
        component,
        name: metric.name,
        type,
        help: metric.help,
        labels: [...(metric.labelNames ?? [])],
        ...(type === 'histogram' ? { buckets: (metric.upperBounds ?? []).filter((b) => Number.isFinite(b)) } : {}),
        values: Object.fromEntries(Object.entries(values.get(metric.name) ?? {}).map(([l, set]) => [l, [...set]])),
      };
    });
  };
  // One model with one target, so every per-model closed set is initialised; both namings, so both families are listed.
  const models = [{ model: 'm', targets: [{ upstream: 'u', model: 'm' }] }];
  return [
    ...(await read('gateway', (r) => new GatewayMetrics(r, { prefix, durationBuckets, processMetrics: false, version: '0', models, keys: ['k'], cacheStore: 'redis', naming: 'both', routeStore: 'redis' }))),
    ...(await read('gateway', (r) => new EndpointMetrics(r, prefix).upstream('u').endpoint('host:port/v1'))),
    ...(await read('responder', (r) => new ResponderMetrics(r))),
    ...(await read('gpu-exporter', (r) => new GpuMetrics(r))),
  ];
}

/** The series names a metric puts in Prometheus: a histogram's `_bucket`, `_sum`, `_count`; a counter as named. */
export function seriesNames(def: MetricDef): string[] {
  if (def.type === 'histogram' || def.type === 'summary') return [def.name, `${def.name}_bucket`, `${def.name}_sum`, `${def.name}_count`];
  return [def.name];
}
