/**
 * Prometheus' template functions `humanize`, `humanizePercentage` and
 * `humanizeDuration`, ported exactly (Prometheus 2.42 template/template.go),
 * so the generator can write the annotations a promtool test must expect.
 */

/** Go's `fmt.Sprintf("%.4g", v)`. */
export function formatG4(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, exponent] = v.toExponential(3).split('e') as [string, string];
  const exp = Number(exponent);
  if (exp < -4 || exp >= 4) {
    const sign = exponent.startsWith('-') ? '-' : '+';
    return `${stripZeros(mantissa)}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return stripZeros(v.toFixed(3 - exp));
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatG4(v);
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return formatG4(v) + prefix;
  }
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return formatG4(v) + prefix;
}

export function humanizePercentage(v: number): string {
  return `${formatG4(v * 100)}%`;
}

export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return formatG4(v);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    const whole = Math.trunc(a);
    const seconds = whole % 60;
    const minutes = Math.trunc(whole / 60) % 60;
    const hours = Math.trunc(whole / 3600) % 24;
    const days = Math.trunc(whole / 86400);
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${formatG4(a)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${formatG4(v)}${prefix}s`;
}

export const HUMANIZERS = { humanize, humanizePercentage, humanizeDuration } as const;
export type Humanizer = keyof typeof HUMANIZERS;

/**
 * Expands the two template forms llmwatch annotations use, `{{ $labels.x }}`
 * and `{{ $value | humanizer }}`, as Prometheus would for one alert.
 */
export function expandTemplate(template: string, labels: Readonly<Record<string, string>>, value: number): string {
  return template.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, l: string) => labels[l] ?? '<no value>').replace(
    /\{\{ \$value \| (humanize|humanizePercentage|humanizeDuration) \}\}/g,
    (_, f: Humanizer) => HUMANIZERS[f](value),
  );
}
