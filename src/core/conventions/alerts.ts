/**
 * Alert, rule-group, severity, category and receiver names of the generated
 * Prometheus rules and Alertmanager config: nothing else spells them.
 */

/** Alert names. Model alerts are per model and can be tuned per model; the others are per host or target. */
export const MODEL_ALERTS = [
  'HighInferenceLatency',
  'HighTimeToFirstToken',
  'HighTimePerOutputToken',
  'HighEmbeddingLatency',
  'LowTokenThroughput',
  'QueueBacklog',
  'HighTimeoutRate',
  'HighErrorRate',
  'ClientErrorFlood',
  'ModelServerUnreachable',
  'ModelUnavailable',
  'ModelServedByFallback',
  'HighToxicityScore',
  'LowCacheHitRate',
  // Behaviour drift (docs/drift.md): each signal against its own baselines.
  'OutputLengthDrift',
  'TruncationDrift',
  'RefusalDrift',
  'EmptyAnswerDrift',
  'ToolCallDrift',
] as const;

/** The behaviour-drift alerts (docs/drift.md). */
export const DRIFT_ALERTS = ['OutputLengthDrift', 'TruncationDrift', 'RefusalDrift', 'EmptyAnswerDrift', 'ToolCallDrift'] as const satisfies readonly (typeof MODEL_ALERTS)[number][];

export type DriftAlert = (typeof DRIFT_ALERTS)[number];

export const HOST_ALERTS = ['HighGpuMemoryUsage', 'HighCpuUsage', 'HighHostMemoryUsage', 'HighGpuTemperature', 'GpuCollectorFailing'] as const;

/**
 * Alerts on an inference engine's own metrics (vLLM's, scraped from the model servers the spec
 * declares with `kind: vllm`): one per engine core, told apart by `instance` and `engine`.
 */
export const ENGINE_ALERTS = ['VllmKvCacheNearFull', 'VllmPreemptionsRising', 'VllmQueueGrowingAtCapacity'] as const;

/**
 * Alerts per gateway upstream (`upstream` label), over the gateway's endpoint series: one per
 * upstream, across gateway replicas.
 */
export const UPSTREAM_ALERTS = ['SpareReplicas'] as const;

export const TARGET_ALERTS = ['TargetDown', 'TargetAbsent'] as const;

/** Alerts about the monitoring itself: the always-firing Watchdog, Prometheus' and Alertmanager's own failures, and the gateways' shared route store (the remediation's lever). */
export const META_ALERTS = [
  'Watchdog',
  'PrometheusRuleFailures',
  'PrometheusNotificationsDropped',
  'PrometheusErrorSendingAlerts',
  'PrometheusNotificationQueueRunningFull',
  'PrometheusConfigReloadFailed',
  'PrometheusTSDBCompactionsFailing',
  'AlertmanagerNotificationsFailing',
  'AlertmanagerConfigReloadFailed',
  'GatewayRouteStoreDown',
] as const;

export type MetaAlert = (typeof META_ALERTS)[number];

/** The always-firing alert whose silence means the alerting pipeline is broken. */
export const WATCHDOG_ALERT = 'Watchdog' satisfies MetaAlert;

export const SLO_ALERTS = ['ErrorBudgetBurn', 'LatencyBudgetBurn'] as const;

export type ModelAlert = (typeof MODEL_ALERTS)[number];

export type HostAlert = (typeof HOST_ALERTS)[number];

export type EngineAlert = (typeof ENGINE_ALERTS)[number];

export type UpstreamAlert = (typeof UPSTREAM_ALERTS)[number];

export type TunableAlert = ModelAlert | HostAlert | EngineAlert | UpstreamAlert;

export const TUNABLE_ALERTS: readonly TunableAlert[] = [...MODEL_ALERTS, ...HOST_ALERTS, ...ENGINE_ALERTS, ...UPSTREAM_ALERTS];

/** Alert labels every generated alert carries. */
export const ALERT_LABEL = { severity: 'severity', service: 'service', category: 'category' } as const;

export const SEVERITIES = ['critical', 'warning', 'info'] as const;

export type Severity = (typeof SEVERITIES)[number];

export const CATEGORIES = ['performance', 'error', 'content', 'drift', 'efficiency', 'resource', 'availability', 'slo', 'meta'] as const;

export type Category = (typeof CATEGORIES)[number];

/** Rule group names, one file each under `prometheus/rules/`. */
export const RULE_GROUP = {
  recording: 'llmwatch-recording',
  sloRecording: 'llmwatch-slo-recording',
  engineRecording: 'llmwatch-engine-recording',
  driftRecording: 'llmwatch-drift-recording',
  alerts: (category: Category) => `llmwatch-${category}-alerts`,
} as const;

/**
 * Labels that Prometheus and Alertmanager set themselves (`alertname`, `job`,
 * `instance`), the `server` label each model-server scrape job adds, and the
 * `host` label (the target's address without its port) that the node and GPU
 * jobs add, so a node's alerts and its GPUs' can be matched.
 * The generated routing, inhibition and scrape config refer to them.
 */
export const TARGET_LABEL = { alertname: 'alertname', job: 'job', instance: 'instance', server: 'server', host: 'host' } as const;

/**
 * Alertmanager receivers the generated config names itself: `null` records
 * only, the llmwatch responder acts on critical and warning alerts, and
 * `watchdog` is the always-firing Watchdog's default receiver (a dead man's
 * switch outside the stack). The receivers that tell people are the spec's
 * (`alertmanager.receivers`), routed by severity (`alertmanager.routes`).
 */
export const RECEIVER = { none: 'null', responder: 'llmwatch-responder', watchdog: 'watchdog' } as const;

export type ReceiverName = (typeof RECEIVER)[keyof typeof RECEIVER];

export const ALERT_STATE = { label: 'alertstate', firing: 'firing', pending: 'pending' } as const;
