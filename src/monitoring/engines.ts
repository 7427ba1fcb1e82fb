import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { RULE_GROUP, TARGET_LABEL } from '../core/conventions/alerts.ts';
import { modelServerJob } from '../core/conventions/deploy.ts';
import { VLLM_LABEL, VLLM_METRIC, VLLM_QUANTILES, VLLM_REQUEST_LATENCY_BUCKETS, VLLM_TTFT_BUCKETS, goFloat, vllmRecordedNames } from '../core/conventions/vllm.ts';
import type { AlertContext, AlertDef } from './alert-def.ts';
import { humanize, humanizePercentage } from './humanize.ts';
import type { PromtoolTestFile, RecordingRule, RuleGroup } from './model.ts';
import { eq, histogramQuantile, num, rate, sel, sumBy } from './promql.ts';
import { SERIES_MINUTES, counter, gauge, minutesOf, seriesOf, stepValues } from './scenario.ts';
import type { InputSeries, Scenario } from './scenario.ts';

/**
 * The inference engines the spec declares: model servers of `kind: vllm`, whose own metrics
 * (src/core/conventions/vllm.ts) Prometheus scrapes in their `model-server-<name>` jobs. For them the
 * generator adds recording rules per served model, three alerts per engine core, a dashboard and runbooks.
 */
export function vllmServers(spec: Readonly<MonitoringSpec>) {
  return spec.targets.modelServers.filter((s) => s.kind === 'vllm');
}

const M = VLLM_LABEL.model;
const byModel = [M] as const;

/** Engine recording rules: per served model, over every replica and data-parallel rank. */
export function engineRecordingGroups(spec: Readonly<MonitoringSpec>): RuleGroup[] {
  if (vllmServers(spec).length === 0) return [];
  const w = spec.rateWindow;
  const n = vllmRecordedNames(w);
  const rules: RecordingRule[] = [
    { record: n.running, expr: sumBy(byModel, VLLM_METRIC.running) },
    { record: n.waiting, expr: sumBy(byModel, VLLM_METRIC.waiting) },
    { record: n.kvCacheUsageMax, expr: `max by (${M}) (${VLLM_METRIC.kvCacheUsage})` },
    { record: n.preemptionRate, expr: sumBy(byModel, rate(VLLM_METRIC.preemptions, w)) },
    { record: n.promptTokenRate, expr: sumBy(byModel, rate(VLLM_METRIC.promptTokens, w)) },
    { record: n.generationTokenRate, expr: sumBy(byModel, rate(VLLM_METRIC.generationTokens, w)) },
    { record: n.finishedRate, expr: sumBy([M, VLLM_LABEL.finishedReason], rate(VLLM_METRIC.requestSuccess, w)) },
    // Tokens, as vLLM counts them: the share of prompt tokens whose KV was already cached. No queries, no value.
    { record: n.prefixCacheHitRatio, expr: `${sumBy(byModel, rate(VLLM_METRIC.prefixCacheHits, w))} / ${sumBy(byModel, rate(VLLM_METRIC.prefixCacheQueries, w))}` },
  ];
  for (const [q, v] of VLLM_QUANTILES) {
    rules.push(
      { record: n.ttftQuantile(q), expr: histogramQuantile(v, sumBy([M, 'le'], rate(`${VLLM_METRIC.timeToFirstToken}_bucket`, w))) },
      { record: n.e2eQuantile(q), expr: histogramQuantile(v, sumBy([M, 'le'], rate(`${VLLM_METRIC.e2eLatency}_bucket`, w))) },
      { record: n.queueTimeQuantile(q), expr: histogramQuantile(v, sumBy([M, 'le'], rate(`${VLLM_METRIC.queueTime}_bucket`, w))) },
    );
  }
  return [{ name: RULE_GROUP.engineRecording, file: 'engine-recording', rules }];
}

// The scenarios' engines: two replicas of one vLLM server, each with two data-parallel ranks.
const SERVER = 'vllm';
const INSTANCES = ['vllm-1:8000', 'vllm-2:8000'] as const;
const RANKS = ['0', '1'] as const;
const MODEL = 'example-model';
/** The engine core the scenarios make unhealthy: the second rank of the second replica. */
const BAD = { instance: INSTANCES[1], engine: RANKS[1] };

/** The labels of one engine core's series as Prometheus stores them (the scrape job adds job, instance and server). */
function engineLabels(instance: string, engine: string, extra: Record<string, string> = {}): Record<string, string> {
  return { job: modelServerJob(SERVER), instance, [TARGET_LABEL.server]: SERVER, [M]: MODEL, [VLLM_LABEL.engine]: engine, ...extra };
}

