import { JOB } from '../core/conventions/deploy.ts';
import { ALERTMANAGER_SELF_METRIC, DEFAULT_PREFIX, LABEL, PROMETHEUS_SELF_METRIC, metricName } from '../core/conventions/metrics.ts';
import type { MetaAlert, Severity } from '../core/conventions/alerts.ts';
import type { Recovery } from './alert-def.ts';
import type { Humanizer } from './humanize.ts';
import type { Runbook } from './model.ts';
import { REPLICAS, SERIES_MINUTES, counter, gauge, seriesOf, stepValues } from './scenario.ts';
import type { InputSeries, Scenario } from './scenario.ts';

/**
 * Alerts about the monitoring itself (meta-monitoring): an always-firing
 * Watchdog for a dead man's switch, and Prometheus' and Alertmanager's own
 * failures, read from their self-scrape jobs. Metric names are those of
 * Prometheus 2.42 and Alertmanager 0.25 as they export them; the rules follow
 * the kube-prometheus mixins
 * (https://github.com/prometheus/prometheus/blob/main/documentation/prometheus-mixin/alerts.libsonnet,
 * https://github.com/prometheus/alertmanager/blob/main/doc/alertmanager-mixin/alerts.libsonnet)
 * where they hold, and say where they differ.
 */

/** One meta alert: fixed, not tuned by the spec, with its own scenarios. */
export interface MetaAlertDef {
  readonly name: MetaAlert;
  readonly severity: Severity;
  readonly for: string;
  readonly keepFiringFor?: string;
  /** Why `keepFiringFor` is what it is (docs and runbook). */
  readonly keepFiringForWhy?: string;
  /** The window the expression looks back over, for the docs. */
  readonly window: string;
  /** Labels that tell one firing instance from another. */
  readonly identity: readonly string[];
  readonly humanizer: Humanizer;
  readonly summary: string;
  readonly description: string;
  readonly expr: string;
  readonly scenarios: readonly Scenario[];
  readonly recovery?: Recovery;
  readonly runbook: Runbook;
}

const P = PROMETHEUS_SELF_METRIC;
const A = ALERTMANAGER_SELF_METRIC;
/** Labels of the self-scrape series in the scenarios. */
const PROM = { job: JOB.prometheus, instance: 'prometheus:9090' } as const;
const AM = { job: JOB.alertmanager, instance: 'alertmanager:9093' } as const;
const GROUP = { ...PROM, [P.label.ruleGroup]: '/etc/prometheus/rules/performance-alerts.yml;llmwatch-performance-alerts' };
const AM_URL = { ...PROM, [P.label.alertmanager]: 'http://alertmanager:9093/api/v2/alerts' };
/** Alertmanager 0.25 pre-zeroes a series per integration it knows. */
const INTEGRATIONS = ['email', 'opsgenie', 'pagerduty', 'pushover', 'slack', 'sns', 'telegram', 'victorops', 'webhook', 'wechat'] as const;

/** A counter that is flat at `value`: exported, never incremented. */
const flat = (metric: string, labels: Record<string, string>, value = 0): InputSeries => gauge(metric, labels, value);

/** Alertmanager's notification counters: `failedPerMinute` of `perMinute` on the webhook, the other integrations at rest. */
function amNotifications(perMinute: number, failedPerMinute: number): InputSeries[] {
  return INTEGRATIONS.flatMap((integration) => {
    const labels = { ...AM, [A.label.integration]: integration };
    return integration === 'webhook'
      ? [counter(A.notifications, labels, perMinute), counter(A.notificationsFailed, labels, failedPerMinute)]
      : [flat(A.notifications, labels), flat(A.notificationsFailed, labels)];
  });
}

