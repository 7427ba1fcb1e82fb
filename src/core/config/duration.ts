import { z } from 'zod';

/** Milliseconds per unit of a Prometheus duration (https://prometheus.io/docs/prometheus/latest/querying/basics/#float-literals-and-time-durations); one unit only. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** A duration as specs and configs write it: a positive whole number and one unit (`30s`, `5m`, `1h`, `7d`). */
const DURATION = /^[1-9]\d*(ms|s|m|h|d|w)$/;
/** What the parser reads: as {@link DURATION}, and zero (`0s`), which generated rules may use. */
const PARSED = /^(\d+)(ms|s|m|h|d|w)$/;

/** The one duration type of every spec and config. */
export const Duration = z.string().regex(DURATION, 'a Prometheus duration with one unit, such as 30s, 5m or 1h');

/** True for a duration a spec may write (see {@link Duration}). */
export function isDuration(value: string): boolean {
  return DURATION.test(value);
}

/** Milliseconds of a one-unit duration; throws on anything else (specs are validated before this runs). */
export function durationMs(d: string): number {
  const m = PARSED.exec(d);
  if (m === null) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * UNIT_MS[m[2] as Unit];
}

/**
 * Milliseconds of a duration as Prometheus and Alertmanager themselves read
 * it (Go's `model.Duration`): units may be combined, largest first (`1h30m`),
 * and `y` is 365 days. For what their configs say, not for specs (specs take one unit).
 */
export function modelDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (p[2] === 'y' ? 365 * UNIT_MS.d : UNIT_MS[p[2] as Unit]), 0);
}

/** Seconds of a one-unit duration (`500ms` is 0.5). */
export function durationSeconds(d: string): number {
  return durationMs(d) / 1000;
}
