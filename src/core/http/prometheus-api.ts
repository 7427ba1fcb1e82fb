/** One sample of an instant vector, as Prometheus' HTTP API returns it. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

/** The `data` of an instant query (https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries). */
export type InstantData =
  | { readonly resultType: 'vector'; readonly result: readonly VectorSample[] }
  | { readonly resultType: 'scalar' | 'string'; readonly result: readonly [number, string] }
  | { readonly resultType: 'matrix'; readonly result: readonly unknown[] };

/**
 * The Prometheus HTTP API as llmwatch reads it: instant queries. Rejects when
 * Prometheus cannot be reached or answers anything but `status: success`,
 * with Prometheus' own error text.
 */
export async function instantQuery(prometheusURL: string, query: string, signal?: AbortSignal): Promise<InstantData> {
  const res = await fetch(`${prometheusURL.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`, { signal });
  const body = (await res.json()) as { status: string; error?: string; data?: InstantData };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`Prometheus answered ${res.status}: ${body.error ?? 'no data'}`);
  return body.data;
}

/**
 * The first sample of an instant query as a number (a scalar, or the first
 * element of a vector); undefined when the query returns nothing.
 */
export async function queryNumber(prometheusURL: string, query: string, signal?: AbortSignal): Promise<number | undefined> {
  const data = await instantQuery(prometheusURL, query, signal);
  if (data.resultType === 'scalar') return Number(data.result[1]);
  if (data.resultType === 'vector') {
    const first = data.result[0];
    return first === undefined ? undefined : Number(first.value[1]);
  }
  throw new Error(`the query returned a ${data.resultType}, not a number`);
}

/** The samples of an instant query that returns a vector (an empty list for any other result). */
export async function queryVector(prometheusURL: string, query: string, signal?: AbortSignal): Promise<readonly VectorSample[]> {
  const data = await instantQuery(prometheusURL, query, signal);
  return data.resultType === 'vector' ? data.result : [];
}

/** One series of a range query, as Prometheus' HTTP API returns it: `[unix seconds, "value"]` pairs, oldest first. */
export interface MatrixSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: ReadonlyArray<readonly [number, string]>;
}

/** Prometheus refuses a range query of more than this many points per series. */
export const MAX_RANGE_POINTS = 11_000;

/**
 * A range query (https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries)
 * from `start` to `end` (unix seconds) every `step` seconds; rejects as {@link instantQuery} does.
 * The caller keeps `(end - start) / step` under {@link MAX_RANGE_POINTS}.
 */
export async function rangeQuery(prometheusURL: string, query: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<readonly MatrixSeries[]> {
  const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  const res = await fetch(`${prometheusURL.replace(/\/+$/, '')}/api/v1/query_range?${params}`, { signal });
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: readonly MatrixSeries[] } };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`Prometheus answered ${res.status}: ${body.error ?? 'no data'}`);
  return body.data.resultType === 'matrix' ? body.data.result : [];
}

/** The configuration Prometheus runs with, as the YAML text `/api/v1/status/config` gives. */
export async function runningConfig(prometheusURL: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(`${prometheusURL.replace(/\/+$/, '')}/api/v1/status/config`, { signal });
  const body = (await res.json()) as { status: string; error?: string; data?: { yaml?: string } };
  if (body.status !== 'success' || typeof body.data?.yaml !== 'string') throw new Error(`Prometheus answered ${res.status}: ${body.error ?? 'no config'}`);
  return body.data.yaml;
}
