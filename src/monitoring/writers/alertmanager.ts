import type { TimeIntervalSpec } from '../../core/config/maintenance-spec.ts';
import type { MonitoringSpec, ReceiverSpec } from '../../core/config/monitoring-spec.ts';
import { hasIntegration } from '../../core/config/receiver-spec.ts';
import { ALERT_LABEL, DRIFT_ALERTS, RECEIVER, TARGET_LABEL, WATCHDOG_ALERT } from '../../core/conventions/alerts.ts';
import { LABEL } from '../../core/conventions/metrics.ts';
import { JOB } from '../../core/conventions/deploy.ts';
import type { ModelAlert, Severity, SLO_ALERTS, TARGET_ALERTS } from '../../core/conventions/alerts.ts';
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
 * The route's `group_by` for the spec's `alertmanager.groupBy`: per alert (the
 * default, {@link ALERT_GROUP_BY}), or per model, so the alerts one fault raises
 * on a model share one notification.
 */
export function groupByLabels(spec: Readonly<MonitoringSpec>): string[] {
  switch (spec.alertmanager.groupBy) {
    case 'alert':
      return [...ALERT_GROUP_BY];
    case 'model':
      return [ALERT_LABEL.service, LABEL.model, TARGET_LABEL.instance];
  }
}

/**
 * The model alerts a model's unreachable upstream (`ModelServerUnreachable`) or its
 * failing answers (`ModelUnavailable`) explain: its latency, errors and throughput,
 * and its behaviour drift (the answers that still come, from a struggling server or
 * another target, are no evidence of the model changing).
 * Not the client error flood (the clients' fault), toxicity or cache hit rate
 * (they do not follow from the server being away), nor the fallback notice.
 */
export const EXPLAINED_BY_UNAVAILABILITY: readonly string[] = [
  'HighInferenceLatency',
  'HighTimeToFirstToken',
  'HighTimePerOutputToken',
  'HighEmbeddingLatency',
  'LowTokenThroughput',
  'QueueBacklog',
  'HighTimeoutRate',
  'HighErrorRate',
  'ModelUnavailable',
  'ErrorBudgetBurn',
  'LatencyBudgetBurn',
  ...DRIFT_ALERTS,
] satisfies ReadonlyArray<ModelAlert | (typeof SLO_ALERTS)[number]>;

/**
 * The receivers each severity reaches, in routing order: the spec's people
 * (`alertmanager.routes`), then the llmwatch responder for critical and warning;
 * info reaches the spec's info receivers, or no one (`null`, recorded only).
 * This is the contract the route tree below implements; the tests hold it to it
 * with `amtool config routes test`, and the runbooks quote it.
 */
export function severityReceivers(spec: Readonly<MonitoringSpec>): Readonly<Record<Severity, readonly string[]>> {
  const routes = spec.alertmanager.routes;
  return {
    critical: [...routes.critical, RECEIVER.responder],
    warning: [...routes.warning, RECEIVER.responder],
    info: routes.info.length > 0 ? [...routes.info] : [RECEIVER.none],
  };
}

/** The receiver the Watchdog goes to: the spec's, else one named `watchdog` (declared or generated empty). */
export function watchdogReceiver(spec: Readonly<MonitoringSpec>): string {
  return spec.alertmanager.watchdog.receiver ?? RECEIVER.watchdog;
}

/**
 * The routes on which no receiver tells anyone: a severity whose receivers have
 * no integration (the responder acts, but tells no person), and a Watchdog with
 * no dead man's switch behind it. `generate` and `check` warn about each;
 * `check --strict` fails.
 */
export function unreachableRoutes(spec: Readonly<MonitoringSpec>): string[] {
  const am = spec.alertmanager;
  const tells = (name: string) => am.receivers[name] !== undefined && hasIntegration(am.receivers[name]!);
  const problems: string[] = [];
  for (const severity of ['critical', 'warning'] as const) {
    if (!am.routes[severity].some(tells)) {
      problems.push(
        `route ${ALERT_LABEL.severity}="${severity}" reaches no receiver that tells anyone (${severityReceivers(spec)[severity].join(', ')}): declare one under alertmanager.receivers and list it in alertmanager.routes.${severity}`,
      );
    }
  }
  if (!tells(watchdogReceiver(spec))) {
    problems.push(
      `route ${TARGET_LABEL.alertname}="${WATCHDOG_ALERT}" reaches no dead man's switch (receiver ${watchdogReceiver(spec)} has no integration): nobody learns when alerting stops; declare one and name it in alertmanager.watchdog.receiver`,
    );
  }
  return problems;
}

