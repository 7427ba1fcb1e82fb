/**
 * Behaviour drift (docs/drift.md): each behaviour signal of a model compared
 * with two baselines of its own, the same window a week earlier (`offset`,
 * seasonal) and the longer window before it (rolling), with a minimum of
 * answers, alerting on a sustained change beyond the alert's band.
 */
import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { durationMs } from '../core/config/duration.ts';
import { RULE_GROUP } from '../core/conventions/alerts.ts';
import type { DriftAlert } from '../core/conventions/alerts.ts';
import { JOB } from '../core/conventions/deploy.ts';
import { FINISH_REASON, GENAI_LABEL, LABEL, counterBaseName, driftRecordedNames, metricName } from '../core/conventions/metrics.ts';
import type { DriftSignal, FinishReason } from '../core/conventions/metrics.ts';
import type { AlertContext, AlertDef } from './alert-def.ts';
import { completionSizeFamily } from './families.ts';
import { humanize, humanizePercentage } from './humanize.ts';
import type { Humanizer } from './humanize.ts';
import type { RecordingRule, RuleGroup, Runbook } from './model.ts';
import { eq, num, rate, sel, sumBy } from './promql.ts';
import { REPLICAS, minutesOf, seriesOf } from './scenario.ts';
import type { InputSeries, Scenario } from './scenario.ts';

const M = LABEL.model;

/** The drift recorded names of a spec. */
export function driftNames(spec: Readonly<MonitoringSpec>) {
  const d = spec.drift;
  return driftRecordedNames(spec.metricsPrefix, d.window, d.baselineOffset, d.rollingWindow);
}

/** What a ratio signal counts, over every answer (`answers_total`). */
function numerator(signal: Exclude<DriftSignal, 'outputLength'>, p: string): string {
  switch (signal) {
    case 'truncated':
      return sel(metricName('answers', p), eq(LABEL.finishReason, 'length'));
    case 'refused':
      return metricName('answerRefusals', p);
    case 'empty':
      return metricName('answerEmpty', p);
    case 'toolCalls':
      return metricName('answerToolCalls', p);
    default: {
      const never: never = signal;
      throw new Error(`unhandled signal ${String(never)}`);
    }
  }
}

const RATIO_SIGNALS = ['truncated', 'refused', 'empty', 'toolCalls'] as const;

/**
 * The drift recording rules: each signal over the drift window, per model over every gateway
 * replica, and its rolling baseline, the mean of that over the rolling window before the current
 * one. The seasonal baseline needs no rule: it is the recorded signal read `offset` ago. Both
 * baselines read the recorded history, so a model's drift alerts wake up a rolling window after
 * its first answers (the rolling baseline alone), and compare with last week a week after.
 * Reading history, not raw counters over a day, keeps each evaluation to one sample per model and
 * window step (docs/drift.md, "Cost").
 */
export function driftRecordingGroup(spec: Readonly<MonitoringSpec>): RuleGroup {
  const p = spec.metricsPrefix;
  const { window: w, rollingWindow: r } = spec.drift;
  const n = driftNames(spec);
  const by = [M];
  const answers = metricName('answers', p);
  const rules: RecordingRule[] = [];
  // The mean completion size of successful chat and completions answers, in the spec's naming: the
  // histogram's `_sum` over its `_count`. Not a median: the OpenTelemetry token histogram's buckets
  // grow fourfold (64, 256], so a halving from 192 to 96 tokens stays in one bucket and its
  // interpolated median does not move; the mean is exact in either naming, and reads two series a
  // model instead of every bucket.
  const size = completionSizeFamily(spec);
  const sizeRate = (suffix: '_sum' | '_count') => sumBy(by, size.relabel(rate(sel(`${size.metric}${suffix}`, ...size.matchers), w), false));
  // A window without answers records nothing (not NaN: 0/0): one NaN sample would turn the rolling
  // mean over it into NaN for a whole rolling window, and with it every drift alert of the model
  // (seen in a drill all run: a quiet 30 s blanked RefusalDrift's rolling baseline for a minute).
  rules.push({ record: n.signal('outputLength').current, expr: `${sizeRate('_sum')} / (${sizeRate('_count')} > 0)` });
  for (const s of RATIO_SIGNALS) rules.push({ record: n.signal(s).current, expr: `${sumBy(by, rate(numerator(s, p), w))} / (${sumBy(by, rate(answers, w))} > 0)` });
  rules.push({ record: n.answers, expr: sumBy(by, `increase(${answers}[${w}])`) });
  // After the current values: rules of a group run in order, so each mean reads this evaluation's history.
  for (const s of ['outputLength', ...RATIO_SIGNALS] as const) rules.push({ record: n.signal(s).rolling, expr: `avg_over_time(${n.signal(s).current}[${r}] offset ${w})` });
  return { name: RULE_GROUP.driftRecording, file: 'drift-recording', rules };
}

