import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { durationMs } from '../core/config/duration.ts';
import { instantQuery, queryNumber, queryVector } from '../core/http/prometheus-api.ts';
import type { MatrixSeries } from '../core/http/prometheus-api.ts';
import { JOB } from '../core/conventions/deploy.ts';
import { GPU_LABEL, LABEL } from '../core/conventions/metrics.ts';
import { buildModel, resolveTuning } from '../monitoring/build.ts';
import { evaluationsToAlert } from '../monitoring/model.ts';
import { HIGH_GPU_MEMORY_USAGE, SPARE_REPLICAS } from '../monitoring/catalog.ts';
import { GPU_DRILL_FAULT, simulatedMemoryOver } from './gpu.ts';
import { DRILLS_FILE } from './stack-info.ts';
import type { StackInfo } from './stack-info.ts';
import type { Timings } from './timings.ts';
import { BEHAVIOUR_PROFILES } from '../simulator/behaviour.ts';
import { driftWindow, prepareDriftBaselines } from './drift-drill.ts';

/** One drill: a fault to inject, the traffic that makes it visible, and the alert and action it must cause. */
export interface Scenario {
  readonly name: string;
  readonly alert: string;
  readonly description: string;
  /** The model whose profile changes and which gets the traffic. */
  readonly model: (s: StackInfo) => string;
  /** The simulator profile patch that causes the fault. */
  readonly fault: Record<string, unknown>;
  /** Concurrent requests of drill traffic. */
  readonly concurrency: number;
  /** The action the responder must take (a playbook step), or undefined when none is expected. */
  readonly action: string | undefined;
  /** How long resolving may take beyond the rate window, when not rate-based. */
  readonly resolveBound?: (s: StackInfo) => number;
  /**
   * The action cures what the fault causes (more replicas drain the queue): the alert must resolve while
   * the fault and the traffic go on, timed from the end of the action; the drill needs the stack at one replica.
   */
  readonly curedByAction?: boolean;
  /** The alert waits for earlier good traffic to leave the rate window (no success in it): firing may take a window more. */
  readonly waitsForWindow?: boolean;
  /**
   * Drills the drill model's simulated GPU (skipped in a stack without one): the alert is picked by
   * the GPU's labels (`simulated="true"`, `gpu`), not by `model`.
   */
  readonly gpu?: boolean;
  /**
   * The alert reads a gauge that an exporter samples (GPU memory), not a rate of requests: the drill
   * watches the exporter serve a reading over the threshold (the onset, measured) and times the
   * pipeline from there (one scrape, not a rate's two); it clears without a rate window.
   */
  readonly gauge?: boolean;
  /**
   * No critical alert may fire for the model from the fault until the alert resolves: the
   * fault is the client's, and paging someone for it is the failure this drill looks for.
   */
  readonly mustNotPage?: boolean;
  /**
   * Runs with the drill's traffic before the fault, until the alert's baselines exist (the drift
   * drill: docs/drift.md); returns what went wrong, if anything.
   */
  readonly prepare?: (s: StackInfo, model: string, log: (line: string) => void) => Promise<string[]>;
  /**
   * The alert's own window in seconds, when not the rate window (the drift window): firing may wait
   * for it to hold only the fault's answers, and resolving for them to leave it.
   */
  readonly window?: (s: StackInfo) => number;
  /** The drill traffic's `max_tokens`; default 16, `null` for none. */
  readonly maxTokens?: number | null;
  /**
   * No fault: from a scaled-out stack under light traffic, the alert (SpareReplicas) fires once per
   * step and the responder steps the replicas in, one at a time, down to one ({@link runScaleInDrill}).
   */
  readonly scaleIn?: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'latency',
    alert: 'HighInferenceLatency',
    description: 'time to first token of the model goes to 2.5 s',
    model: (s) => s.drillModel,
    fault: { ttftMs: 2500, jitter: 0 },
    concurrency: 4,
    action: 'switch-model',
  },
  {
    name: 'errors',
    alert: 'HighErrorRate',
    description: 'half the requests get HTTP 500',
    model: (s) => s.drillModel,
    fault: { errors: { http500: 0.5, http429: 0, reset: 0, hang: 0 } },
    concurrency: 4,
    action: 'noop',
  },
  {
    name: 'toxic',
    alert: 'HighToxicityScore',
    description: 'every output is abusive',
    model: (s) => s.drillModel,
    fault: { toxicFraction: 1 },
    concurrency: 4,
    action: 'switch-model',
    // The alert reads the mean score per answer over the rate window: toxic answers dominate it at once,
    // and once they stop the window empties of them (the default resolve bound: the rate window and ticks).
  },
  {
    name: 'gpu',
    alert: 'HighGpuMemoryUsage',
    description: `long contexts (${GPU_DRILL_FAULT.extraPromptTokens} extra prompt tokens) on 8 upstream slots fill the KV cache, and so the memory, of the model's simulated GPU`,
    model: (s) => s.drillModel,
    fault: GPU_DRILL_FAULT,
    concurrency: 8,
    action: 'switch-model',
    gpu: true,
    gauge: true,
  },
  {
    name: 'queue',
    alert: 'QueueBacklog',
    description: 'the light model slows to 3 s while 32 clients wait on 8 upstream slots (queue 24); scaled to 3 replicas, 24 slots leave 8 queued',
    model: (s) => s.fallbackModel,
    fault: { ttftMs: 3000, jitter: 0 },
    // Over 20 queued on one replica (the playbook's condition), at most QueueBacklog's 10 on three.
    concurrency: 32,
    action: 'scale',
    curedByAction: true,
  },
  {
    name: 'scale',
    alert: 'SpareReplicas',
    description: 'no fault: the stack the queue drill scaled out, under one client of light traffic, has replicas to spare',
    model: (s) => s.fallbackModel,
    fault: {},
    // One client: requests always in flight, never more than one replica fewer can hold, never queued.
    concurrency: 1,
    action: 'scale',
    scaleIn: true,
  },
  {
    name: 'down',
    alert: 'ModelServerUnreachable',
    description: 'the model server resets every connection',
    model: (s) => s.drillModel,
    fault: { errors: { http500: 0, http429: 0, reset: 1, hang: 0 } },
    concurrency: 4,
    action: 'switch-model',
    // ModelServerUnreachable holds once 90% of the requests sent within its window failed: earlier good ones must age out.
    waitsForWindow: true,
  },
  {
    name: 'client-400s',
    alert: 'ClientErrorFlood',
    description: 'a client floods the model with prompts longer than its context: 80% of requests get HTTP 400',
    model: (s) => s.drillModel,
    fault: { errors: { http500: 0, http429: 0, reset: 0, hang: 0, http400: 0.8 } },
    concurrency: 4,
    action: undefined,
    // Client errors are visible (a warning), never a page: HighErrorRate, ErrorBudgetBurn and the rest stay silent.
    mustNotPage: true,
  },
  {
    name: 'drift',
    alert: 'RefusalDrift',
    description: "half the model's answers decline (\"I'm sorry, but I can't help with that.\"), after healthy answers long enough for both baselines",
    model: (s) => s.drillModel,
    fault: { ...BEHAVIOUR_PROFILES.refusing },
    concurrency: 4,
    action: undefined,
    // Answers as long as the model likes: a max_tokens under its length truncates every healthy answer.
    maxTokens: null,
    prepare: prepareDriftBaselines,
    window: driftWindow,
  },
];