export const WATCHDOG: MetaAlertDef = {
  name: 'Watchdog',
  // Not a page: it reaches only the dead man's switch receiver, routed before every other route.
  severity: 'info',
  for: '0s',
  window: '-',
  identity: [],
  humanizer: 'humanize',
  summary: 'The alerting pipeline is alive',
  description:
    'Always firing, on purpose: Prometheus evaluates its rules and Alertmanager delivers. A dead man\'s switch outside this stack expects it every repeat interval and raises the alarm when it stops.',
  expr: 'vector(1)',
  // Always firing: with nothing scraped at all (idle) and beside every other series (healthy).
  scenarios: [
    { name: 'firing, with nothing scraped (idle)', series: [], at: 1, expect: [{ labels: {}, value: 1 }] },
    {
      name: 'firing while everything is healthy',
      series: [gauge('up', { ...PROM }, 1), flat(P.ruleEvaluationFailures, GROUP)],
      at: 10,
      expect: [{ labels: {}, value: 1 }],
    },
  ],
  runbook: {
    meaning:
      'This alert always fires. It proves, end to end, that Prometheus evaluates rules, reaches Alertmanager, and that Alertmanager delivers: a dead man\'s switch service (Healthchecks.io, Cronitor, PagerDuty or Opsgenie heartbeats, Dead Man\'s Snitch) receives it every repeat interval and pages when it stops coming.',
    impact: 'None while it fires. When it stops, no alert of this stack can reach anyone.',
    diagnosis: [
      'If the dead man\'s switch fired: is Prometheus up, and does `ALERTS{alertname="Watchdog"}` exist in it? Prometheus → Status → Runtime shows the Alertmanagers it sends to.',
      'Is Alertmanager up (`/-/healthy`), and does its UI show Watchdog? `alertmanager_notifications_failed_total{integration="webhook"}` shows delivery failures.',
      'Can Alertmanager reach the dead man\'s switch service (proxy, firewall, DNS)?',
    ],
    mitigation: ['Restart what is down; fix the network path to the switch. Do not silence Watchdog: a silenced Watchdog is a switch that will page.'],
  },
};

export const PROMETHEUS_RULE_FAILURES: MetaAlertDef = {
  name: 'PrometheusRuleFailures',
  severity: 'critical',
  for: '15m',
  keepFiringFor: '15m',
  keepFiringForWhy:
    'A rule that fails on some evaluations only (a many-to-many match while a label flips between scrapes, a query that times out under load) leaves gaps of more than 5 minutes between failures: the 5-minute increase drops to 0, the alert resolves, and a new `for` of 15 minutes must pass before it fires again. 15 minutes without a failure end it.',
  window: '5m',
  identity: ['instance', P.label.ruleGroup],
  humanizer: 'humanize',
  summary: 'Prometheus {{ $labels.instance }} fails to evaluate rules of {{ $labels.rule_group }}',
  description:
    'Prometheus {{ $labels.instance }} failed {{ $value | humanize }} rule evaluations of group {{ $labels.rule_group }} in the last 5 minutes: the alerts of that group may not fire, however bad things get.',
  expr: `increase(${P.ruleEvaluationFailures}[5m]) > 0`,
  scenarios: [
    // Every evaluation of the group fails, four a minute (15 s evaluation interval).
    { name: 'firing', series: [counter(P.ruleEvaluationFailures, GROUP, 4)], at: 25, expect: [{ labels: GROUP, value: 20 }] },
    // The counter is exported at 0 per group from the first evaluation, and stays there.
    { name: 'healthy', series: [flat(P.ruleEvaluationFailures, GROUP)], at: 25, expect: [] },
    // A Prometheus with no rule group yet exports no series.
    { name: 'idle', series: [], at: 25, expect: [] },
  ],
  // Failing for 25 minutes, then fixed: the last failure at minute 25, none in the window from minute 30.
  recovery: {
    series: [{ series: seriesOf(P.ruleEvaluationFailures, GROUP), values: `0+4x25 100+0x${SERIES_MINUTES - 26}` }],
    clearsAt: 30,
    expect: [{ labels: GROUP, value: 4 }],
  },
  runbook: {
    meaning: 'Prometheus fails to evaluate rules of a group: a query error (many-to-many matching, a bad function argument), or a timeout.',
    impact: 'The alerts and recordings of that group are not evaluated: pages that should come do not.',
    diagnosis: [
      'Prometheus → Status → Rules shows the failing rule and its last error.',
      '`promtool check rules` and `promtool test rules` over the rule files (`llmwatch check`).',
      'Prometheus\' log: `level=warn ... msg="Evaluating rule failed"` with the rule and the error.',
    ],
    mitigation: ['Fix the rule or the series it matches (a duplicate label set after a relabelling), regenerate with `llmwatch generate`, reload Prometheus.'],
  },
};