/**
 * How a signal's band is read:
 * - `pointsUp`: the ratio rose by at least `threshold` (0.05: 5 percentage points);
 * - `pointsBoth`: it moved by at least `threshold`, up or down;
 * - `factorUp`: it reached `threshold` times its baseline (the baseline floored at `drift.ratioFloor`);
 * - `relativeBoth`: it fell to `1 - threshold` of its baseline or rose to `1 / (1 - threshold)` of it
 *   (0.5: halved or doubled, the same step either way on a log scale).
 */
export type Band = 'pointsUp' | 'pointsBoth' | 'factorUp' | 'relativeBoth';

interface DriftSpec {
  readonly name: DriftAlert;
  readonly signal: DriftSignal;
  readonly band: Band;
  readonly threshold: number;
  readonly humanizer: Humanizer;
  readonly what: string;
  readonly summary: string;
  readonly description: string;
  readonly showThreshold: (t: number) => string;
  readonly runbook: Runbook;
  /** The counts per step of one replica in the healthy state and in the drifted one, at high and low traffic. */
  readonly drifted: (healthy: State) => State;
}

/** One replica's answers per test step: by finish reason, and the behaviour counts, and the completion size of every answer. */
interface State {
  readonly finish: Readonly<Record<Exclude<FinishReason, 'other'>, number>>;
  readonly refusals: number;
  readonly empty: number;
  readonly toolCalls: number;
  /** Completion tokens of every answer (a whole number, so the sums and the expected means are exact). */
  readonly size: number;
}

const total = (s: State) => s.finish.stop + s.finish.length + s.finish.content_filter + s.finish.tool_calls;

/** The same answers, twice as many: every count doubled, every ratio and the size kept. */
const twice = (s: State): State => ({
  finish: { stop: 2 * s.finish.stop, length: 2 * s.finish.length, content_filter: 2 * s.finish.content_filter, tool_calls: 2 * s.finish.tool_calls },
  refusals: 2 * s.refusals,
  empty: 2 * s.empty,
  toolCalls: 2 * s.toolCalls,
  size: s.size,
});

/**
 * 100 answers a step a replica: 67 stop, 3 truncated, 30 tool calls; 2 refusals, 1 empty; 192
 * tokens each. Each drifted state (`drifted`) lies so far beyond its band that a
 * window half drifted (the evaluation before the check, where the alert turns
 * pending at two samples a window) is already beyond it, not on its edge.
 */
const HEALTHY: State = { finish: { stop: 67, length: 3, content_filter: 0, tool_calls: 30 }, refusals: 2, empty: 1, toolCalls: 30, size: 192 };
/** Prompt tokens of every answer, under `otel` in the same histogram as the completion sizes (and never counted with them). */
const PROMPT_SIZE = 1000;
/** 5 answers a step a replica: too few for the guard (3 replicas at two or three steps a window: 30 or 45 answers a window). */
const SPARSE: State = { finish: { stop: 4, length: 0, content_filter: 0, tool_calls: 1 }, refusals: 0, empty: 0, toolCalls: 1, size: 192 };