export interface DrillResult {
  readonly scenario: string;
  readonly alert: string;
  readonly skipped?: string;
  /** Seconds from the fault to the alert firing in Prometheus, and its bound. */
  readonly fire?: number;
  readonly fireBound: number;
  /** Seconds from the fault to the alert in Alertmanager. */
  readonly alertmanager?: number;
  /** Seconds from the fault to the responder's action. */
  readonly action?: number;
  readonly actionBound: number;
  readonly actionDetail?: string;
  /** Seconds from the fault's end to the alert resolving, and its bound. */
  readonly resolve?: number;
  readonly resolveBound: number;
  /** The scale drill's steps, each timed. */
  readonly steps?: readonly ScaleInStep[];
  readonly ok: boolean;
  readonly problems: readonly string[];
}

const sec = (d: string) => durationMs(d) / 1000;

/** How often the drill looks at Prometheus, Alertmanager and the responder (plus the time those calls take, measured). */
const POLL_MS = 250;
/** The drill's traffic asks for this many tokens an answer. */
const DRILL_MAX_TOKENS = 16;

/** What of a simulator profile sets how long an answer takes. */
interface AnswerProfile {
  readonly ttftMs: number;
  readonly tpotMs: number;
  readonly jitter: number;
  readonly outputTokens: { readonly max: number };
}

/** The longest a drill request takes under a profile: a request is observed (its latency, its error) only when it ends. */
export function answerSeconds(p: AnswerProfile, maxTokens: number | null = DRILL_MAX_TOKENS): number {
  return ((p.ttftMs + Math.min(maxTokens ?? Number.POSITIVE_INFINITY, p.outputTokens.max) * p.tpotMs) * (1 + p.jitter)) / 1000;
}

export interface DrillBounds {
  readonly fireBound: number;
  readonly actionBound: number;
  readonly resolveBound: number;
}

/**
 * A drill's bounds, each term from the stack's timings, the fault's answer
 * time and the drill's measured poll period; nothing added by hand:
 * - fire: a sample waits up to a scrape interval to be collected and one more
 *   to show in a rate (two samples), then an evaluation each for the recording
 *   rule, the alert rule going pending, and the one that ends `for`; the
 *   request that shows the fault is observed when it ends (`answer`); the
 *   drill sees the alert within one poll of the evaluation's timestamp, or
 *   later when Prometheus ran that evaluation late (a busy machine): `seen`,
 *   measured from the alert's first firing sample, when longer than the poll.
 *   Alerts that need earlier good traffic to leave the window
 *   (`waitsForWindow`) wait a rate window more.
 * - action: from the firing evaluation's end (by `seen`, when measured);
 *   Prometheus notifies Alertmanager at its next evaluation (the stack
 *   runs it with `--rules.alert.resend-delay` of one evaluation); Alertmanager
 *   sends a new group after `group_wait`, or at the next `group_interval` when
 *   the alert joins a group already notified; the action's time is its own
 *   audit row's start, so no poll term.
 * - resolve (from the fault's end): the bad samples leave the rate window, the
 *   same scrape and evaluation delays, the requests in flight when the fault
 *   ended (`answer`), one poll.
 */
export function drillBounds(
  t: Timings,
  scenario: Pick<Scenario, 'waitsForWindow' | 'gauge'> & { readonly resolveBound?: Scenario['resolveBound']; readonly window?: Scenario['window'] },
  answer: number,
  poll: number,
  s?: StackInfo,
  onset = 0,
  seen?: number,
): DrillBounds {
  // How late after the firing evaluation's timestamp the drill saw it: a poll, or what was measured when longer.
  const late = seen === undefined || seen <= poll ? poll : seen;
  const pipeline = 2 * sec(t.scrapeInterval) + 3 * sec(t.evaluationInterval);
  const gauge = scenario.gauge === true;
  // An alert over its own window (drift) holds at the latest once the window holds only the fault's answers.
  const own = s === undefined ? undefined : scenario.window?.(s);
  // A gauge (`gauge`): from the onset (the exporter serving the reading, seen within a poll) a scrape collects it, then the evaluations.
  const fireBound = gauge
    ? onset + sec(t.alertFor) + sec(t.scrapeInterval) + 3 * sec(t.evaluationInterval) + late
    : sec(t.alertFor) + pipeline + answer + late + (scenario.waitsForWindow === true ? sec(t.rateWindow) : 0) + (own ?? 0);
  const actionBound = fireBound - late + (seen ?? 0) + sec(t.evaluationInterval) + Math.max(sec(t.groupWait), sec(t.groupInterval));
  const custom = s === undefined ? undefined : scenario.resolveBound?.(s);
  // A gauge clears once the requests in flight end and the simulated GPU returns their memory (held `memoryHoldSeconds`).
  const resolveBound = custom ?? (gauge ? (s?.gpus?.simulated?.memoryHoldSeconds ?? 0) : (own ?? sec(t.rateWindow))) + pipeline + answer + poll;
  return { fireBound, actionBound, resolveBound };
}

