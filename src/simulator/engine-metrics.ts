import { VLLM_FINISH_REASONS, VLLM_LABEL, VLLM_METRIC, VLLM_METRIC_DEFS, goFloat, vllmRequestTokenBuckets } from '../core/conventions/vllm.ts';
import type { VllmFinishReason, VllmMetricKey } from '../core/conventions/vllm.ts';

/** A cumulative histogram with fixed bounds, `le` inclusive as Prometheus' is. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length).fill(0);
  }

  observe(v: number): void {
    this.#sum += v;
    this.#count += 1;
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= this.bounds[i]!) {
        this.#counts[i]! += 1;
        return;
      }
    }
  }

  /** Cumulative counts per bound, then the `+Inf` count. */
  cumulative(): number[] {
    let acc = 0;
    return [...this.#counts.map((c) => (acc += c)), this.#count];
  }

  get sum(): number {
    return this.#sum;
  }

  get count(): number {
    return this.#count;
  }
}

/** Everything one engine core (one data-parallel rank) exports. */
export interface EngineSnapshot {
  readonly model: string;
  readonly engine: number;
  readonly gauges: Readonly<Record<'running' | 'waiting' | 'kvCacheUsage', number>>;
  readonly counters: Readonly<Record<'prefixCacheQueries' | 'prefixCacheHits' | 'preemptions' | 'promptTokens' | 'generationTokens', number>>;
  readonly finished: Readonly<Record<VllmFinishReason, number>>;
  readonly histograms: Readonly<Record<'promptTokensPerRequest' | 'generationTokensPerRequest' | 'timeToFirstToken' | 'interTokenLatency' | 'e2eLatency' | 'queueTime', Histogram>>;
}

/** The bounds of each histogram family, given the engine's context length. */
export function histogramBounds(key: VllmMetricKey, maxModelLen: number): readonly number[] {
  const def = VLLM_METRIC_DEFS.find((d) => d.key === key);
  if (def?.buckets === undefined) throw new Error(`${key} is not a histogram`);
  return def.buckets === 'request_tokens' ? vllmRequestTokenBuckets(maxModelLen) : def.buckets;
}

/**
 * The vLLM families as a vLLM server writes them: prometheus_client's text format, labels sorted by
 * name, and numbers as Python floats (`1.0`, `2560.0`, `1e+06`). Written here rather than with prom-client,
 * which writes `le="1"`: rules and dashboards tried against the simulator must see what vLLM writes.
 */
export function renderEngineMetrics(engines: readonly EngineSnapshot[]): string {
  let out = '';
  for (const def of VLLM_METRIC_DEFS) {
    const name = VLLM_METRIC[def.key];
    out += `# HELP ${name} ${def.help}\n# TYPE ${name} ${def.type}\n`;
    for (const e of engines) {
      const base: Record<string, string> = { [VLLM_LABEL.engine]: String(e.engine), [VLLM_LABEL.model]: e.model };
      switch (def.type) {
        case 'gauge':
          out += line(name, base, e.gauges[def.key as keyof EngineSnapshot['gauges']]);
          break;
        case 'counter':
          if (def.key === 'requestSuccess') {
            for (const reason of VLLM_FINISH_REASONS) out += line(name, { ...base, [VLLM_LABEL.finishedReason]: reason }, e.finished[reason]);
          } else {
            out += line(name, base, e.counters[def.key as keyof EngineSnapshot['counters']]);
          }
          break;
        case 'histogram': {
          const h = e.histograms[def.key as keyof EngineSnapshot['histograms']];
          const cum = h.cumulative();
          h.bounds.forEach((b, i) => (out += line(`${name}_bucket`, { ...base, le: goFloat(b) }, cum[i]!)));
          out += line(`${name}_bucket`, { ...base, le: '+Inf' }, cum[cum.length - 1]!);
          out += line(`${name}_count`, base, h.count);
          out += line(`${name}_sum`, base, h.sum);
          break;
        }
      }
    }
  }
  return out;
}

function line(name: string, labels: Record<string, string>, value: number): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k]!)}"`);
  return `${name}{${parts.join(',')}} ${goFloat(value)}\n`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
