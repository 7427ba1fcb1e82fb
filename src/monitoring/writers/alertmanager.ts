import type { ReceiverSpec } from '../../config/monitoring-spec.ts';
import { ALERT_LABEL, LABEL, RECEIVER, TARGET_LABEL, WATCHDOG_ALERT } from '../../metrics/conventions.ts';
import type { ReceiverName, Severity, TARGET_ALERTS } from '../../metrics/conventions.ts';
import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml } from '../yaml.ts';

/** Where the Alertmanager config goes, relative to the output folder. */
export const ALERTMANAGER_CONFIG_PATH = 'alertmanager/alertmanager.yml';

/**
 * The labels one notification group is told apart by: one group per alert, model
 * and instance, so a page about model A never waits on, or hides, model B.
 */
export const ALERT_GROUP_BY = [TARGET_LABEL.alertname, ALERT_LABEL.service, LABEL.model, TARGET_LABEL.instance] as const;

/**
 * The receivers each severity reaches, in routing order: the three response tiers
 * of the source article (section 6). This is the contract the route tree below
 * implements; the tests hold it to it with `amtool config routes test`, and the
 * runbooks quote it.
 */
export const SEVERITY_RECEIVERS: Readonly<Record<Severity, readonly ReceiverName[]>> = Object.freeze({
  critical: Object.freeze([RECEIVER.pager, RECEIVER.responder]),
  warning: Object.freeze([RECEIVER.chat, RECEIVER.responder]),
  info: Object.freeze([RECEIVER.none]),
});

type TargetAlert = (typeof TARGET_ALERTS)[number];
const TARGET_DOWN = 'TargetDown' satisfies TargetAlert;
const TARGET_ABSENT = 'TargetAbsent' satisfies TargetAlert;

/**
 * Renders `alertmanager/alertmanager.yml` (Alertmanager 0.25 syntax: `matchers`,
 * `source_matchers`, `target_matchers`): routing by severity to the pager, the
 * chat and the llmwatch responder, and the inhibitions that keep one fault to
 * one notification.
 */
export function renderAlertmanager(model: MonitoringModel): GeneratedFile[] {
  const am = model.spec.alertmanager;
  const severity = ALERT_LABEL.severity;
  const notWatchdog = notEq(TARGET_LABEL.alertname, WATCHDOG_ALERT);
  const config = {
    route: {
      receiver: RECEIVER.none,
      group_by: [...ALERT_GROUP_BY],
      group_wait: am.groupWait,
      group_interval: am.groupInterval,
      repeat_interval: am.repeatInterval,
      // First match wins unless `continue`: the people of a tier come first and
      // continue, so the responder route after them sees critical and warning alike.
      // https://prometheus.io/docs/alerting/0.25/configuration/#route
      routes: [
        // The Watchdog first, and only there: it must reach the dead man's switch on every
        // repeat, never a person or the responder.
        {
          receiver: RECEIVER.watchdog,
          matchers: [eq(TARGET_LABEL.alertname, WATCHDOG_ALERT)],
          group_wait: '0s',
          group_interval: am.watchdog.repeatInterval,
          repeat_interval: am.watchdog.repeatInterval,
        },
        { receiver: RECEIVER.pager, matchers: [eq(severity, 'critical')], continue: true },
        { receiver: RECEIVER.chat, matchers: [eq(severity, 'warning')], continue: true },
        { receiver: RECEIVER.responder, matchers: [oneOf(severity, ['critical', 'warning'])] },
        { receiver: RECEIVER.none, matchers: [eq(severity, 'info')] },
      ],
    },
    inhibit_rules: [
      // A critical alert makes its own warning noise: same alert, same model, same instance.
      // `equal` also holds when both lack a label, so every label that tells two
      // instances of an alert apart is listed, or a critical on one host (or GPU)
      // would hide the warning of another.
      // Every rule spares the Watchdog: an inhibited Watchdog would look, to the dead man's
      // switch, like a dead pipeline.
      {
        source_matchers: [eq(severity, 'critical')],
        target_matchers: [eq(severity, 'warning'), notWatchdog],
        equal: severityInhibitionEqual(model),
      },
      // A target that is down explains every other alert about that instance.
      {
        source_matchers: [eq(TARGET_LABEL.alertname, TARGET_DOWN)],
        target_matchers: [notEq(TARGET_LABEL.alertname, TARGET_DOWN), notWatchdog],
        equal: [TARGET_LABEL.instance],
      },
      // A job with no targets at all explains its targets being down.
      {
        source_matchers: [eq(TARGET_LABEL.alertname, TARGET_ABSENT)],
        target_matchers: [eq(TARGET_LABEL.alertname, TARGET_DOWN), notWatchdog],
        equal: [TARGET_LABEL.job],
      },
    ],
    receivers: [
      // No configs: alerts routed here are kept in Alertmanager's UI and API only.
      { name: RECEIVER.none },
      notifyReceiver(RECEIVER.watchdog, am.watchdog),
      notifyReceiver(RECEIVER.pager, am.pager),
      notifyReceiver(RECEIVER.chat, am.chat),
      {
        name: RECEIVER.responder,
        webhook_configs: [
          {
            url: am.responderURL,
            // The responder closes what it opened (and ends cooldowns) on resolve.
            send_resolved: true,
            // 0: every alert of the group, never a truncated list.
            max_alerts: 0,
            ...(am.responderTokenFile === undefined
              ? {}
              : { http_config: { authorization: { type: 'Bearer', credentials_file: am.responderTokenFile } } }),
          },
        ],
      },
    ],
  };
  return [{ path: ALERTMANAGER_CONFIG_PATH, content: dumpYaml(config) }];
}

