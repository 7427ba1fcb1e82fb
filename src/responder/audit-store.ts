import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { hasCode } from '../core/errors.ts';
import { RSP_ERR_AUDIT_OPEN, RSP_ERR_AUDIT_SCHEMA } from './errors.ts';
import type { ActionOutcome, ActionRecord, ActionView, Alert, AuditStore, DecisionRecord, WebhookRecord } from './types.ts';
import { logger } from '../core/log.ts';

/** Webhook bodies are stored cut to this many bytes (at a UTF-8 character boundary); `bodyBytes` keeps the original size. */
export const WEBHOOK_BODY_MAX_BYTES = 64 * 1024;

/** How long an idempotency key is kept by default: a week, far beyond Alertmanager's retries and repeat intervals. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Every this many claims, keys past their TTL (and lapsed cooldowns) are purged, so the tables stay bounded. */
export const DEFAULT_PURGE_EVERY_CLAIMS = 1000;

/** How long a write waits for another connection's lock (a CLI reading the log) before failing with SQLITE_BUSY. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface SqliteAuditStoreOptions {
  /** Keys claimed longer ago than this may be purged; a redelivery after that counts as new. */
  readonly idempotencyTtlMs?: number;
  /** Purge cadence, in claims; the first claim after opening always purges. */
  readonly purgeEveryClaims?: number;
  readonly busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL from a worker thread every this many ms instead of in
   * the commit that crosses SQLite's 1000-page threshold: a checkpoint syncs
   * the file (fsync), milliseconds to a second on a busy disk, and on the
   * event loop that stalls every request. Off (undefined) for short-lived
   * readers such as `responder log`.
   */
  readonly checkpointEveryMs?: number;
}

/**
 * With background checkpoints, the commit that finds the WAL this many pages
 * long (256 MiB) still checkpoints it itself: the worker fell behind or died.
 * In a sustained burst the worker's PASSIVE checkpoints never catch up with the
 * writer (it appends while they copy), so the log restarts only through this
 * fallback: on the event loop, three fsyncs of 10 to 45 ms on a busy disk. At
 * 64 MiB that came every half second of a 10,000-alert burst (which writes a few
 * hundred MiB of WAL); at 256 MiB about once. The WAL file keeps its largest size
 * until the responder stops (SQLite reuses it from the start): cutting it back
 * (`journal_size_limit`) cost an ftruncate of 80 to 190 ms on the event loop.
 */
const FALLBACK_AUTOCHECKPOINT_PAGES = 65_536;

/**
 * The checkpointer: its own connection in a worker thread, a PASSIVE
 * checkpoint (never blocks the responder's writes) every `everyMs`. Code as a
 * string, so it runs the same from sources and from a build.
 */
