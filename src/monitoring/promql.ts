/**
 * Small builders for the PromQL llmwatch generates, so every expression has
 * one shape and one spelling. Each generated expression is also checked by
 * the real promtool in the tests.
 */

/** A label matcher, e.g. `eq('status', 'error')` -> `status="error"`. */
export const eq = (label: string, value: string) => `${label}="${escape(value)}"`;
export const ne = (label: string, value: string) => `${label}!="${escape(value)}"`;
export const re = (label: string, value: string) => `${label}=~"${escape(value)}"`;
export const nre = (label: string, value: string) => `${label}!~"${escape(value)}"`;

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** A series selector: `metric{a="b",c!="d"}`. */
export function sel(metric: string, ...matchers: string[]): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`;
}

export const rate = (v: string, window: string) => `rate(${v}[${window}])`;
export const avgOverTime = (v: string, window: string) => `avg_over_time(${v}[${window}])`;
export const sumBy = (labels: readonly string[], v: string) => `sum by (${labels.join(', ')}) (${v})`;
export const avgBy = (labels: readonly string[], v: string) => `avg by (${labels.join(', ')}) (${v})`;
export const histogramQuantile = (q: number, v: string) => `histogram_quantile(${q}, ${v})`;
export const absent = (v: string) => `absent(${v})`;
/** `a and on (labels) b`. */
export const andOn = (labels: readonly string[], a: string, b: string) => `${a} and on (${labels.join(', ')}) ${b}`;
/** `a unless on (labels) b`. */
export const unlessOn = (labels: readonly string[], a: string, b: string) => `${a} unless on (${labels.join(', ')}) ${b}`;
/** Regex alternation of literal values, for `=~` and `!~`. */
export const anyOf = (values: readonly string[]) => values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
/** A number as PromQL and Prometheus' `le` label print it. */
export const num = (n: number) => String(n);

/**
 * The `le` matcher of one bucket bound, right under Prometheus 2 (the value as the exporter wrote
 * it: prom-client writes `le="2"`) and 3 (whole numbers normalised to `le="2.0"` on ingestion; the
 * Prometheus 3 migration guide, "le and quantile label values").
 */
export const leIs = (bound: number) => (Number.isInteger(bound) ? re('le', `${num(bound)}|${num(bound)}\\.0`) : eq('le', num(bound)));