/** The value a state gives a signal (a ratio, or the mean completion size). */
function signalOf(signal: DriftSignal, s: State): number {
  switch (signal) {
    case 'outputLength':
      return s.size;
    case 'truncated':
      return s.finish.length / total(s);
    case 'refused':
      return s.refusals / total(s);
    case 'empty':
      return s.empty / total(s);
    case 'toolCalls':
      return s.toolCalls / total(s);
    default: {
      const never: never = signal;
      throw new Error(`unhandled signal ${String(never)}`);
    }
  }
}

/** `a` departing from `b` in one direction, by the band; the value is what the alert shows. */
function departs(d: DriftSpec, c: AlertContext, a: string, b: string, dir: 'up' | 'down'): string {
  const t = c.tuning.threshold;
  switch (d.band) {
    case 'pointsUp':
    case 'pointsBoth':
      return dir === 'up' ? `(${a} - ${b}) >= ${num(t)}` : `(${a} - ${b}) <= ${num(-t)}`;
    case 'factorUp':
      return `${a} >= ${num(t)} * clamp_min(${b}, ${num(c.spec.drift.ratioFloor)})`;
    case 'relativeBoth':
      // A mean size is never below 0; clamped at one token so an empty baseline cannot divide by zero.
      return dir === 'up' ? `(${a} / clamp_min(${b}, 1)) >= ${num(1 / (1 - t))}` : `(${a} / clamp_min(${b}, 1)) <= ${num(1 - t)}`;
    default: {
      const never: never = d.band;
      throw new Error(`unhandled band ${String(never)}`);
    }
  }
}

function directions(band: Band): ReadonlyArray<'up' | 'down'> {
  return band === 'pointsBoth' || band === 'relativeBoth' ? ['up', 'down'] : ['up'];
}

/**
 * The drift alert's expression. For each direction: the signal departs from both baselines (the
 * seasonal one holding at least `minEvents` answers, so a week-old quiet hour is no baseline), or,
 * where there is no such seasonal baseline (a model younger than the offset), from the rolling one
 * alone; and the current window holds at least `minEvents` answers.
 */
function driftExpr(d: DriftSpec, c: AlertContext, matchers: readonly string[]): string {
  const names = driftNames(c.spec).signal(d.signal);
  const n = driftNames(c.spec);
  const cur = sel(names.current, ...matchers);
  // The seasonal baseline: the recorded signal a week (the offset) ago.
  const min = c.tuning.minEvents;
  const seasonal = `${n.seasonalAnswers} >= ${num(Math.max(1, min))}`;
  const branches = directions(d.band).map(
    (dir) =>
      `(${departs(d, c, cur, names.seasonal, dir)} and on (${M}) ${departs(d, c, cur, names.rolling, dir)} and on (${M}) ${seasonal})` +
      ` or (${departs(d, c, cur, names.rolling, dir)} unless on (${M}) ${seasonal})`,
  );
  const change = branches.length === 1 ? branches[0]! : branches.map((b) => `(${b})`).join(' or ');
  return min > 0 ? `(${change}) and on (${M}) ${n.answers} >= ${num(min)}` : change;
}

/**
 * The minutes between two promtool samples (and evaluations) of a drift test: two a window where
 * half the window divides the seasonal offset and the rolling window (each baseline must fall on an
 * evaluation), else three. A test runs over more than the seasonal offset (a week), and promtool's
 * cost is its evaluations: at one-minute steps that is ten thousand, at thirty (a 1h window) about
 * three hundred and fifty. Fewer than two samples a window would leave a left-open range (Prometheus
 * 3) a single sample, and no rate.
 */
export function driftTestStep(spec: Readonly<MonitoringSpec>): number {
  const d = spec.drift;
  const window = minutesOf(d.window);
  const half = window / 2;
  if (durationMs(d.window) === window * 60_000 && Number.isInteger(half) && minutesOf(d.baselineOffset) % half === 0 && minutesOf(d.rollingWindow) % half === 0) return half;
  return Math.max(1, Math.floor(window / 3));
}

/** A phase of a drift scenario: a state for a number of steps. */
type Phase = readonly [state: State, steps: number];

