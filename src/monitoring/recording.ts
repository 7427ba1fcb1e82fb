import { sloLatencyThreshold } from '../core/config/monitoring-spec.ts';
import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { durationSeconds } from '../core/config/duration.ts';
import { RULE_GROUP, TARGET_LABEL } from '../core/conventions/alerts.ts';
import { DCGM, GPU_LABEL, GPU_METRIC, LABEL, NODE, metricName, recordedNames } from '../core/conventions/metrics.ts';
import type { RecordingRule, RuleGroup } from './model.ts';
import { avgBy, avgOverTime, eq, histogramQuantile, leIs, num, rate, re, sel, sumBy } from './promql.ts';
import { histogramFamily, outputTokensFamily } from './families.ts';
import type { GatewayFamily } from './families.ts';

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

/** The quantiles recorded for latency, time to first token and time per output token. */
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
  const n = recordedNames(p, spec.rateWindow);
  const byModel = [LABEL.model];
  const requests = metricName('requests', p);
  // The request histograms and generated tokens in the spec's naming (llmwatch's or OpenTelemetry's).
  const duration = histogramFamily(spec, 'latency');
  const ttft = histogramFamily(spec, 'ttft');
  const tpot = histogramFamily(spec, 'tpot');
  const outputTokens = outputTokensFamily(spec);
  /** `sum by (labels) (rate(<family series>[window]))`, the family relabelled to llmwatch's labels. */
  const rateOf = (f: GatewayFamily, suffix: string, labels: readonly string[], window: string, ...matchers: string[]) =>
    sumBy(labels, f.relabel(rate(sel(`${f.metric}${suffix}`, ...f.matchers, ...matchers), window), labels.includes(LABEL.endpoint)));
  const cache = metricName('cacheRequests', p);
  const w = spec.rateWindow;

  const rules: RecordingRule[] = [
    { record: n.requestRate, expr: sumBy(byModel, rate(requests, w)) },
    { record: n.errorRateAbs, expr: sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'error')), w)) },
    { record: n.successRate, expr: sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'success')), w)) },
    { record: n.clientErrorRateAbs, expr: sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'client_error')), w)) },
    // Client errors and cancellations are neither good nor bad service: a flood of 400s must not dilute the error rate.
    { record: n.judgedRate, expr: sumBy(byModel, rate(sel(requests, re(LABEL.status, 'success|error')), w)) },
    // The article's openllm_request_error_rate: server-side failures over judged requests. No traffic gives no value, not 0.
    { record: n.errorRate, expr: `${n.errorRateAbs} / ${n.judgedRate}` },
    { record: n.clientErrorRatio, expr: `${n.clientErrorRateAbs} / ${n.requestRate}` },
    // The article's openllm_token_throughput_per_second: tokens generated per second (completion tokens).
    { record: n.tokenThroughput, expr: rateOf(outputTokens, '', byModel, w) },
    { record: n.inFlightAvg, expr: sumBy(byModel, avgOverTime(metricName('requestsInFlight', p), w)) },
    { record: n.queueLength, expr: sumBy(byModel, metricName('queueLength', p)) },
    { record: n.scoredAnswers, expr: sumBy(byModel, rate(`${metricName('outputSafetyScore', p)}_count`, w)) },
    // Per answer over the window, across replicas: a replica with few answers cannot outvote the others,
    // and with no answers in the window there is no value, so the alert resolves once toxic answers stop.
    { record: n.toxicity, expr: `${sumBy(byModel, rate(`${metricName('outputSafetyScore', p)}_sum`, w))} / ${n.scoredAnswers}` },
    { record: n.cacheLookups, expr: sumBy(byModel, rate(sel(cache, re(LABEL.result, 'hit|miss')), w)) },
    // The article's openllm_cache_hit_rate: hits over cacheable lookups (bypassed requests are not lookups).
    { record: n.cacheHitRate, expr: `${sumBy(byModel, rate(sel(cache, eq(LABEL.result, 'hit')), w))} / ${n.cacheLookups}` },
    {
      record: n.upstreamFailures,
      expr: sumBy(byModel, rate(sel(metricName('upstreamErrors', p), re(LABEL.reason, 'refused|timeout|reset')), w)),
    },
  ];
  // Per model and endpoint: chat, completions and embeddings have nothing in common in latency.
  const byEndpoint = [LABEL.model, LABEL.endpoint];
  rules.push(
    { record: n.latencyCount, expr: rateOf(duration, '_count', byEndpoint, w) },
    { record: n.ttftCount, expr: rateOf(ttft, '_count', byEndpoint, w) },
    { record: n.tpotCount, expr: rateOf(tpot, '_count', byEndpoint, w) },
  );
  // ModelServerUnreachable's window: a minute (four 15 s scrapes), or the rate window when shorter.
  const fast = fastWindow(spec);
  const byUpstream = [LABEL.model, LABEL.upstream];
  rules.push(
    {
      record: n.unreachableRatio(fast),
      expr: `${sumBy(byUpstream, rate(sel(metricName('upstreamErrors', p), re(LABEL.reason, 'refused|timeout|reset')), fast))} / ${sumBy(byUpstream, rate(metricName('upstreamRequests', p), fast))}`,
    },
    { record: n.sentRate, expr: sumBy(byModel, rate(metricName('upstreamRequests', p), w)) },
    { record: n.timeoutRatio, expr: `${sumBy(byModel, rate(sel(metricName('upstreamErrors', p), eq(LABEL.reason, 'timeout')), w))} / ${n.sentRate}` },
    { record: n.targetRequests, expr: sumBy([LABEL.model, LABEL.upstream, LABEL.upstreamModel], rate(metricName('upstreamRequests', p), w)) },
  );
  for (const [q, v] of QUANTILES) {
    rules.push({ record: n.latencyQuantile(q), expr: histogramQuantile(v, rateOf(duration, '_bucket', [...byEndpoint, 'le'], w)) });
    rules.push({ record: n.ttftQuantile(q), expr: histogramQuantile(v, rateOf(ttft, '_bucket', [...byEndpoint, 'le'], w)) });
    rules.push({ record: n.tpotQuantile(q), expr: histogramQuantile(v, rateOf(tpot, '_bucket', [...byEndpoint, 'le'], w)) });
  }
  rules.push(
    // The article's node_cpu_usage_percent, 0..100: the share of non-idle time over every CPU.
    // (Its own rule averaged over CPUs *and modes*, and could never pass 0.8.)
    { record: NODE.cpuUsagePercent, expr: `100 * (1 - ${avgBy(['instance'], rate(sel(NODE.cpuSeconds, eq('mode', 'idle')), w))})` },
    { record: NODE.memoryUsageBytes, expr: `${NODE.memTotal} - ${NODE.memAvailable}` },
    { record: NODE.memoryUtilisation, expr: `1 - ${NODE.memAvailable} / ${NODE.memTotal}` },
  );
  // Before the ratio: rules of a group run in order, so the ratio reads this evaluation's mapped values.
  if (spec.targets.gpuExporter.source === 'dcgm') rules.push(...dcgmGpuRules());
  rules.push({ record: NODE.gpuMemoryUtilisation, expr: `${NODE.gpuMemoryUsage} / ${NODE.gpuMemoryTotal}` });

  const groups: RuleGroup[] = [{ name: RULE_GROUP.recording, file: 'recording', rules }];
  if (spec.slo.enabled) {
    const slo: RecordingRule[] = [];
    // Prometheus 3 stores le="2" as le="2.0": the matcher takes both.
    const le = leIs(sloLatencyThreshold(spec.slo));
    // The latency objective's histogram: time to first token (streamed chat and completions) by default.
    const judged = spec.slo.latencyIndicator === 'ttft' ? ttft : duration;
    for (const win of SLO_WINDOWS) {
      slo.push({
        record: n.errorRatio(win),
        expr: `${sumBy(byModel, rate(sel(requests, eq(LABEL.status, 'error')), win))} / ${sumBy(byModel, rate(sel(requests, re(LABEL.status, 'success|error')), win))}`,
      });
      // Counts, for the burn-rate alerts' minimum of events per window.
      slo.push({ record: n.judgedEvents(win), expr: sumBy(byModel, `increase(${sel(requests, re(LABEL.status, 'success|error'))}[${win}])`) });
      slo.push({ record: n.latencyEvents(win), expr: sumBy(byModel, judged.relabel(`increase(${sel(`${judged.metric}_count`, ...judged.matchers)}[${win}])`, false)) });
      slo.push({
        record: n.slowRatio(win),
        expr: `1 - ${rateOf(judged, '_bucket', byModel, win, le)} / ${rateOf(judged, '_count', byModel, win)}`,
      });
    }
    groups.push({ name: RULE_GROUP.sloRecording, file: 'slo-recording', rules: slo });
  }
  return groups;
}

