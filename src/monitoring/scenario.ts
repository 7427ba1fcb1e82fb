/**
 * Building blocks of the promtool tests the generator writes: input series in
 * promtool's expanding notation, and the alerts a scenario must produce.
 * All scenarios sample once a minute.
 */
import { durationMs } from '../core/config/duration.ts';

export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/** An alert a scenario expects: its labels from the expression, and its value. */
export interface ExpectedAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Which rule of the alert fires it, when the alert has rules of several severities (burn rates). */
  readonly severity?: 'critical' | 'warning' | 'info';
}

export interface Scenario {
  /** `firing`, `healthy`, `idle`, or a named extra case. */
  readonly name: string;
  readonly series: readonly InputSeries[];
  /** Minutes after the start at which the alert is checked. */
  readonly at: number;
  readonly expect: readonly ExpectedAlert[];
  /**
   * Minute at which the rule's expression itself must return nothing: with `expect`
   * non-empty, proof that `keep_firing_for`, not the signal, holds the alert.
   */
  readonly exprSilentAt?: number;
}

/** The three gateway replicas every model scenario spreads its traffic over. */
export const REPLICAS = ['gateway-1:8000', 'gateway-2:8000', 'gateway-3:8000'] as const;

/** Series length: enough for every scenario's check time. */
export const SERIES_MINUTES = 180;

export function seriesOf(metric: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length === 0 ? metric : `${metric}{${parts.join(',')}}`;
}

/** A counter growing by `perMinute` each minute from 0. */
export function counter(metric: string, labels: Readonly<Record<string, string>>, perMinute: number, minutes = SERIES_MINUTES): InputSeries {
  return { series: seriesOf(metric, labels), values: `0+${perMinute}x${minutes}` };
}

/** A gauge holding `value`. */
export function gauge(metric: string, labels: Readonly<Record<string, string>>, value: number, minutes = SERIES_MINUTES): InputSeries {
  return { series: seriesOf(metric, labels), values: `${value}+0x${minutes}` };
}

/**
 * Sample values holding each value for its number of minutes, the last one to
 * the end of the series: a gauge that changes, e.g. hot for 20 minutes, then cool.
 */
export function stepValues(phases: ReadonlyArray<readonly [value: number, minutes: number]>): string {
  let used = 0;
  return phases
    .map(([value, minutes], i) => {
      // `vxN` is N + 1 samples: the last phase runs to the end of the series.
      const n = i === phases.length - 1 ? SERIES_MINUTES - used : minutes - 1;
      used += minutes;
      return `${value}x${n}`;
    })
    .join(' ');
}

/** Whole minutes of a one-unit Prometheus duration, rounded up (`90s` is 2), by the one duration parser. */
export function minutesOf(duration: string): number {
  return Math.ceil(durationMs(duration) / 60_000);
}