export const PROMETHEUS_NOTIFICATIONS_DROPPED: MetaAlertDef = {
  name: 'PrometheusNotificationsDropped',
  severity: 'critical',
  for: '10m',
  window: '5m',
  identity: ['instance'],
  humanizer: 'humanize',
  summary: 'Prometheus {{ $labels.instance }} drops alert notifications',
  description:
    'Prometheus {{ $labels.instance }} dropped {{ $value | humanize }} alert notifications in the last 5 minutes: no Alertmanager took them (all failing, none discovered) or the queue was full. Those alerts reach no one.',
  expr: `increase(${P.notificationsDropped}[5m]) > 0`,
  scenarios: [
    { name: 'firing', series: [counter(P.notificationsDropped, PROM, 10)], at: 20, expect: [{ labels: PROM, value: 50 }] },
    // Prometheus 2.42 drops the first notification after a start, before it has found its
    // Alertmanagers: one drop, then none, must not page.
    { name: 'healthy: one drop at start-up, then none', series: [{ series: seriesOf(P.notificationsDropped, PROM), values: `0 1+0x${SERIES_MINUTES - 1}` }], at: 20, expect: [] },
    { name: 'idle', series: [flat(P.notificationsDropped, PROM)], at: 20, expect: [] },
  ],
  runbook: {
    meaning: 'Alerts that Prometheus evaluated as firing were thrown away before any Alertmanager accepted them.',
    impact: 'Lost notifications: people and the llmwatch responder are not told.',
    diagnosis: [
      'Prometheus → Status → Runtime & Build Information: the Alertmanagers discovered.',
      '`rate(prometheus_notifications_errors_total[5m])` by `alertmanager`, and Prometheus\' log (`Error sending alert`).',
      '`prometheus_notifications_queue_length` against `prometheus_notifications_queue_capacity`.',
    ],
    mitigation: ['Bring an Alertmanager back or fix `alerting.alertmanagers` in prometheus.yml (`targets.alertmanagers` in the spec).'],
  },
};

export const PROMETHEUS_ERROR_SENDING_ALERTS: MetaAlertDef = {
  name: 'PrometheusErrorSendingAlerts',
  severity: 'warning',
  for: '15m',
  window: '5m',
  identity: ['instance', P.label.alertmanager],
  humanizer: 'humanizePercentage',
  summary: 'Prometheus {{ $labels.instance }} fails to send alerts to {{ $labels.alertmanager }}',
  description:
    '{{ $value | humanizePercentage }} of the alerts Prometheus {{ $labels.instance }} sent to Alertmanager {{ $labels.alertmanager }} in the last 5 minutes failed.',
  expr: `rate(${P.notificationsErrors}[5m]) / rate(${P.notificationsSent}[5m]) > 0.01`,
  scenarios: [
    { name: 'firing', series: [counter(P.notificationsSent, AM_URL, 100), counter(P.notificationsErrors, AM_URL, 10)], at: 25, expect: [{ labels: AM_URL, value: 0.1 }] },
    { name: 'healthy', series: [counter(P.notificationsSent, AM_URL, 100), flat(P.notificationsErrors, AM_URL)], at: 25, expect: [] },
    // No alert firing: nothing sent, 0 / 0.
    { name: 'idle', series: [flat(P.notificationsSent, AM_URL), flat(P.notificationsErrors, AM_URL)], at: 25, expect: [] },
  ],
  runbook: {
    meaning: 'Some notifications from Prometheus to one Alertmanager fail. Prometheus sends each alert to every Alertmanager, so others may still have it; when all fail, PrometheusNotificationsDropped fires.',
    impact: 'With one Alertmanager, lost notifications; with several, less redundancy.',
    diagnosis: ['Prometheus\' log: `Error sending alert` with the Alertmanager and the HTTP error.', 'Is that Alertmanager up and reachable from Prometheus?'],
    mitigation: ['Restart or fix that Alertmanager, or the network path to it.'],
  },
};