/**
 * Runs one drill against a running stack: checks the alert is not firing,
 * injects the fault in the simulator, drives traffic through the gateway,
 * times the alert in Prometheus and Alertmanager and the responder's action,
 * restores the profile, and times the resolution. Each time is compared with
 * its bound: the rule's `for` plus scrape and evaluation intervals (and
 * Alertmanager's group wait for the action, the rate window for resolving).
 */
export async function runDrill(s: StackInfo, scenario: Scenario, log: (line: string) => void = () => {}): Promise<DrillResult> {
  const t = s.timings;
  // Until the fault's profile is known (a skipped drill never learns it), its answers take no time.
  let bounds = drillBounds(t, scenario, 0, 0, s);
  let base = { scenario: scenario.name, alert: scenario.alert, ...bounds };
  if (s.urls.simulator === undefined) {
    return { ...base, skipped: 'the stack meters a real server: drills inject faults in the simulator only', ok: true, problems: [] };
  }
  const model = scenario.model(s);
  // The alert's own labels: the model's, or for a GPU alert the simulated GPU that runs the model.
  const gpu = s.gpus?.simulated?.placement.find((p) => p.model === model && p.engine === 0);
  if (scenario.gpu === true && gpu === undefined) {
    return { ...base, skipped: `no simulated GPU runs ${model} in this stack (started before llmwatch had them? restart llmwatch up)`, ok: true, problems: [] };
  }
  const labels: Record<string, string> = scenario.gpu === true ? { [GPU_LABEL.simulated]: 'true', [GPU_LABEL.gpu]: String(gpu!.gpu) } : { model };
  const matchers = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const problems: string[] = [];
  const firingSelector = `ALERTS{alertname="${scenario.alert}",alertstate="firing",${matchers.join(',')}}`;
  const firingNow = async () => (await promQuery(s, firingSelector)) > 0;
  const paged = new Set<string>();
  const pagesNow = () => promLabelValues(s, `ALERTS{alertstate="firing",severity="critical",model="${model}"}`, 'alertname');
  // Pages still up from an earlier drill (an error budget burning since the `down` drill) are not this fault's.
  let pagedBefore = new Set<string>();
  const checkPages = async () => {
    if (scenario.mustNotPage !== true) return;
    for (const name of await pagesNow()) if (!pagedBefore.has(name)) paged.add(name);
  };

  const health = (await (await fetch(`${s.urls.responder}/healthz`)).json()) as { breaker?: { tripped: boolean; reason?: string }; killSwitch?: boolean };
  if (scenario.action !== undefined && health.breaker?.tripped === true) {
    return { ...base, ok: false, problems: [`the responder's breaker is tripped (${health.breaker.reason}); reset it: POST ${s.urls.responder}/admin/breaker/reset`] };
  }
  if (scenario.action !== undefined && health.killSwitch === true) {
    return { ...base, ok: false, problems: ["the responder's kill switch is on; turn it off to drill its actions"] };
  }

  // A stack just started has no samples yet: a rate needs two scrapes of the gateway before the fault, or
  // the first drill's times include the stack's warm-up.
  const warm = Date.now() + 30_000;
  while ((await promQuery(s, `count_over_time(up{job="${JOB.gateway}"}[1m]) >= 3`)) === 0 && Date.now() < warm) await sleep(250);

  if (scenario.scaleIn === true) return runScaleInDrill(s, scenario, log);

  // An alert already firing before the fault is one that fires when it should not.
  const settle = Date.now() + bounds.resolveBound * 2000;
  while ((await firingNow()) && Date.now() < settle) await sleep(1000);
  if (await firingNow()) {
    return { ...base, ok: false, problems: [`${scenario.alert} was firing for ${matchers.join(',')} before the fault was injected`] };
  }
  if (scenario.mustNotPage === true) {
    // A drill that must not page starts once the model's pages from earlier drills have cleared (their
    // errors also fill the rate window this drill's alert reads); what outlives the wait is not counted.
    const quiet = Date.now() + bounds.resolveBound * 2000;
    while ((await pagesNow()).length > 0 && Date.now() < quiet) await sleep(1000);
    pagedBefore = new Set(await pagesNow());
    if (pagedBefore.size > 0) log(`${scenario.name}: still paging from before the fault, not counted: ${[...pagedBefore].sort().join(', ')}`);
  }

  if (scenario.curedByAction === true) {
    const replicas = (await simulatorURLs(s)).length;
    if (replicas !== 1) {
      return { ...base, skipped: `the stack runs ${replicas} simulator replicas; the scale-out is drilled from one (restart the stack, or wait for a scale-in)`, ok: true, problems: [] };
    }
  }
  if (scenario.gpu === true) {
    // The simulated GPUs are the first simulator's: traffic spread over replicas never fills them.
    const replicas = (await simulatorURLs(s)).length;
    if (replicas !== 1) {
      return { ...base, skipped: `the stack runs ${replicas} simulator replicas and the simulated GPUs are the first one's (restart the stack; drill all runs gpu before the queue drill scales out)`, ok: true, problems: [] };
    }
  }

  const maxTokens = scenario.maxTokens === undefined ? DRILL_MAX_TOKENS : scenario.maxTokens;
  // A drill that prepares (the drift drill's baselines) runs its traffic from before the fault on.
  const before = scenario.prepare === undefined ? undefined : startTraffic(s, model, scenario.concurrency, maxTokens);
  if (scenario.prepare !== undefined) {
    try {
      problems.push(...(await scenario.prepare(s, model, log)));
    } catch (err) {
      await before?.stop();
      throw err;
    }
  }
  const since = new Date().toISOString();
  const t0 = Date.now();
  const faulty = await setProfile(s, model, scenario.fault);
  // A gauge's onset: when its exporter first serves a reading over the alert's threshold.
  const threshold = resolveTuning(HIGH_GPU_MEMORY_USAGE, s.spec.alerts[HIGH_GPU_MEMORY_USAGE.name]).threshold;
  const overNow = scenario.gauge === true && gpu !== undefined && s.gpus?.simulated !== undefined ? () => simulatedMemoryOver(s.gpus!.simulated!.url, gpu.gpu, threshold) : undefined;
  let onset: number | undefined;
  /** How long after its evaluation's own timestamp the drill saw the alert firing (measured). */
  let seen: number | undefined;
  // The poll's own period, measured: how late the drill can see what happened.
  let pollS = POLL_MS / 1000;
  const polled = (from: number) => {
    pollS = Math.max(pollS, (Date.now() - from) / 1000);
  };
  const rebound = () => {
    bounds = drillBounds(t, scenario, answerSeconds(faulty, maxTokens), pollS, s, onset, seen);
    base = { ...base, ...bounds };
  };
  rebound();
  log(`${scenario.name}: injected (${scenario.description}); traffic to ${model} x${scenario.concurrency}`);
  let traffic = before ?? startTraffic(s, model, scenario.concurrency, maxTokens);
  let fire: number | undefined;
  let alertmanager: number | undefined;
  let action: number | undefined;
  let actionDetail: string | undefined;
  /** When the action ended (ms), and how long after it the alert resolved, for a scenario the action cures. */
  let cure: number | undefined;
  let cured: number | undefined;
  const deadline = t0 + Math.max(bounds.actionBound, bounds.fireBound) * 3000;
  try {
    // A drill that must not page watches for at least as long as a page would take to fire.
    const watching = () => scenario.mustNotPage === true && Date.now() - t0 < bounds.fireBound * 1000;
    while ((fire === undefined || alertmanager === undefined || (scenario.action !== undefined && action === undefined) || watching()) && Date.now() < deadline) {
      const from = Date.now();
      const now = (from - t0) / 1000;
      await checkPages();
      if (onset === undefined && overNow !== undefined && (await overNow())) {
        onset = now;
        log(`${scenario.name}: the exporter reads GPU ${gpu!.gpu} over ${threshold} of its memory after ${onset.toFixed(1)} s`);
      }
      if (fire === undefined && (await firingNow())) {
        fire = now;
        const stamp = await firstSampleAfter(s, firingSelector, t0);
        if (stamp !== undefined) seen = Math.max(0, fire - (stamp - t0) / 1000);
        log(`${scenario.name}: ${scenario.alert} firing in Prometheus after ${fire.toFixed(1)} s${seen === undefined ? '' : ` (its evaluation at ${(fire - seen).toFixed(1)} s)`}`);
      }
      if (alertmanager === undefined && (await inAlertmanager(s, scenario.alert, matchers))) alertmanager = now;
      if (scenario.action !== undefined && action === undefined) {
        const a = await findAction(s, scenario.alert, scenario.action, since);
        if (a !== undefined) {
          // When the responder began it, from its audit row: not when this poll happened to see it.
          action = (a.startedAt - t0) / 1000;
          if (a.outcome === 'success') cure = a.startedAt + a.durationMs;
          actionDetail = `${a.outcome}: ${a.detail}`;
          log(`${scenario.name}: responder ${scenario.action} ${actionDetail} after ${action.toFixed(1)} s`);
        }
      }
      await sleep(POLL_MS);
      polled(from);
    }
    if (scenario.curedByAction === true && cure !== undefined) {
      // The fault and the traffic go on: only the action can end the alert now.
      const until = Date.now() + Math.max(bounds.fireBound, 10) * 3000;
      while (Date.now() < until) {
        const from = Date.now();
        if (!(await firingNow())) {
          cured = (Date.now() - cure) / 1000;
          log(`${scenario.name}: resolved ${cured.toFixed(1)} s after the ${scenario.action} ended, the fault still on`);
          break;
        }
        await sleep(POLL_MS);
        polled(from);
      }
    }
  } finally {
    await resetProfile(s, model);
    // Light traffic while recovering: enough to show the model healthy (and to refill a rolling
    // mean), not so much that the load itself keeps an alert up (a queue, say).
    await traffic.stop();
    traffic = startTraffic(s, model, Math.min(2, scenario.concurrency), maxTokens);
  }
  const t1 = Date.now();
  let resolve: number | undefined = cured;
  try {
    if (fire !== undefined && scenario.curedByAction !== true) {
      const until = t1 + bounds.resolveBound * 3000;
      while (Date.now() < until) {
        const from = Date.now();
        await checkPages();
        if (!(await firingNow())) {
          resolve = (Date.now() - t1) / 1000;
          log(`${scenario.name}: resolved after ${resolve.toFixed(1)} s`);
          break;
        }
        await sleep(POLL_MS);
        polled(from);
      }
    }
  } finally {
    await traffic.stop();
  }
  rebound();
  if (scenario.curedByAction === true) {
    // From the action's end: the gateway hands the new slots to the queue at once, and the lower gauge
    // ends the alert as gaugeResolveBound says, each slow-machine term measured.
    const scrapeS = (await queryNumber(s.urls.prometheus, `max(max_over_time(scrape_duration_seconds{job="${JOB.gateway}"}[5m]))`)) ?? 0;
    const groupS = (await queryNumber(s.urls.prometheus, 'max(max_over_time(prometheus_rule_group_last_duration_seconds[5m]))')) ?? 0;
    const measured = cure === undefined || cured === undefined ? {} : await measureResolve(s, firingSelector, cure, cure + cured * 1000);
    bounds = { ...bounds, resolveBound: gaugeResolveBound(t, scrapeS, groupS, pollS, measured, evaluationsToAlert(buildModel(s.spec).groups, scenario.alert)) };
    base = { ...base, ...bounds };
  }
  const { fireBound, actionBound, resolveBound } = bounds;
  if (overNow !== undefined && onset === undefined) problems.push(`the exporter never read GPU ${gpu!.gpu} over ${threshold} of its memory`);
  if (fire === undefined) problems.push(`${scenario.alert} never fired`);
  else if (fire > fireBound) problems.push(`fired after ${fire.toFixed(1)} s, bound ${fireBound.toFixed(1)} s`);
  if (alertmanager === undefined && fire !== undefined) problems.push('never reached Alertmanager');
  if (scenario.action !== undefined) {
    if (action === undefined) {
      const skipped = await findAction(s, scenario.alert, scenario.action, since, true);
      problems.push(`no ${scenario.action} action recorded${skipped === undefined ? '' : ` (skipped: ${skipped.detail})`}`);
    }
    else if (action > actionBound) problems.push(`action after ${action.toFixed(1)} s, bound ${actionBound.toFixed(1)} s`);
  }
  if (paged.size > 0) problems.push(`paged for a client's fault: ${[...paged].sort().join(', ')} fired (critical)`);
  if (fire !== undefined && resolve === undefined) problems.push('did not resolve');
  else if (resolve !== undefined && resolve > resolveBound) problems.push(`resolved after ${resolve.toFixed(1)} s, bound ${resolveBound.toFixed(1)} s`);
  return { ...base, fire, alertmanager, action, actionDetail, resolve, ok: problems.length === 0, problems };
}

