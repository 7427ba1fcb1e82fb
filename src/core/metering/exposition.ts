import type { Registry } from 'prom-client';

/**
 * prom-client's stores, as its Counter, Gauge and Histogram keep them (one
 * entry per label set, keyed by a string of the labels). Reading them directly
 * is what lets a child be bound once and a scrape render without rebuilding
 * every label string; each use falls back to prom-client's own method when an
 * entry is not where it was (after `reset()`, say).
 */
interface ValueEntry {
  value: number;
  labels: Record<string, string | number>;
}
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
  bucketExemplars?: unknown;
}
interface Store<E> {
  name: string;
  help: string;
  type: string;
  hashMap: Record<string, E>;
  sortedLabelNames?: readonly string[];
  collect?: unknown;
  aggregator?: string;
  upperBounds?: readonly number[];
  enableExemplars?: boolean;
}

/** A counter bound to one label set. */
export interface IncChild {
  inc(v?: number): void;
}
/** A gauge bound to one label set. */
export interface GaugeChild extends IncChild {
  dec(v?: number): void;
  set(v: number): void;
}
/** A histogram bound to one label set. */
export interface ObserveChild {
  observe(v: number): void;
}

/** The key prom-client filed `labels` under: the entry that holds this very labels object. */
function keyOf(hashMap: Record<string, { labels: Record<string, unknown> }>, labels: Record<string, unknown>, sortedLabelNames?: readonly string[]): string {
  // prom-client's key: `name:value,` for each label name in sorted order.
  if (sortedLabelNames !== undefined) {
    let k = '';
    for (const n of sortedLabelNames) if (labels[n] !== undefined) k += `${n}:${String(labels[n])},`;
    if (hashMap[k]?.labels === labels) return k;
  }
  for (const k in hashMap) if (hashMap[k]!.labels === labels) return k;
  // The series existed already, made with another labels object of the same values.
  const names = Object.keys(labels);
  for (const k in hashMap) {
    const l = hashMap[k]!.labels;
    if (Object.keys(l).length === names.length && names.every((n) => String(l[n]) === String(labels[n]))) return k;
  }
  throw new Error('prom-client did not keep the series it was given; bound children need it');
}

/**
 * A counter child bound once: `inc` adds to prom-client's entry for the
 * labels through a key computed at start-up, with no label object, no
 * validation and no key string per call.
 */
export function boundCounter(metric: { inc(labels: Record<string, string>, v: number): void }, labels: Record<string, string>): IncChild {
  metric.inc(labels, 0);
  const store = metric as unknown as Store<ValueEntry>;
  const key = keyOf(store.hashMap, labels, store.sortedLabelNames);
  return {
    inc(v = 1) {
      const e = store.hashMap[key];
      if (e === undefined || !(v >= 0) || !Number.isFinite(v)) metric.inc(labels, v);
      else e.value += v;
    },
  };
}

/** A gauge child bound once (see {@link boundCounter}). */
export function boundGauge(
  metric: { set(labels: Record<string, string>, v: number): void; inc(labels: Record<string, string>, v: number): void; dec(labels: Record<string, string>, v: number): void },
  labels: Record<string, string>,
  initial: number,
): GaugeChild {
  metric.set(labels, initial);
  const store = metric as unknown as Store<ValueEntry>;
  const key = keyOf(store.hashMap, labels, store.sortedLabelNames);
  return {
    inc(v = 1) {
      const e = store.hashMap[key];
      if (e === undefined) metric.inc(labels, v);
      else e.value += v;
    },
    dec(v = 1) {
      const e = store.hashMap[key];
      if (e === undefined) metric.dec(labels, v);
      else e.value -= v;
    },
    set(v) {
      const e = store.hashMap[key];
      if (e === undefined || typeof v !== 'number') metric.set(labels, v);
      else e.value = v;
    },
  };
}