export const PROMETHEUS_NOTIFICATION_QUEUE_RUNNING_FULL: MetaAlertDef = {
  name: 'PrometheusNotificationQueueRunningFull',
  severity: 'warning',
  for: '15m',
  window: '5m',
  identity: ['instance'],
  humanizer: 'humanize',
  summary: "Prometheus {{ $labels.instance }}'s alert notification queue is running full",
  description:
    'At its growth over the last 5 minutes, the notification queue of Prometheus {{ $labels.instance }} will hold {{ $value | humanize }} alerts in 30 minutes, past its capacity: alerts will be dropped.',
  expr: `predict_linear(${P.notificationsQueueLength}[5m], 60 * 30) > min_over_time(${P.notificationsQueueCapacity}[5m])`,
  scenarios: [
    // The queue grows by 300 a minute: at minute 25 it holds 7500, and 16500 in 30 minutes.
    {
      name: 'firing',
      series: [{ series: seriesOf(P.notificationsQueueLength, PROM), values: `0+300x${SERIES_MINUTES}` }, flat(P.notificationsQueueCapacity, PROM, 10000)],
      at: 25,
      expect: [{ labels: PROM, value: 16500 }],
    },
    // A burst of 2000 that drains within the minute.
    {
      name: 'healthy',
      series: [{ series: seriesOf(P.notificationsQueueLength, PROM), values: stepValues([[0, 10], [2000, 1], [0, 1]]) }, flat(P.notificationsQueueCapacity, PROM, 10000)],
      at: 25,
      expect: [],
    },
    { name: 'idle', series: [flat(P.notificationsQueueLength, PROM), flat(P.notificationsQueueCapacity, PROM, 10000)], at: 25, expect: [] },
  ],
  runbook: {
    meaning: 'Prometheus queues notifications faster than Alertmanager takes them: Alertmanager is slow or unreachable, or an alert storm is under way.',
    impact: 'When the queue is full, new notifications are dropped (PrometheusNotificationsDropped).',
    diagnosis: ['`prometheus_notifications_latency_seconds` per Alertmanager; Alertmanager\'s own load.', '`count(ALERTS{alertstate="firing"})`: an alert storm?'],
    mitigation: ['Fix Alertmanager; end the storm (a broken rule firing per series); raise `--alertmanager.notification-queue-capacity` only as a stopgap.'],
  },
};

export const PROMETHEUS_CONFIG_RELOAD_FAILED: MetaAlertDef = {
  name: 'PrometheusConfigReloadFailed',
  severity: 'warning',
  for: '10m',
  window: '5m',
  identity: ['instance'],
  humanizer: 'humanize',
  summary: 'Prometheus {{ $labels.instance }} failed to reload its configuration',
  description: 'The last configuration reload of Prometheus {{ $labels.instance }} failed: it still runs the previous configuration and rules.',
  expr: `max_over_time(${P.configReloadSuccessful}[5m]) == 0`,
  scenarios: [
    { name: 'firing', series: [{ series: seriesOf(P.configReloadSuccessful, PROM), values: stepValues([[1, 10], [0, 1]]) }], at: 30, expect: [{ labels: PROM, value: 0 }] },
    { name: 'healthy', series: [gauge(P.configReloadSuccessful, PROM, 1)], at: 30, expect: [] },
    // Loaded once at start and never reloaded: still 1.
    { name: 'idle', series: [gauge(P.configReloadSuccessful, PROM, 1)], at: 30, expect: [] },
  ],
  runbook: {
    meaning: 'A reload (SIGHUP or `/-/reload`) found an invalid configuration or rule file and kept the old one.',
    impact: 'Changes you deployed (new alerts, targets) are not in effect; the next restart will fail to start.',
    diagnosis: ['Prometheus\' log: `Error reloading config`.', '`promtool check config prometheus.yml` (`llmwatch check`).'],
    mitigation: ['Fix the file (regenerate with `llmwatch generate` rather than editing), then reload.'],
  },
};

