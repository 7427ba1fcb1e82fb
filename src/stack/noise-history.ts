import { parse as parseYaml } from 'yaml';
import { durationSeconds } from '../core/config/duration.ts';
import { ALERT_STATE } from '../core/conventions/alerts.ts';
import { MAX_RANGE_POINTS, rangeQuery, runningConfig } from '../core/http/prometheus-api.ts';
import type { Labels } from './noise-alertmanager.ts';
import { STACK_ERR_NOISE_INPUT } from './errors.ts';

/** One alert (one label set) and the evaluation times at which it was firing, in milliseconds, ascending. */
export interface AlertSeries {
  readonly labels: Labels;
  readonly times: readonly number[];
}

/** An alert history: the range asked for, the step it was read at, and every alert that fired in it. */
export interface AlertHistory {
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly series: readonly AlertSeries[];
}

/** The firing alerts Prometheus records at each rule evaluation (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/#inspecting-alerts-during-runtime). */
const FIRING = `ALERTS{${ALERT_STATE.label}="${ALERT_STATE.firing}"}`;

/**
 * The evaluation interval Prometheus runs its rules at, from its running config
 * (`global.evaluation_interval`, 1m when unset, as in Prometheus): the finest step
 * at which `ALERTS` changes. A rule group's own `interval` may differ; `--step` overrides.
 */
export async function evaluationIntervalMs(prometheusURL: string): Promise<number> {
  const yaml = await runningConfig(prometheusURL);
  const global = (parseYaml(yaml) as { global?: { evaluation_interval?: string } } | null)?.global;
  return durationSeconds(global?.evaluation_interval ?? '1m') * 1000;
}

/**
 * Reads `ALERTS{alertstate="firing"}` from `startMs` to `endMs` every `stepMs` with
 * query_range, in as many queries as Prometheus' point limit needs. Each sample
 * is one evaluation at which the alert fired: Prometheus writes a stale marker
 * when an alert resolves, so a resolved alert is absent from the next step on.
 */
export async function readAlertHistory(prometheusURL: string, startMs: number, endMs: number, stepMs: number): Promise<AlertHistory> {
  const byKey = new Map<string, { labels: Labels; times: Set<number> }>();
  const chunkMs = (MAX_RANGE_POINTS - 1) * stepMs;
  for (let from = startMs; from <= endMs; from += chunkMs + stepMs) {
    const to = Math.min(endMs, from + chunkMs);
    let result;
    try {
      result = await rangeQuery(prometheusURL, FIRING, from / 1000, to / 1000, stepMs / 1000);
    } catch (err) {
      throw STACK_ERR_NOISE_INPUT(`cannot read the alert history from Prometheus at ${prometheusURL}: ${(err as Error).message}; check --prometheus`, { cause: err });
    }
    for (const s of result) {
      const { __name__: _name, [ALERT_STATE.label]: _state, ...labels } = s.metric;
      const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
      const entry = byKey.get(key) ?? { labels, times: new Set<number>() };
      for (const [t] of s.values) entry.times.add(Math.round(t * 1000));
      byKey.set(key, entry);
    }
  }
  const series = [...byKey.values()].map((e) => ({ labels: e.labels, times: [...e.times].sort((a, b) => a - b) }));
  series.sort((a, b) => (a.labels.alertname ?? '').localeCompare(b.labels.alertname ?? '') || a.times[0]! - b.times[0]!);
  return { startMs, endMs, stepMs, series };
}
