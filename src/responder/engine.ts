import PQueue from 'p-queue';
import type { ResponderConfig } from '../core/config/responder-config.ts';
import { durationMs } from '../core/config/duration.ts';
import type { Playbook, PlaybookStep } from '../core/config/playbook-spec.ts';
import type { DecisionWhy } from '../core/conventions/metrics.ts';
import { actionSpec, cooldownKeys, riskOf } from '../core/config/action-specs.ts';
import type { ActionSpec } from '../core/config/action-specs.ts';
import type { PendingRun, SqliteAuditStore } from './audit-store.ts';
import type { ResponderMetrics } from './metrics.ts';
import { expandParams, expandString } from './template.ts';
import type { Action, ActionContext, ActionOutcome, ActionResult, Alert, WebhookRecord } from './types.ts';
import { logger } from '../core/log.ts';
import { TimeSlice } from './queue-slice.ts';

/** An action that can also undo itself when its alert resolves. */
export type RevertibleAction = Action;

export interface EngineDeps {
  readonly config: ResponderConfig;
  readonly store: SqliteAuditStore;
  readonly actions: ReadonlyMap<string, Action>;
  /** Actions a playbook names that this responder cannot run, with why (`scale` without a cluster configuration). */
  readonly unavailable?: ReadonlyMap<string, string>;
  /** Reads a condition's number from Prometheus. */
  readonly query: (promql: string, signal: AbortSignal) => Promise<number | undefined>;
  readonly metrics: ResponderMetrics;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/** The article's three response tiers, by the alert's severity. */
export type Tier = 'P0' | 'P1' | 'P2';

export function tierOf(severity: string | undefined): Tier {
  return severity === 'critical' ? 'P0' : severity === 'warning' ? 'P1' : 'P2';
}

const HOUR_MS = 3_600_000;

/** Action outcomes that count towards `limits.maxActionsPerHour` (as SqliteAuditStore.actionsSince counts them). */
const COUNTED: ReadonlySet<ActionOutcome> = new Set<ActionOutcome>(['running', 'success', 'failure', 'interrupted']);

/** Alerts of one webhook decided per transaction (a fraction of a millisecond each). */
const ACCEPT_CHUNK = 20;

/** One alert's decision, as the webhook answer reports it. */
export interface DecisionSummary {
  readonly fingerprint: string;
  readonly alertname: string;
  readonly decision: 'act' | 'skip';
  readonly reason: string;
}

/** Who steers the responder: audited with every kill-switch and breaker operation. */
export interface Operator {
  readonly who: string;
  readonly remote?: string;
  readonly reason?: string;
}

type StepEnd = 'ran' | 'skipped' | 'held' | 'cancelled' | 'breaker';

/**
 * When each counted action of the last hour started, oldest first: the cap's
 * sliding window. Loaded once from the audit log at start-up, then kept here,
 * so the check before every action costs a few array operations instead of a
 * count over every action row of the hour (which grew with the burst: 10,000
 * actions meant 10,000 counts over up to 10,000 rows).
 */
class RateWindow {
  readonly #starts: number[];
  #head = 0;

  constructor(starts: readonly number[]) {
    this.#starts = [...starts].sort((a, b) => a - b);
  }

  /** Counted actions started at or after `since`. */
  countSince(since: number): number {
    while (this.#head < this.#starts.length && this.#starts[this.#head]! < since) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#starts.length) {
      this.#starts.splice(0, this.#head);
      this.#head = 0;
    }
    return this.#starts.length - this.#head;
  }

