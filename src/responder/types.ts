/**
 * The responder's contracts: what an alert looks like once validated, what an
 * action plugin is, and what the audit store keeps. Implementations live in
 * their own modules; the engine calls them through these interfaces only.
 */

/** One alert of an Alertmanager webhook (version 4), after validation. */
export interface Alert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL: string;
  readonly fingerprint: string;
}

/** What an action is given to run. */
export interface ActionContext {
  readonly alert: Alert;
  /** Parameters from the playbook step, validated by the action's own schema. */
  readonly params: Readonly<Record<string, unknown>>;
  /** True in dry-run mode: the action must change nothing and say what it would have done. */
  readonly dryRun: boolean;
  /** Aborts when the action's timeout passes or the responder stops. */
  readonly signal: AbortSignal;
  /** What the earlier steps of the playbook did, in words (for `notify`). */
  readonly summary?: string;
  /** The same on every attempt of one step (`decision:step`), for targets that dedupe (exec's `LLMWATCH_ACTION_KEY`). */
  readonly key?: string;
  /**
   * Records what the action is about to do (scale: the replica count it will write), committed
   * before the side effect, so an attempt cut short by a crash can be finished idempotently.
   */
  readonly checkpoint?: (data: Readonly<Record<string, unknown>>) => void;
  /** The checkpoint an interrupted earlier attempt of this step left, if any. */
  readonly resume?: Readonly<Record<string, unknown>>;
}

/**
 * `running`: marked started, not finished (yet, or ever: the process stopped); `interrupted`: was running when
 * the responder stopped; `cancelled`: a hold (kill switch) stopped it before it ran; `abandoned`: its alert
 * was too old to act on when the responder came back.
 */
export type ActionOutcome = 'running' | 'success' | 'failure' | 'dry-run' | 'skipped' | 'interrupted' | 'cancelled' | 'abandoned';

/** What an action did, in words and data, for the audit log. */
export interface ActionResult {
  readonly outcome: ActionOutcome;
  readonly detail: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An action plugin: a stable id (`scale`, `switch-model`, `notify`, `exec`) and a run function that never throws (a failure is a result). */
export interface Action {
  readonly id: string;
  run(ctx: ActionContext): Promise<ActionResult>;
  /** Undo (the alert resolved); only for actions the registry marks revertible. */
  revert?(ctx: ActionContext): Promise<ActionResult>;
  /** Overrides the registry's `idempotent` for these params (exec: per command). */
  idempotent?(params: Readonly<Record<string, unknown>>): boolean;
}

/** One webhook delivery as received. */
export interface WebhookRecord {
  readonly receivedAt: number;
  /** `accepted`, or `rejected` with the reason (bad payload, auth, size). */
  readonly status: 'accepted' | 'rejected';
  readonly reason?: string;
  readonly remoteAddress?: string;
  /** The raw body, truncated to a bound, for the audit trail. */
  readonly body: string;
}

/** One decision about one alert of a webhook: act (which playbook) or skip (why). */
export interface DecisionRecord {
  readonly webhookId: number;
  readonly at: number;
  readonly fingerprint: string;
  readonly alertname: string;
  readonly status: 'firing' | 'resolved';
  readonly severity: string;
  readonly tier: string;
  readonly decision: 'act' | 'skip';
  /** Why, in words: "cooldown until ...", "duplicate delivery", "kill switch on", "playbook HighInferenceLatency". */
  readonly reason: string;
  readonly dryRun: boolean;
}

/** One action run (or dry run) with its outcome. */
export interface ActionRecord {
  readonly decisionId: number;
  /** Index of the playbook step (0 for a row that is no step's, such as a whole run abandoned). */
  readonly step?: number;
  readonly action: string;
  readonly target: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly outcome: ActionOutcome;
  readonly detail: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** A row of `GET /actions`: an action with its decision and alert. */
export interface ActionView extends ActionRecord {
  readonly id: number;
  readonly alertname: string;
  readonly fingerprint: string;
  readonly alertStatus: 'firing' | 'resolved';
  readonly reason: string;
  readonly dryRun: boolean;
}

/**
 * The durable audit log and the state that must survive a restart:
 * idempotency keys, cooldowns, the action counter for the hourly cap and
 * the circuit breaker. Every write is synchronous and committed before the
 * call returns (SQLite, WAL mode).
 */
export interface AuditStore {
  recordWebhook(w: WebhookRecord): number;
  recordDecision(d: DecisionRecord): number;
  recordAction(a: ActionRecord): number;
  /**
   * Claims an idempotency key (`fingerprint|startsAt|status`) at time `now`;
   * true the first time, false for a redelivery. Keys older than `ttlMs` may be purged.
   */
  claim(key: string, now: number): boolean;
  /** End of the cooldown for (alert, target), or undefined when none is running. */
  cooldownUntil(alertname: string, target: string, now: number): number | undefined;
  setCooldown(alertname: string, target: string, until: number): void;
  /** Actions actually run (not dry runs, not skips) since `since`, for the hourly cap. */
  actionsSince(since: number): number;
  /** The breaker: tripped when the cap was hit; stays tripped until reset (survives restarts). */
  breaker(): { tripped: boolean; since?: number; reason?: string };
  tripBreaker(now: number, reason: string): void;
  resetBreaker(): void;
  /** Newest first. */
  listActions(opts: { limit: number; since?: number; alertname?: string }): ActionView[];
  close(): void;
}
