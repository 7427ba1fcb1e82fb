import type { Severity, TunableAlert } from './conventions/alerts.ts';

/**
 * The dashboard model: rows of panels, each a few PromQL queries with a unit
 * and, where an alert watches the same series, the alert's threshold. Built
 * from the spec once (`buildDashboards`); the Grafana writer renders it to
 * dashboard JSON, and any other renderer (a console) can draw the same model.
 * Plain data: no Grafana type appears here.
 */

/**
 * What a panel's values measure. Renderers map it to their own units
 * (Grafana: `s`, `percentunit`, `bytes` ...).
 */
export type Unit =
  /** Seconds. */
  | 'seconds'
  /** A share, 0..1. */
  | 'ratio'
  /** A percentage, 0..100. */
  | 'percent'
  | 'bytes'
  | 'bytesPerSecond'
  | 'requestsPerSecond'
  | 'tokensPerSecond'
  /** Events per second of anything else (failed collector runs). */
  | 'perSecond'
  | 'celsius'
  | 'watts'
  /** A plain number (queue length, alerts, actions per hour). */
  | 'count';

/** One PromQL query of a panel. */
export interface Query {
  /** PromQL; may use the dashboard's variables as `$name` inside label matchers, nowhere else. */
  readonly expr: string;
  /** Series name template in Prometheus' `{{label}}` syntax, e.g. `P95 {{model}}`. */
  readonly legend: string;
}

/** The alert a threshold comes from, so a renderer can link to its runbook. */
export interface ThresholdAlert {
  readonly name: TunableAlert;
  readonly runbookURL: string;
  /** Models whose own tuning (`models.<m>.alerts.<Alert>.threshold`) differs from `value`, sorted by model. */
  readonly perModel: ReadonlyArray<{ readonly model: string; readonly value: number }>;
}

/**
 * A level drawn on a panel: values beyond it (above or below, as `direction`
 * says) are as bad as `severity`.
 */
export interface Threshold {
  readonly value: number;
  readonly direction: 'above' | 'below';
  readonly severity: Severity;
  /** Set when the level is an alert's, from the spec's tuning of that alert. */
  readonly alert?: ThresholdAlert;
}

/** A number shown as a word (`1` -> `tripped`). */
export interface ValueText {
  readonly value: number;
  readonly text: string;
  /** `ok`, or the severity the value stands for. */
  readonly tone: Severity | 'ok';
}

interface PanelBase {
  /** Stable key within the dashboard, e.g. `latency`: for anchors and tests, never shown. */
  readonly key: string;
  readonly title: string;
  /** What the panel shows and where it comes from, in a sentence or two (Markdown). */
  readonly description: string;
  readonly unit: Unit;
  readonly queries: readonly Query[];
  readonly threshold?: Threshold;
  /** Axis or gauge bounds; unset means automatic. */
  readonly min?: number;
  readonly max?: number;
  /** Width in twenty-fourths of the dashboard. */
  readonly width: number;
  /** Height in grid rows (Grafana's: about 30 px each). */
  readonly height: number;
}

/** Values over time, one line per series. */
export interface TimeSeriesPanel extends PanelBase {
  readonly kind: 'timeseries';
}

/** One number now (the last value of each query), coloured by its threshold. */
export interface StatPanel extends PanelBase {
  readonly kind: 'stat';
  readonly valueText?: readonly ValueText[];
}

export type Panel = TimeSeriesPanel | StatPanel;

export interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

/** The Prometheus datasource the dashboard reads; every query goes through it. */
export interface DatasourceVariable {
  readonly kind: 'datasource';
  readonly name: string;
  readonly label: string;
}

/**
 * A choice among the values of `label` on the series `selector` selects
 * (Prometheus' `/api/v1/label/<label>/values?match[]=<selector>`). Queries
 * match it with `label=~"$name"`; every value or several may be chosen.
 */
export interface LabelValuesVariable {
  readonly kind: 'labelValues';
  readonly name: string;
  readonly label: string;
  /** A series selector, e.g. `openllm_build_info`. */
  readonly selector: string;
  readonly labelName: string;
  /** A regex with one capture group applied to each value, e.g. the host part of `host:9100`. */
  readonly capture?: string;
}

export type Variable = DatasourceVariable | LabelValuesVariable;

/** Events drawn across every time-series panel: each series of `expr` is an event while it has a sample. */
export interface Annotation {
  readonly name: string;
  readonly expr: string;
  /** `{{label}}` templates. */
  readonly title: string;
  readonly text: string;
  /** Labels shown as the event's tags. */
  readonly tagLabels: readonly string[];
  readonly tone: Severity;
}

export interface Dashboard {
  /** Stable across regeneration: links and bookmarks keep working. */
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly variables: readonly Variable[];
  readonly annotations: readonly Annotation[];
  readonly rows: readonly Row[];
}
