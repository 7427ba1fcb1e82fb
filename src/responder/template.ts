import type { Alert } from './types.ts';

/**
 * Replaces `{{ $labels.x }}` in every string of the params with the alert's
 * label (missing labels become ''). For PromQL, `escapeFor: 'promql'` escapes
 * the value so a label cannot break out of a string literal.
 */
export function expandParams(params: Readonly<Record<string, unknown>>, alert: Alert, escapeFor?: 'promql'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = expandValue(v, alert, escapeFor);
  return out;
}

function expandValue(v: unknown, alert: Alert, escapeFor?: 'promql'): unknown {
  if (typeof v === 'string') return expandString(v, alert, escapeFor);
  if (Array.isArray(v)) return v.map((x) => expandValue(x, alert, escapeFor));
  if (v !== null && typeof v === 'object') return expandParams(v as Record<string, unknown>, alert, escapeFor);
  return v;
}

export function expandString(s: string, alert: Alert, escapeFor?: 'promql'): string {
  return s.replace(/\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name: string) => {
    const value = alert.labels[name] ?? '';
    return escapeFor === 'promql' ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
  });
}
