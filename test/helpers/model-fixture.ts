import { monitoringSpec } from '../../src/core/config/monitoring-spec.ts';
import { ALERT_LABEL, RULE_GROUP } from '../../src/core/conventions/alerts.ts';
import { JOB } from '../../src/core/conventions/deploy.ts';
import { LABEL, NODE, metricName, recordedNames } from '../../src/core/conventions/metrics.ts';
import type { Category, Severity } from '../../src/core/conventions/alerts.ts';
import type { AlertInfo, AlertingRule, MonitoringModel, RuleGroup } from '../../src/monitoring/model.ts';

/**
 * A small hand-built model for the writer tests, standing in for the model
 * builder: four rule groups (recording, performance, availability, resource), five
 * alerts covering every severity, `TargetDown` and a per-GPU alert. Valid PromQL throughout, so
 * promtool can load the groups as rule files.
 */
export function fixtureModel(specData: Record<string, unknown> = {}): MonitoringModel {
  const spec = monitoringSpec(specData);
  const names = recordedNames(spec.metricsPrefix);
  const requests = metricName('requests', spec.metricsPrefix);
  const runbook = (name: string) => `${spec.runbookBaseURL}/${name}.md`;
  const alertRule = (alert: string, severity: Severity, category: Category, expr: string, forDuration: string): AlertingRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { [ALERT_LABEL.severity]: severity, [ALERT_LABEL.service]: spec.service, [ALERT_LABEL.category]: category },
    annotations: {
      summary: `${alert} on {{ $labels.model }}`,
      description: 'Current value: {{ $value | humanize }}',
      runbook_url: runbook(alert),
    },
  });
  const groups: RuleGroup[] = [
    {
      name: RULE_GROUP.recording,
      file: RULE_GROUP.recording,
      rules: [
        { record: names.requestRate, expr: `sum by (${LABEL.model}) (rate(${requests}[5m]))` },
        {
          record: names.errorRate,
          expr: `sum by (${LABEL.model}) (rate(${requests}{${LABEL.status}="error"}[5m])) / sum by (${LABEL.model}) (rate(${requests}[5m]))`,
        },
      ],
    },
    {
      name: RULE_GROUP.alerts('performance'),
      file: RULE_GROUP.alerts('performance'),
      rules: [
        alertRule('HighInferenceLatency', 'critical', 'performance', `${names.latencyQuantile('p95')}{${LABEL.model}=~".+"} > 5`, '3m'),
        alertRule('HighInferenceLatency', 'warning', 'performance', `${names.latencyQuantile('p95')}{${LABEL.model}=~".+"} > 2`, '3m'),
        alertRule('LowCacheHitRate', 'info', 'efficiency', `${names.cacheHitRate}{${LABEL.model}=~".+"} < 0.1`, '30m'),
      ],
    },
    {
      name: RULE_GROUP.alerts('availability'),
      file: RULE_GROUP.alerts('availability'),
      rules: [
        alertRule('HighErrorRate', 'critical', 'error', `${names.errorRate}{${LABEL.model}=~".+"} > 0.05 and ${names.requestRate} > 0.1`, '2m'),
        alertRule('TargetDown', 'critical', 'availability', `up{job="${JOB.gateway}"} == 0`, '1m'),
      ],
    },
    {
      name: RULE_GROUP.alerts('resource'),
      file: RULE_GROUP.alerts('resource'),
      rules: [
        alertRule('HighGpuMemoryUsage', 'critical', 'resource', `${NODE.gpuMemoryUtilisation} > 0.95`, '2m'),
        alertRule('HighGpuMemoryUsage', 'warning', 'resource', `${NODE.gpuMemoryUtilisation} > 0.9`, '2m'),
      ],
    },
  ];
  const info = (name: string, category: Category, severities: Severity[], identity: string[], summary: string): AlertInfo => ({
    name,
    category,
    severities,
    identity,
    summary,
    runbookURL: runbook(name),
    runbook: {
      meaning: `${name} means something | went wrong.`,
      impact: 'Users wait.',
      diagnosis: [`Query \`${names.latencyQuantile('p95')}\`.`, 'Look at the logs:\n```sh\njournalctl -u llmwatch\n```'],
      mitigation: ['The responder scales out.', 'Switch to a smaller model.'],
    },
  });
  const alerts: AlertInfo[] = [
    info('HighInferenceLatency', 'performance', ['warning', 'critical'], [LABEL.model], 'P95 inference latency is too high'),
    info('HighErrorRate', 'error', ['critical'], [LABEL.model], 'More than {threshold} of requests to {{ $labels.model }} fail'),
    info('LowCacheHitRate', 'efficiency', ['info'], [LABEL.model], 'The response cache rarely hits'),
    // Host alerts are told apart by instance and GPU: the critical-silences-warning rule must list `gpu`.
    info('HighGpuMemoryUsage', 'resource', ['critical', 'warning'], ['instance', 'gpu'], 'GPU {{ $labels.gpu }} on {{ $labels.instance }} is above {threshold}% memory'),
    info('TargetDown', 'availability', ['critical'], ['job', 'instance'], 'Target {{ $labels.instance }} of job {{ $labels.job }} is down'),
  ];
  return { spec, groups, alerts, tests: [] };
}