/**
 * The scale drill's bounds, each measured from the moment its replica count was last set (the
 * drill's start, then the end of each step), each term from the stack's timings or measured:
 * - fire: SpareReplicas holds once its stabilization window (`window`) holds no sample from before
 *   that moment (the old count, the queue drill's load and queue all end by then), seen at the next
 *   evaluation; it fires `for` later (whole evaluations), and one evaluation later for each iteration
 *   Prometheus skipped (`missed`, measured). That is Prometheus' own clock: the timestamp of the
 *   evaluation that first records the alert firing. Then how long after that timestamp the drill saw
 *   it (`seen`, measured from the alert's first firing sample: Prometheus starting the evaluation late
 *   on a busy machine, the evaluation itself, the poll). Before a step is seen, `seen` is taken as the
 *   rule group's longest evaluation (measured) and one poll; a busy machine starts evaluations later
 *   than that, which only `seen` measures.
 * - action: from when the firing evaluation had ended (no later than the drill saw it; before that is
 *   seen, the fire bound less the poll), one evaluation (Prometheus notifies Alertmanager at the
 *   latest at its next evaluation) and the longer of `group_wait` and `group_interval` (the alert
 *   joins a group notified before, of its resolved episode); the action's time is its audit row's start.
 * - resolve (from a step's end): the new count is scraped within a scrape interval and stored once
 *   that scrape is done (its longest duration measured), `changes()` sees it at the next evaluation,
 *   a resolving alert waits for no `for`, ALERTS changes when the group's evaluation ends (its
 *   longest evaluation measured); one poll.
 */
