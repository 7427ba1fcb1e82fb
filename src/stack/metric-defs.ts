import { Registry } from 'prom-client';
import { BUCKETS, DEFAULT_PREFIX } from '../core/conventions/metrics.ts';
import { GatewayMetrics } from '../core/metering/gateway-metrics.ts';
import { GpuMetrics } from '../exporter/gpu-metrics.ts';
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
}

/**
 * Every metric of the gateway, the responder and the GPU exporter, built the
 * way each part builds them, into a throw-away registry: the names, types,
 * labels and buckets they really expose. Process metrics (`process_*`,
 * `nodejs_*`) are prom-client's and left out.
 */
export function metricDefinitions(prefix: string = DEFAULT_PREFIX, durationBuckets: readonly number[] = BUCKETS.inferenceDuration): MetricDef[] {
  const read = (component: MetricDef['component'], build: (r: Registry) => void): MetricDef[] => {
    const registry = new Registry();
    build(registry);
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
      };
    });
  };
  return [
    ...read('gateway', (r) => new GatewayMetrics(r, { prefix, durationBuckets, processMetrics: false, version: '0', models: [], keys: ['k'], cacheStore: 'redis' })),
    ...read('responder', (r) => new ResponderMetrics(r)),
    ...read('gpu-exporter', (r) => new GpuMetrics(r)),
  ];
}

/** The series names a metric puts in Prometheus: a histogram's `_bucket`, `_sum`, `_count`; a counter as named. */
export function seriesNames(def: MetricDef): string[] {
  if (def.type === 'histogram' || def.type === 'summary') return [def.name, `${def.name}_bucket`, `${def.name}_sum`, `${def.name}_count`];
  return [def.name];
}