/** Counter values (expanding notation) that grow by `inc(state)` a step through the phases, starting at 0. */
function counterValues(phases: readonly Phase[], inc: (s: State) => number): string {
  const parts: string[] = [];
  let value = 0;
  phases.forEach(([state, steps], i) => {
    const by = inc(state);
    // The first phase starts at 0 (its first sample); each later one at its first increment.
    const start = i === 0 ? 0 : value + by;
    const n = steps - 1;
    parts.push(`${start}+${by}x${n}`);
    value = start + by * n;
  });
  return parts.join(' ');
}

/** The gateway series of one model behaving through the phases, on each replica. */
function behaviourSeries(spec: Readonly<MonitoringSpec>, model: string, phases: readonly Phase[], withToolCallFinish = true): InputSeries[] {
  const p = spec.metricsPrefix;
  // Completion sizes in the spec's naming (llmwatch's histogram or OpenTelemetry's token usage): the mean reads `_sum` and `_count` only.
  const size = completionSizeFamily(spec);
  return REPLICAS.flatMap((instance) => {
    const labels = (extra: Record<string, string> = {}) => ({ job: JOB.gateway, instance, [M]: model, ...extra });
    const out: InputSeries[] = [];
    for (const r of FINISH_REASON) {
      if (r === 'other' || (r === 'tool_calls' && !withToolCallFinish)) continue;
      out.push({ series: seriesOf(metricName('answers', p), labels({ [LABEL.finishReason]: r })), values: counterValues(phases, (s) => s.finish[r]) });
    }
    out.push(
      { series: seriesOf(metricName('answerRefusals', p), labels()), values: counterValues(phases, (s) => s.refusals) },
      { series: seriesOf(metricName('answerEmpty', p), labels()), values: counterValues(phases, (s) => s.empty) },
      { series: seriesOf(metricName('answerToolCalls', p), labels()), values: counterValues(phases, (s) => s.toolCalls) },
    );
    const sized = { job: JOB.gateway, instance, ...size.labels(model, 'chat_completions') };
    out.push(
      { series: seriesOf(`${size.metric}_sum`, sized), values: counterValues(phases, (s) => total(s) * s.size) },
      { series: seriesOf(`${size.metric}_count`, sized), values: counterValues(phases, total) },
    );
    if (spec.metricsNaming === 'otel') {
      // The same histogram holds each answer's prompt size (`gen_ai_token_type="input"`), far larger: the mean must leave it out.
      const input = { ...sized, [GENAI_LABEL.tokenType]: 'input' };
      out.push(
        { series: seriesOf(`${size.metric}_sum`, input), values: counterValues(phases, (s) => total(s) * PROMPT_SIZE) },
        { series: seriesOf(`${size.metric}_count`, input), values: counterValues(phases, total) },
      );
    }
    return out;
  });
}

/** What an idle gateway exports for a model: the pre-created behaviour series and completion histograms (in the spec's naming), at 0. */
function idleSeries(spec: Readonly<MonitoringSpec>, model: string, steps: number): InputSeries[] {
  const p = spec.metricsPrefix;
  const zero = `0x${steps}`;
  const size = completionSizeFamily(spec);
  return REPLICAS.flatMap((instance) => {
    const labels = (extra: Record<string, string> = {}) => ({ job: JOB.gateway, instance, [M]: model, ...extra });
    return [
      // FINISH_REASON_PRECREATED: tool_calls and other appear with their first answer.
      ...(['stop', 'length', 'content_filter'] as const).map((r) => ({ series: seriesOf(metricName('answers', p), labels({ [LABEL.finishReason]: r })), values: zero })),
      { series: seriesOf(metricName('answerRefusals', p), labels()), values: zero },
      { series: seriesOf(metricName('answerEmpty', p), labels()), values: zero },
      { series: seriesOf(metricName('answerToolCalls', p), labels()), values: zero },
      ...(['chat_completions', 'completions'] as const).flatMap((endpoint) => {
        const sized = { job: JOB.gateway, instance, ...size.labels(model, endpoint) };
        return [
          ...[...size.bounds.map(num), '+Inf'].map((le) => ({ series: seriesOf(`${size.metric}_bucket`, { ...sized, le }), values: zero })),
          { series: seriesOf(`${size.metric}_count`, sized), values: zero },
          { series: seriesOf(`${size.metric}_sum`, sized), values: zero },
        ];
      }),
    ];
  });
}

