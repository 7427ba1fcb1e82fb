import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { hasCode } from '../errors.ts';
import { RSP_ERR_AUDIT_OPEN, RSP_ERR_AUDIT_SCHEMA } from './errors.ts';
import type { ActionOutcome, ActionRecord, ActionView, AuditStore, DecisionRecord, WebhookRecord } from './types.ts';

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

/** The schema version this build writes; `PRAGMA user_version` holds the file's. */
export const AUDIT_SCHEMA_VERSION = 1;

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
];

const ACTION_VIEW_SELECT = `
  SELECT a.id, a.decision_id AS decisionId, a.action, a.target, a.started_at AS startedAt,
         a.duration_ms AS durationMs, a.outcome, a.detail, a.data,
         d.alertname, d.fingerprint, d.status AS alertStatus, d.reason, d.dry_run AS dryRun
  FROM actions a JOIN decisions d ON d.id = a.decision_id`;
const ACTION_VIEW_ORDER = `ORDER BY a.started_at DESC, a.id DESC LIMIT @limit`;

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
  #claims = 0;

  readonly #insertWebhook: Stmt<[number, string, string | null, string | null, string, number]>;
  readonly #selectWebhook: Stmt<[number], WebhookRow>;
  readonly #insertDecision: Stmt<[number, number, string, string, string, string, string, string, string, 0 | 1]>;
  readonly #selectDecision: Stmt<[number], DecisionRow>;
  readonly #insertAction: Stmt<[number, string, string, number, number, ActionOutcome, string, string | null]>;
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
        'INSERT INTO actions (decision_id, action, target, started_at, duration_ms, outcome, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
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
      this.#countActions = db.prepare("SELECT count(*) AS n FROM actions WHERE started_at >= ? AND outcome IN ('success', 'failure')");
      this.#selectBreaker = db.prepare('SELECT tripped, since, reason FROM breaker WHERE id = 1');
      // A second trip keeps the first one's time and reason: "since" is when it tripped.
      this.#tripBreaker = db.prepare('UPDATE breaker SET tripped = 1, since = ?, reason = ? WHERE id = 1 AND tripped = 0');
      this.#resetBreaker = db.prepare('UPDATE breaker SET tripped = 0, since = NULL, reason = NULL WHERE id = 1');
      // One statement per filter combination, picked per call: `(@x IS NULL OR ...)` would keep SQLite off the indexes.
      this.#listAll = db.prepare(`${ACTION_VIEW_SELECT} ${ACTION_VIEW_ORDER}`);
      this.#listSince = db.prepare(`${ACTION_VIEW_SELECT} WHERE a.started_at >= @since ${ACTION_VIEW_ORDER}`);
      this.#listAlert = db.prepare(`${ACTION_VIEW_SELECT} WHERE d.alertname = @alertname ${ACTION_VIEW_ORDER}`);
      this.#listSinceAlert = db.prepare(`${ACTION_VIEW_SELECT} WHERE a.started_at >= @since AND d.alertname = @alertname ${ACTION_VIEW_ORDER}`);
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

  recordAction(a: ActionRecord): number {
    const data = a.data === undefined ? null : JSON.stringify(a.data);
    return Number(this.#insertAction.run(a.decisionId, a.action, a.target, a.startedAt, a.durationMs, a.outcome, a.detail, data).lastInsertRowid);
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

/** Cuts `s` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  let end = maxBytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the character that straddles the cut.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}