export function scaleInBounds(
  t: Timings,
  tuning: { readonly window: string; readonly for: string },
  poll: number,
  scrapeS = 0,
  groupS = 0,
  observed?: { readonly seen: number; readonly missed: number },
): DrillBounds {
  const e = sec(t.evaluationInterval);
  const onClock = sec(tuning.window) + e + Math.ceil(sec(tuning.for) / e) * e + (observed?.missed ?? 0) * e;
  const fireBound = observed === undefined ? onClock + groupS + poll : onClock + observed.seen;
  const actionBound = (observed === undefined ? fireBound - poll : fireBound) + e + Math.max(sec(t.groupWait), sec(t.groupInterval));
  const resolveBound = gaugeResolveBound(t, scrapeS, groupS, poll);
  return { fireBound, actionBound, resolveBound };
}

/**
 * A resolve bound from the moment what ends the alert was done, for an alert that reads a gauge
 * (the queue, the replica count) with no `for` to resolve: the first scrape of the gateway after that
 * moment (a scrape interval, or later as measured when Prometheus scraped late), that scrape's
 * duration (stored once done: the longest measured), the evaluations from a sample to the alert
 * (`evaluations`: one, and one more for each recording rule on the way, as `evaluationsToAlert`
 * counts them from the generated groups; QueueBacklog reads a recorded sum), then the drill seeing the
 * resolving evaluation: the group's evaluation (the longest measured) and a poll, or, when longer,
 * as measured (`seen`: from the evaluation after the alert's last firing sample, which is the one
 * that resolved it, to when the drill saw it resolved).
 */
export function gaugeResolveBound(
  t: Timings,
  scrapeS: number,
  groupS: number,
  poll: number,
  measured: { readonly scrapeAfter?: number; readonly seen?: number } = {},
  evaluations = 1,
): number {
  // Each recording rule on the way from another group is one evaluation more, each as long as the longest measured.
  const stored = Math.max(sec(t.scrapeInterval), measured.scrapeAfter ?? 0) + scrapeS + evaluations * sec(t.evaluationInterval) + (evaluations - 1) * groupS;
  return measured.seen !== undefined && measured.seen > groupS + poll ? stored + measured.seen : stored + groupS + poll;
}

/** One step of the scale drill, in seconds from the drill's start. */
export interface ScaleInStep {
  readonly from: number;
  readonly to: number;
  /** SpareReplicas firing for this step, in Prometheus; the action's start and end (audit row); the alert resolving. */
  readonly fire?: number;
  /** The timestamp of the evaluation that first recorded it firing (Prometheus' own clock), in seconds from the drill's start. */
  readonly firedAt?: number;
  readonly action: number;
  readonly actionEnd: number;
  readonly resolve?: number;
}

/**
 * The scale drill: from a stack the queue drill scaled out, under one client of light traffic, the
 * responder's scale-in playbook must step the replicas in, one SpareReplicas episode per step, down
 * to one: each step's firing, action and resolution timed against {@link scaleInBounds} from the
 * moment the count was last set, every step audited, and no request of the traffic failed (each
 * replica leaves the gateway before it stops, and finishes what it holds). Skipped on a stack at
 * one replica: there is nothing to scale in, and nothing is proven.
 */