/** The value the alert shows when the current window is all `now` and the baseline all `before`. */
function shownValue(d: DriftSpec, now: State, before: State): number {
  const a = signalOf(d.signal, now);
  const b = signalOf(d.signal, before);
  switch (d.band) {
    case 'pointsUp':
    case 'pointsBoth':
      return a - b;
    case 'factorUp':
      return a;
    case 'relativeBoth':
      return a / Math.max(b, 1);
    default: {
      const never: never = d.band;
      throw new Error(`unhandled band ${String(never)}`);
    }
  }
}

/**
 * The promtool scenarios of a drift alert, sampled every {@link driftTestStep} minutes over more
 * than the seasonal offset. Each check falls one window after a change, where the current window
 * and both baselines each hold one state only, so the value shown is exact.
 */
function driftScenarios(d: DriftSpec, c: AlertContext, model: string): Scenario[] {
  const spec = c.spec;
  const step = driftTestStep(spec);
  const steps = (minutes: number) => Math.ceil(minutes / step);
  const W = steps(minutesOf(spec.drift.window));
  const O = steps(minutesOf(spec.drift.baselineOffset));
  const R = steps(minutesOf(spec.drift.rollingWindow));
  const bad = d.drifted(HEALTHY);
  const labels = { [M]: model };
  // A step change one window plus the seasonal offset in: a week of healthy history behind it.
  const change = O + 2 * W;
  // Before the offset: a day of history (the rolling window), none a week back.
  const early = R + 2 * W;
  const at = (stepIndex: number) => stepIndex * step;
  /** The phases, the last one held to `until` (every series runs past its check). */
  const series = (who: string, phases: Phase[], until: number) => {
    const used = phases.reduce((sum, [, n]) => sum + n, 0);
    return behaviourSeries(spec, who, [...phases, [phases.at(-1)![0], Math.max(1, until - used)]]);
  };
  const other = (suffix: string) => {
    let name = `${model}-${suffix}`;
    while (spec.models[name] !== undefined) name += '-x';
    return name;
  };
  const value = shownValue(d, bad, HEALTHY);
  // Too few answers in a window for the guard: only when minEvents asks for more than SPARSE gives.
  const sparse = c.tuning.minEvents > total(SPARSE) * REPLICAS.length * W;
  return [
    // One evaluation over more than a week for the cases that need the seasonal baseline, one model
    // each (every rule is per model): the drifting one fires one window after its change (the window
    // then all drifted, both baselines all healthy); a healthy one stays silent; one whose same drift
    // came at the same time a week earlier (a Monday batch that refuses more, say) stays silent, though
    // the rolling baseline alone would call it a change; one with too few answers stays silent.
    {
      name: `firing: a step change fires within its window; a healthy model, one with the same drift at this time last week${sparse ? ' and one with too little traffic' : ''} stay silent`,
      series: [
        ...series(model, [[HEALTHY, change + 1], [bad, 1]], change + 2 * W),
        ...series(other('healthy'), [[HEALTHY, 1]], change + 2 * W),
        ...series(other('weekly'), [[HEALTHY, change - O + 1], [bad, 3 * W], [HEALTHY, O - 3 * W], [bad, 1]], change + 2 * W),
        ...(sparse ? series(other('sparse'), [[SPARSE, change + 1], [d.drifted(SPARSE), 1]], change + 2 * W) : []),
      ],
      at: at(change + W),
      expect: [{ labels, value }],
    },
    // The rest within a day of history: no seasonal baseline yet, the rolling one alone decides.
    { name: 'healthy (a day of history)', series: series(model, [[HEALTHY, 1]], early + W), at: at(early), expect: [] },
    { name: 'idle', series: idleSeries(spec, model, early + W), at: at(early), expect: [] },
    ...(early < O
      ? [{ name: 'no seasonal baseline yet: the rolling baseline alone fires', series: series(model, [[HEALTHY, R + W + 1], [bad, 1]], early + W), at: at(early), expect: [{ labels, value }] }]
      : []),
  ];
}

