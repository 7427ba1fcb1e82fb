import type { MonitoringSpec } from '../config/monitoring-spec.ts';
import { LABEL, NODE, RULE_GROUP, metricName, recordedNames } from '../metrics/conventions.ts';
import type { RecordingRule, RuleGroup } from './model.ts';
import { avgBy, avgOverTime, eq, histogramQuantile, num, rate, re, sel, sumBy } from './promql.ts';

/** The window of every rate-based recording rule: four 15 s scrapes at least, as Prometheus advises. */
export const RATE_WINDOW = '5m';

/**
 * Multiwindow, multi-burn-rate SLO alerting, from the Google SRE workbook,
 * "Alerting on SLOs", table 5-8 (https://sre.google/workbook/alerting-on-slos/):
 * page when 2% of a 30-day budget burns in 1 h or 5% in 6 h, open a ticket
 * when 10% burns in 3 days; each long window is confirmed by a short one.
 */
export const BURN_RATE_WINDOWS = [
  { severity: 'critical', burnRate: 14.4, long: '1h', short: '5m' },
  { severity: 'critical', burnRate: 6, long: '6h', short: '30m' },
  { severity: 'warning', burnRate: 1, long: '3d', short: '6h' },
] as const;

/** The quantiles recorded for latency and time to first token. */
const QUANTILES = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

export const SLO_WINDOWS = ['5m', '30m', '1h', '6h', '3d'] as const;

/**
 * The recording rules: the article's derived names, exactly (ratios 0..1 and
 * rates per second, per model, summed over every gateway replica), the host
 * names it uses, and `level:metric:operation` aggregates the alerts read.
 */
export function recordingGroups(spec: Readonly<MonitoringSpec>): RuleGroup[] {
  const p = spec.metricsPrefix;
  const n = recordedNames(p);
  const byModel = [LABEL.model];
  const requests = metricName('requests', p);
  const duration = metricName('inferenceDuration', p);
  const ttft = metricName('timeToFirstToken', p);
  const cache = metricName('cacheRequests', p);
  const w = RATE_WINDOW;

  const rules: RecordingRule[] = [
    { record: n.requestRate, expr: sumBy(byModel, rate(requests, w)) },
    { record: n.errorRateAbs, expr: sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'error')), w)) },
    { record: n.successRate, expr: sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'success')), w)) },
    // The article's openllm_request_error_rate: failed over routed requests. No traffic gives no value, not 0.
    { record: n.errorRate, expr: `${n.errorRateAbs} / ${n.requestRate}` },
    // The article's openllm_token_throughput_per_second: tokens generated per second (completion tokens).
    { record: n.tokenThroughput, expr: sumBy(byModel, rate(sel(metricName('tokensProcessed', p), eq(LABEL.kind, 'completion')), w)) },
    { record: n.inFlightAvg, expr: sumBy(byModel, avgOverTime(metricName('requestsInFlight', p), w)) },
    { record: n.queueLength, expr: sumBy(byModel, metricName('queueLength', p)) },
    { record: n.toxicity, expr: avgBy(byModel, metricName('outputToxicity', p)) },
    { record: n.cacheLookups, expr: sumBy(byModel, rate(sel(cache, re(LABEL.result, 'hit|miss')), w)) },
    // The article's openllm_cache_hit_rate: hits over cacheable lookups (bypassed requests are not lookups).
    { record: n.cacheHitRate, expr: `${sumBy(byModel, rate(sel(cache, eq(LABEL.result, 'hit')), w))} / ${n.cacheLookups}` },
    {
      record: n.upstreamFailures,
      expr: sumBy(byModel, rate(sel(metricName('upstreamErrors', p), re(LABEL.reason, 'refused|timeout|reset')), w)),
    },
  ];
  for (const [q, v] of QUANTILES) {
    rules.push({ record: n.latencyQuantile(q), expr: histogramQuantile(v, sumBy([LABEL.model, 'le'], rate(`${duration}_bucket`, w))) });
    rules.push({ record: n.ttftQuantile(q), expr: histogramQuantile(v, sumBy([LABEL.model, 'le'], rate(`${ttft}_bucket`, w))) });
  }
  rules.push(
    // The article's node_cpu_usage_percent, 0..100: the share of non-idle time over every CPU.
    // (Its own rule averaged over CPUs *and modes*, and could never pass 0.8.)
    { record: NODE.cpuUsagePercent, expr: `100 * (1 - ${avgBy(['instance'], rate(sel(NODE.cpuSeconds, eq('mode', 'idle')), w))})` },
    { record: NODE.memoryUsageBytes, expr: `${NODE.memTotal} - ${NODE.memAvailable}` },
    { record: NODE.memoryUtilisation, expr: `1 - ${NODE.memAvailable} / ${NODE.memTotal}` },
    { record: NODE.gpuMemoryUtilisation, expr: `${NODE.gpuMemoryUsage} / ${NODE.gpuMemoryTotal}` },
  );

  const groups: RuleGroup[] = [{ name: RULE_GROUP.recording, file: 'recording', rules }];
  if (spec.slo.enabled) {
    const slo: RecordingRule[] = [];
    const le = num(spec.slo.latencyThreshold);
    for (const win of SLO_WINDOWS) {
      slo.push({
        record: n.errorRatio(win),
        expr: `${sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'error')), win))} / ${sumBy(byModel, rate(requests, win))}`,
      });
      slo.push({
        record: n.slowRatio(win),
        expr: `1 - ${sumBy(byModel, rate(sel(`${duration}_bucket`, eq('le', le)), win))} / ${sumBy(byModel, rate(`${duration}_count`, win))}`,
      });
    }
    groups.push({ name: RULE_GROUP.sloRecording, file: 'slo-recording', rules: slo });
  }
  return groups;
}
