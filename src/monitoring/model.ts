import type { MonitoringSpec } from '../config/monitoring-spec.ts';
import type { Category, Severity } from '../metrics/conventions.ts';

/** A Prometheus recording rule. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** A Prometheus alerting rule, labels and annotations included. */
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  /** One file per group: `prometheus/rules/<file>.yml`. */
  readonly file: string;
  readonly rules: ReadonlyArray<RecordingRule | AlertingRule>;
}

/** What a runbook says about an alert. */
export interface Runbook {
  /** What the alert means, in a paragraph. */
  readonly meaning: string;
  /** Who or what suffers while it fires. */
  readonly impact: string;
  /** Steps to find the cause, PromQL and commands included. */
  readonly diagnosis: readonly string[];
  /** Steps that end it, the automatic ones first. */
  readonly mitigation: readonly string[];
}

/** One alert as the writers see it (an alert may have several rules: per-model overrides, fast and slow burns). */
export interface AlertInfo {
  readonly name: string;
  readonly category: Category;
  /** Every severity its rules can carry. */
  readonly severities: readonly Severity[];
  /** Labels by which one instance of the alert is told from another (besides alertname), e.g. ['model']. */
  readonly identity: readonly string[];
  readonly summary: string;
  readonly runbook: Runbook;
  readonly runbookURL: string;
}

/** One promtool unit-test file. */
export interface PromtoolTestFile {
  readonly file: string;
  readonly content: Readonly<Record<string, unknown>>;
}

/** Everything the writers need, built once from the spec. */
export interface MonitoringModel {
  readonly spec: Readonly<MonitoringSpec>;
  readonly groups: readonly RuleGroup[];
  readonly alerts: readonly AlertInfo[];
  readonly tests: readonly PromtoolTestFile[];
}

/** One file the generator writes, path relative to the output folder. */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}