/** A histogram child bound once (see {@link boundCounter}); the bucket keys are computed once too. */
export function boundHistogram(metric: { zero(labels: Record<string, string>): void; observe(labels: Record<string, string>, v: number): void }, labels: Record<string, string>): ObserveChild {
  metric.zero(labels);
  const store = metric as unknown as Store<HistogramEntry>;
  const key = keyOf(store.hashMap, labels, store.sortedLabelNames);
  const bounds = store.upperBounds!;
  const keys = bounds.map(String);
  return {
    observe(v) {
      const e = store.hashMap[key];
      if (e === undefined || !Number.isFinite(v)) return metric.observe(labels, v);
      e.sum += v;
      e.count += 1;
      for (let i = 0; i < bounds.length; i++) {
        if (v <= bounds[i]!) {
          e.bucketValues[keys[i]!]! += 1;
          return;
        }
      }
    },
  };
}

// What each series (prom-client entry) rendered to last time, and from which value: an idle series (most of them,
// with many models) is the same text as at the last scrape and is not rendered again.
const valueText = new WeakMap<object, { value: number; text: string }>();
const histogramText = new WeakMap<object, { count: number; sum: number; text: string; prefixes: string[] }>();

function escapeLabelValue(v: string | number): string | number {
  return typeof v === 'string' ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function labelsOf(labels: Record<string, string | number>): string {
  let out = '';
  for (const name in labels) out += `${out === '' ? '' : ','}${name}="${escapeLabelValue(labels[name]!)}"`;
  return out;
}

function numberText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderValues(m: Store<ValueEntry>, lines: string[]): void {
  for (const e of Object.values(m.hashMap)) {
    let c = valueText.get(e);
    if (c === undefined || c.value !== e.value) {
      const l = labelsOf(e.labels);
      c = { value: e.value, text: `${m.name}${l === '' ? '' : `{${l}}`} ${numberText(e.value)}` };
      valueText.set(e, c);
    }
    lines.push(c.text);
  }
}

function renderHistogram(m: Store<HistogramEntry>, lines: string[]): void {
  const bounds = m.upperBounds!;
  const keys = bounds.map(String);
  for (const e of Object.values(m.hashMap)) {
    let c = histogramText.get(e);
    if (c !== undefined && c.count === e.count && c.sum === e.sum) {
      lines.push(c.text);
      continue;
    }
    let prefixes = c?.prefixes;
    if (prefixes === undefined) {
      const shared = labelsOf(e.labels);
      const rest = shared === '' ? '' : `,${shared}`;
      const own = shared === '' ? '' : `{${shared}}`;
      prefixes = [...bounds.map((b) => `${m.name}_bucket{le="${b}"${rest}} `), `${m.name}_bucket{le="+Inf"${rest}} `, `${m.name}_sum${own} `, `${m.name}_count${own} `];
    }
    const block: string[] = [];
    let acc = 0;
    for (let i = 0; i < bounds.length; i++) {
      acc += e.bucketValues[keys[i]!]!;
      block.push(prefixes[i]! + numberText(acc));
    }
    block.push(prefixes[bounds.length]! + numberText(e.count), prefixes[bounds.length + 1]! + numberText(e.sum), prefixes[bounds.length + 2]! + numberText(e.count));
    c = { count: e.count, sum: e.sum, text: block.join('\n'), prefixes };
    histogramText.set(e, c);
    lines.push(c.text);
  }
}

/**
 * `registry.metrics()`, the same text, faster: counters, gauges and
 * histograms without a collect function are rendered from their stores with
 * each series' label text made once; anything else (the process metrics,
 * summaries, a registry with default labels or in OpenMetrics) goes through
 * prom-client. With 100 models (25,000 series) this is what keeps a scrape short.
 */
export async function renderMetrics(registry: Registry): Promise<string> {
  const r = registry as unknown as { _defaultLabels: Record<string, string>; contentType: string; getMetricsAsString(m: unknown): Promise<string> };
  if (Object.keys(r._defaultLabels ?? {}).length > 0 || registry.contentType !== 'text/plain; version=0.0.4; charset=utf-8') return registry.metrics();
  const parts: string[] = [];
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as Store<ValueEntry & HistogramEntry>;
    const plain = m.collect === undefined && m.hashMap !== undefined && (m.type === 'counter' || m.type === 'gauge' || (m.type === 'histogram' && m.enableExemplars !== true));
    if (!plain) {
      parts.push(await r.getMetricsAsString(metric));
      continue;
    }
    const lines = [`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`];
    if (m.type === 'histogram') renderHistogram(m, lines);
    else renderValues(m, lines);
    parts.push(lines.join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}
