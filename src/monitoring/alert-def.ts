import type { AlertTuning, MonitoringSpec } from '../core/config/monitoring-spec.ts';
import type { Category, Severity, TunableAlert } from '../core/conventions/alerts.ts';
import type { recordedNames } from '../core/conventions/metrics.ts';
import type { Humanizer } from './humanize.ts';
import type { Runbook } from './model.ts';
import type { ExpectedAlert, InputSeries, Scenario } from './scenario.ts';

/** An alert's settings once the spec's tuning is applied over its defaults. */
export interface Tuning {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly for: string;
  readonly severity: Severity;
  readonly minRequestRate: number;
  /**
   * The fewest events the alert's window must hold before it may fire (ratio and quantile
   * alerts only: those whose defaults set it); 0 turns the guard off.
   */
  readonly minEvents: number;
  /** Prometheus' `keep_firing_for`; absent or `0s`: the alert resolves as soon as its expression does. */
  readonly keepFiringFor?: string;
  /** The alert's own window (alerts whose defaults set one: `SpareReplicas`' stabilization window). */
  readonly window?: string;
}

/**
 * A signal that was bad long enough to fire and turns healthy: the case that
 * shows `keep_firing_for` holding the alert, then letting it go.
 */
export interface Recovery {
  readonly series: readonly InputSeries[];
  /** Minute of the first evaluation at which the expression no longer returns the alert. */
  readonly clearsAt: number;
  /** The alert as last returned before `clearsAt`: a kept alert keeps that value in its annotations. */
  readonly expect: readonly ExpectedAlert[];
}

/** What an alert definition is given to build its rule and tests. */
export interface AlertContext {
  readonly spec: Readonly<MonitoringSpec>;
  readonly names: ReturnType<typeof recordedNames>;
  readonly tuning: Tuning;
}

/**
 * One tunable alert of the catalog: its defaults (the article's where it has
 * one), how to build its expression, the words of its annotations, its
 * runbook, and the scenarios that prove it: firing, healthy, idle.
 */
export interface AlertDef {
  readonly name: TunableAlert;
  /** `model`: one alert per model, tunable per model; `host`: one per host or GPU; `engine`: one per engine core; `upstream`: one per gateway upstream. */
  readonly scope: 'model' | 'host' | 'engine' | 'upstream';
  readonly category: Category;
  /** `minEvents` is set only by alerts that take it (ratio and quantile alerts). */
  readonly defaults: Omit<Tuning, 'enabled' | 'minEvents'> & { readonly minEvents?: number };
  /** Labels that tell one firing instance from another. */
  readonly identity: readonly string[];
  /** How `$value` is shown. */
  readonly humanizer: Humanizer;
  /** Summary and description templates; `{threshold}`, `{for}` and `{window}` are filled at generation. */
  readonly summary: string;
  readonly description: string;
  /** How the threshold is written in the annotations. */
  readonly showThreshold: (t: number) => string;
  /** The expression; `matchers` narrow a model alert to some models (per-model overrides). */
  expr(c: AlertContext, matchers: readonly string[]): string;
  /** Scenarios for a model (model alerts) or for a host. */
  scenarios(c: AlertContext, model: string): readonly Scenario[];
  /**
   * Series that fire the alert and then recover, for alerts where `keep_firing_for`
   * makes sense; an alert without it cannot be given `keepFiringFor` in the spec.
   */
  recovery?(c: AlertContext, model: string): Recovery;
  /** Why the default `keepFiringFor` is what it is (docs and runbook). */
  readonly keepFiringForWhy?: string;
  readonly runbook: Runbook;
  /**
   * Minutes between the samples (and rule evaluations) of its promtool tests; default 1. Drift
   * alerts compare with a week ago: a week at one-minute steps is ten thousand evaluations a test.
   */
  testStep?(spec: Readonly<MonitoringSpec>): number;
  /**
   * The rule groups its promtool tests load, in evaluation order, when not all: an alert that reads
   * only its own recorded series need not have every other rule evaluated at each of its steps.
   * The order is written as promtool's `group_eval_order`: without it promtool evaluates groups in
   * no fixed order, and at steps longer than the 5m lookback an alert evaluated before its recording
   * rules sees nothing.
   */
  readonly testGroups?: readonly string[];
  /** Spec fields the thresholds must respect, checked at generation. */
  validate?(c: AlertContext): string | undefined;
}

export type { AlertTuning };