export async function runScaleInDrill(s: StackInfo, scenario: Scenario, log: (line: string) => void = () => {}): Promise<DrillResult> {
  const t = s.timings;
  const tuning = resolveTuning(SPARE_REPLICAS, s.spec.alerts[SPARE_REPLICAS.name]);
  const window = tuning.window ?? s.spec.rateWindow;
  let pollS = POLL_MS / 1000;
  const measured = async () => ({
    scrapeS: (await queryNumber(s.urls.prometheus, `max(max_over_time(scrape_duration_seconds{job="${JOB.gateway}"}[5m]))`)) ?? 0,
    groupS: (await queryNumber(s.urls.prometheus, 'max(max_over_time(prometheus_rule_group_last_duration_seconds[5m]))')) ?? 0,
  });
  let m = await measured();
  let bounds = scaleInBounds(t, { window, for: tuning.for }, pollS, m.scrapeS, m.groupS);
  const base = { scenario: scenario.name, alert: scenario.alert };
  if (s.scale === undefined) return { ...base, ...bounds, skipped: 'the stack has no scale driver (it meters a real server)', ok: true, problems: [] };
  const initial = (await simulatorURLs(s)).length;
  if (initial <= 1) {
    return { ...base, ...bounds, skipped: 'the stack runs 1 simulator replica: nothing to scale in (run the queue drill first; drill all does)', ok: true, problems: [] };
  }
  const model = scenario.model(s);
  const matchers = [`${LABEL.upstream}="${s.scale.upstream}"`];
  const firingSelector = `ALERTS{alertname="${scenario.alert}",alertstate="firing",${matchers.join(',')}}`;
  const firingNow = async () => (await promQuery(s, firingSelector)) > 0;
  const since = new Date().toISOString();
  const t0 = Date.now();
  log(`${scenario.name}: ${initial} replicas of ${s.scale.deployment}, light traffic to ${model} x${scenario.concurrency}; waiting for ${scenario.alert} (window ${window}, for ${tuning.for})`);
  const traffic = startTraffic(s, model, scenario.concurrency, DRILL_MAX_TOKENS);
  const steps: ScaleInStep[] = [];
  const fires: number[] = [];
  /** Each fire on Prometheus' clock (its first firing sample's timestamp), seconds from t0. */
  const firedAt: number[] = [];
  const resolves: number[] = [];
  const problems: string[] = [];
  let alertmanager: number | undefined;
  let firing = false;
  let replicas = initial;
  let held: string | undefined;
  // Each step may take its whole bounds three times over, as the other drills' deadlines do.
  const deadline = t0 + (initial - 1) * (bounds.actionBound + bounds.resolveBound) * 3000;
  let failures = 0;
  try {
    while ((replicas > 1 || firing) && Date.now() < deadline) {
      const from = Date.now();
      const now = (from - t0) / 1000;
      const up = await firingNow();
      if (up && !firing) {
        fires.push(now);
        // This episode's samples come after the last resolution the drill saw (or its start).
        const stamp = await firstSampleAfter(s, firingSelector, t0 + (resolves.at(-1) ?? 0) * 1000);
        firedAt.push(stamp === undefined ? now : Math.min(now, (stamp - t0) / 1000));
        log(`${scenario.name}: ${scenario.alert} firing at ${replicas} replicas after ${now.toFixed(1)} s (its evaluation at ${firedAt.at(-1)!.toFixed(1)} s)`);
      } else if (!up && firing) {
        resolves.push(now);
        log(`${scenario.name}: ${scenario.alert} resolved after ${now.toFixed(1)} s`);
      }
      firing = up;
      if (alertmanager === undefined && up && (await inAlertmanager(s, scenario.alert, matchers))) alertmanager = now;
      const rows = await auditRows(s, scenario.alert, since);
      for (const row of rows.filter((r) => r.action === 'scale' && r.outcome === 'success').slice(steps.length)) {
        const moved = /from (\d+) to (\d+)/.exec(row.detail);
        const step = { from: Number(moved?.[1]), to: Number(moved?.[2]), fire: fires.at(-1), firedAt: firedAt.at(-1), action: (row.startedAt - t0) / 1000, actionEnd: (row.startedAt + row.durationMs - t0) / 1000 };
        steps.push(step);
        log(`${scenario.name}: responder scaled in ${step.from} -> ${step.to} after ${step.action.toFixed(1)} s (took ${(step.actionEnd - step.action).toFixed(1)} s)`);
      }
      held = rows.find((r) => r.outcome !== 'success' && r.outcome !== 'running')?.detail ?? held;
      replicas = (await simulatorURLs(s)).length;
      await sleep(POLL_MS);
      pollS = Math.max(pollS, (Date.now() - from) / 1000);
    }
  } finally {
    failures = await traffic.stop();
  }
  m = await measured();
  bounds = scaleInBounds(t, { window, for: tuning.for }, pollS, m.scrapeS, m.groupS);
  // Each step: fired, acted and resolved within the bounds, from when the count was last set; its fire
  // and action bounds with what was measured of its own firing evaluation (how late the drill saw it,
  // and the evaluations Prometheus skipped from when the count was set to when it fired).
  const scrapeMs = durationMs(t.scrapeInterval);
  let last = 0;
  for (const [i, step] of steps.entries()) {
    const k = fires.findIndex((f) => f >= last && f <= step.action + pollS);
    const fire = k < 0 ? undefined : fires[k];
    const observed = k < 0 ? undefined : { seen: fires[k]! - firedAt[k]!, missed: await missedIterations(s, t0 + last * 1000 - scrapeMs, t0 + firedAt[k]! * 1000 + scrapeMs) };
    const b = scaleInBounds(t, { window, for: tuning.for }, pollS, m.scrapeS, m.groupS, observed);
    if (i === 0) bounds = { ...bounds, fireBound: b.fireBound, actionBound: b.actionBound };
    const label = `step ${i + 1} (${step.from} -> ${step.to})`;
    const how = observed === undefined ? '' : ` (its evaluation at ${(firedAt[k]! - last).toFixed(1)} s, seen ${observed.seen.toFixed(1)} s later${observed.missed > 0 ? `, ${observed.missed} evaluations skipped` : ''})`;
    if (fire !== undefined && fire - last > b.fireBound) problems.push(`${label} fired ${(fire - last).toFixed(1)} s after the count was set${how}, bound ${b.fireBound.toFixed(1)} s`);
    if (step.action - last > b.actionBound) problems.push(`${label} acted ${(step.action - last).toFixed(1)} s after the count was set${how}, bound ${b.actionBound.toFixed(1)} s`);
    const resolved = resolves.find((r) => r >= step.action);
    if (resolved === undefined) problems.push(`${label}: ${scenario.alert} did not resolve after it`);
    else {
      const measured = await measureResolve(s, firingSelector, t0 + step.actionEnd * 1000, t0 + resolved * 1000);
      const resolveBound = gaugeResolveBound(t, m.scrapeS, m.groupS, pollS, measured, evaluationsToAlert(buildModel(s.spec).groups, scenario.alert));
      if (i === steps.length - 1) bounds = { ...bounds, resolveBound };
      if (resolved - step.actionEnd > resolveBound) problems.push(`${label} resolved ${(resolved - step.actionEnd).toFixed(1)} s after it ended, bound ${resolveBound.toFixed(1)} s`);
    }
    if (step.to !== step.from - 1) problems.push(`${label} is not one replica`);
    last = step.actionEnd;
  }
  if (fires.length === 0) problems.push(`${scenario.alert} never fired`);
  else if (alertmanager === undefined) problems.push('never reached Alertmanager');
  if (steps.length !== initial - 1) problems.push(`${steps.length} scale-in steps audited, ${initial - 1} expected${held === undefined ? '' : ` (last not run: ${held})`}`);
  if (replicas !== 1) problems.push(`the stack ended at ${replicas} replicas, not 1`);
  if (failures > 0) problems.push(`${failures} request${failures === 1 ? '' : 's'} of the light traffic failed while replicas stopped`);
  const first = steps[0];
  const lastStep = steps.at(-1);
  const resolve = lastStep === undefined ? undefined : resolves.filter((r) => r >= lastStep.action).map((r) => r - lastStep.actionEnd)[0];
  return {
    ...base,
    ...bounds,
    fire: fires[0],
    alertmanager,
    action: first?.action,
    actionDetail: steps.length === 0 ? undefined : `success: ${[initial, ...steps.map((x) => x.to)].join(' -> ')} replicas in ${steps.length} steps, the last done ${lastStep!.actionEnd.toFixed(1)} s after the start (${steps.map((x) => `${x.from}->${x.to} acted at ${x.action.toFixed(1)} s`).join(', ')})`,
    resolve,
    steps,
    ok: problems.length === 0,
    problems,
  };
}