/** One series per engine core (2 replicas x 2 ranks): the bad one from `bad`, the others from `others`. */
function everyCore(make: (labels: Record<string, string>) => InputSeries, makeBad: (labels: Record<string, string>) => InputSeries): InputSeries[] {
  return INSTANCES.flatMap((instance) =>
    RANKS.map((engine) => {
      const labels = engineLabels(instance, engine);
      return instance === BAD.instance && engine === BAD.engine ? makeBad(labels) : make(labels);
    }),
  );
}

const series = (metric: string, values: string) => (labels: Record<string, string>): InputSeries => ({ series: seriesOf(metric, labels), values });
const fires = (value: number) => [{ labels: engineLabels(BAD.instance, BAD.engine), value }];
const checkAt = (c: AlertContext, extra = 5) => 5 + minutesOf(c.tuning.for) + extra;

/** vLLM's tuning advice, shared by the KV-cache and preemption runbooks (docs.vllm.ai, "Optimization and Tuning", Preemption). */
const MORE_KV_CACHE = [
  'Give the engine more KV cache: raise `--gpu-memory-utilization` (the share of GPU memory vLLM may take, default 0.9), or spread the model over more GPUs (`--tensor-parallel-size`), which leaves more memory per GPU for the cache.',
  'Or ask less of it: lower `--max-num-seqs` (requests per batch) or `--max-num-batched-tokens`, or `--max-model-len` when clients never need the whole context; an fp8 KV cache (`--kv-cache-dtype fp8`) halves what each token holds.',
  'Or add replicas behind the gateway: the load per engine falls, and so does its cache.',
];

export const VLLM_KV_CACHE_NEAR_FULL: AlertDef = {
  name: 'VllmKvCacheNearFull',
  scope: 'engine',
  category: 'resource',
  // vLLM fills its KV cache on purpose under load; what hurts is a cache with no block left, where the
  // next token of a running request preempts another. 95% for 5 minutes is a cache that stays at the edge.
  defaults: { threshold: 0.95, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: [TARGET_LABEL.instance, M, VLLM_LABEL.engine],
  humanizer: 'humanizePercentage',
  summary: 'KV cache of {{ $labels.model_name }} on {{ $labels.instance }} (engine {{ $labels.engine }}) is nearly full',
  description:
    'vLLM engine {{ $labels.engine }} of {{ $labels.instance }}, serving {{ $labels.model_name }}, has had more than {threshold} of its KV cache in use for {for} (now {{ $value | humanizePercentage }}). Once no block is free, running requests are preempted and recomputed.',
  showThreshold: (t) => humanizePercentage(t),
  expr: (c) => `${VLLM_METRIC.kvCacheUsage} > ${num(c.tuning.threshold)}`,
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const full = Math.min(1, t + (1 - t) / 2);
    const fine = t / 2;
    const at = checkAt(c);
    const kv = (values: string) => series(VLLM_METRIC.kvCacheUsage, values);
    return [
      { name: 'firing: one rank of one replica full, three others fine', series: everyCore(kv(`${fine}x${SERIES_MINUTES}`), kv(`${full}x${SERIES_MINUTES}`)), at, expect: fires(full) },
      { name: 'healthy', series: everyCore(kv(`${fine}x${SERIES_MINUTES}`), kv(`${fine}x${SERIES_MINUTES}`)), at, expect: [] },
      { name: 'idle', series: everyCore(kv(`0x${SERIES_MINUTES}`), kv(`0x${SERIES_MINUTES}`)), at, expect: [] },
      {
        name: `full for less than ${c.tuning.for}`,
        series: everyCore(kv(`${fine}x${SERIES_MINUTES}`), kv(stepValues([[fine, 10], [full, Math.max(1, minutesOf(c.tuning.for) - 1)], [fine, 1]]))),
        // Its last full minute: pending all along, never long enough to fire.
        at: 10 + minutesOf(c.tuning.for) - 2,
        expect: [],
      },
    ];
  },
  validate: (c) => (c.tuning.threshold > 0 && c.tuning.threshold < 1 ? undefined : `threshold ${c.tuning.threshold} must lie between 0 and 1 (vllm:kv_cache_usage_perc is a share)`),
  runbook: {
    meaning:
      "One vLLM engine core's KV cache (`vllm:kv_cache_usage_perc`, 0 to 1: the share of KV blocks held by running requests) has stayed above the threshold. vLLM admits requests while blocks are free, so a busy engine runs with a full-ish cache by design; at the edge, each new token of a long answer needs a block that only preempting another request can free.",
    impact: 'Preemptions (VllmPreemptionsRising): preempted requests stop and are recomputed, so time per output token and end-to-end latency rise; new requests wait in the queue.',
    diagnosis: [
      'Is it one core or all of them? `vllm:kv_cache_usage_perc` by `instance` and `engine`: one data-parallel rank alone full points at its balancing, every core full at too little cache for the load.',
      'Are requests being preempted? `rate(vllm:num_preemptions_total[5m])` on the same core.',
      'Did contexts grow? `model_name:vllm_prompt_tokens:rate5m` and `model_name:vllm_generation_tokens:rate5m` against the finished requests (`model_name:vllm_request_success:rate5m`): longer prompts or answers hold more blocks each.',
      'How much is reused? `model_name:vllm_prefix_cache_hits:ratio_rate5m`: a high hit ratio means shared prompts already save blocks.',
    ],
    mitigation: MORE_KV_CACHE,
  },
};