export const PROMETHEUS_TSDB_COMPACTIONS_FAILING: MetaAlertDef = {
  name: 'PrometheusTSDBCompactionsFailing',
  severity: 'warning',
  for: '15m',
  window: '3h',
  identity: ['instance'],
  humanizer: 'humanize',
  summary: 'Prometheus {{ $labels.instance }} fails to compact its TSDB',
  description: 'Prometheus {{ $labels.instance }} has failed {{ $value | humanize }} TSDB compactions in the last 3 hours.',
  expr: `increase(${P.tsdbCompactionsFailed}[3h]) > 0`,
  scenarios: [
    // Compaction fails from minute 61 and is retried every minute: 20 failures by minute 80 (the
    // window reaches back before the first sample, which is 0, so nothing is extrapolated).
    { name: 'firing', series: [{ series: seriesOf(P.tsdbCompactionsFailed, PROM), values: `0x60 1+1x${SERIES_MINUTES - 61}` }], at: 80, expect: [{ labels: PROM, value: 20 }] },
    { name: 'healthy', series: [flat(P.tsdbCompactionsFailed, PROM)], at: 100, expect: [] },
    { name: 'idle', series: [flat(P.tsdbCompactionsFailed, PROM)], at: 100, expect: [] },
  ],
  runbook: {
    meaning: 'Prometheus cannot compact its head block into persistent blocks: a full disk, a permission problem or a corrupt block.',
    impact: 'Memory grows with the head block, and the disk with the write-ahead log, until Prometheus is killed or the disk is full; queries over old data may fail.',
    diagnosis: ['Prometheus\' log: `compaction failed`.', '`df -h` on the data volume; the data folder\'s owner.'],
    mitigation: ['Free or grow the disk; move a corrupt block (named in the log) out of the data folder and restart.'],
  },
};

export const ALERTMANAGER_NOTIFICATIONS_FAILING: MetaAlertDef = {
  name: 'AlertmanagerNotificationsFailing',
  severity: 'warning',
  for: '5m',
  keepFiringFor: '15m',
  keepFiringForWhy:
    'Receivers fail in bursts: Slack answers 429 for a minute, a webhook times out while its host restarts. Between bursts the 5-minute failure ratio drops to 0 and the alert would resolve, then fire again at the next burst; 15 minutes without a failed notification end it.',
  window: '5m',
  identity: ['instance', A.label.integration],
  humanizer: 'humanizePercentage',
  summary: 'Alertmanager {{ $labels.instance }} fails to deliver {{ $labels.integration }} notifications',
  description:
    '{{ $value | humanizePercentage }} of the {{ $labels.integration }} notifications of Alertmanager {{ $labels.instance }} failed in the last 5 minutes: the people or systems behind that integration are not told.',
  expr: `rate(${A.notificationsFailed}[5m]) / rate(${A.notifications}[5m]) > 0.01`,
  scenarios: [
    { name: 'firing', series: amNotifications(10, 5), at: 15, expect: [{ labels: { ...AM, [A.label.integration]: 'webhook' }, value: 0.5 }] },
    { name: 'healthy', series: amNotifications(10, 0), at: 15, expect: [] },
    // Nothing to notify: every integration at 0, 0 / 0.
    { name: 'idle', series: amNotifications(0, 0), at: 15, expect: [] },
  ],
  // Half the webhook notifications fail for 20 minutes, then none: the last failure at minute 20 leaves the window at minute 25.
  recovery: {
    series: amNotifications(10, 0).map((s) =>
      s.series === seriesOf(A.notificationsFailed, { ...AM, [A.label.integration]: 'webhook' }) ? { ...s, values: `0+5x20 100+0x${SERIES_MINUTES - 21}` } : s,
    ),
    clearsAt: 25,
    expect: [{ labels: { ...AM, [A.label.integration]: 'webhook' }, value: 0.1 }],
  },
  runbook: {
    meaning: 'Alertmanager tries to deliver notifications through an integration (Slack, PagerDuty, email, a webhook such as the llmwatch responder) and fails.',
    impact: 'Whoever is behind that integration is not told. Alerts of the other tiers and the Watchdog may still get through; when nothing does, the dead man\'s switch pages.',
    diagnosis: [
      'Alertmanager\'s log: `Notify for alerts failed` with the receiver, integration and the error (401: a wrong key or token file; 404: a wrong URL; timeout: the network).',
      '`amtool check-config alertmanager.yml`; are the secret files in place and readable by Alertmanager?',
    ],
    mitigation: ['Fix the credentials file or the URL, regenerate with `llmwatch generate`, reload Alertmanager (`/-/reload`).'],
  },
};