/** The short window of ModelServerUnreachable: 1m, or the spec's rate window when shorter (the local stack's). */
export function fastWindow(spec: Readonly<MonitoringSpec>): string {
  return durationSeconds(spec.rateWindow) < 60 ? spec.rateWindow : '1m';
}

/** Bytes in the MiB dcgm-exporter reports framebuffer sizes in. */
const MIB = 1024 * 1024;

/**
 * NVIDIA dcgm-exporter's series recorded under the exporter's `node_gpu_*`
 * names, so the GPU alerts are the same whichever exporter runs. Memory is in
 * MiB there and total = used + free. Labels: `job`, `instance` and `gpu` are
 * kept, dcgm's `UUID`, `modelName` and `Hostname` become `uuid`, `name` and
 * `hostname`, MIG's `GPU_I_ID` is kept, and the rest (`device`, `pci_bus_id`,
 * the driver version, Kubernetes `pod`/`namespace`/`container`) is dropped: a
 * GPU shared by several pods is one series per pod at dcgm-exporter, and must
 * be one GPU here, whichever pods come and go.
 */
function dcgmGpuRules(): RecordingRule[] {
  const by = [TARGET_LABEL.job, TARGET_LABEL.instance, GPU_LABEL.gpu, GPU_LABEL.uuid, GPU_LABEL.name, GPU_LABEL.hostname, DCGM.label.gpuInstance];
  const gpu = (metric: string) => maxBy(by, dcgmRelabel(metric));
  return [
    { record: GPU_METRIC.memoryUsage, expr: `${gpu(DCGM.fbUsed)} * ${num(MIB)}` },
    { record: GPU_METRIC.memoryTotal, expr: `(${gpu(DCGM.fbUsed)} + ${gpu(DCGM.fbFree)}) * ${num(MIB)}` },
    { record: GPU_METRIC.utilisation, expr: `${gpu(DCGM.gpuUtil)} / 100` },
    { record: GPU_METRIC.temperature, expr: gpu(DCGM.gpuTemp) },
    { record: GPU_METRIC.power, expr: gpu(DCGM.powerUsage) },
  ];
}

/**
 * dcgm's label names to the exporter's. `(.+)` leaves a series alone where the
 * dcgm label is missing, so a series already labelled `uuid` or `hostname` keeps it.
 */
function dcgmRelabel(metric: string): string {
  const renames: ReadonlyArray<readonly [string, string]> = [
    [GPU_LABEL.uuid, DCGM.label.uuid],
    [GPU_LABEL.name, DCGM.label.modelName],
    [GPU_LABEL.hostname, DCGM.label.hostname],
  ];
  return renames.reduce((v, [to, from]) => labelReplace(v, to, from), metric);
}

// Local PromQL helpers for the dcgm mapping; they belong beside the others in promql.ts when that file is next edited.
const maxBy = (labels: readonly string[], v: string) => `max by (${labels.join(', ')}) (${v})`;
const labelReplace = (v: string, to: string, from: string) => `label_replace(${v}, "${to}", "$1", "${from}", "(.+)")`;