export const VLLM_PREEMPTIONS_RISING: AlertDef = {
  name: 'VllmPreemptionsRising',
  scope: 'engine',
  category: 'performance',
  // vLLM's docs accept an occasional preemption; a steady stream of them is a cache too small for the load.
  defaults: { threshold: 1, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: [TARGET_LABEL.instance, M, VLLM_LABEL.engine],
  humanizer: 'humanize',
  summary: 'vLLM engine {{ $labels.engine }} of {{ $labels.instance }} preempts requests of {{ $labels.model_name }}',
  description:
    'vLLM engine {{ $labels.engine }} of {{ $labels.instance }}, serving {{ $labels.model_name }}, has preempted more than {threshold} for {for} (now {{ $value | humanize }} a minute): its KV cache is too small for the requests it runs.',
  showThreshold: (t) => `${humanize(t)} requests a minute`,
  expr: (c) => `${rate(VLLM_METRIC.preemptions, c.spec.rateWindow)} * 60 > ${num(c.tuning.threshold)}`,
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const at = checkAt(c);
    const preempted = (values: string) => series(VLLM_METRIC.preemptions, values);
    const flat = preempted(`0+0x${SERIES_MINUTES}`);
    return [
      { name: 'firing: one rank of one replica preempting, three others not', series: everyCore(flat, preempted(`0+${t * 5}x${SERIES_MINUTES}`)), at, expect: fires(t * 5) },
      { name: 'healthy: an occasional preemption', series: everyCore(flat, preempted(`0+${t / 2}x${SERIES_MINUTES}`)), at, expect: [] },
      { name: 'idle', series: everyCore(flat, flat), at, expect: [] },
    ];
  },
  validate: (c) => (c.tuning.threshold > 0 ? undefined : `threshold ${c.tuning.threshold} must be above 0 preemptions a minute`),
  runbook: {
    meaning:
      'A vLLM engine core keeps preempting requests (`vllm:num_preemptions_total`): a running request needed a KV block, none was free, and vLLM took the blocks of the most recently admitted request, which goes back to the queue and is recomputed from its prompt.',
    impact: 'Preempted requests stall and redo their prefill: time per output token and end-to-end latency rise, GPU time is spent twice, and throughput falls.',
    diagnosis: [
      'Is the cache full? `vllm:kv_cache_usage_perc` on the same `instance` and `engine` (VllmKvCacheNearFull).',
      'Which requests? Long answers grow their context token by token: `model_name:vllm_generation_tokens:rate5m` over `model_name:vllm_request_success:rate5m` is the mean answer length.',
      'Is the batch too large for the cache? `vllm:num_requests_running` against `--max-num-seqs`.',
    ],
    mitigation: MORE_KV_CACHE,
  },
};

