import { ALERT_LABEL, SEVERITIES, TARGET_LABEL } from '../../core/conventions/alerts.ts';
import { DASHBOARD_TAG, DASHBOARD_UID } from '../../core/conventions/deploy.ts';
import { RESPONDER_LABEL, RESPONDER_METRIC } from '../../core/conventions/metrics.ts';
import type { Severity } from '../../core/conventions/alerts.ts';
import type { MonitoringModel } from '../model.ts';
import { histogramQuantile, rate, sumBy } from '../promql.ts';
import { commonAnnotations, datasourceVariable, panel } from './common.ts';
import type { Dashboard, Panel, ValueText } from '../../core/dashboard-model.ts';
import { count, countBy, firingAlerts, increase, max, orZero, sum } from './queries.ts';

/** Actions and decisions are rare: counted over an hour, they read as "how many lately". */
const RECENT = '1h';

const SEVERITY_TITLE: Readonly<Record<Severity, string>> = { critical: 'Critical (P0)', warning: 'Warning (P1)', info: 'Info' };

/**
 * Alerts and remediation: what fires now, by severity and by name, and what
 * the llmwatch responder did about it: decisions and why, actions and their
 * outcomes, how long actions take, and the safety switches (kill switch,
 * breaker, dry run) that stop it acting.
 */
export function alertsDashboard(model: MonitoringModel): Dashboard {
  const { spec } = model;
  const w = spec.rateWindow;
  const onOff = (on: string, onTone: ValueText['tone']): ValueText[] => [
    { value: 0, text: 'off', tone: 'ok' },
    { value: 1, text: on, tone: onTone },
  ];
  const flag = (key: string, title: string, metric: string, description: string, on: string, tone: Severity): Panel =>
    panel('stat', {
      key,
      title,
      description,
      unit: 'count',
      queries: [{ expr: max(metric), legend: title }],
      threshold: { value: 1, direction: 'above', severity: tone },
      valueText: onOff(on, tone),
      width: 6,
      height: 4,
    });

  return {
    uid: DASHBOARD_UID.alerts,
    title: 'Alerts and remediation',
    description: `Alerts of service ${spec.service} firing by severity and name, and what the llmwatch responder decided and did about them.`,
    tags: [DASHBOARD_TAG],
    variables: [datasourceVariable()],
    annotations: commonAnnotations(spec),
    rows: [
      {
        title: 'Firing now',
        panels: SEVERITIES.map((severity) =>
          panel('stat', {
            key: `firing-${severity}`,
            title: SEVERITY_TITLE[severity],
            description: `Alerts of severity ${severity} firing now.`,
            unit: 'count',
            queries: [{ expr: orZero(count(firingAlerts(spec.service, severity))), legend: severity }],
            threshold: { value: 1, direction: 'above', severity },
            width: 8,
            height: 4,
          }),
        ),
      },
      {
        title: 'Alerts over time',
        panels: [
          panel('timeseries', {
            key: 'firing-by-severity',
            title: 'Firing alerts by severity',
            description: 'How many alerts fired at each moment, by severity (Prometheus\' `ALERTS` series).',
            unit: 'count',
            queries: [{ expr: countBy([ALERT_LABEL.severity], firingAlerts(spec.service)), legend: '{{severity}}' }],
            min: 0,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'firing-by-name',
            title: 'Firing alerts by name',
            description: 'How many instances of each alert fired (one per model, host or target).',
            unit: 'count',
            queries: [
              {
                expr: countBy([TARGET_LABEL.alertname, ALERT_LABEL.severity], firingAlerts(spec.service)),
                legend: '{{alertname}} ({{severity}})',
              },
            ],
            min: 0,
            width: 12,
            height: 8,
          }),
        ],
      },
      {
        title: 'Responder',
        panels: [
          flag('kill-switch', 'Kill switch', RESPONDER_METRIC.killSwitch, 'On: the responder refuses every action (config `killSwitch` or `POST /admin/kill-switch`).', 'on', 'warning'),
          flag('breaker', 'Breaker', RESPONDER_METRIC.breaker, 'Tripped: more actions than the hourly cap; no action until `POST /admin/breaker/reset`.', 'tripped', 'critical'),
          flag('dry-run', 'Dry run', RESPONDER_METRIC.dryRun, 'On: actions are logged and audited, not carried out.', 'on', 'info'),
          panel('stat', {
            key: 'actions-recent',
            title: 'Actions in the last hour',
            description: 'Action runs of every kind and outcome over the last hour.',
            unit: 'count',
            queries: [{ expr: orZero(sum(increase(RESPONDER_METRIC.actions, RECENT))), legend: 'actions' }],
            width: 6,
            height: 4,
          }),
          panel('timeseries', {
            key: 'actions',
            title: 'Actions by outcome',
            description: 'Action runs over the last hour at each moment, by action (scale, switch-model, notify, exec) and outcome (success, failure, dry-run, skipped).',
            unit: 'count',
            queries: [{ expr: sumBy([RESPONDER_LABEL.action, RESPONDER_LABEL.outcome], increase(RESPONDER_METRIC.actions, RECENT)), legend: '{{action}} {{outcome}}' }],
            min: 0,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'decisions',
            title: 'Decisions by why',
            description: 'What the responder decided about each alert it received, over the last hour: act on a playbook or a revert, or skip it and why (duplicate, info tier, no playbook, kill switch, breaker).',
            unit: 'count',
            queries: [{ expr: sumBy([RESPONDER_LABEL.decision, RESPONDER_LABEL.why], increase(RESPONDER_METRIC.decisions, RECENT)), legend: '{{decision}} {{why}}' }],
            min: 0,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'action-duration',
            title: 'Action duration (P95)',
            description: 'The 95th percentile of how long each kind of action took to run.',
            unit: 'seconds',
            queries: [
              {
                expr: histogramQuantile(0.95, sumBy([RESPONDER_LABEL.action, 'le'], rate(`${RESPONDER_METRIC.actionDuration}_bucket`, w))),
                legend: '{{action}}',
              },
            ],
            min: 0,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'webhooks',
            title: 'Webhooks by result',
            description: 'Alertmanager deliveries to the responder per second: accepted, or why they were refused.',
            unit: 'requestsPerSecond',
            queries: [{ expr: sumBy([RESPONDER_LABEL.result], rate(RESPONDER_METRIC.webhooks, w)), legend: '{{result}}' }],
            min: 0,
            width: 12,
            height: 8,
          }),
        ],
      },
    ],
  };
}
