/**
 * Reads one number from Prometheus' HTTP API: the first sample of an instant
 * query (a scalar, or the first element of a vector). Undefined when the
 * query returns nothing; rejects when Prometheus cannot answer.
 */
export async function queryNumber(prometheusURL: string, query: string, signal: AbortSignal): Promise<number | undefined> {
  const res = await fetch(`${prometheusURL.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`, { signal });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`Prometheus answered ${res.status}: ${body.error ?? 'no data'}`);
  const { resultType, result } = body.data;
  if (resultType === 'scalar') return Number((result as [number, string])[1]);
  if (resultType === 'vector') {
    const first = (result as Array<{ value: [number, string] }>)[0];
    return first === undefined ? undefined : Number(first.value[1]);
  }
  throw new Error(`the query returned a ${resultType}, not a number`);
}