export const VLLM_QUEUE_GROWING_AT_CAPACITY: AlertDef = {
  name: 'VllmQueueGrowingAtCapacity',
  scope: 'engine',
  category: 'performance',
  defaults: { threshold: 5, for: '5m', severity: 'warning', minRequestRate: 0 },
  identity: [TARGET_LABEL.instance, M, VLLM_LABEL.engine],
  humanizer: 'humanize',
  summary: 'Requests queue up at vLLM engine {{ $labels.engine }} of {{ $labels.instance }} ({{ $labels.model_name }})',
  description:
    'The waiting queue of vLLM engine {{ $labels.engine }} of {{ $labels.instance }}, serving {{ $labels.model_name }}, has grown past {threshold} requests for {for} without emptying while requests ran (now {{ $value | humanize }} waiting): the engine is at capacity.',
  showThreshold: (t) => `${humanize(t)} requests`,
  // vLLM exports no max_num_seqs, so capacity is read from the scheduler's behaviour: it admits a waiting
  // request as soon as a batch slot and its KV blocks are free, so a queue that has not emptied for a whole
  // window while requests run means it had no room that whole time (the batch or the cache was full).
  expr: (c) => {
    const w = c.spec.rateWindow;
    const waiting = VLLM_METRIC.waiting;
    return `${waiting} > ${num(c.tuning.threshold)} and deriv(${waiting}[${w}]) > 0 and min_over_time(${waiting}[${w}]) > 0 and ${VLLM_METRIC.running} > 0`;
  },
  scenarios: (c) => {
    const t = c.tuning.threshold;
    const window = minutesOf(c.spec.rateWindow);
    // The queue passes the threshold after t+1 minutes, and has not emptied for a window after window+1.
    const at = Math.max(t + 1, window + 1) + minutesOf(c.tuning.for) + 4;
    const waiting = (values: string) => series(VLLM_METRIC.waiting, values);
    const running = (values: string) => series(VLLM_METRIC.running, values);
    const busy = running(`64x${SERIES_MINUTES}`);
    const withBad = (bad: (labels: Record<string, string>) => InputSeries, badRunning = busy) => [
      ...everyCore(waiting(`0x${SERIES_MINUTES}`), bad),
      ...everyCore(running(`20x${SERIES_MINUTES}`), badRunning),
    ];
    // Up by 2 a minute to 2 x peak minutes, down again as fast, then empty.
    const peak = Math.ceil(t) + window + 2;
    const drains = Array.from({ length: SERIES_MINUTES + 1 }, (_, m) => Math.max(0, m <= peak ? 2 * m : 2 * (2 * peak - m))).join(' ');
    return [
      { name: 'firing: one rank of one replica queueing, three others keeping up', series: withBad(waiting(`0+1x${SERIES_MINUTES}`)), at, expect: fires(at) },
      { name: 'healthy: requests run, none waits', series: withBad(waiting(`0x${SERIES_MINUTES}`), running(`64x${SERIES_MINUTES}`)), at, expect: [] },
      { name: 'idle', series: everyCore(waiting(`0x${SERIES_MINUTES}`), waiting(`0x${SERIES_MINUTES}`)).concat(everyCore(running(`0x${SERIES_MINUTES}`), running(`0x${SERIES_MINUTES}`))), at, expect: [] },
      { name: 'a long queue that holds steady', series: withBad(waiting(`${Math.ceil(t) * 3}x${SERIES_MINUTES}`)), at, expect: [] },
      { name: 'a burst that drains: resolved once the queue shrinks', series: withBad(waiting(drains)), at: 2 * peak + 2, expect: [] },
    ];
  },
  validate: (c) => (c.tuning.threshold >= 0 ? undefined : `threshold ${c.tuning.threshold} must be 0 or more waiting requests`),
  runbook: {
    meaning:
      "A vLLM engine core's waiting queue (`vllm:num_requests_waiting`) keeps growing and has not emptied for a whole rate window while requests run (`vllm:num_requests_running`). vLLM admits a waiting request as soon as a batch slot (`--max-num-seqs`) and its KV blocks are free, so a queue that never empties means the engine is at capacity: requests arrive faster than it finishes them.",
    impact: 'Every queued request waits before its first token: time to first token grows with the queue, and clients time out.',
    diagnosis: [
      'Which limit binds? `vllm:num_requests_running` at `--max-num-seqs` is a full batch; `vllm:kv_cache_usage_perc` near 1 is a full cache (VllmKvCacheNearFull).',
      'One rank or all? Compare `vllm:num_requests_waiting` by `instance` and `engine`: one rank alone queueing while its neighbours keep up is a balancing problem.',
      'What users feel: `model_name:vllm_request_queue_time_seconds:p95` and `model_name:vllm_time_to_first_token_seconds:p95`.',
    ],
    mitigation: [
      "Scale out: more replicas behind the gateway (the autoscalers of production-stack, llm-d and KServe scale on `vllm:num_requests_waiting`, KEDA's Prometheus trigger on the same query).",
      'Where the cache binds, see VllmKvCacheNearFull; where the batch does and the GPU has headroom, raise `--max-num-seqs`.',
      "Shed load at the gateway: its queue limit and `maxConcurrency` turn an endless queue into fast 429s the clients can retry.",
    ],
  },
};