const CHECKPOINTER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { timeout: 0 });
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (another checkpoint runs): the next tick tries again.
  }
}, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try {
    db.close();
  } finally {
    const closed = new Int32Array(workerData.closed);
    Atomics.store(closed, 0, 1);
    Atomics.notify(closed, 0);
    parentPort.close();
  }
});
`;

interface Checkpointer {
  /** Closes the worker's connection, waiting for it at most `timeoutMs`, so the caller's close is the last one (it checkpoints and removes the WAL). */
  stop(timeoutMs: number): void;
}

function startCheckpointer(path: string, everyMs: number, onError: (err: Error) => void): Checkpointer {
  const closed = new SharedArrayBuffer(4);
  const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { path, everyMs, closed, sqlite: createRequire(import.meta.url).resolve('better-sqlite3') } });
  worker.on('error', onError);
  worker.unref();
  return {
    stop(timeoutMs) {
      worker.postMessage('close');
      Atomics.wait(new Int32Array(closed), 0, 0, timeoutMs);
    },
  };
}

/** A stored webhook, read back: the record as stored (body cut to {@link WEBHOOK_BODY_MAX_BYTES}) with its id and original size. */
export interface StoredWebhook extends WebhookRecord {
  readonly id: number;
  readonly bodyBytes: number;
}

/** A stored decision, read back with its id. */
export interface StoredDecision extends DecisionRecord {
  readonly id: number;
}

/** What one {@link SqliteAuditStore.purge} removed. */
export interface PurgeResult {
  readonly idempotencyKeys: number;
  readonly cooldowns: number;
}

/** An action's detail, data and an operation's text are cut to this many bytes each in the audit log. */
export const AUDIT_TEXT_MAX_BYTES = 8 * 1024;

export type RunKind = 'playbook' | 'revert';
export type RunState = 'pending' | 'done' | 'cancelled' | 'abandoned';

/** A run of the outbox not yet finished: what to resume at start-up. */
export interface PendingRun {
  readonly decisionId: number;
  readonly kind: RunKind;
  readonly alert: Alert;
  readonly idemKey: string | undefined;
  readonly createdAt: number;
  readonly tier: string;
  readonly dryRun: boolean;
}

/** One row of {@link SqliteAuditStore.timeline}. */
export interface TimelineRow {
  readonly kind: 'decision' | 'action' | 'operation' | 'webhook';
  readonly at: number;
  readonly id: number;
  readonly alertname: string | null;
  readonly fingerprint: string | null;
  readonly alertStatus: 'firing' | 'resolved' | null;
  readonly outcome: string;
  readonly action: string | null;
  readonly detail: string;
}

/** Every value `responder log --outcome` takes. */
export const TIMELINE_OUTCOMES = ['act', 'skip', 'running', 'success', 'failure', 'dry-run', 'skipped', 'interrupted', 'cancelled', 'abandoned', 'kill-switch-on', 'kill-switch-off', 'breaker-reset', 'breaker-trip', 'rejected'] as const;

/** The persisted kill switch, with who set it, when and why. */
export interface KillSwitchState {
  readonly on: boolean;
  readonly by?: string;
  readonly at?: number;
  readonly reason?: string;
}

/** A kill-switch or breaker operation, audited. */
export interface OperationRecord {
  readonly at: number;
  readonly what: 'kill-switch-on' | 'kill-switch-off' | 'breaker-reset' | 'breaker-trip';
  readonly who: string;
  readonly remote?: string | null;
  readonly detail: string;
}

/** The schema version this build writes; `PRAGMA user_version` holds the file's. */
export const AUDIT_SCHEMA_VERSION = 2;

/**
 * Migrations by target version: `MIGRATIONS[n - 1]` takes a file from version
 * n - 1 to n. Append only; a shipped migration is never edited.
 * Tables are not STRICT on purpose: a fractional timestamp (performance.now()
 * based) is stored as REAL under INTEGER affinity instead of failing a write.
 */
const MIGRATIONS: readonly string[] = [
  /* 1 */ `
  CREATE TABLE webhooks (
    id             INTEGER PRIMARY KEY,
    received_at    INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('accepted', 'rejected')),
    reason         TEXT,
    remote_address TEXT,
    body           TEXT    NOT NULL,
    body_bytes     INTEGER NOT NULL
  );
  CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks (id),
    at          INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    alertname   TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity    TEXT    NOT NULL,
    tier        TEXT    NOT NULL,
    decision    TEXT    NOT NULL CHECK (decision IN ('act', 'skip')),
    reason      TEXT    NOT NULL,
    dry_run     INTEGER NOT NULL CHECK (dry_run IN (0, 1))
  );
  CREATE INDEX decisions_webhook_id ON decisions (webhook_id);
  CREATE INDEX decisions_alertname ON decisions (alertname);
  CREATE TABLE actions (
    id          INTEGER PRIMARY KEY,
    decision_id INTEGER NOT NULL REFERENCES decisions (id),
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms REAL    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'dry-run', 'skipped')),
    detail      TEXT    NOT NULL,
    data        TEXT    CHECK (data IS NULL OR json_valid(data))
  );
  CREATE INDEX actions_started_at ON actions (started_at);
  CREATE INDEX actions_decision_id ON actions (decision_id);
  CREATE TABLE idempotency (
    key        TEXT    PRIMARY KEY,
    claimed_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_claimed_at ON idempotency (claimed_at);
  CREATE TABLE cooldowns (
    alertname TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    until     INTEGER NOT NULL,
    PRIMARY KEY (alertname, target)
  ) WITHOUT ROWID;
  CREATE TABLE breaker (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    tripped INTEGER NOT NULL CHECK (tripped IN (0, 1)),
    since   INTEGER,
    reason  TEXT
  );
  INSERT INTO breaker (id, tripped) VALUES (1, 0);
  `,
  /* 2: the durable outbox, holds, revert ownership, operator audit (issue 13). */ `
  CREATE TABLE actions_v2 (
    id          INTEGER PRIMARY KEY,
    decision_id INTEGER NOT NULL REFERENCES decisions (id),
    step        INTEGER NOT NULL DEFAULT 0,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms REAL    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('running', 'success', 'failure', 'dry-run', 'skipped', 'interrupted', 'cancelled', 'abandoned')),
    detail      TEXT    NOT NULL,
    data        TEXT    CHECK (data IS NULL OR json_valid(data))
  );
  INSERT INTO actions_v2 (id, decision_id, step, action, target, started_at, duration_ms, outcome, detail, data)
    SELECT id, decision_id, 0, action, target, started_at, duration_ms, outcome, detail, data FROM actions;
  DROP TABLE actions;
  ALTER TABLE actions_v2 RENAME TO actions;
  CREATE INDEX actions_started_at ON actions (started_at);
  CREATE INDEX actions_decision_id ON actions (decision_id);
  CREATE INDEX decisions_at ON decisions (at);
  CREATE INDEX webhooks_received_at ON webhooks (received_at);
  -- The outbox: one row per decision that acts, written in the transaction that records the decision.
  CREATE TABLE runs (
    decision_id INTEGER PRIMARY KEY REFERENCES decisions (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('playbook', 'revert')),
    alert       TEXT    NOT NULL CHECK (json_valid(alert)),
    idem_key    TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'cancelled', 'abandoned')),
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
  );
  CREATE INDEX runs_pending ON runs (state) WHERE state = 'pending';
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL CHECK (json_valid(value))
  ) WITHOUT ROWID;
  -- Kill switch and breaker operations, with who did them.
  CREATE TABLE operations (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    what   TEXT    NOT NULL,
    who    TEXT    NOT NULL,
    remote TEXT,
    detail TEXT    NOT NULL
  );
  CREATE INDEX operations_at ON operations (at);
  -- Resolutions that arrived during a hold, applied when it ends.
  CREATE TABLE deferred (
    fingerprint TEXT    PRIMARY KEY,
    alert       TEXT    NOT NULL CHECK (json_valid(alert)),
    at          INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- Revert ownership: a target this responder changed, and the firing alerts that hold it.
  CREATE TABLE owned (
    target      TEXT    PRIMARY KEY,
    decision_id INTEGER NOT NULL,
    at          INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE holders (
    target      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    alertname   TEXT    NOT NULL,
    since       INTEGER NOT NULL,
    PRIMARY KEY (target, fingerprint)
  ) WITHOUT ROWID;
  `,
];

const ACTION_VIEW_SELECT = `
  SELECT a.id, a.decision_id AS decisionId, a.action, a.target, a.started_at AS startedAt,
         a.duration_ms AS durationMs, a.outcome, a.detail, a.data,
         d.alertname, d.fingerprint, d.status AS alertStatus, d.reason, d.dry_run AS dryRun
  FROM actions a JOIN decisions d ON d.id = a.decision_id`;
const ACTION_VIEW_ORDER = `ORDER BY a.started_at DESC, a.id DESC LIMIT @limit`;

const PENDING_RUN_SELECT = `
  SELECT r.decision_id AS decisionId, r.kind, r.alert, r.idem_key AS idemKey, r.created_at AS createdAt, d.tier, d.dry_run AS dryRun
  FROM runs r JOIN decisions d ON d.id = r.decision_id`;

interface PendingRunRow {
  decisionId: number;
  kind: RunKind;
  alert: string;
  idemKey: string | null;
  createdAt: number;
  tier: string;
  dryRun: 0 | 1;
}

function pendingRun(r: PendingRunRow): PendingRun {
  return { ...r, alert: JSON.parse(r.alert) as Alert, idemKey: r.idemKey ?? undefined, dryRun: r.dryRun === 1 };
}

interface WebhookRow {
  id: number;
  receivedAt: number;
  status: 'accepted' | 'rejected';
  reason: string | null;
  remoteAddress: string | null;
  body: string;
  bodyBytes: number;
}
interface DecisionRow extends Omit<StoredDecision, 'dryRun'> {
  dryRun: 0 | 1;
}
interface ActionViewRow extends Omit<ActionView, 'data' | 'dryRun'> {
  data: string | null;
  dryRun: 0 | 1;
}
interface BreakerRow {
  tripped: 0 | 1;
  since: number | null;
  reason: string | null;
}

type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

/**
 * The responder's {@link AuditStore} on one SQLite file. Every call is one
 * synchronous statement, committed before it returns; the file survives a
 * restart with its idempotency keys, cooldowns and breaker.
 * @example
 * const store = new SqliteAuditStore(config.auditPath);
 * if (store.claim(`${a.fingerprint}|${a.startsAt}|${a.status}`, Date.now())) { ... }
 */
export class SqliteAuditStore implements AuditStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #ttlMs: number;
  readonly #purgeEvery: number;
  readonly #cache = new Map<string, Database.Statement>();
  #claims = 0;
  #checkpointer: Checkpointer | undefined;

  readonly #insertWebhook: Stmt<[number, string, string | null, string | null, string, number]>;
  readonly #selectWebhook: Stmt<[number], WebhookRow>;
  readonly #insertDecision: Stmt<[number, number, string, string, string, string, string, string, string, 0 | 1]>;
  readonly #selectDecision: Stmt<[number], DecisionRow>;
  readonly #insertAction: Stmt<[number, number, string, string, number, number, ActionOutcome, string, string | null]>;
  readonly #claim: Stmt<[string, number]>;
  readonly #purgeKeys: Stmt<[number]>;
  readonly #purgeCooldowns: Stmt<[number]>;
  readonly #selectCooldown: Stmt<[string, string, number], { until: number }>;
  readonly #upsertCooldown: Stmt<[string, string, number]>;
  readonly #countActions: Stmt<[number], { n: number }>;
  readonly #selectBreaker: Stmt<[], BreakerRow>;
  readonly #tripBreaker: Stmt<[number, string]>;
  readonly #resetBreaker: Stmt<[]>;
  readonly #listAll: Stmt<[{ limit: number }], ActionViewRow>;
  readonly #listSince: Stmt<[{ limit: number; since: number }], ActionViewRow>;
  readonly #listAlert: Stmt<[{ limit: number; alertname: string }], ActionViewRow>;
  readonly #listSinceAlert: Stmt<[{ limit: number; since: number; alertname: string }], ActionViewRow>;

  /**
   * Opens (creating it, and its directory, if needed) and migrates the file at
   * `path`; `:memory:` gives a throwaway store. Throws `RSP_ERR_AUDIT_OPEN` when
   * the file cannot be used, `RSP_ERR_AUDIT_SCHEMA` when a newer llmwatch wrote it.
   */
  constructor(path: string, options: SqliteAuditStoreOptions = {}) {
    this.path = path;
    this.#ttlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
    this.#purgeEvery = Math.max(1, Math.trunc(options.purgeEveryClaims ?? DEFAULT_PURGE_EVERY_CLAIMS));
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    this.#db = openDatabase(path, busyTimeoutMs);
    const db = this.#db;
    try {
      this.#insertWebhook = db.prepare('INSERT INTO webhooks (received_at, status, reason, remote_address, body, body_bytes) VALUES (?, ?, ?, ?, ?, ?)');
      this.#selectWebhook = db.prepare(
        'SELECT id, received_at AS receivedAt, status, reason, remote_address AS remoteAddress, body, body_bytes AS bodyBytes FROM webhooks WHERE id = ?',
      );
      this.#insertDecision = db.prepare(
        'INSERT INTO decisions (webhook_id, at, fingerprint, alertname, status, severity, tier, decision, reason, dry_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      this.#selectDecision = db.prepare(
        'SELECT id, webhook_id AS webhookId, at, fingerprint, alertname, status, severity, tier, decision, reason, dry_run AS dryRun FROM decisions WHERE id = ?',
      );
      this.#insertAction = db.prepare(
        'INSERT INTO actions (decision_id, step, action, target, started_at, duration_ms, outcome, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      // Atomic test-and-set: the primary key decides, one statement, no read-then-write race.
      // ON CONFLICT (key) DO NOTHING rather than INSERT OR IGNORE, so a bad `now`
      // (NaN binds as NULL) fails loudly instead of reading as a redelivery.
      this.#claim = db.prepare('INSERT INTO idempotency (key, claimed_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
      this.#purgeKeys = db.prepare('DELETE FROM idempotency WHERE claimed_at < ?');
      this.#purgeCooldowns = db.prepare('DELETE FROM cooldowns WHERE until <= ?');
      this.#selectCooldown = db.prepare('SELECT until FROM cooldowns WHERE alertname = ? AND target = ? AND until > ?');
      this.#upsertCooldown = db.prepare(
        'INSERT INTO cooldowns (alertname, target, until) VALUES (?, ?, ?) ON CONFLICT (alertname, target) DO UPDATE SET until = excluded.until',
      );
      this.#countActions = db.prepare("SELECT count(*) AS n FROM actions WHERE started_at >= ? AND outcome IN ('running', 'success', 'failure', 'interrupted')");
      this.#selectBreaker = db.prepare('SELECT tripped, since, reason FROM breaker WHERE id = 1');
      // A second trip keeps the first one's time and reason: "since" is when it tripped.
      this.#tripBreaker = db.prepare('UPDATE breaker SET tripped = 1, since = ?, reason = ? WHERE id = 1 AND tripped = 0');
      this.#resetBreaker = db.prepare('UPDATE breaker SET tripped = 0, since = NULL, reason = NULL WHERE id = 1');
      // One statement per filter combination, picked per call: `(@x IS NULL OR ...)` would keep SQLite off the indexes.
      this.#listAll = db.prepare(`${ACTION_VIEW_SELECT} ${ACTION_VIEW_ORDER}`);
      this.#listSince = db.prepare(`${ACTION_VIEW_SELECT} WHERE a.started_at >= @since ${ACTION_VIEW_ORDER}`);
      this.#listAlert = db.prepare(`${ACTION_VIEW_SELECT} WHERE d.alertname = @alertname ${ACTION_VIEW_ORDER}`);
      this.#listSinceAlert = db.prepare(`${ACTION_VIEW_SELECT} WHERE a.started_at >= @since AND d.alertname = @alertname ${ACTION_VIEW_ORDER}`);
      if (options.checkpointEveryMs !== undefined && path !== ':memory:' && path !== '') {
        db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
        this.#checkpointer = startCheckpointer(path, options.checkpointEveryMs, (err) => {
          logger('responder').warn({ err: err.message }, "the audit log's background checkpointer stopped; commits checkpoint the WAL themselves again");
          this.#checkpointer = undefined;
          if (db.open) db.pragma('wal_autocheckpoint = 1000');
        });
      }
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Stores one delivery, its body cut to {@link WEBHOOK_BODY_MAX_BYTES}; returns its id. */
  recordWebhook(w: WebhookRecord): number {
    const bodyBytes = Buffer.byteLength(w.body, 'utf8');
    const body = bodyBytes <= WEBHOOK_BODY_MAX_BYTES ? w.body : truncateUtf8(w.body, WEBHOOK_BODY_MAX_BYTES);
    return Number(this.#insertWebhook.run(w.receivedAt, w.status, w.reason ?? null, w.remoteAddress ?? null, body, bodyBytes).lastInsertRowid);
  }

  /** A stored webhook by id, as stored (body possibly cut), or undefined. */
  getWebhook(id: number): StoredWebhook | undefined {
    const row = this.#selectWebhook.get(id);
    if (row === undefined) return undefined;
    const { reason, remoteAddress, ...rest } = row;
    return { ...rest, ...(reason !== null && { reason }), ...(remoteAddress !== null && { remoteAddress }) };
  }

  recordDecision(d: DecisionRecord): number {
    return Number(
      this.#insertDecision.run(d.webhookId, d.at, d.fingerprint, d.alertname, d.status, d.severity, d.tier, d.decision, d.reason, d.dryRun ? 1 : 0)
        .lastInsertRowid,
    );
  }

  /** A stored decision by id, or undefined. */
  getDecision(id: number): StoredDecision | undefined {
    const row = this.#selectDecision.get(id);
    return row === undefined ? undefined : { ...row, dryRun: row.dryRun === 1 };
  }

  /** Stores one action row; detail and data are cut to {@link AUDIT_TEXT_MAX_BYTES} each, so no action can grow the log without bound. */
  recordAction(a: ActionRecord): number {
    return Number(this.#insertAction.run(a.decisionId, a.step ?? 0, a.action, a.target, a.startedAt, a.durationMs, a.outcome, boundText(a.detail), boundData(a.data)).lastInsertRowid);
  }

  /** Finishes a row written as `running`: its outcome, duration, detail and data. */
  finishAction(id: number, r: { outcome: ActionOutcome; durationMs: number; detail: string; data?: Readonly<Record<string, unknown>> }): void {
    this.#stmt('UPDATE actions SET outcome = ?, duration_ms = ?, detail = ?, data = ? WHERE id = ?').run(r.outcome, r.durationMs, boundText(r.detail), boundData(r.data), id);
  }

  /** Stores a running action's checkpoint in its data (see ActionContext.checkpoint). */
  checkpointAction(id: number, data: Readonly<Record<string, unknown>>): void {
    this.#stmt("UPDATE actions SET data = ? WHERE id = ? AND outcome = 'running'").run(boundData({ checkpoint: data }), id);
  }

  /** Runs `fn` in one IMMEDIATE transaction: all its writes commit together, or none. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** Whether a key is claimed (read inside the transaction that may claim it). */
  claimed(key: string): boolean {
    return this.#stmt('SELECT 1 FROM idempotency WHERE key = ?').get(key) !== undefined;
  }

  /** Bytes of the database file (pages in use and free), for the size metric and retention. */
  sizeBytes(): number {
    const pages = this.#db.pragma('page_count', { simple: true }) as number;
    const size = this.#db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  /**
   * Retention: deletes decisions (with their actions and runs) received before
   * `before`, then the oldest ones while the live data exceeds `maxBytes`; and
   * webhooks, operations and lapsed keys past `before`. A run still pending is
   * never pruned. Freed pages are reused by later writes (the file does not shrink).
   */
  prune(opts: { before: number; maxBytes?: number }): { decisions: number; webhooks: number; operations: number } {
    const decisions = (ids: string) => {
      this.#stmt(`DELETE FROM actions WHERE decision_id IN (${ids})`).run();
      this.#stmt(`DELETE FROM runs WHERE decision_id IN (${ids})`).run();
      return this.#stmt(`DELETE FROM decisions WHERE id IN (${ids})`).run().changes;
    };
    const keep = "SELECT decision_id FROM runs WHERE state = 'pending'";
    let removed = this.transaction(() => decisions(`SELECT id FROM decisions WHERE at < ${Number(opts.before)} AND id NOT IN (${keep})`));
    if (opts.maxBytes !== undefined) {
      // Oldest first, a thousand at a time, until the live pages fit.
      while (this.usedBytes() > opts.maxBytes) {
        const n = this.transaction(() => decisions(`SELECT id FROM decisions WHERE id NOT IN (${keep}) ORDER BY id LIMIT 1000`));
        if (n === 0) break;
        removed += n;
      }
    }
    return this.transaction(() => {
      const webhooks = this.#stmt(
        `DELETE FROM webhooks WHERE id NOT IN (SELECT webhook_id FROM decisions) AND (received_at < ? OR id < (SELECT coalesce(min(webhook_id), 0) FROM decisions))`,
      ).run(opts.before).changes;
      const operations = this.#stmt('DELETE FROM operations WHERE at < ?').run(opts.before).changes;
      this.purge(Date.now());
      return { decisions: removed, webhooks, operations };
    });
  }

  /** Bytes of the pages holding data (the file's size less its free pages). */
  usedBytes(): number {
    const free = this.#db.pragma('freelist_count', { simple: true }) as number;
    return this.sizeBytes() - free * (this.#db.pragma('page_size', { simple: true }) as number);
  }

  /**
   * The whole audit trail, newest first: decisions (act or skip, with why),
   * actions, kill-switch and breaker operations, and rejected deliveries.
   * `outcome` matches a decision (`act`, `skip`), an action's outcome, an
   * operation (`kill-switch-on`, ...) or `rejected`.
   */
  timeline(opts: { limit: number; since?: number; alertname?: string; outcome?: string }): TimelineRow[] {
    return this.#stmt(
      `SELECT kind, at, id, alertname, fingerprint, alertStatus, outcome, action, detail FROM (
         SELECT 'decision' AS kind, d.at AS at, d.id AS id, d.alertname AS alertname, d.fingerprint AS fingerprint, d.status AS alertStatus, d.decision AS outcome, NULL AS action, d.reason AS detail FROM decisions d
         UNION ALL
         SELECT 'action', a.started_at, a.id, d.alertname, d.fingerprint, d.status, a.outcome, a.action, a.detail FROM actions a JOIN decisions d ON d.id = a.decision_id
         UNION ALL
         SELECT 'operation', o.at, o.id, NULL, NULL, NULL, o.what, NULL, o.who || coalesce(' from ' || o.remote, '') || CASE WHEN o.detail = '' THEN '' ELSE ': ' || o.detail END FROM operations o
         UNION ALL
         SELECT 'webhook', w.received_at, w.id, NULL, NULL, NULL, 'rejected', NULL, coalesce(w.reason, '') || coalesce(' from ' || w.remote_address, '') FROM webhooks w WHERE w.status = 'rejected'
       )
       WHERE at >= @since AND (@alertname IS NULL OR alertname = @alertname) AND (@outcome IS NULL OR outcome = @outcome)
       ORDER BY at DESC, id DESC LIMIT @limit`,
    ).all({ limit: opts.limit, since: opts.since ?? 0, alertname: opts.alertname ?? null, outcome: opts.outcome ?? null }) as TimelineRow[];
  }

  /** Gives back an idempotency key, so the next delivery of that alert state is acted on. */
  release(key: string): void {
    this.#stmt('DELETE FROM idempotency WHERE key = ?').run(key);
  }

  /** Queues a decision's run in the outbox (call inside the decision's transaction). */
  insertRun(r: { decisionId: number; kind: RunKind; alert: Alert; idemKey: string | undefined; createdAt: number }): void {
    this.#stmt("INSERT INTO runs (decision_id, kind, alert, idem_key, state, created_at) VALUES (?, ?, ?, ?, 'pending', ?)").run(
      r.decisionId,
      r.kind,
      JSON.stringify(r.alert),
      r.idemKey ?? null,
      r.createdAt,
    );
  }

  /** Runs not finished, oldest first, with their decision. */
  pendingRuns(): PendingRun[] {
    const rows = this.#stmt(`${PENDING_RUN_SELECT} WHERE r.state = 'pending' ORDER BY r.decision_id`).all() as PendingRunRow[];
    return rows.map(pendingRun);
  }

  /** One run, if it is still pending. */
  pendingRun(decisionId: number): PendingRun | undefined {
    const row = this.#stmt(`${PENDING_RUN_SELECT} WHERE r.decision_id = ? AND r.state = 'pending'`).get(decisionId) as PendingRunRow | undefined;
    return row === undefined ? undefined : pendingRun(row);
  }

  /** Closes a run: done, cancelled by a hold, or abandoned. */
  finishRun(decisionId: number, state: Exclude<RunState, 'pending'>, now: number): void {
    this.#stmt('UPDATE runs SET state = ?, finished_at = ? WHERE decision_id = ?').run(state, now, decisionId);
  }

  /** The state of one run, or undefined. */
  runState(decisionId: number): RunState | undefined {
    return (this.#stmt('SELECT state FROM runs WHERE decision_id = ?').get(decisionId) as { state: RunState } | undefined)?.state;
  }

  /** The action rows of one decision, in order. */
  stepRows(decisionId: number): Array<{ id: number; step: number; action: string; target: string; outcome: ActionOutcome; detail: string; data?: Record<string, unknown> }> {
    const rows = this.#stmt('SELECT id, step, action, target, outcome, detail, data FROM actions WHERE decision_id = ? ORDER BY id').all(decisionId) as Array<{
      id: number;
      step: number;
      action: string;
      target: string;
      outcome: ActionOutcome;
      detail: string;
      data: string | null;
    }>;
    return rows.map(({ data, ...r }) => ({ ...r, ...(data !== null && { data: JSON.parse(data) as Record<string, unknown> }) }));
  }

  /** The persisted kill switch (off when never set). */
  killSwitch(): KillSwitchState {
    const row = this.#stmt("SELECT value FROM settings WHERE key = 'killSwitch'").get() as { value: string } | undefined;
    return row === undefined ? { on: false } : (JSON.parse(row.value) as KillSwitchState);
  }

  setKillSwitch(state: KillSwitchState): void {
    this.#stmt("INSERT INTO settings (key, value) VALUES ('killSwitch', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(JSON.stringify(state));
  }

  /** Audits an operator's (or the responder's own) kill-switch or breaker operation. */
  recordOperation(o: OperationRecord): number {
    return Number(this.#stmt('INSERT INTO operations (at, what, who, remote, detail) VALUES (?, ?, ?, ?, ?)').run(o.at, o.what, boundText(o.who, 256), o.remote ?? null, boundText(o.detail)).lastInsertRowid);
  }

  listOperations(opts: { limit: number; since?: number }): Array<OperationRecord & { id: number }> {
    return this.#stmt('SELECT id, at, what, who, remote, detail FROM operations WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?').all(opts.since ?? 0, opts.limit) as Array<
      OperationRecord & { id: number }
    >;
  }

  /** Keeps a resolution that arrived during a hold (the newest per alert). */
  defer(alert: Alert, now: number): void {
    this.#stmt('INSERT INTO deferred (fingerprint, alert, at) VALUES (?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET alert = excluded.alert, at = excluded.at').run(
      alert.fingerprint,
      JSON.stringify(alert),
      now,
    );
  }

  /** Drops a kept resolution (the alert fired again, or the resolution is being applied). */
  dropDeferred(fingerprint: string): void {
    this.#stmt('DELETE FROM deferred WHERE fingerprint = ?').run(fingerprint);
  }

  deferred(): Alert[] {
    return (this.#stmt('SELECT alert FROM deferred ORDER BY at').all() as Array<{ alert: string }>).map((r) => JSON.parse(r.alert) as Alert);
  }

  /** Records that this responder changed `target` (revert ownership). */
  own(target: string, decisionId: number, now: number): void {
    this.#stmt('INSERT INTO owned (target, decision_id, at) VALUES (?, ?, ?) ON CONFLICT (target) DO NOTHING').run(target, decisionId, now);
  }

  owns(target: string): boolean {
    return this.#stmt('SELECT 1 FROM owned WHERE target = ?').get(target) !== undefined;
  }

  disown(target: string): void {
    this.#stmt('DELETE FROM owned WHERE target = ?').run(target);
    this.#stmt('DELETE FROM holders WHERE target = ?').run(target);
  }

  addHolder(target: string, fingerprint: string, alertname: string, now: number): void {
    this.#stmt('INSERT INTO holders (target, fingerprint, alertname, since) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(target, fingerprint, alertname, now);
  }

  removeHolder(target: string, fingerprint: string): void {
    this.#stmt('DELETE FROM holders WHERE target = ? AND fingerprint = ?').run(target, fingerprint);
  }

  holders(target: string): Array<{ fingerprint: string; alertname: string }> {
    return this.#stmt('SELECT fingerprint, alertname FROM holders WHERE target = ? ORDER BY since').all(target) as Array<{ fingerprint: string; alertname: string }>;
  }

  #stmt(sql: string): Database.Statement {
    let st = this.#cache.get(sql);
    if (st === undefined) {
      st = this.#db.prepare(sql);
      this.#cache.set(sql, st);
    }
    return st;
  }

  claim(key: string, now: number): boolean {
    if (this.#claims++ % this.#purgeEvery === 0) this.purge(now);
    return this.#claim.run(key, now).changes === 1;
  }

  /** Drops idempotency keys claimed before `now - idempotencyTtlMs` and cooldowns over at `now`. {@link claim} calls it every `purgeEveryClaims` claims. */
  purge(now: number): PurgeResult {
    return {
      idempotencyKeys: this.#purgeKeys.run(now - this.#ttlMs).changes,
      cooldowns: this.#purgeCooldowns.run(now).changes,
    };
  }

  cooldownUntil(alertname: string, target: string, now: number): number | undefined {
    return this.#selectCooldown.get(alertname, target, now)?.until;
  }

  /** Sets (or replaces, earlier or later) the end of the cooldown for (alert, target). */
  setCooldown(alertname: string, target: string, until: number): void {
    this.#upsertCooldown.run(alertname, target, until);
  }

  actionsSince(since: number): number {
    return this.#countActions.get(since)?.n ?? 0;
  }

  /** When each action that {@link actionsSince} counts started, from `since` inclusive, oldest first (the engine's rate window at start-up). */
  actionStartsSince(since: number): number[] {
    return (
      this.#stmt("SELECT started_at AS at FROM actions WHERE started_at >= ? AND outcome IN ('running', 'success', 'failure', 'interrupted') ORDER BY started_at").all(since) as Array<{
        at: number;
      }>
    ).map((r) => r.at);
  }

  breaker(): { tripped: boolean; since?: number; reason?: string } {
    const row = this.#selectBreaker.get();
    if (row === undefined || row.tripped === 0) return { tripped: false };
    return { tripped: true, ...(row.since !== null && { since: row.since }), ...(row.reason !== null && { reason: row.reason }) };
  }

  /** Trips the breaker; when it is already tripped, the first trip's time and reason stay. */
  tripBreaker(now: number, reason: string): void {
    this.#tripBreaker.run(now, reason);
  }

  resetBreaker(): void {
    this.#resetBreaker.run();
  }

  /** Actions with their decision, newest first (`startedAt`, then id); `since` is inclusive. */
  listActions(opts: { limit: number; since?: number; alertname?: string }): ActionView[] {
    const { limit, since, alertname } = opts;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`listActions: limit must be a non-negative integer, got ${limit}`);
    const rows =
      since === undefined
        ? alertname === undefined
          ? this.#listAll.all({ limit })
          : this.#listAlert.all({ limit, alertname })
        : alertname === undefined
          ? this.#listSince.all({ limit, since })
          : this.#listSinceAlert.all({ limit, since, alertname });
    return rows.map(({ data, dryRun, ...rest }) => ({
      ...rest,
      dryRun: dryRun === 1,
      // The column's CHECK (json_valid) guarantees this parses.
      ...(data !== null && { data: JSON.parse(data) as Record<string, unknown> }),
    }));
  }

  /** Closes the file; later calls throw. Safe to call twice. */
  close(): void {
    if (!this.#db.open) return;
    // The worker closes its connection, then ours (the last one) checkpoints and removes the WAL.
    this.#checkpointer?.stop(2000);
    this.#checkpointer = undefined;
    try {
      // Advisory statistics refresh recommended before closing (https://sqlite.org/lang_analyze.html#pragopt); never worth failing a shutdown.
      this.#db.pragma('optimize');
    } catch {
      /* the close below still runs */
    }
    this.#db.close();
  }
}

/** Opens, configures and migrates; every failure becomes an llmwatch error naming the path and the fix. */
function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  const inMemory = path === ':memory:' || path === '';
  let db: Database.Database | undefined;
  try {
    if (!inMemory && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: busyTimeoutMs });
    // The first statement reads the header: a file that is not a database fails here (SQLITE_NOTADB).
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
    db.pragma('journal_mode = WAL');
    // WAL + synchronous=NORMAL: a commit is in the WAL (the OS page cache) when the call
    // returns, so it survives a crash of the process (kill -9, OOM, a thrown error), which
    // is what the responder needs; only a power loss or OS crash may drop the last few
    // commits, never corrupt the file, and no per-commit fsync sits on the webhook path.
    // https://sqlite.org/pragma.html#pragma_synchronous, https://sqlite.org/wal.html
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    return db;
  } catch (err) {
    db?.close();
    if (hasCode(err, RSP_ERR_AUDIT_SCHEMA)) throw err;
    throw RSP_ERR_AUDIT_OPEN(`Cannot open the responder's audit database '${path}': ${describe(err)}. ${fixFor(err, path)}`, { cause: err });
  }
}

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > AUDIT_SCHEMA_VERSION) {
    throw RSP_ERR_AUDIT_SCHEMA(
      `The responder's audit database '${path}' has schema version ${version}, newer than this llmwatch knows (${AUDIT_SCHEMA_VERSION}). Run the llmwatch that wrote it, or set responder.auditPath to another file.`,
    );
  }
  for (let v = version; v < AUDIT_SCHEMA_VERSION; v++) {
    // IMMEDIATE: two processes opening a fresh file cannot both migrate it; user_version commits with the tables.
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = 'code' in err && typeof err.code === 'string' ? ` (${err.code})` : '';
  return `${err.message}${code}`;
}

function fixFor(err: unknown, path: string): string {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_ERROR')) {
    return `If it is not an llmwatch audit database or is damaged, move it (with any '${path}-wal' and '${path}-shm' beside it) out of the way so a fresh one is created (cooldowns, idempotency keys and the breaker start empty), or set responder.auditPath to another file.`;
  }
  return `Check that '${dirname(path)}' exists or can be created and that the file and its directory are readable and writable by this process, or set responder.auditPath to another file.`;
}

function boundText(s: string, maxBytes = AUDIT_TEXT_MAX_BYTES): string {
  return Buffer.byteLength(s, 'utf8') <= maxBytes ? s : `${truncateUtf8(s, maxBytes - 16)} [cut]`;
}

function boundData(d: Readonly<Record<string, unknown>> | undefined): string | null {
  if (d === undefined) return null;
  const json = JSON.stringify(d);
  return Buffer.byteLength(json, 'utf8') <= AUDIT_TEXT_MAX_BYTES ? json : JSON.stringify({ cut: true, bytes: Buffer.byteLength(json, 'utf8'), head: truncateUtf8(json, AUDIT_TEXT_MAX_BYTES - 128) });
}

/** Cuts `s` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  let end = maxBytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the character that straddles the cut.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}