export const ALERTMANAGER_CONFIG_RELOAD_FAILED: MetaAlertDef = {
  name: 'AlertmanagerConfigReloadFailed',
  severity: 'warning',
  for: '10m',
  window: '5m',
  identity: ['instance'],
  humanizer: 'humanize',
  summary: 'Alertmanager {{ $labels.instance }} failed to reload its configuration',
  description: 'The last configuration reload of Alertmanager {{ $labels.instance }} failed: it still routes with the previous configuration.',
  expr: `max_over_time(${A.configReloadSuccessful}[5m]) == 0`,
  scenarios: [
    { name: 'firing', series: [{ series: seriesOf(A.configReloadSuccessful, AM), values: stepValues([[1, 10], [0, 1]]) }], at: 30, expect: [{ labels: AM, value: 0 }] },
    { name: 'healthy', series: [gauge(A.configReloadSuccessful, AM, 1)], at: 30, expect: [] },
    { name: 'idle', series: [gauge(A.configReloadSuccessful, AM, 1)], at: 30, expect: [] },
  ],
  runbook: {
    meaning: 'A reload (SIGHUP or `/-/reload`) found an invalid configuration and kept the old one.',
    impact: 'New receivers and routes are not in effect; the next restart will fail to start.',
    diagnosis: ['Alertmanager\'s log: `Loading configuration file failed`.', '`amtool check-config alertmanager.yml` (`llmwatch check`); are the secret files it names present?'],
    mitigation: ['Fix the file (regenerate with `llmwatch generate`), then reload.'],
  },
};

/** Every meta alert, in the order they are generated. */
/**
 * The gateways' shared route store (`routes.store: redis`, docs/gateway.md, "Gateway replicas: shared
 * routes"), from each gateway's own `route_store_up` under the spec's prefix. While it is down the
 * replicas keep their last routes, and every route switch (the admin API's, the responder's
 * `switch-model`) is refused with 503: the remediation's lever is gone, though traffic flows. A
 * gateway with local routes exports no such series, so the alert has nothing to read there.
 */