  add(at: number): void {
    let i = this.#starts.length;
    // Started times arrive in order but for a clock step back: keep the array sorted.
    while (i > this.#head && this.#starts[i - 1]! > at) i--;
    this.#starts.splice(i, 0, at);
  }

  /** An action counted when it started that finished with an outcome the cap does not count (dry-run, skipped). */
  remove(at: number): void {
    const i = this.#starts.lastIndexOf(at);
    if (i >= this.#head) this.#starts.splice(i, 1);
  }
}

/**
 * Decides what to do about each alert and does it, with guarantees that hold
 * through crashes, holds and overlapping alerts (docs/responder.md):
 * - a durable outbox: a webhook's decisions and their runs commit in one
 *   transaction before Alertmanager is answered; each action is written
 *   `running` before it starts and finished after; at start-up unfinished runs
 *   resume (idempotent actions again, others recorded `interrupted`) or are
 *   abandoned with the reason when too old;
 * - holds (kill switch, breaker, cooldown, dry-run) never consume an alert's
 *   idempotency key, the kill switch is rechecked before every action and
 *   cancels queued ones, a resolution held back is applied when the hold ends;
 * - revert ownership: a target goes back only when the last firing alert that
 *   holds it resolves, and only if this responder changed it;
 * - per-target queues (p-queue): actions on one target run in order, on
 *   different targets concurrently, yielding to the event loop between them.
 */
export class Engine {
  readonly #d: EngineDeps;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #runs: PQueue;
  readonly #targets = new Map<string, PQueue>();
  readonly #active = new Set<number>();
  /** Runs waiting for a place in {@link #runs}, by decision id, oldest from {@link #backlogHead}. */
  #backlog: number[] = [];
  #backlogHead = 0;
  readonly #rate: RateWindow;
  #kill: boolean;
  readonly #slice = new TimeSlice();

  constructor(deps: EngineDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.log ?? ((line) => logger('responder').error(line));
    this.#runs = new PQueue({ concurrency: deps.config.limits.concurrency });
    const persisted = deps.store.killSwitch();
    if (deps.config.killSwitch && !persisted.on) {
      const at = this.#now();
      deps.store.transaction(() => {
        deps.store.setKillSwitch({ on: true, by: 'config (killSwitch: true)', at, reason: 'started with the kill switch on' });
        deps.store.recordOperation({ at, what: 'kill-switch-on', who: 'config (killSwitch: true)', detail: 'started with the kill switch on' });
      });
    }
    this.#kill = deps.store.killSwitch().on;
    this.#rate = new RateWindow(deps.store.actionStartsSince(this.#now() - HOUR_MS));
    deps.metrics.killSwitch.set(this.#kill ? 1 : 0);
    deps.metrics.dryRun.set(deps.config.dryRun ? 1 : 0);
    deps.metrics.breaker.set(deps.store.breaker().tripped ? 1 : 0);
  }

  get dryRun(): boolean {
    return this.#d.config.dryRun;
  }

  get killSwitch(): boolean {
    return this.#kill;
  }

  /** Runs queued or running. */
  get pending(): number {
    return this.#active.size;
  }

  /** The time slice every piece of responder work waits for (the webhook's validation too): `while (slice.over) await slice.next;`. */
  get slice(): TimeSlice {
    return this.#slice;
  }

  /** Resolves once every queued run has finished. */
  async idle(): Promise<void> {
    while (this.#active.size > 0) await this.#runs.onIdle();
  }

  /**
   * Resumes the outbox after a restart: each unfinished run is driven again, or
   * abandoned (recorded with the reason) when it was received longer ago than
   * `limits.resumeMaxAge`; resolutions kept during a hold are applied if none is on.
   */
  resume(): { resumed: number; abandoned: number } {
    const { store, config } = this.#d;
    const now = this.#now();
    const maxAge = durationMs(config.limits.resumeMaxAge);
    let resumed = 0;
    let abandoned = 0;
    for (const run of store.pendingRuns()) {
      if (now - run.createdAt > maxAge) {
        abandoned++;
        const detail = `abandoned at start-up: received ${new Date(run.createdAt).toISOString()}, more than limits.resumeMaxAge (${config.limits.resumeMaxAge}) ago`;
        store.transaction(() => {
          for (const row of store.stepRows(run.decisionId)) {
            if (row.outcome === 'running') store.finishAction(row.id, { outcome: 'interrupted', durationMs: 0, detail: 'the responder stopped while this ran; its effect is unknown' });
          }
          store.recordAction({ decisionId: run.decisionId, action: run.kind, target: `run@${run.alert.fingerprint}`, startedAt: now, durationMs: 0, outcome: 'abandoned', detail });
          store.finishRun(run.decisionId, 'abandoned', now);
          // Still firing, Alertmanager's next delivery is acted on afresh.
          if (run.idemKey !== undefined) store.release(run.idemKey);
        });
        continue;
      }
      resumed++;
      this.#drive(run);
    }
    this.#applyDeferred();
    return { resumed, abandoned };
  }

  /**
   * Records an accepted webhook, decides about each of its alerts and queues
   * the runs. Each decision commits with its run, {@link ACCEPT_CHUNK} alerts
   * to a transaction with a turn of the event loop between two (a webhook of
   * 100 alerts is a few milliseconds of SQLite: in one piece it held /healthz
   * back); a chunk's runs start once it has committed. Everything has
   * committed when this resolves, before Alertmanager gets its 200.
   */
  async accept(webhook: WebhookRecord, alerts: readonly Alert[]): Promise<{ webhookId: number; decisions: DecisionSummary[] }> {
    const { store } = this.#d;
    const decisions: DecisionSummary[] = [];
    let webhookId: number | undefined;
    for (let i = 0; i === 0 || i < alerts.length; i += ACCEPT_CHUNK) {
      while (this.#slice.over) await this.#slice.next;
      const toRun: PendingRun[] = [];
      const chunk = store.transaction(() => {
        const id = webhookId ?? store.recordWebhook(webhook);
        const now = this.#now();
        return { id, decided: alerts.slice(i, i + ACCEPT_CHUNK).map((a) => this.#decide(id, a, now, toRun)) };
      });
      webhookId = chunk.id;
      decisions.push(...chunk.decided);
      for (const run of toRun) this.#drive(run);
    }
    return { webhookId: webhookId!, decisions };
  }

  /** Turns the kill switch on or off, persisted and audited; on cancels queued actions, off applies the resolutions it held back. */
  setKillSwitch(on: boolean, op: Operator): void {
    const { store, metrics } = this.#d;
    const at = this.#now();
    store.transaction(() => {
      store.setKillSwitch({ on, by: op.who, at, ...(op.reason !== undefined && { reason: op.reason }) });
      store.recordOperation({ at, what: on ? 'kill-switch-on' : 'kill-switch-off', who: op.who, remote: op.remote, detail: op.reason ?? '' });
    });
    this.#kill = on;
    metrics.killSwitch.set(on ? 1 : 0);
    if (!on) this.#applyDeferred();
  }

  resetBreaker(op: Operator): void {
    const { store, metrics } = this.#d;
    const at = this.#now();
    store.transaction(() => {
      const was = store.breaker();
      store.resetBreaker();
      store.recordOperation({ at, what: 'breaker-reset', who: op.who, remote: op.remote, detail: `${op.reason ?? ''}${was.tripped ? ` (tripped since ${new Date(was.since ?? 0).toISOString()}: ${was.reason})` : ' (was not tripped)'}` });
    });
    metrics.breaker.set(0);
    this.#applyDeferred();
  }

  #hold(): string | undefined {
    if (this.#kill) {
      const k = this.#d.store.killSwitch();
      return `kill switch on${k.by !== undefined ? ` (set by ${k.by}${k.at !== undefined ? ` at ${new Date(k.at).toISOString()}` : ''})` : ''}`;
    }
    const b = this.#d.store.breaker();
    if (b.tripped) return `breaker tripped at ${new Date(b.since ?? 0).toISOString()} (${b.reason}); reset it to act again`;
    return undefined;
  }

  /** Resolutions kept during a hold, decided afresh now that none is on. */
  #applyDeferred(): void {
    const { store } = this.#d;
    if (this.#hold() !== undefined) return;
    const kept = store.deferred();
    if (kept.length === 0) return;
    const toRun: PendingRun[] = [];
    store.transaction(() => {
      const webhookId = store.recordWebhook({ receivedAt: this.#now(), status: 'accepted', remoteAddress: 'llmwatch: resolutions kept during a hold', body: JSON.stringify({ deferred: kept.map((a) => a.fingerprint) }) });
      for (const a of kept) {
        store.dropDeferred(a.fingerprint);
        this.#decide(webhookId, a, this.#now(), toRun);
      }
    });
    for (const run of toRun) this.#drive(run);
  }

  /** One alert's decision, inside the webhook's transaction; an `act` adds its run to `toRun`. */
  #decide(webhookId: number, alert: Alert, now: number, toRun: PendingRun[]): DecisionSummary {
    const { store, metrics, config } = this.#d;
    const alertname = alert.labels.alertname!;
    const severity = alert.labels.severity ?? 'none';
    const tier = tierOf(alert.labels.severity);
    const key = `${alert.fingerprint}|${alert.startsAt}|${alert.status}`;
    metrics.alert(alert.status);
    const record = (decision: 'act' | 'skip', why: DecisionWhy, reason: string) => {
      const id = store.recordDecision({ webhookId, at: now, fingerprint: alert.fingerprint, alertname, status: alert.status, severity, tier, decision, reason, dryRun: config.dryRun });
      metrics.decision(why);
      return { id, summary: { fingerprint: alert.fingerprint, alertname, decision, reason } };
    };

    // Alertmanager delivers at least once: the same alert state seen again is a redelivery.
    // Read, then claim below only when acting: inside an IMMEDIATE transaction nothing writes in between.
    if (store.claimed(key)) return record('skip', 'duplicate', 'duplicate delivery: this alert state was already handled').summary;
    if (tier === 'P2') {
      store.claim(key, now);
      return record('skip', 'info_tier', `severity ${severity}: P2, recorded only`).summary;
    }
    const playbook = config.playbooks[alertname];
    if (playbook === undefined) {
      store.claim(key, now);
      return record('skip', 'no_playbook', `no playbook for ${alertname}`).summary;
    }
    const reverts = playbook.steps.some((s) => s.revertOnResolve);
    // A firing alert supersedes a resolution of the same series kept during a hold.
    if (alert.status === 'firing') store.dropDeferred(alert.fingerprint);
    const hold = this.#hold();
    if (hold !== undefined) {
      // Holds never claim the key: Alertmanager's next delivery of a still-firing alert is acted on once the hold ends.
      if (alert.status === 'resolved' && reverts) store.defer(alert, now);
      const why: DecisionWhy = this.#kill ? 'kill_switch' : 'breaker';
      return record('skip', why, `${hold}: no action runs${alert.status === 'resolved' && reverts ? '; the resolution is kept and applied when the hold ends' : ''}`).summary;
    }
    if (alert.status === 'resolved' && !reverts) {
      store.claim(key, now);
      return record('skip', 'nothing_to_revert', 'resolved; the playbook has nothing to undo').summary;
    }
    // A dry run claims nothing: the real run, later, must still happen.
    const idemKey = config.dryRun ? undefined : key;
    if (idemKey !== undefined) store.claim(idemKey, now);
    const kind = alert.status === 'resolved' ? 'revert' : 'playbook';
    const reason =
      kind === 'revert'
        ? `resolved: undo ${playbook.steps.filter((s) => s.revertOnResolve).map((s) => s.action).join(', ')}`
        : `playbook ${alertname} (${tier}${config.dryRun ? ', dry run' : ''})`;
    const { id, summary } = record('act', kind === 'revert' ? 'revert' : 'playbook', reason);
    store.insertRun({ decisionId: id, kind, alert, idemKey, createdAt: now });
    toRun.push({ decisionId: id, kind, alert, idemKey, createdAt: now, tier, dryRun: config.dryRun });
    return summary;
  }

  /**
   * Queues a committed run. A burst's backlog waits as decision ids, its runs
   * read back from the outbox when a place in the run queue frees: ten
   * thousand queued alerts held in memory for seconds were promoted to the old
   * heap and cost a major GC pause of tens of milliseconds at the end.
   */
  #drive(run: PendingRun): void {
    if (this.#active.has(run.decisionId)) return;
    this.#active.add(run.decisionId);
    this.#d.metrics.pendingRuns.set(this.#active.size);
    this.#backlog.push(run.decisionId);
    this.#feed();
  }

  /** Moves backlog into the run queue while it has fewer than twice its concurrency waiting or running. */
  #feed(): void {
    const room = this.#d.config.limits.concurrency * 2;
    while (this.#backlogHead < this.#backlog.length && this.#runs.size + this.#runs.pending < room) {
      const id = this.#backlog[this.#backlogHead++]!;
      this.#runs
        .add(async () => {
          while (this.#slice.over) await this.#slice.next;
          // Undefined when no longer pending (finished or abandoned meanwhile): nothing to do.
          const run = this.#d.store.pendingRun(id);
          if (run !== undefined) await this.#execute(run);
        })
        .catch((err: unknown) => this.#log(`llmwatch responder: run ${id} failed: ${(err as Error).stack ?? String(err)}`))
        .finally(() => {
          this.#active.delete(id);
          this.#d.metrics.pendingRuns.set(this.#active.size);
          this.#feed();
        });
    }
    if (this.#backlogHead === this.#backlog.length) {
      this.#backlog = [];
      this.#backlogHead = 0;
    } else if (this.#backlogHead > 4096) {
      this.#backlog = this.#backlog.slice(this.#backlogHead);
      this.#backlogHead = 0;
    }
  }

  async #execute(run: PendingRun): Promise<void> {
    const { store, config } = this.#d;
    const alertname = run.alert.labels.alertname!;
    const playbook = config.playbooks[alertname];
    if (playbook === undefined) {
      const now = this.#now();
      store.transaction(() => {
        store.recordAction({ decisionId: run.decisionId, action: run.kind, target: `run@${run.alert.fingerprint}`, startedAt: now, durationMs: 0, outcome: 'abandoned', detail: `no playbook for ${alertname} in this config any more` });
        store.finishRun(run.decisionId, 'abandoned', now);
      });
      return;
    }
    const revert = run.kind === 'revert';
    const steps = playbook.steps.map((step, index) => ({ step, index })).filter((s) => !revert || s.step.revertOnResolve);
    // What an earlier life of this run already did (resume after a crash).
    const rows = store.stepRows(run.decisionId);
    const done: string[] = [];
    let stopped = false;
    let ran = false;
    let held = false;
    let cancelled = false;
    for (const { step, index } of steps) {
      const prior = rows.filter((r) => r.step === index).at(-1);
      const name = revert ? `${step.action}:revert` : step.action;
      if (prior !== undefined && prior.outcome !== 'running') {
        done.push(`${step.action}: ${prior.detail}`);
        if (prior.outcome === 'success' || prior.outcome === 'failure' || prior.outcome === 'interrupted') ran = true;
        if (prior.outcome === 'success' && step.stopOnSuccess) stopped = true;
        continue;
      }
      let resume: Record<string, unknown> | undefined;
      if (prior !== undefined) {
        // Marked started, never finished: the process stopped while it ran.
        const again = this.#idempotent(step, run.alert);
        const checkpoint = prior.data?.checkpoint;
        if (checkpoint !== null && typeof checkpoint === 'object') resume = checkpoint as Record<string, unknown>;
        store.finishAction(prior.id, {
          outcome: 'interrupted',
          durationMs: 0,
          data: prior.data,
          detail: again
            ? 'the responder stopped while this ran; the action is idempotent, so it runs again'
            : `the responder stopped while this ran; ${step.action} is not idempotent, so it is not repeated: check whether it took effect`,
        });
        this.#d.metrics.action(step.action, 'interrupted', 0);
        if (!again) {
          ran = true;
          done.push(`${step.action}: interrupted`);
          continue;
        }
      }
      if (cancelled) {
        this.#row(run, index, name, step, 'cancelled', 'cancelled: the kill switch went on before it ran');
        continue;
      }
      if (stopped && !step.always) {
        this.#row(run, index, name, step, 'skipped', 'an earlier step succeeded (stopOnSuccess)');
        continue;
      }
      const { end, result } = await this.#step(run, step, index, done.join('; '), resume);
      if (result !== undefined) done.push(`${step.action}: ${result.detail}`);
      if (end === 'ran') {
        ran = true;
        if (result?.outcome === 'success' && step.stopOnSuccess) stopped = true;
      } else if (end === 'held') held = true;
      else if (end === 'cancelled') cancelled = true;
      else if (end === 'breaker') {
        held = true;
        stopped = true;
      }
    }
    while (this.#slice.over) await this.#slice.next;
    const now = this.#now();
    store.transaction(() => {
      store.finishRun(run.decisionId, cancelled ? 'cancelled' : 'done', now);
      // A run that a hold kept from doing anything gives its key back: the alert is acted on when Alertmanager repeats it.
      if ((held || cancelled) && !ran && run.idemKey !== undefined) store.release(run.idemKey);
      if (cancelled && revert) store.defer(run.alert, now);
    });
  }

  #idempotent(step: PlaybookStep, alert: Alert): boolean {
    const spec = actionSpec(step.action);
    const action = this.#d.actions.get(step.action);
    const params = this.#params(step, spec, alert);
    return action?.idempotent?.(params) ?? spec?.idempotent ?? false;
  }

  #params(step: PlaybookStep, spec: ActionSpec | undefined, alert: Alert): Record<string, unknown> {
    return spec?.expandsLabels === false ? { ...step.params } : expandParams(step.params, alert);
  }

  #row(run: PendingRun, index: number, name: string, step: PlaybookStep, outcome: ActionOutcome, detail: string, target?: string): ActionResult {
    const spec = actionSpec(step.action);
    this.#d.store.recordAction({
      decisionId: run.decisionId,
      step: index,
      action: name,
      target: target ?? (spec === undefined ? step.action : spec.target(this.#params(step, spec, run.alert), run.alert)),
      startedAt: this.#now(),
      durationMs: 0,
      outcome,
      detail,
    });
    this.#d.metrics.action(step.action, outcome, 0);
    return { outcome, detail };
  }

  #queue(target: string): PQueue {
    let q = this.#targets.get(target);
    if (q === undefined) {
      q = new PQueue({ concurrency: 1 });
      this.#targets.set(target, q);
    }
    return q;
  }

  /** One step, in its target's queue, with every guard rechecked when its turn comes. */
  async #step(run: PendingRun, step: PlaybookStep, index: number, summary: string, resume?: Record<string, unknown>): Promise<{ end: StepEnd; result?: ActionResult }> {
    const spec = actionSpec(step.action);
    const params = this.#params(step, spec, run.alert);
    const target = spec === undefined ? step.action : spec.target(params, run.alert);
    const q = this.#queue(target);
    try {
      return (await q.add(
        async () => {
          // Between steps the event loop serves /healthz and new webhooks, however long the burst.
          while (this.#slice.over) await this.#slice.next;
          return this.#guardedRun(run, step, index, summary, spec, params, target, resume);
        },
        { throwOnTimeout: true },
      ))!;
    } finally {
      if (q.size === 0 && q.pending === 0) this.#targets.delete(target);
    }
  }

  async #guardedRun(
    run: PendingRun,
    step: PlaybookStep,
    index: number,
    summary: string,
    spec: ActionSpec | undefined,
    params: Record<string, unknown>,
    target: string,
    resume?: Record<string, unknown>,
  ): Promise<{ end: StepEnd; result?: ActionResult }> {
    const { store, config, metrics, actions } = this.#d;
    const revert = run.kind === 'revert';
    const name = revert ? `${step.action}:revert` : step.action;
    const alert = run.alert;
    const alertname = alert.labels.alertname!;
    const row = (outcome: ActionOutcome, detail: string) => this.#row(run, index, name, step, outcome, detail, target);
    if (this.#kill) return { end: 'cancelled', result: row('cancelled', `cancelled before it ran: ${this.#hold()}`) };
    if (run.tier === 'P1' && (spec === undefined || riskOf(spec, params) !== 'low')) {
      const which = spec !== undefined && typeof spec.risk === 'function' ? `${step.action} with these params` : step.action;
      return { end: 'skipped', result: row('skipped', `severity warning (P1) runs low-risk actions only; ${which} needs critical`) };
    }
    if (step.if !== undefined && !revert) {
      const why = await this.#conditionFails(step, alert);
      if (why !== undefined) return { end: 'skipped', result: row('skipped', why) };
      if (this.#kill) return { end: 'cancelled', result: row('cancelled', `cancelled before it ran: ${this.#hold()}`) };
    }
    const action = actions.get(step.action);
    if (spec === undefined || action === undefined || (revert && (action.revert === undefined || !spec.revertible))) {
      const why = this.#d.unavailable?.get(step.action);
      return { end: 'skipped', result: row('skipped', `no ${name} action is available in this responder${why !== undefined ? `: ${why}` : ''}`) };
    }
    const now = this.#now();
    if (revert && !config.dryRun) {
      // Revert ownership: only the last firing alert holding the target takes it back, and only if this responder changed it.
      store.removeHolder(target, alert.fingerprint);
      if (!store.owns(target)) {
        return { end: 'skipped', result: row('skipped', `${target} was not changed by this responder (or was reverted already): left as it is`) };
      }
      const others = store.holders(target);
      if (others.length > 0) {
        return { end: 'skipped', result: row('skipped', `still held by ${others.length} firing alert(s): ${others.slice(0, 5).map((h) => `${h.alertname}@${h.fingerprint}`).join(', ')}`) };
      }
    } else if (!config.dryRun) {
      const b = store.breaker();
      if (b.tripped) return { end: 'breaker', result: row('skipped', `breaker tripped at ${new Date(b.since ?? 0).toISOString()} (${b.reason})`) };
      for (const key of cooldownKeys(spec, params, target).heldBy) {
        const until = store.cooldownUntil(this.#cooldownScope(alertname), key, now);
        if (until !== undefined) return { end: 'held', result: row('skipped', `cooldown on ${key} until ${new Date(until).toISOString()}`) };
      }
      const recent = this.#rate.countSince(now - HOUR_MS);
      if (recent >= config.limits.maxActionsPerHour) {
        const reason = `${recent} actions in the last hour reached the cap of ${config.limits.maxActionsPerHour}`;
        store.transaction(() => {
          store.tripBreaker(now, reason);
          store.recordOperation({ at: now, what: 'breaker-trip', who: 'responder', detail: reason });
        });
        metrics.breaker.set(1);
        return { end: 'breaker', result: row('skipped', `breaker tripped: ${reason}`) };
      }
    }
    // Marked started before it runs: a crash from here on leaves a `running` row that start-up resolves.
    const rowId = store.recordAction({ decisionId: run.decisionId, step: index, action: name, target, startedAt: now, durationMs: 0, outcome: 'running', detail: 'started' });
    this.#rate.add(now);
    const ctx: ActionContext = {
      alert,
      params,
      dryRun: config.dryRun,
      signal: AbortSignal.timeout(config.limits.actionTimeoutMs),
      summary,
      key: `${run.decisionId}:${index}`,
      checkpoint: (data) => store.checkpointAction(rowId, data),
      ...(resume !== undefined && { resume }),
    };
    const t0 = performance.now();
    let result: ActionResult;
    try {
      result = revert ? await action.revert!(ctx) : await action.run(ctx);
    } catch (err) {
      // Actions report failures as results; a throw is a bug in one, still recorded.
      result = { outcome: 'failure', detail: `the action threw: ${(err as Error).message}` };
    }
    const seconds = (performance.now() - t0) / 1000;
    // Recording the outcome is a commit too: it waits for room in a slice like the step did.
    while (this.#slice.over) await this.#slice.next;
    const playbook = config.playbooks[alertname];
    store.transaction(() => {
      store.finishAction(rowId, { outcome: result.outcome, durationMs: Math.round(seconds * 1000), detail: result.detail, data: result.data });
      if (config.dryRun) return;
      if (!revert && playbook !== undefined && (result.outcome === 'success' || result.outcome === 'failure')) {
        store.setCooldown(this.#cooldownScope(alertname), cooldownKeys(spec, params, target).sets, this.#now() + durationMs(playbook.cooldown));
      }
      if (spec.revertible && result.outcome === 'success') {
        if (revert) store.disown(target);
        else {
          // A change this responder made is owned; a target already there (an operator's route) is not.
          if (result.data?.changed !== false) store.own(target, run.decisionId, now);
          if (store.owns(target)) store.addHolder(target, alert.fingerprint, alertname, now);
        }
      }
    });
    if (!COUNTED.has(result.outcome)) this.#rate.remove(now);
    metrics.action(step.action, result.outcome, seconds);
    return { end: result.outcome === 'success' || result.outcome === 'failure' ? 'ran' : 'skipped', result };
  }

  /** Cooldowns are per target across alerts by default (`limits.cooldownScope: target`), or per (alert, target). */
  #cooldownScope(alertname: string): string {
    return this.#d.config.limits.cooldownScope === 'target' ? '*' : alertname;
  }

  /** Why the step's condition does not hold, or undefined when it does. */
  async #conditionFails(step: PlaybookStep, alert: Alert): Promise<string | undefined> {
    const c = step.if!;
    const query = expandString(c.query, alert, 'promql');
    let value: number | undefined;
    try {
      value = await this.#d.query(query, AbortSignal.timeout(5_000));
    } catch (err) {
      return `condition not checked: ${(err as Error).message}`;
    }
    if (value === undefined || Number.isNaN(value)) return `condition: ${query} returned no data`;
    if (c.above !== undefined && !(value > c.above)) return `condition false: ${query} = ${value}, not above ${c.above}`;
    if (c.below !== undefined && !(value < c.below)) return `condition false: ${query} = ${value}, not below ${c.below}`;
    return undefined;
  }
}
