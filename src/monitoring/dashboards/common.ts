import type { MonitoringSpec } from '../../core/config/monitoring-spec.ts';
import { ALERT_LABEL, TARGET_LABEL } from '../../core/conventions/alerts.ts';
import { RESPONDER_LABEL, RESPONDER_METRIC } from '../../core/conventions/metrics.ts';
import { sumBy } from '../promql.ts';
import type { Annotation, DatasourceVariable, Panel } from '../../core/dashboard-model.ts';
import { firingAlerts, increase } from './queries.ts';
import { thresholdNote } from './thresholds.ts';

/** Name of the datasource variable every dashboard has and every query goes through. */
export const DATASOURCE_VAR = 'datasource';

export function datasourceVariable(): DatasourceVariable {
  return { kind: 'datasource', name: DATASOURCE_VAR, label: 'Prometheus' };
}

/**
 * A panel of `kind`, its description ending with the alert its threshold
 * comes from, so the level drawn is never unexplained.
 */
export function panel<K extends Panel['kind']>(kind: K, fields: Omit<Extract<Panel, { kind: K }>, 'kind'>): Panel {
  return { ...fields, kind, description: fields.description + thresholdNote(fields.threshold, fields.unit) } as Panel;
}

/** Window of the responder-action annotation: a few scrapes, so one action is one short event. */
const ACTION_EVENT_WINDOW = '1m';

/**
 * Events every dashboard draws: the service's firing alerts (Prometheus'
 * `ALERTS` series, one event per alert while it fires), and the responder's
 * actions, so a latency drop can be read against the action that caused it.
 */
export function commonAnnotations(spec: Readonly<MonitoringSpec>): Annotation[] {
  return [
    {
      name: 'Firing alerts',
      expr: firingAlerts(spec.service),
      title: `{{${TARGET_LABEL.alertname}}}`,
      text: `{{${TARGET_LABEL.alertname}}} ({{${ALERT_LABEL.severity}}})`,
      tagLabels: [ALERT_LABEL.severity, ALERT_LABEL.category],
      tone: 'critical',
    },
    {
      name: 'Responder actions',
      expr: `${sumBy([RESPONDER_LABEL.action, RESPONDER_LABEL.outcome], increase(RESPONDER_METRIC.actions, ACTION_EVENT_WINDOW))} > 0`,
      title: `{{${RESPONDER_LABEL.action}}}`,
      text: `{{${RESPONDER_LABEL.action}}}: {{${RESPONDER_LABEL.outcome}}}`,
      tagLabels: [RESPONDER_LABEL.action, RESPONDER_LABEL.outcome],
      tone: 'info',
    },
  ];
}