/** The drill results as a table. */
export function formatResults(results: readonly DrillResult[]): string {
  // Bounds to the tenth, as the times are: a whole-second bound read "2.1 s (<= 2 s) ok" for a bound of 2.3 s.
  const f = (v: number | undefined, bound: number) => (v === undefined ? `-  (<= ${bound.toFixed(1)} s)` : `${v.toFixed(1)} s (<= ${bound.toFixed(1)} s)`);
  const rows = [['scenario', 'alert', 'time to fire', 'time to action', 'time to resolve', 'result']];
  for (const r of results) {
    rows.push([
      r.scenario,
      r.alert,
      r.skipped ? '' : f(r.fire, r.fireBound),
      r.skipped ? '' : f(r.action, r.actionBound),
      r.skipped ? '' : f(r.resolve, r.resolveBound),
      r.skipped ? `skipped: ${r.skipped}` : r.ok ? 'ok' : `FAILED: ${r.problems.join('; ')}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
  return `${table}\n\n${summarise(results)}`;
}

/**
 * One line of counts. A skipped drill proved nothing, so it is counted apart
 * from the passed ones: "6 passed, 0 failed, 1 skipped (not proven)".
 */
export function summarise(results: readonly DrillResult[]): string {
  const skipped = results.filter((r) => r.skipped !== undefined).length;
  const failed = results.filter((r) => r.skipped === undefined && !r.ok).length;
  const passed = results.length - skipped - failed;
  return `${passed} passed, ${failed} failed${skipped === 0 ? '' : `, ${skipped} skipped (not proven)`}`;
}

/**
 * The exit code of a drill run: 1 when a drill failed; 2 when none failed but one was skipped (it
 * proved nothing, so a script that reads the code does not take it for a pass); 0 when all passed.
 */
export function exitCodeOf(results: readonly DrillResult[]): number {
  if (results.some((r) => r.skipped === undefined && !r.ok)) return 1;
  return results.some((r) => r.skipped !== undefined) ? 2 : 0;
}

/**
 * The timestamp (epoch ms) of the earliest sample of `selector` after `afterMs`, as Prometheus
 * stored it: for ALERTS, the evaluation that recorded the state; undefined when none.
 */
async function firstSampleAfter(s: StackInfo, selector: string, afterMs: number): Promise<number | undefined> {
  const span = Math.ceil((Date.now() - afterMs) / 1000) + 1;
  const stamps = (await rawSamples(s, `${selector}[${span}s]`)).flatMap((r) => r.values.map(([ts]) => ts * 1000)).filter((ts) => ts > afterMs);
  return stamps.length === 0 ? undefined : Math.min(...stamps);
}

/** The raw samples of a range selector, as Prometheus stored them (an instant query of `metric[range]`). */
async function rawSamples(s: StackInfo, rangeSelector: string): Promise<readonly MatrixSeries[]> {
  const data = await instantQuery(s.urls.prometheus, rangeSelector);
  return data.resultType === 'matrix' ? (data.result as readonly MatrixSeries[]) : [];
}

/**
 * What {@link gaugeResolveBound} measures of a resolution, in seconds: when Prometheus first scraped
 * the gateway after `fromMs` (the latest of its instances), and how long after the resolving
 * evaluation (the one after the alert's last firing sample before `seenAtMs`) the drill saw it.
 */
async function measureResolve(s: StackInfo, firingSelector: string, fromMs: number, seenAtMs: number): Promise<{ scrapeAfter?: number; seen?: number }> {
  const span = `${Math.ceil((Date.now() - fromMs) / 1000) + 60}s`;
  const firsts = (await rawSamples(s, `up{job="${JOB.gateway}"}[${span}]`)).map((r) => r.values.find(([ts]) => ts * 1000 > fromMs)?.[0]).filter((ts) => ts !== undefined);
  const firing = (await rawSamples(s, `${firingSelector}[${span}]`)).flatMap((r) => r.values.map(([ts]) => ts * 1000)).filter((ts) => ts <= seenAtMs);
  return {
    scrapeAfter: firsts.length === 0 ? undefined : Math.max(...firsts) - fromMs / 1000,
    seen: firing.length === 0 ? undefined : Math.max(0, seenAtMs - Math.max(...firing) - durationMs(s.timings.evaluationInterval)) / 1000,
  };
}

/**
 * How many evaluations Prometheus skipped between two moments (epoch ms, both past): the most of any
 * rule group, from its own `prometheus_rule_group_iterations_missed_total` (a group whose evaluation
 * starts more than an interval late skips to the next; each skip delays what it would have seen by
 * an interval). 0 when Prometheus does not scrape itself.
 */
async function missedIterations(s: StackInfo, fromMs: number, toMs: number): Promise<number> {
  const offset = Math.max(0, Math.floor((Date.now() - toMs) / 1000));
  const range = `prometheus_rule_group_iterations_missed_total[${Math.ceil((toMs - fromMs) / 1000) + 1}s]${offset > 0 ? ` offset ${offset}s` : ''}`;
  return (await queryNumber(s.urls.prometheus, `max(max_over_time(${range}) - min_over_time(${range}))`)) ?? 0;
}

/** How many series an instant query returns. */
async function promQuery(s: StackInfo, q: string): Promise<number> {
  return (await queryVector(s.urls.prometheus, q)).length;
}

async function promLabelValues(s: StackInfo, q: string, label: string): Promise<string[]> {
  return (await queryVector(s.urls.prometheus, q)).map((r) => r.metric[label] ?? '');
}

async function inAlertmanager(s: StackInfo, alert: string, matchers: readonly string[]): Promise<boolean> {
  const filter = [`alertname="${alert}"`, ...matchers].map((m) => `filter=${encodeURIComponent(m)}`).join('&');
  const res = await fetch(`${s.urls.alertmanager}/api/v2/alerts?${filter}`);
  const body = (await res.json()) as Array<{ status: { state: string } }>;
  return body.some((a) => a.status.state === 'active' || a.status.state === 'suppressed');
}

type AuditRow = { action: string; outcome: string; detail: string; alertStatus: string; startedAt: number; durationMs: number };

/** The responder's audit rows of an alert since a time, newest first (its `/actions` order). */
async function actionRows(s: StackInfo, alert: string, since: string): Promise<AuditRow[]> {
  const res = await fetch(`${s.urls.responder}/actions?alertname=${alert}&since=${encodeURIComponent(since)}&limit=100`, { headers: { authorization: `Bearer ${s.responderToken}` } });
  if (!res.ok) throw new Error(`the responder answered ${res.status} to GET /actions: ${(await res.text()).slice(0, 200)}`);
  const body = (await res.json()) as { actions: Array<Omit<AuditRow, 'startedAt'> & { startedAt: number | string }> };
  return body.actions.map((a) => ({ ...a, startedAt: typeof a.startedAt === 'number' ? a.startedAt : Date.parse(a.startedAt) }));
}

async function findAction(s: StackInfo, alert: string, action: string, since: string, skipped = false): Promise<AuditRow | undefined> {
  // `running` rows are actions in flight: their outcome is not known yet.
  return (await actionRows(s, alert, since)).find((a) => a.action === action && a.alertStatus === 'firing' && a.outcome !== 'running' && (a.outcome === 'skipped') === skipped);
}

/** The responder's audit rows of an alert's firing runs since a time, oldest first; rows in flight (`running`) left out. */
async function auditRows(s: StackInfo, alert: string, since: string): Promise<AuditRow[]> {
  return (await actionRows(s, alert, since)).filter((a) => a.alertStatus === 'firing' && a.outcome !== 'running').sort((a, b) => a.startedAt - b.startedAt);
}

/**
 * The simulators serving the stack's upstream: the primary, and the replicas the scale driver started
 * (from the gateway's endpoint list). A fault is the model server's: every replica gets it.
 */
async function simulatorURLs(s: StackInfo): Promise<string[]> {
  if (s.scale === undefined) return [s.urls.simulator!];
  const res = await fetch(`${s.urls.gateway}/admin/upstreams/${encodeURIComponent(s.scale.upstream)}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
  if (!res.ok) throw new Error(`the gateway did not list its endpoints: ${res.status} ${await res.text()}`);
  const { endpoints } = (await res.json()) as { endpoints: Array<{ url: string }> };
  return endpoints.map((e) => new URL(e.url).origin);
}

/** Applies the fault on every replica; returns the model's profile with it, as the first simulator now serves it. */
async function setProfile(s: StackInfo, model: string, patch: Record<string, unknown>): Promise<AnswerProfile> {
  const profiles = await Promise.all(
    (await simulatorURLs(s)).map(async (url) => {
      const res = await fetch(`${url}/admin/profiles/${encodeURIComponent(model)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
      if (!res.ok) throw new Error(`the simulator refused the fault: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { profile: AnswerProfile }).profile;
    }),
  );
  return profiles[0]!;
}

async function resetProfile(s: StackInfo, model: string): Promise<void> {
  await Promise.all((await simulatorURLs(s)).map((url) => fetch(`${url}/admin/profiles/${encodeURIComponent(model)}`, { method: 'DELETE' })));
}

/** Requests to the gateway, `concurrency` at a time, until stopped; failures are expected and ignored. */
function startTraffic(s: StackInfo, model: string, concurrency: number, maxTokens: number | null = DRILL_MAX_TOKENS): { stop(): Promise<number> } {
  let running = true;
  let failures = 0;
  const workers = Array.from({ length: concurrency }, async (_, i) => {
    let n = 0;
    while (running) {
      try {
        const res = await fetch(`${s.urls.gateway}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: `drill ${i}-${n++}` }], ...(maxTokens === null ? {} : { max_tokens: maxTokens }) }),
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        if (!res.ok) failures++;
      } catch {
        failures++;
        await sleep(100);
      }
    }
  });
  return {
    /** Stops once the requests in flight end; resolves to how many requests failed. */
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return failures;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Saves a drill run where the console reads it. */
export function saveResults(dir: string, results: readonly DrillResult[], at = new Date()): void {
  writeFileSync(join(dir, DRILLS_FILE), `${JSON.stringify({ at: at.toISOString(), results }, null, 2)}\n`);
}
