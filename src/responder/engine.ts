import type { ResponderConfig } from '../config/responder-config.ts';
import { durationMs } from '../config/playbook-spec.ts';
import type { Playbook, PlaybookStep } from '../config/playbook-spec.ts';
import type { DecisionWhy } from '../metrics/conventions.ts';
import type { ResponderMetrics } from './metrics.ts';
import { expandParams, expandString } from './template.ts';
import type { Action, ActionContext, ActionResult, Alert, AuditStore } from './types.ts';

/** An action that can also undo itself when its alert resolves. */
export type RevertibleAction = Action & { revert?(ctx: ActionContext): Promise<ActionResult> };

export interface EngineDeps {
  readonly config: ResponderConfig;
  readonly store: AuditStore;
  readonly actions: ReadonlyMap<string, RevertibleAction>;
  /** Reads a condition's number from Prometheus. */
  readonly query: (promql: string, signal: AbortSignal) => Promise<number | undefined>;
  readonly metrics: ResponderMetrics;
  readonly now?: () => number;
}

/** The article's three response tiers, by the alert's severity. */
export type Tier = 'P0' | 'P1' | 'P2';

export function tierOf(severity: string | undefined): Tier {
  return severity === 'critical' ? 'P0' : severity === 'warning' ? 'P1' : 'P2';
}

/** Actions a warning (P1) may run by itself: ones that change no capacity and run no code. */
const LOW_RISK = new Set(['notify', 'switch-model', 'noop']);

const HOUR_MS = 3_600_000;

/** One alert's decision, as the webhook answer reports it. */
export interface DecisionSummary {
  readonly fingerprint: string;
  readonly alertname: string;
  readonly decision: 'act' | 'skip';
  readonly reason: string;
}

/**
 * Decides what to do about each alert and does it, safely: a redelivered
 * webhook runs nothing twice (idempotency on fingerprint, startsAt and
 * status, kept in the store), info alerts are only recorded, warnings run
 * low-risk actions only, each (alert, target) has a cooldown, an hourly cap
 * trips a breaker, dry-run and the kill switch stop everything, and every
 * decision and action is written to the audit store with its reason.
 * Decisions are taken and recorded at once; actions run afterwards, one at a
 * time, so a burst of alerts cannot act in parallel.
 */
export class Engine {
  killSwitch: boolean;
  readonly #d: EngineDeps;
  readonly #now: () => number;
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(deps: EngineDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.killSwitch = deps.config.killSwitch;
    deps.metrics.killSwitch.set(this.killSwitch ? 1 : 0);
    deps.metrics.dryRun.set(deps.config.dryRun ? 1 : 0);
    deps.metrics.breaker.set(deps.store.breaker().tripped ? 1 : 0);
  }

  get dryRun(): boolean {
    return this.#d.config.dryRun;
  }

  /** Actions queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once every queued action has run. */
  async idle(): Promise<void> {
    while (this.#pending > 0) await this.#queue;
  }

  setKillSwitch(on: boolean): void {
    this.killSwitch = on;
    this.#d.metrics.killSwitch.set(on ? 1 : 0);
  }

  resetBreaker(): void {
    this.#d.store.resetBreaker();
    this.#d.metrics.breaker.set(0);
  }

  /** Decides about every alert of an accepted webhook, records it, and queues the actions. */
  handle(webhookId: number, alerts: readonly Alert[]): DecisionSummary[] {
    return alerts.map((alert) => this.#decide(webhookId, alert));
  }

  #decide(webhookId: number, alert: Alert): DecisionSummary {
    const { store, metrics, config } = this.#d;
    const now = this.#now();
    const alertname = alert.labels.alertname!;
    const severity = alert.labels.severity ?? 'none';
    const tier = tierOf(alert.labels.severity);
    metrics.alert(alert.status);
    const record = (decision: 'act' | 'skip', why: DecisionWhy, reason: string) => {
      const id = store.recordDecision({
        webhookId,
        at: now,
        fingerprint: alert.fingerprint,
        alertname,
        status: alert.status,
        severity,
        tier,
        decision,
        reason,
        dryRun: config.dryRun,
      });
      metrics.decision(why);
      return { id, summary: { fingerprint: alert.fingerprint, alertname, decision, reason } };
    };

    // Alertmanager delivers at least once: the same alert state seen again is a redelivery.
    if (!store.claim(`${alert.fingerprint}|${alert.startsAt}|${alert.status}`, now)) {
      return record('skip', 'duplicate', 'duplicate delivery: this alert state was already handled').summary;
    }
    if (tier === 'P2') return record('skip', 'info_tier', `severity ${severity}: P2, recorded only`).summary;
    const playbook = config.playbooks[alertname];
    if (playbook === undefined) return record('skip', 'no_playbook', `no playbook for ${alertname}`).summary;
    if (this.killSwitch) return record('skip', 'kill_switch', 'kill switch on: no action runs').summary;
    const breaker = store.breaker();
    if (breaker.tripped) {
      return record('skip', 'breaker', `breaker tripped at ${new Date(breaker.since ?? 0).toISOString()} (${breaker.reason}); reset it to act again`).summary;
    }
    if (alert.status === 'resolved') {
      const reverts = playbook.steps.filter((s) => s.revertOnResolve);
      if (reverts.length === 0) return record('skip', 'nothing_to_revert', 'resolved; the playbook has nothing to undo').summary;
      const { id, summary } = record('act', 'revert', `resolved: undo ${reverts.map((s) => s.action).join(', ')}`);
      this.#enqueue(() => this.#revert(id, alert, reverts));
      return summary;
    }
    const { id, summary } = record('act', 'playbook', `playbook ${alertname} (${tier}${config.dryRun ? ', dry run' : ''})`);
    this.#enqueue(() => this.#run(id, alert, playbook, tier));
    return summary;
  }

  #enqueue(work: () => Promise<void>): void {
    this.#pending++;
    this.#queue = this.#queue
      .then(work)
      .catch((err: unknown) => console.error(`llmwatch responder: a playbook failed to run: ${String(err)}`))
      .finally(() => {
        this.#pending--;
      });
  }

