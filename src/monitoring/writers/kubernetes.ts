import { JOB, K8S } from '../../core/conventions/deploy.ts';
import { GEN_ERR_DUPLICATE_GROUP, GEN_ERR_EMPTY_OUTPUT } from '../errors.ts';
import type { AlertingRule, GeneratedFile, MonitoringModel, RecordingRule, RuleGroup } from '../model.ts';
import { dumpYaml, sortedRecord } from '../yaml.ts';

/** Where the manifests go, relative to the output folder. */
export const PROMETHEUS_RULE_PATH = 'k8s/prometheusrule.yaml';
export const SERVICE_MONITOR_PATH = 'k8s/servicemonitor.yaml';

const OPERATOR_API = 'monitoring.coreos.com/v1';
const PART_OF = 'app.kubernetes.io/part-of';
const APP_NAME = 'app.kubernetes.io/name';

/**
 * Renders the prometheus-operator manifests: a `PrometheusRule` holding every
 * rule group of the model (the same rules as `prometheus/rules/*.yml`) and a
 * `ServiceMonitor` that scrapes the gateway Service.
 */
export function renderKubernetes(model: MonitoringModel): GeneratedFile[] {
  if (model.groups.length === 0) throw GEN_ERR_EMPTY_OUTPUT('The model has no rule groups, so the PrometheusRule would be empty');
  const seen = new Set<string>();
  for (const group of model.groups) {
    if (seen.has(group.name)) throw GEN_ERR_DUPLICATE_GROUP(`Two rule groups are named '${group.name}'; prometheus-operator refuses a PrometheusRule with duplicate groups`);
    seen.add(group.name);
  }
  const labels = { [PART_OF]: K8S.partOf };
  const prometheusRule = {
    apiVersion: OPERATOR_API,
    kind: 'PrometheusRule',
    metadata: { name: K8S.prometheusRule, labels },
    spec: { groups: model.groups.map(plainRuleGroup) },
  };
  const serviceMonitor = {
    apiVersion: OPERATOR_API,
    kind: 'ServiceMonitor',
    metadata: { name: JOB.gateway, labels },
    spec: {
      // The Service's app name becomes the `job` label, so the rules' job="llmwatch-gateway"
      // match in-cluster whatever the Service itself is called.
      jobLabel: APP_NAME,
      selector: { matchLabels: { [APP_NAME]: JOB.gateway } },
      endpoints: [{ port: K8S.gatewayPort, path: '/metrics', interval: model.spec.prometheus.scrapeInterval }],
    },
  };
  return [
    { path: PROMETHEUS_RULE_PATH, content: dumpYaml(prometheusRule) },
    { path: SERVICE_MONITOR_PATH, content: dumpYaml(serviceMonitor) },
  ];
}

/**
 * A rule group as plain data in Prometheus' own key order (`alert`/`record`,
 * `expr`, `for`, `keep_firing_for`, `labels`, `annotations`), labels and annotations sorted: the
 * shape of a `groups[]` entry in a rule file and in a `PrometheusRule` alike.
 */
export function plainRuleGroup(group: RuleGroup): { name: string; rules: Array<Record<string, unknown>> } {
  return { name: group.name, rules: group.rules.map(plainRule) };
}

function plainRule(rule: RecordingRule | AlertingRule): Record<string, unknown> {
  if ('alert' in rule) {
    return {
      alert: rule.alert,
      expr: rule.expr,
      for: rule.for,
      ...(rule.keepFiringFor === undefined ? {} : { keep_firing_for: rule.keepFiringFor }),
      labels: sortedRecord(rule.labels),
      annotations: sortedRecord(rule.annotations),
    };
  }
  return {
    record: rule.record,
    expr: rule.expr,
    ...(rule.labels === undefined || Object.keys(rule.labels).length === 0 ? {} : { labels: sortedRecord(rule.labels) }),
  };
}
