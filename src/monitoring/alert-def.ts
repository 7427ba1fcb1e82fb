import type { AlertTuning, MonitoringSpec } from '../config/monitoring-spec.ts';
import type { Category, Severity, TunableAlert, recordedNames } from '../metrics/conventions.ts';
import type { Humanizer } from './humanize.ts';
import type { Runbook } from './model.ts';
import type { Scenario } from './scenario.ts';

/** An alert's settings once the spec's tuning is applied over its defaults. */
export interface Tuning {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly for: string;
  readonly severity: Severity;
  readonly minRequestRate: number;
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
  /** `model`: one alert per model, tunable per model; `host`: one per host or GPU. */
  readonly scope: 'model' | 'host';
  readonly category: Category;
  readonly defaults: Omit<Tuning, 'enabled'>;
  /** Labels that tell one firing instance from another. */
  readonly identity: readonly string[];
  /** How `$value` is shown. */
  readonly humanizer: Humanizer;
  /** Summary and description templates; `{threshold}` and `{for}` are filled at generation. */
  readonly summary: string;
  readonly description: string;
  /** How the threshold is written in the annotations. */
  readonly showThreshold: (t: number) => string;
  /** The expression; `matchers` narrow a model alert to some models (per-model overrides). */
  expr(c: AlertContext, matchers: readonly string[]): string;
  /** Scenarios for a model (model alerts) or for a host. */
  scenarios(c: AlertContext, model: string): readonly Scenario[];
  readonly runbook: Runbook;
  /** Spec fields the thresholds must respect, checked at generation. */
  validate?(c: AlertContext): string | undefined;
}

export type { AlertTuning };