function driftAlert(d: DriftSpec): AlertDef {
  return {
    name: d.name,
    scope: 'model',
    category: 'drift',
    // Never a page: the model still answers; someone should look today, not at night.
    defaults: { threshold: d.threshold, for: '15m', severity: 'warning', minRequestRate: 0, minEvents: 100 },
    identity: [M],
    humanizer: d.humanizer,
    summary: d.summary,
    description: d.description,
    showThreshold: d.showThreshold,
    expr: (c, m) => driftExpr(d, c, m),
    scenarios: (c, model) => driftScenarios(d, c, model),
    testStep: driftTestStep,
    // The drift alerts read only the drift rules' series: those first, then the alerts.
    testGroups: [RULE_GROUP.driftRecording, RULE_GROUP.alerts('drift')],
    validate: (c) => {
      const t = c.tuning.threshold;
      const window = c.spec.drift.window;
      if (durationMs(c.tuning.for) * 3 > durationMs(window)) {
        return `for (${c.tuning.for}) must be at most a third of drift.window (${window}): the window already smooths the signal, 'for' only confirms it; lengthen drift.window for a slower alert`;
      }
      if (d.band === 'factorUp') return t > 1 ? undefined : 'threshold is a factor of the baseline and must be above 1 (3: three times the baseline)';
      return t > 0 && t < 1 ? undefined : `threshold must lie between 0 and 1 (${d.band === 'relativeBoth' ? 'a share of the baseline: 0.5 is halved or doubled' : 'a ratio: 0.05 is 5 percentage points'})`;
    },
    runbook: d.runbook,
  };
}

const COMMON_DIAGNOSIS = [
  'What changed at the time the signal moved? A model, quantisation or engine upgrade, a new prompt or chat template, a new system prompt, a changed default `max_tokens` or sampling parameters in a client, a route switch to a fallback model (`{prefix}route_active`).',
  'Is it one client? Behaviour is counted per model, not per client: compare with `{prefix}client_requests_total` (when client keys are on) and the gateway logs.',
  'Is the baseline odd? The dashboard\'s behaviour row draws the signal with both baselines: a seasonal baseline from a week with an incident reads as a change this week (the rolling one should then disagree, and the alert stays silent unless both agree).',
];