export function gatewayRouteStoreDown(prefix: string): MetaAlertDef {
  const up = metricName('routeStoreUp', prefix);
  const gw = (instance: string) => ({ job: JOB.gateway, instance, [LABEL.store]: 'redis' });
  const [one, two] = [gw(REPLICAS[0]), gw(REPLICAS[1])];
  return {
    name: 'GatewayRouteStoreDown',
    severity: 'warning',
    for: '2m',
    window: '1m',
    identity: ['instance'],
    humanizer: 'humanize',
    summary: 'Gateway {{ $labels.instance }} cannot reach its shared route store',
    description:
      'Gateway {{ $labels.instance }} has not reached its shared route store ({{ $labels.store }}) for 3 minutes: it serves its last known routes, and route switches (the admin API, the responder\'s switch-model) are refused with 503 until the store answers.',
    // Down at every scrape of the last minute, for 2 minutes: a store restart of a few seconds does not page anyone.
    expr: `max_over_time(${up}[1m]) == 0`,
    scenarios: [
      { name: 'firing', series: [{ series: seriesOf(up, one), values: stepValues([[1, 10], [0, SERIES_MINUTES - 10]]) }, gauge(up, two, 1)], at: 30, expect: [{ labels: { job: JOB.gateway, instance: REPLICAS[0], [LABEL.store]: 'redis' }, value: 0 }] },
      { name: 'healthy', series: [gauge(up, one, 1), gauge(up, two, 1)], at: 30, expect: [] },
      // A Redis restart: one minute without the store, then back.
      { name: 'healthy: a one-minute outage', series: [{ series: seriesOf(up, one), values: stepValues([[1, 10], [0, 1], [1, SERIES_MINUTES - 11]]) }, gauge(up, two, 1)], at: 14, expect: [] },
      // Gateways with local routes (the default) export no route store series.
      { name: 'idle', series: [], at: 30, expect: [] },
    ],
    // Down from minute 10 to 29, back at minute 30.
    recovery: {
      series: [{ series: seriesOf(up, one), values: stepValues([[1, 10], [0, 20], [1, SERIES_MINUTES - 30]]) }],
      clearsAt: 30,
      expect: [{ labels: { job: JOB.gateway, instance: REPLICAS[0], [LABEL.store]: 'redis' }, value: 0 }],
    },
    runbook: {
      meaning: 'A gateway replica cannot reach the Redis that holds the active route of each model (`routes.store: redis`).',
      impact:
        'Traffic still flows on the last known routes, but no route switches: the responder\'s `switch-model` steps and `POST /admin/routes/<model>` fail with 503 `route_store_unavailable`, so a latency or outage playbook cannot move a model to its fallback. A replica that restarts meanwhile starts on the config\'s routes, which may differ from the others\'.',
      diagnosis: [
        '`{prefix}route_store_up` by instance: one replica (its network path) or all of them (Redis itself)?',
        '`{prefix}route_store_errors_total` by `op` (connect, read, write, subscribe) and the gateway\'s log line "route store ... does not answer".',
        '`redis-cli -u <routes.redisURL> ping` from the gateway\'s host or pod; the Redis pod\'s events and memory (an evicted or OOM-killed Redis).',
      ],
      mitigation: [
        'Bring Redis back (restart it, fix the NetworkPolicy or the address in `routes.redisURL`): the replicas reconcile on their own within `routes.reconcileMs` and the alert resolves.',
        'Until then, switch routes by restarting the gateways with the wanted route in their config, or on one replica only if the others do not matter for the incident.',
      ],
    },
  };
}

/** Every meta alert, the gateway's under the spec's metric prefix. */
export function metaCatalog(prefix: string = DEFAULT_PREFIX): readonly MetaAlertDef[] {
  return [...META_CATALOG, gatewayRouteStoreDown(prefix)];
}

/** The meta alerts that read Prometheus' and Alertmanager's own series (fixed names). */
export const META_CATALOG: readonly MetaAlertDef[] = [
  WATCHDOG,
  PROMETHEUS_RULE_FAILURES,
  PROMETHEUS_NOTIFICATIONS_DROPPED,
  PROMETHEUS_ERROR_SENDING_ALERTS,
  PROMETHEUS_NOTIFICATION_QUEUE_RUNNING_FULL,
  PROMETHEUS_CONFIG_RELOAD_FAILED,
  PROMETHEUS_TSDB_COMPACTIONS_FAILING,
  ALERTMANAGER_NOTIFICATIONS_FAILING,
  ALERTMANAGER_CONFIG_RELOAD_FAILED,
];