  async #run(decisionId: number, alert: Alert, playbook: Playbook, tier: Tier): Promise<void> {
    let stopped = false;
    const done: string[] = [];
    for (const step of playbook.steps) {
      const skip = (detail: string) => this.#skip(decisionId, step, alert, detail);
      if (stopped && !step.always) {
        skip('an earlier step succeeded (stopOnSuccess)');
        continue;
      }
      if (tier === 'P1' && !LOW_RISK.has(step.action)) {
        skip(`severity warning (P1) runs low-risk actions only; ${step.action} needs critical`);
        continue;
      }
      if (step.if !== undefined) {
        const why = await this.#conditionFails(step, alert);
        if (why !== undefined) {
          skip(why);
          done.push(`${step.action}: skipped (${why})`);
          continue;
        }
      }
      const result = await this.#act(decisionId, alert, step, playbook, done.join('; '), false);
      if (result === undefined) break;
      done.push(`${step.action}: ${result.detail}`);
      if (result.outcome === 'success' && step.stopOnSuccess) stopped = true;
    }
  }

  async #revert(decisionId: number, alert: Alert, steps: readonly PlaybookStep[]): Promise<void> {
    for (const step of steps) await this.#act(decisionId, alert, step, undefined, '', true);
  }

  /** Runs one step with every guard; undefined when the breaker tripped and the playbook must stop. */
  async #act(decisionId: number, alert: Alert, step: PlaybookStep, playbook: Playbook | undefined, summary: string, revert: boolean): Promise<ActionResult | undefined> {
    const { store, config, metrics, actions } = this.#d;
    const action = actions.get(step.action);
    const name = revert ? `${step.action}:revert` : step.action;
    const alertname = alert.labels.alertname!;
    // exec never sees label values in its parameters: they go to the environment only.
    const params = step.action === 'exec' ? step.params : expandParams(step.params, alert);
    const target = targetOf(step.action, params, alert);
    const now = this.#now();
    if (action === undefined || (revert && action.revert === undefined)) {
      this.#skip(decisionId, step, alert, `no ${name} action is available in this responder`, name, target);
      return { outcome: 'skipped', detail: 'unavailable' };
    }
    if (!revert && !config.dryRun) {
      const until = store.cooldownUntil(alertname, target, now);
      if (until !== undefined) {
        const detail = `cooldown on ${target} until ${new Date(until).toISOString()}`;
        this.#skip(decisionId, step, alert, detail, name, target);
        return { outcome: 'skipped', detail };
      }
      const recent = store.actionsSince(now - HOUR_MS);
      if (recent >= config.limits.maxActionsPerHour) {
        const reason = `${recent} actions in the last hour reached the cap of ${config.limits.maxActionsPerHour}`;
        store.tripBreaker(now, reason);
        metrics.breaker.set(1);
        this.#skip(decisionId, step, alert, `breaker tripped: ${reason}`, name, target);
        return undefined;
      }
    }
    const signal = AbortSignal.timeout(config.limits.actionTimeoutMs);
    const ctx: ActionContext = { alert, params, dryRun: config.dryRun, signal, summary };
    const started = this.#now();
    const t0 = performance.now();
    let result: ActionResult;
    try {
      result = revert ? await action.revert!(ctx) : await action.run(ctx);
    } catch (err) {
      // Actions report failures as results; a throw is a bug in one, still recorded.
      result = { outcome: 'failure', detail: `the action threw: ${(err as Error).message}` };
    }
    const seconds = (performance.now() - t0) / 1000;
    store.recordAction({ decisionId, action: name, target, startedAt: started, durationMs: Math.round(seconds * 1000), outcome: result.outcome, detail: result.detail, data: result.data });
    metrics.action(step.action, result.outcome, seconds);
    if (!revert && playbook !== undefined && (result.outcome === 'success' || result.outcome === 'failure')) {
      store.setCooldown(alertname, target, this.#now() + durationMs(playbook.cooldown));
    }
    return result;
  }

  #skip(decisionId: number, step: PlaybookStep, alert: Alert, detail: string, name: string = step.action, target?: string): void {
    const params = step.action === 'exec' ? step.params : expandParams(step.params, alert);
    this.#d.store.recordAction({
      decisionId,
      action: name,
      target: target ?? targetOf(step.action, params, alert),
      startedAt: this.#now(),
      durationMs: 0,
      outcome: 'skipped',
      detail,
    });
    this.#d.metrics.action(step.action, 'skipped', 0);
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

/**
 * What an action touches, the key of its cooldown with the alert name: a
 * Deployment for `scale`, a model for `switch-model` (whichever alert
 * instance asks); for actions that touch nothing shared (notify, exec, noop),
 * the alert instance itself, so one model's alert never mutes another's.
 */
const SHARED_TARGETS: Readonly<Record<string, (p: Record<string, unknown>) => string>> = {
  scale: (p) => `${String(p.namespace ?? 'default')}/${String(p.deployment)}`,
  'switch-model': (p) => String(p.model),
};

function targetOf(action: string, params: Record<string, unknown>, alert: Alert): string {
  const shared = SHARED_TARGETS[action];
  return `${action}:${shared !== undefined ? shared(params) : `${stableJson(params)}@${alert.fingerprint}`}`;
}

/** JSON with sorted keys: the same params always name the same target. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