/**
 * The labels a critical and a warning must share for the critical to silence
 * the warning: the group labels, then every other identity label of the
 * model's alerts (e.g. `gpu`, `job`), sorted.
 */
export function severityInhibitionEqual(model: MonitoringModel): string[] {
  const base: readonly string[] = ALERT_GROUP_BY;
  const extra = new Set(model.alerts.flatMap((a) => a.identity).filter((l) => !base.includes(l)));
  return [...base, ...[...extra].sort()];
}

/** Slack message body: what fired, why it matters and where the runbook is, per alert. */
const SLACK_TEXT = [
  '{{ range .Alerts }}*{{ .Annotations.summary }}*',
  // `{{-` trims the newline before it, so a missing annotation leaves no blank line.
  '{{- if .Annotations.description }}',
  '{{ .Annotations.description }}{{ end }}',
  '{{- if .Annotations.runbook_url }}',
  'Runbook: {{ .Annotations.runbook_url }}{{ end }}',
  '{{ end }}',
].join('\n');

/**
 * A receiver for people. With no URL in the spec it has no configs: routing
 * still resolves to it (and amtool accepts it), it just tells no one.
 */
function notifyReceiver(name: ReceiverName, spec: ReceiverSpec): Record<string, unknown> {
  const receiver: Record<string, unknown> = { name };
  if (spec.webhookURL !== undefined) receiver.webhook_configs = [{ url: spec.webhookURL, send_resolved: true }];
  if (spec.slackWebhookURL !== undefined) {
    receiver.slack_configs = [
      {
        api_url: spec.slackWebhookURL,
        ...(spec.slackChannel === undefined ? {} : { channel: spec.slackChannel }),
        // Slack's default is false; people want to see the all-clear.
        send_resolved: true,
        text: SLACK_TEXT,
      },
    ];
  }
  return receiver;
}

function eq(label: string, value: string): string {
  return `${label}=${JSON.stringify(value)}`;
}

function notEq(label: string, value: string): string {
  return `${label}!=${JSON.stringify(value)}`;
}

function oneOf(label: string, values: readonly string[]): string {
  return `${label}=~${JSON.stringify(values.join('|'))}`;
}