/** The engine alerts, in the catalog only when the spec declares a vLLM server. */
export const ENGINE_CATALOG: readonly AlertDef[] = [VLLM_KV_CACHE_NEAR_FULL, VLLM_PREEMPTIONS_RISING, VLLM_QUEUE_GROWING_AT_CAPACITY];

export function engineCatalogFor(spec: Readonly<MonitoringSpec>): readonly AlertDef[] {
  return vllmServers(spec).length === 0 ? [] : ENGINE_CATALOG;
}

/**
 * Exact values of the engine recording rules over two replicas of two ranks each, as vLLM writes its
 * series (histogram bounds `le="1.0"`), for promtool.
 */
export function engineRecordingTest(spec: Readonly<MonitoringSpec>, ruleFiles: readonly string[]): PromtoolTestFile | undefined {
  if (vllmServers(spec).length === 0) return undefined;
  const n = vllmRecordedNames(spec.rateWindow);
  const cores = INSTANCES.flatMap((instance) => RANKS.map((engine) => engineLabels(instance, engine)));
  const histogram = (metric: string, bounds: readonly number[], lower: number, perMinute: number) => (labels: Record<string, string>) => [
    ...[...bounds, Infinity].map((b) => counter(`${metric}_bucket`, { ...labels, le: goFloat(b) }, b > lower ? perMinute : 0)),
    counter(`${metric}_count`, labels, perMinute),
  ];
  const input: InputSeries[] = cores.flatMap((labels, i) => [
    gauge(VLLM_METRIC.running, labels, 10 * (i + 1)),
    gauge(VLLM_METRIC.waiting, labels, i),
    gauge(VLLM_METRIC.kvCacheUsage, labels, 0.2 * (i + 1)),
    counter(VLLM_METRIC.preemptions, labels, 6),
    counter(VLLM_METRIC.promptTokens, labels, 600),
    counter(VLLM_METRIC.generationTokens, labels, 1200),
    counter(VLLM_METRIC.prefixCacheQueries, labels, 600),
    counter(VLLM_METRIC.prefixCacheHits, labels, 300),
    counter(VLLM_METRIC.requestSuccess, { ...labels, [VLLM_LABEL.finishedReason]: 'stop' }, 60),
    counter(VLLM_METRIC.requestSuccess, { ...labels, [VLLM_LABEL.finishedReason]: 'length' }, 0),
    // Every answer's first token between 0.5 and 0.75 s, every request 1 to 1.5 s end to end.
    ...histogram(VLLM_METRIC.timeToFirstToken, VLLM_TTFT_BUCKETS, 0.5, 60)(labels),
    ...histogram(VLLM_METRIC.e2eLatency, VLLM_REQUEST_LATENCY_BUCKETS, 1, 60)(labels),
  ]);
  const at = '10m';
  const matchers = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => eq(k, v));
  const expect = (name: string, labels: Record<string, string>, value: number) => ({
    expr: sel(name, ...matchers(labels)),
    eval_time: at,
    exp_samples: [{ labels: sel(name, ...matchers(labels)), value }],
  });
  const model = { [M]: MODEL };
  return {
    file: 'engine-recording',
    content: {
      rule_files: [...ruleFiles],
      evaluation_interval: '1m',
      tests: [
        {
          name: "vLLM's series from two replicas of two data-parallel ranks each, per served model",
          interval: '1m',
          input_series: input,
          promql_expr_test: [
            expect(n.running, model, 10 + 20 + 30 + 40),
            expect(n.waiting, model, 0 + 1 + 2 + 3),
            expect(n.kvCacheUsageMax, model, 0.8),
            // 4 cores x 6 a minute: 0.4 a second.
            expect(n.preemptionRate, model, 0.4),
            expect(n.promptTokenRate, model, 40),
            expect(n.generationTokenRate, model, 80),
            expect(n.finishedRate, { ...model, [VLLM_LABEL.finishedReason]: 'stop' }, 4),
            expect(n.finishedRate, { ...model, [VLLM_LABEL.finishedReason]: 'length' }, 0),
            expect(n.prefixCacheHitRatio, model, 0.5),
            // Halfway into the (0.5, 0.75] and (1, 1.5] buckets.
            expect(n.ttftQuantile('p50'), model, 0.625),
            expect(n.e2eQuantile('p50'), model, 1.25),
          ],
        },
      ],
    },
  };
}
