import { ALERT_LABEL, ALERT_STATE } from '../../core/conventions/alerts.ts';
import { PROMETHEUS_SERIES } from '../../core/conventions/metrics.ts';
import { eq, re, sel } from '../promql.ts';

/**
 * PromQL pieces only the dashboards use. Like the dcgm helpers in
 * recording.ts, they belong beside the others in promql.ts when that file is
 * next edited.
 */

export const sum = (v: string) => `sum(${v})`;
export const max = (v: string) => `max(${v})`;
export const count = (v: string) => `count(${v})`;
export const countBy = (labels: readonly string[], v: string) => `count by (${labels.join(', ')}) (${v})`;
export const increase = (v: string, window: string) => `increase(${v}[${window}])`;
/** `v or vector(0)`: a count that shows 0 instead of no data when nothing matches. */
export const orZero = (v: string) => `${v} or vector(0)`;

/** The matcher of a multi-value variable: `label=~"$name"` (Grafana fills in `a|b` or the all-value). */
export const byVariable = (label: string, variable: string) => re(label, `$${variable}`);

/**
 * A matcher of `instance` values on the hosts a variable picked, whatever the
 * port: node-exporter and the GPU exporter of one host differ only there.
 */
export const onHosts = (label: string, variable: string) => re(label, `$${variable}:.*`);

/** The regex every all-values choice stands for: any value, the empty one included. */
export const ALL_VALUES = '.*';

/** The firing alerts of one service, optionally of one severity. */
export function firingAlerts(service: string, severity?: string): string {
  const matchers = [eq(ALERT_STATE.label, ALERT_STATE.firing), eq(ALERT_LABEL.service, service)];
  if (severity !== undefined) matchers.push(eq(ALERT_LABEL.severity, severity));
  return sel(PROMETHEUS_SERIES.alerts, ...matchers);
}