const DRIFTS: readonly DriftSpec[] = [
  {
    name: 'OutputLengthDrift',
    signal: 'outputLength',
    band: 'relativeBoth',
    threshold: 0.5,
    humanizer: 'humanizePercentage',
    what: 'mean output length',
    summary: 'Answers of {{ $labels.model }} changed length: their mean is {{ $value | humanizePercentage }} of its baseline',
    description:
      'The mean completion size of model {{ $labels.model }} over the drift window has been beyond its band ({threshold} of its baseline) of both its seasonal and its rolling baseline, the same way, for {for} (now {{ $value | humanizePercentage }} of the baseline).',
    showThreshold: (t) => `${humanizePercentage(1 - t)} or ${humanizePercentage(1 / (1 - t))}`,
    // An eighth of the size, and twice as many answers (a terse model answers faster): a window half
    // drifted (the evaluation before the check) holds 2N drifted answers to N healthy ones, a mean of
    // (2N * s/8 + N * s) / 3N = 0.42 s (80 of 192 tokens), already below the band's 0.5 s, not on its
    // edge. All drifted, 24 of 192: the alert shows 12.5%. The ratios stay the healthy ones.
    drifted: (s) => ({ ...twice(s), size: s.size / 8 }),
    runbook: {
      meaning:
        'The mean number of completion tokens per answer of this model moved far from what it was at the same time last week and over the day before: answers got much shorter (a model that stops early, a template that ends turns too soon, a lowered `max_tokens`) or much longer (rambling, a lost stop sequence, repetition).',
      impact: 'Users get truncated or padded answers; longer answers also cost GPU time and raise latency for everyone.',
      diagnosis: [
        'Which way? `model:{prefix}request_completion_tokens:mean_1h` (the mean completion tokens of successful answers) against its baselines on the dashboard\'s behaviour row.',
        'Shorter: are answers cut (`TruncationDrift`, `{prefix}answers_total{finish_reason="length"}`) or ended early by a stop sequence (`finish_reason="stop"` with short answers)?',
        'Longer: look for repetition in sampled answers, and check the stop tokens of the chat template.',
        ...COMMON_DIAGNOSIS,
      ],
      mitigation: [
        'Roll back the model, template or client change that moved it; switch the model to its fallback (`POST /admin/routes/<model>` on the gateway) if it is the model itself.',
        'If the change is wanted (a new model that is terser), it becomes the baseline on its own: the rolling baseline after a day, the seasonal one after a week. Raise the band meanwhile (`models.<model>.alerts.OutputLengthDrift.threshold`).',
      ],
    },
  },
  {
    name: 'TruncationDrift',
    signal: 'truncated',
    band: 'factorUp',
    threshold: 3,
    humanizer: 'humanizePercentage',
    what: 'truncations',
    summary: '{{ $labels.model }} truncates {{ $value | humanizePercentage }} of its answers, {threshold} its baseline',
    description:
      'The share of answers of model {{ $labels.model }} cut at their token limit (finish_reason "length") has been at least {threshold} both its seasonal and its rolling baseline for {for} (now {{ $value | humanizePercentage }}).',
    showThreshold: (t) => `x${humanize(t)}`,
    drifted: (s) => ({ ...s, finish: { ...s.finish, stop: s.finish.stop - (s.finish.length === 0 ? 1 : 6 * s.finish.length), length: s.finish.length === 0 ? 1 : 7 * s.finish.length } }),
    runbook: {
      meaning:
        'Far more answers of this model end because they reached `max_tokens` or the context length than usual: the model rambles, loops or lost its stop sequence, or clients lowered `max_tokens`, or prompts grew into the context limit.',
      impact: 'Users get answers cut mid-sentence; JSON and tool-call arguments cut short do not parse.',
      diagnosis: [
        'The share: `model:{prefix}answers_truncated:ratio_rate1h`; the sizes: did `{prefix}request_completion_tokens` move up to the limit (rambling) or did prompts grow (`{prefix}request_prompt_tokens`, context exhausted)?',
        'Look at a few truncated answers: repetition points at the model or its sampling parameters; a clean cut at the same length points at a client `max_tokens`.',
        ...COMMON_DIAGNOSIS,
      ],
      mitigation: [
        'Roll back the change; restore the stop sequences of the chat template; raise the server\'s repetition penalty if it loops.',
        'Switch the model to its fallback while the cause is found.',
      ],
    },
  },
  {
    name: 'RefusalDrift',
    signal: 'refused',
    band: 'pointsUp',
    threshold: 0.05,
    humanizer: 'humanizePercentage',
    what: 'refusals',
    summary: '{{ $labels.model }} refuses {{ $value | humanizePercentage }} more of its answers than its baseline',
    description:
      'The share of answers of model {{ $labels.model }} that open with a refusal has been at least {threshold} (percentage points) above both its seasonal and its rolling baseline for {for} (now {{ $value | humanizePercentage }} above).',
    showThreshold: (t) => `+${humanizePercentage(t)}`,
    drifted: (s) => ({ ...s, refusals: s.refusals === 0 ? 1 : 10 * s.refusals }),
    runbook: {
      meaning:
        'More answers of this model open with refusal phrasing ("I can\'t help with that") than at the same time last week and over the day before. Typical causes: a new model or safety tune that over-refuses, a changed system prompt, a jailbreak filter in front, or a change in what users ask (a new client, an abuse wave). The gateway\'s detector and its limits are in docs/drift.md.',
      impact: 'Users are refused things they could do before; automated clients (agents, pipelines) fail on answers they cannot use.',
      diagnosis: [
        'The share: `model:{prefix}answer_refusals:ratio_rate1h` against its baselines on the behaviour row.',
        'Read a sample of recent answers of the model: real over-refusal, or a new kind of request that should be refused (the alert cannot tell these apart)?',
        ...COMMON_DIAGNOSIS,
      ],
      mitigation: [
        'Roll back the model or system-prompt change; switch the model to its fallback (`POST /admin/routes/<model>`) if the new model over-refuses.',
        'If the requests changed and the refusals are right, tell the client\'s owner; the new share becomes the baseline in a day (rolling) and a week (seasonal).',
      ],
    },
  },
  {
    name: 'EmptyAnswerDrift',
    signal: 'empty',
    band: 'pointsUp',
    threshold: 0.03,
    humanizer: 'humanizePercentage',
    what: 'empty answers',
    summary: '{{ $labels.model }} answers nothing {{ $value | humanizePercentage }} more often than its baseline',
    description:
      'The share of answers of model {{ $labels.model }} with neither text nor a tool call has been at least {threshold} (percentage points) above both its seasonal and its rolling baseline for {for} (now {{ $value | humanizePercentage }} above).',
    showThreshold: (t) => `+${humanizePercentage(t)}`,
    drifted: (s) => ({ ...s, empty: s.empty === 0 ? 1 : 10 * s.empty }),
    runbook: {
      meaning:
        'More answers of this model come back with no content at all: a chat template that ends the turn at once, a stop sequence that matches the first token, a reasoning model that spends its whole `max_tokens` thinking (its thoughts are not content), or an engine bug.',
      impact: 'Users see blank replies; clients that expect text fail.',
      diagnosis: [
        'Are the empty answers truncated? `{prefix}answers_total{finish_reason="length"}` rising with them means the budget is spent before the answer (reasoning models: raise `max_tokens`).',
        'With `finish_reason="stop"`: check the stop sequences and the chat template\'s end-of-turn token.',
        ...COMMON_DIAGNOSIS,
      ],
      mitigation: ['Roll back the template or model change; switch the model to its fallback meanwhile.'],
    },
  },
  {
    name: 'ToolCallDrift',
    signal: 'toolCalls',
    band: 'pointsBoth',
    threshold: 0.1,
    humanizer: 'humanizePercentage',
    what: 'tool calls',
    summary: 'The share of answers of {{ $labels.model }} that call a tool moved {{ $value | humanizePercentage }} from its baseline',
    description:
      'The share of answers of model {{ $labels.model }} that call a tool has been at least {threshold} (percentage points) away from both its seasonal and its rolling baseline, the same way, for {for} (now {{ $value | humanizePercentage }}).',
    showThreshold: (t) => `±${humanizePercentage(t)}`,
    drifted: (s) => ({ ...s, toolCalls: 0, finish: { ...s.finish, stop: s.finish.stop + s.finish.tool_calls, tool_calls: 0 } }),
    runbook: {
      meaning:
        'This model calls tools far less (or far more) often than usual. Less: a new model or chat template that no longer emits tool calls in the format the server parses (vLLM\'s `--tool-call-parser`), so agents get prose instead of calls. More: a model that calls tools where it should answer.',
      impact: 'Agents and function-calling clients stop working, or loop on needless calls.',
      diagnosis: [
        'The share: `model:{prefix}answer_tool_calls:ratio_rate1h` on the behaviour row. A fall to zero with `finish_reason="stop"` answers that contain JSON-like text points at the server\'s tool-call parser or the chat template.',
        ...COMMON_DIAGNOSIS,
      ],
      mitigation: ['Restore the tool-call parser or template the model needs; roll back the model; switch to the fallback meanwhile.'],
    },
  },
];

/** The drift alerts of the catalog. */
export const DRIFT_CATALOG: readonly AlertDef[] = DRIFTS.map(driftAlert);

/** The signal and band of each drift alert, for the dashboard and docs. */
export const DRIFT_SIGNALS: ReadonlyArray<{ readonly alert: DriftAlert; readonly signal: DriftSignal; readonly what: string; readonly band: Band; readonly humanizer: Humanizer }> = DRIFTS.map((d) => ({
  alert: d.name,
  signal: d.signal,
  what: d.what,
  band: d.band,
  humanizer: d.humanizer,
}));

/** The name of the answers counter as Prometheus shows it, for runbooks. */
export const ANSWERS_COUNTER = counterBaseName(metricName('answers'));