type TargetAlert = (typeof TARGET_ALERTS)[number];
const TARGET_DOWN = 'TargetDown' satisfies TargetAlert;
const TARGET_ABSENT = 'TargetAbsent' satisfies TargetAlert;
const SERVER_UNREACHABLE = 'ModelServerUnreachable' satisfies ModelAlert;
const MODEL_UNAVAILABLE = 'ModelUnavailable' satisfies ModelAlert;
const SERVED_BY_FALLBACK = 'ModelServedByFallback' satisfies ModelAlert;

/**
 * Renders `alertmanager/alertmanager.yml` (Alertmanager 0.25 syntax: `matchers`,
 * `source_matchers`, `target_matchers`): the Watchdog to its dead man's switch,
 * routing by severity to the spec's receivers and the llmwatch responder, the
 * inhibitions that keep one fault to one notification, and the receivers with
 * their secrets read from files.
 */
export function renderAlertmanager(model: MonitoringModel): GeneratedFile[] {
  const am = model.spec.alertmanager;
  const severity = ALERT_LABEL.severity;
  const notWatchdog = notEq(TARGET_LABEL.alertname, WATCHDOG_ALERT);
  // Maintenance mutes every route but the Watchdog's: a muted Watchdog would read, to the dead
  // man's switch, as a dead pipeline. Child routes do not inherit `mute_time_intervals`.
  // https://prometheus.io/docs/alerting/0.25/configuration/#route
  const windows = Object.keys(am.maintenance).sort();
  const muted = windows.length > 0 ? { mute_time_intervals: windows } : {};
  const config = {
    route: {
      receiver: RECEIVER.none,
      group_by: groupByLabels(model.spec),
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
          receiver: watchdogReceiver(model.spec),
          matchers: [eq(TARGET_LABEL.alertname, WATCHDOG_ALERT)],
          group_wait: '0s',
          group_interval: am.watchdog.repeatInterval,
          repeat_interval: am.watchdog.repeatInterval,
        },
        ...am.routes.critical.map((receiver) => ({ receiver, matchers: [eq(severity, 'critical')], continue: true, ...muted })),
        ...am.routes.warning.map((receiver) => ({ receiver, matchers: [eq(severity, 'warning')], continue: true, ...muted })),
        { receiver: RECEIVER.responder, matchers: [oneOf(severity, ['critical', 'warning'])], ...muted },
        ...am.routes.info.map((receiver) => ({ receiver, matchers: [eq(severity, 'info')], continue: true, ...muted })),
        { receiver: RECEIVER.none, matchers: [eq(severity, 'info')] },
      ],
    },
    ...(windows.length > 0 ? { time_intervals: windows.map((name) => ({ name, time_intervals: am.maintenance[name]!.map(timeInterval) })) } : {}),
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
      ...causeInhibitions(model, notWatchdog),
    ],
    receivers: [
      // No configs: alerts routed here are kept in Alertmanager's UI and API only.
      { name: RECEIVER.none },
      // The Watchdog's receiver when the spec declares none: routing resolves, and `check` says it tells no one.
      ...(am.receivers[watchdogReceiver(model.spec)] === undefined ? [{ name: watchdogReceiver(model.spec) }] : []),
      ...Object.keys(am.receivers)
        .sort()
        .map((name) => receiverConfig(name, am.receivers[name]!)),
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
 * Inhibition by cause: one fault, one notification.
 * - A model's upstream unreachable explains its latency, errors and throughput
 *   (and its being unavailable); a model unavailable explains the same, but
 *   never the unreachable upstream that is its cause. Matched on `model` and
 *   `service`: model alerts carry no `instance` (they sum over replicas).
 * - A model served by its fallback explains its behaviour drift (another model answers).
 * - A node down (its node exporter's `TargetDown`) explains every alert of the
 *   GPU exporter on the same machine, its own `TargetDown` included: matched on
 *   `host`, which the node and GPU scrape jobs add (prometheus-config.ts).
 * Rules whose targets the model lacks are left out.
 */
export function causeInhibitions(model: MonitoringModel, notWatchdog: string): Array<Record<string, unknown>> {
  const present = new Set(model.alerts.map((a) => a.name));
  const explained = (except: string) => EXPLAINED_BY_UNAVAILABILITY.filter((n) => n !== except && present.has(n));
  const rules: Array<Record<string, unknown>> = [];
  for (const source of [SERVER_UNREACHABLE, MODEL_UNAVAILABLE]) {
    const targets = explained(source);
    if (!present.has(source) || targets.length === 0) continue;
    rules.push({
      source_matchers: [eq(TARGET_LABEL.alertname, source)],
      target_matchers: [oneOf(TARGET_LABEL.alertname, targets)],
      equal: [ALERT_LABEL.service, LABEL.model],
    });
  }
  // A model served by its fallback is another model answering: its behaviour differs by design,
  // and the fallback notice (itself loud) says why.
  const drift = DRIFT_ALERTS.filter((n) => present.has(n));
  if (present.has(SERVED_BY_FALLBACK) && drift.length > 0) {
    rules.push({
      source_matchers: [eq(TARGET_LABEL.alertname, SERVED_BY_FALLBACK)],
      target_matchers: [oneOf(TARGET_LABEL.alertname, drift)],
      equal: [ALERT_LABEL.service, LABEL.model],
    });
  }
  if (model.spec.targets.nodeExporter.length > 0 && model.spec.targets.gpuExporter.targets.length > 0) {
    rules.push({
      source_matchers: [eq(TARGET_LABEL.alertname, TARGET_DOWN), eq(TARGET_LABEL.job, JOB.node)],
      target_matchers: [eq(TARGET_LABEL.job, JOB.gpu), notWatchdog],
      equal: [TARGET_LABEL.host],
    });
  }
  return rules;
}

/** One maintenance interval in Alertmanager's `time_interval` syntax (fields left out match everything). */
function timeInterval(i: TimeIntervalSpec): Record<string, unknown> {
  return {
    ...(i.times === undefined ? {} : { times: i.times.map((r) => ({ start_time: r.start, end_time: r.end })) }),
    ...(i.weekdays === undefined ? {} : { weekdays: i.weekdays }),
    ...(i.daysOfMonth === undefined ? {} : { days_of_month: i.daysOfMonth }),
    ...(i.months === undefined ? {} : { months: i.months }),
    ...(i.years === undefined ? {} : { years: i.years }),
    ...(i.location === undefined ? {} : { location: i.location }),
  };
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
 * One declared receiver in Alertmanager 0.25's syntax. Secrets stay in files
 * Alertmanager reads (`api_url_file`, `routing_key_file`, `service_key_file`,
 * `auth_password_file`, `http_config.authorization.credentials_file`), so the
 * generated file holds none. A receiver with no integration has no configs:
 * routing still resolves to it (and amtool accepts it), it just tells no one.
 */
function receiverConfig(name: string, spec: ReceiverSpec): Record<string, unknown> {
  const receiver: Record<string, unknown> = { name };
  if (spec.webhook.length > 0) {
    receiver.webhook_configs = spec.webhook.map((w) => ({
      url: w.url,
      send_resolved: w.sendResolved,
      max_alerts: w.maxAlerts,
      ...(w.credentialsFile === undefined ? {} : { http_config: { authorization: { type: w.credentialsType, credentials_file: w.credentialsFile } } }),
    }));
  }
  if (spec.slack.length > 0) {
    receiver.slack_configs = spec.slack.map((sl) => ({
      api_url_file: sl.apiURLFile,
      ...(sl.channel === undefined ? {} : { channel: sl.channel }),
      send_resolved: sl.sendResolved,
      text: SLACK_TEXT,
    }));
  }
  if (spec.pagerduty.length > 0) {
    receiver.pagerduty_configs = spec.pagerduty.map((p) => ({
      ...(p.routingKeyFile === undefined ? {} : { routing_key_file: p.routingKeyFile }),
      ...(p.serviceKeyFile === undefined ? {} : { service_key_file: p.serviceKeyFile }),
      ...(p.url === undefined ? {} : { url: p.url }),
      send_resolved: p.sendResolved,
      description: '{{ range .Alerts }}{{ .Annotations.summary }} {{ end }}',
    }));
  }
  if (spec.email.length > 0) {
    receiver.email_configs = spec.email.map((e) => ({
      to: e.to,
      from: e.from,
      smarthost: e.smarthost,
      ...(e.authUsername === undefined ? {} : { auth_username: e.authUsername, auth_password_file: e.authPasswordFile }),
      require_tls: e.requireTLS,
      send_resolved: e.sendResolved,
    }));
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
