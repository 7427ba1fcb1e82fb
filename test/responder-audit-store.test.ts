import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { AUDIT_SCHEMA_VERSION, SqliteAuditStore, WEBHOOK_BODY_MAX_BYTES } from '../src/responder/audit-store.ts';
import type { SqliteAuditStoreOptions } from '../src/responder/audit-store.ts';
import { RSP_ERR_AUDIT_OPEN, RSP_ERR_AUDIT_SCHEMA } from '../src/responder/errors.ts';
import type { ActionRecord, DecisionRecord, WebhookRecord } from '../src/responder/types.ts';

/** A temp dir per test with its stores; after the test, every store is closed and the dir removed. */
function fixture(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-audit-'));
  const stores: { close(): void }[] = [];
  t.after(() => {
    for (const s of stores) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'responder.db');
  return {
    dir,
    file,
    open(path = file, options?: SqliteAuditStoreOptions): SqliteAuditStore {
      const s = new SqliteAuditStore(path, options);
      stores.push(s);
      return s;
    },
    /** A second, raw connection on the same file: what is on disk, not what the store says. */
    raw(path = file): Database.Database {
      const db = new Database(path);
      stores.push(db);
      return db;
    },
  };
}

const webhook = (over: Partial<WebhookRecord> = {}): WebhookRecord => ({
  receivedAt: 1_700_000_000_000,
  status: 'accepted',
  remoteAddress: '10.0.0.7',
  body: '{"version":"4","alerts":[]}',
  ...over,
});

const decision = (webhookId: number, over: Partial<DecisionRecord> = {}): DecisionRecord => ({
  webhookId,
  at: 1_700_000_000_100,
  fingerprint: 'f00dfeed',
  alertname: 'HighInferenceLatency',
  status: 'firing',
  severity: 'critical',
  tier: 'page',
  decision: 'act',
  reason: 'playbook HighInferenceLatency',
  dryRun: false,
  ...over,
});

const action = (decisionId: number, over: Partial<ActionRecord> = {}): ActionRecord => ({
  decisionId,
  action: 'scale',
  target: 'deployment/vllm',
  startedAt: 1_700_000_000_200,
  durationMs: 12.5,
  outcome: 'success',
  detail: 'scaled deployment/vllm from 2 to 3 replicas',
  data: { from: 2, to: 3, labels: { model: 'llama' } },
  ...over,
});

/** One webhook and one decision to hang actions on. */
function seedDecision(store: SqliteAuditStore, over: Partial<DecisionRecord> = {}): number {
  return store.recordDecision(decision(store.recordWebhook(webhook()), over));
}

test('a webhook round-trips; absent optional fields stay absent', (t) => {
  const store = fixture(t).open();
  const w = webhook({ status: 'rejected', reason: 'bad payload: alerts is required' });
  const id = store.recordWebhook(w);
  assert.deepEqual(store.getWebhook(id), { ...w, id, bodyBytes: Buffer.byteLength(w.body) });

  const bare: WebhookRecord = { receivedAt: 5, status: 'accepted', body: '' };
  const id2 = store.recordWebhook(bare);
  assert.equal(id2, id + 1);
  assert.deepEqual(store.getWebhook(id2), { ...bare, id: id2, bodyBytes: 0 });
  assert.equal(store.getWebhook(999), undefined);
});

test('a body over 64 KiB is cut at a character boundary and its original size kept', (t) => {
  const store = fixture(t).open();
  // 'é' is 2 bytes in UTF-8; one leading ASCII byte puts every 'é' across an odd offset, so the cut at 65536 splits one.
  const body = 'x' + 'é'.repeat(WEBHOOK_BODY_MAX_BYTES);
  const stored = store.getWebhook(store.recordWebhook(webhook({ body })))!;
  assert.equal(stored.bodyBytes, 1 + 2 * WEBHOOK_BODY_MAX_BYTES);
  assert.equal(Buffer.byteLength(stored.body), WEBHOOK_BODY_MAX_BYTES - 1);
  assert.ok(body.startsWith(stored.body));
  assert.ok(!stored.body.includes('\uFFFD'));

  const exact = 'a'.repeat(WEBHOOK_BODY_MAX_BYTES);
  assert.equal(store.getWebhook(store.recordWebhook(webhook({ body: exact })))!.body, exact);
});

test('a decision round-trips, dry run included', (t) => {
  const store = fixture(t).open();
  const wid = store.recordWebhook(webhook());
  for (const d of [decision(wid), decision(wid, { decision: 'skip', reason: 'cooldown until 2023-11-14T22:15:00Z', dryRun: true, status: 'resolved' })]) {
    const id = store.recordDecision(d);
    assert.deepEqual(store.getDecision(id), { ...d, id });
  }
  assert.equal(store.getDecision(999), undefined);
});

test('an action round-trips through listActions with its decision; data is parsed back, absent data stays absent', (t) => {
  const store = fixture(t).open();
  const did = seedDecision(store, { dryRun: true });
  const a1 = action(did, { outcome: 'dry-run', startedAt: 100 });
  const a2 = action(did, { action: 'notify', target: 'chat', startedAt: 200, data: undefined, detail: 'posted to chat' });
  const id1 = store.recordAction(a1);
  const { data: _omit, ...a2bare } = a2;
  const id2 = store.recordAction(a2bare);
  const common = { alertname: 'HighInferenceLatency', fingerprint: 'f00dfeed', alertStatus: 'firing', reason: 'playbook HighInferenceLatency', dryRun: true };
  assert.deepEqual(store.listActions({ limit: 10 }), [
    { ...a2bare, id: id2, ...common },
    { ...a1, id: id1, ...common },
  ]);
});

test('writes that break a reference throw (foreign keys are on) and store nothing', (t) => {
  const f = fixture(t);
  const store = f.open();
  assert.throws(() => store.recordDecision(decision(42)), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
  assert.throws(() => store.recordAction(action(42)), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
  assert.deepEqual(store.listActions({ limit: 10 }), []);
});

test('claim: true the first time, false for a redelivery, per key', (t) => {
  const store = fixture(t).open();
  assert.equal(store.claim('fp1|2024-01-01T00:00:00Z|firing', 1000), true);
  assert.equal(store.claim('fp1|2024-01-01T00:00:00Z|firing', 1001), false);
  assert.equal(store.claim('fp1|2024-01-01T00:00:00Z|resolved', 1002), true);
  assert.equal(store.claim('fp2|2024-01-01T00:00:00Z|firing', 1003), true);
});

test('a restart keeps claims, cooldowns, the breaker and the actions', (t) => {
  const f = fixture(t);
  const before = f.open();
  const did = seedDecision(before);
  const aid = before.recordAction(action(did));
  assert.equal(before.claim('fp1|t|firing', 1000), true);
  before.setCooldown('HighInferenceLatency', 'deployment/vllm', 10_000);
  before.tripBreaker(2000, 'cap of 20 actions per hour reached');
  const listed = before.listActions({ limit: 10 });
  before.close();

  const after = f.open();
  assert.equal(after.claim('fp1|t|firing', 3000), false);
  assert.equal(after.cooldownUntil('HighInferenceLatency', 'deployment/vllm', 3000), 10_000);
  assert.deepEqual(after.breaker(), { tripped: true, since: 2000, reason: 'cap of 20 actions per hour reached' });
  assert.deepEqual(after.listActions({ limit: 10 }), listed);
  assert.equal(listed[0]?.id, aid);
  assert.equal(after.actionsSince(0), 1);
  // Ids continue after the restart rather than starting over.
  assert.ok(after.recordWebhook(webhook()) > 1);
});

test('a process killed without closing the store leaves every committed write on disk', (t) => {
  const f = fixture(t);
  const moduleUrl = new URL('../src/responder/audit-store.ts', import.meta.url).href;
  // A real crash: the child writes, then SIGKILLs itself, so nothing is closed or checkpointed.
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { SqliteAuditStore } = await import(${JSON.stringify(moduleUrl)});
       const s = new SqliteAuditStore(${JSON.stringify(f.file)});
       const w = s.recordWebhook({ receivedAt: 1, status: 'accepted', body: '{}' });
       const d = s.recordDecision({ webhookId: w, at: 2, fingerprint: 'fp', alertname: 'A', status: 'firing', severity: 'critical', tier: 'page', decision: 'act', reason: 'r', dryRun: false });
       s.recordAction({ decisionId: d, action: 'scale', target: 'deployment/vllm', startedAt: 3, durationMs: 1, outcome: 'success', detail: 'ok' });
       s.claim('k', 4);
       s.setCooldown('A', 'deployment/vllm', 1000);
       process.kill(process.pid, 'SIGKILL');`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const after = f.open();
  assert.equal(after.claim('k', 5), false);
  assert.equal(after.cooldownUntil('A', 'deployment/vllm', 5), 1000);
  assert.deepEqual(
    after.listActions({ limit: 10 }).map((a) => [a.alertname, a.action, a.outcome]),
    [['A', 'scale', 'success']],
  );
});

test('the file is in WAL mode, at the current schema version, with foreign keys on', (t) => {
  const f = fixture(t);
  f.open();
  const raw = f.raw();
  // journal_mode=WAL is stored in the file, so a fresh connection reports it.
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(raw.pragma('user_version', { simple: true }), AUDIT_SCHEMA_VERSION);
  const tables = (raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  assert.deepEqual(tables, ['actions', 'breaker', 'cooldowns', 'decisions', 'deferred', 'holders', 'idempotency', 'operations', 'owned', 'runs', 'settings', 'webhooks']);
});

test('the directory of the file is created when missing', (t) => {
  const f = fixture(t);
  const path = join(f.dir, 'nested', '.llmwatch', 'responder.db');
  const store = f.open(path);
  assert.equal(store.claim('k', 1), true);
});

test('cooldownUntil: the end while running, undefined once until <= now; a later set replaces it', (t) => {
  const store = fixture(t).open();
  assert.equal(store.cooldownUntil('A', 'x', 0), undefined);
  store.setCooldown('A', 'x', 1000);
  assert.equal(store.cooldownUntil('A', 'x', 999), 1000);
  assert.equal(store.cooldownUntil('A', 'x', 1000), undefined);
  assert.equal(store.cooldownUntil('A', 'x', 1001), undefined);
  assert.equal(store.cooldownUntil('A', 'y', 999), undefined, 'per target');
  assert.equal(store.cooldownUntil('B', 'x', 999), undefined, 'per alert');
  store.setCooldown('A', 'x', 5000);
  assert.equal(store.cooldownUntil('A', 'x', 1001), 5000);
  store.setCooldown('A', 'x', 2000);
  assert.equal(store.cooldownUntil('A', 'x', 1001), 2000);
});

test('actionsSince counts successes and failures only, from `since` inclusive', (t) => {
  const store = fixture(t).open();
  const did = seedDecision(store);
  store.recordAction(action(did, { startedAt: 100, outcome: 'success' }));
  store.recordAction(action(did, { startedAt: 200, outcome: 'failure' }));
  store.recordAction(action(did, { startedAt: 300, outcome: 'dry-run' }));
  store.recordAction(action(did, { startedAt: 400, outcome: 'skipped' }));
  store.recordAction(action(did, { startedAt: 500, outcome: 'success' }));
  assert.equal(store.actionsSince(0), 3);
  assert.equal(store.actionsSince(200), 2);
  assert.equal(store.actionsSince(201), 1);
  assert.equal(store.actionsSince(501), 0);
});

test('the breaker trips, keeps its first trip, and resets', (t) => {
  const store = fixture(t).open();
  assert.deepEqual(store.breaker(), { tripped: false });
  store.tripBreaker(100, 'cap reached');
  store.tripBreaker(200, 'cap reached again');
  assert.deepEqual(store.breaker(), { tripped: true, since: 100, reason: 'cap reached' });
  store.resetBreaker();
  assert.deepEqual(store.breaker(), { tripped: false });
  store.tripBreaker(300, 'again');
  assert.deepEqual(store.breaker(), { tripped: true, since: 300, reason: 'again' });
});

test('claims purge keys past the TTL every N claims, keeping recent ones', (t) => {
  const f = fixture(t);
  const store = f.open(undefined, { idempotencyTtlMs: 1000, purgeEveryClaims: 3 });
  const keys = () => (f.raw().prepare('SELECT key FROM idempotency ORDER BY key').all() as { key: string }[]).map((r) => r.key);
  assert.equal(store.claim('old', 0), true); // claim 0 purges (nothing yet)
  assert.equal(store.claim('recent', 4500), true); // 1
  assert.equal(store.claim('old', 5000), false, 'past its TTL but not purged yet'); // 2
  assert.equal(store.claim('new', 5000), true); // 3 purges: claimed_at < 4000 goes
  assert.deepEqual(keys(), ['new', 'recent']);
  assert.equal(store.claim('old', 5000), true, 'a purged key counts as new'); // 4
  assert.equal(store.claim('recent', 5000), false); // 5
});

test('purge drops old keys and lapsed cooldowns only', (t) => {
  const store = fixture(t).open(undefined, { idempotencyTtlMs: 1000 });
  store.claim('a', 100);
  store.claim('b', 1000);
  store.setCooldown('A', 'x', 1500);
  store.setCooldown('A', 'y', 3000);
  assert.deepEqual(store.purge(2000), { idempotencyKeys: 1, cooldowns: 1 });
  assert.equal(store.claim('a', 2000), true);
  assert.equal(store.claim('b', 2000), false);
  assert.equal(store.cooldownUntil('A', 'y', 2000), 3000);
});

test('listActions: newest first, limit, since and alertname filters', (t) => {
  const store = fixture(t).open();
  const lat = seedDecision(store, { alertname: 'HighInferenceLatency' });
  const err = seedDecision(store, { alertname: 'HighErrorRate', fingerprint: 'beef' });
  const ids = {
    lat100: store.recordAction(action(lat, { startedAt: 100 })),
    err200: store.recordAction(action(err, { startedAt: 200 })),
    lat300: store.recordAction(action(lat, { startedAt: 300 })),
    err300: store.recordAction(action(err, { startedAt: 300 })), // same start: the later id comes first
    lat400: store.recordAction(action(lat, { startedAt: 400, outcome: 'skipped' })),
  };
  const list = (opts: { limit: number; since?: number; alertname?: string }) => store.listActions(opts).map((a) => a.id);
  assert.deepEqual(list({ limit: 10 }), [ids.lat400, ids.err300, ids.lat300, ids.err200, ids.lat100]);
  assert.deepEqual(list({ limit: 2 }), [ids.lat400, ids.err300]);
  assert.deepEqual(list({ limit: 0 }), []);
  assert.deepEqual(list({ limit: 10, since: 300 }), [ids.lat400, ids.err300, ids.lat300]);
  assert.deepEqual(list({ limit: 10, alertname: 'HighErrorRate' }), [ids.err300, ids.err200]);
  assert.deepEqual(list({ limit: 10, since: 250, alertname: 'HighInferenceLatency' }), [ids.lat400, ids.lat300]);
  assert.deepEqual(list({ limit: 10, alertname: 'NoSuchAlert' }), []);
  assert.equal(store.listActions({ limit: 1, alertname: 'HighErrorRate' })[0]?.fingerprint, 'beef');
  assert.throws(() => store.listActions({ limit: -1 }), RangeError);
});

test('a file that is not a database fails with RSP_ERR_AUDIT_OPEN naming the path, and is left as it was', (t) => {
  const f = fixture(t);
  const text = 'this is not an sqlite database\n'.repeat(200);
  writeFileSync(f.file, text);
  assert.throws(
    () => f.open(),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, RSP_ERR_AUDIT_OPEN.code);
      assert.ok(err.message.includes(f.file), err.message);
      assert.match(err.message, /move it .* out of the way|responder\.auditPath/);
      return true;
    },
  );
  assert.equal(readFileSync(f.file, 'utf8'), text);
});

test('a directory at the path fails with RSP_ERR_AUDIT_OPEN', (t) => {
  const f = fixture(t);
  mkdirSync(f.file);
  assert.throws(() => f.open(), { code: RSP_ERR_AUDIT_OPEN.code });
});

test('another application\'s SQLite file with a clashing table fails with RSP_ERR_AUDIT_OPEN and is not half-migrated', (t) => {
  const f = fixture(t);
  const other = new Database(f.file);
  other.exec('CREATE TABLE webhooks (url TEXT)');
  other.close();
  assert.throws(() => f.open(), { code: RSP_ERR_AUDIT_OPEN.code });
  const raw = f.raw();
  assert.equal(raw.pragma('user_version', { simple: true }), 0);
  assert.deepEqual(raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all(), [{ name: 'webhooks' }]);
});

test('a file from a newer schema fails with RSP_ERR_AUDIT_SCHEMA', (t) => {
  const f = fixture(t);
  const newer = new Database(f.file);
  newer.pragma(`user_version = ${AUDIT_SCHEMA_VERSION + 1}`);
  newer.close();
  assert.throws(() => f.open(), { code: RSP_ERR_AUDIT_SCHEMA.code });
});

test('close twice is harmless; a call after close throws', (t) => {
  const store = fixture(t).open();
  store.close();
  store.close();
  assert.throws(() => store.claim('k', 1));
});

/** Issue 13 point 7: retention by age and size, never a pending run. */
test('prune: by age and by size, oldest first; a pending run and its decision are kept; the file reports its size', (t) => {
  const f = fixture(t);
  const s = f.open();
  const old = 1_000_000;
  const recent = 9_000_000;
  const w = s.recordWebhook(webhook({ receivedAt: old }));
  const rejected = s.recordWebhook(webhook({ receivedAt: old, status: 'rejected', reason: 'x' }));
  const stale = s.recordDecision(decision(w, { at: old }));
  s.recordAction(action(stale));
  const pending = s.recordDecision(decision(w, { at: old, fingerprint: 'pending' }));
  s.insertRun({ decisionId: pending, kind: 'playbook', alert: { status: 'firing', labels: { alertname: 'A' }, annotations: {}, startsAt: 't', endsAt: '', generatorURL: '', fingerprint: 'pending' }, idemKey: undefined, createdAt: old });
  s.recordOperation({ at: old, what: 'kill-switch-on', who: 'alice', detail: '' });
  const w2 = s.recordWebhook(webhook({ receivedAt: recent }));
  const fresh = s.recordDecision(decision(w2, { at: recent }));
  const r = s.prune({ before: 5_000_000 });
  assert.deepEqual(r, { decisions: 1, webhooks: 1, operations: 1 });
  assert.equal(s.getDecision(stale), undefined);
  assert.ok(s.getDecision(pending), 'a pending run is never pruned');
  assert.ok(s.getDecision(fresh));
  assert.equal(s.getWebhook(rejected), undefined);
  assert.ok(s.getWebhook(w), 'still referenced by the pending decision');

  // By size: fill with big decisions, then cap far below.
  const big = 'x'.repeat(4000);
  for (let i = 0; i < 2000; i++) s.recordDecision(decision(w2, { at: recent + i, reason: big }));
  assert.ok(s.usedBytes() > 4 * 1024 * 1024);
  s.prune({ before: 0, maxBytes: 2 * 1024 * 1024 });
  assert.ok(s.usedBytes() <= 2 * 1024 * 1024, String(s.usedBytes()));
  assert.ok(s.getDecision(pending), 'kept');
  const left = s.timeline({ limit: 5000, outcome: 'act' }).map((x) => x.at);
  assert.ok(Math.min(...left.filter((a) => a >= recent)) > recent, 'the oldest went first');
  assert.ok(s.sizeBytes() >= s.usedBytes());
});

test('a version 1 file migrates to the current schema with its rows', (t) => {
  const f = fixture(t);
  const raw = f.raw();
  raw.exec(`CREATE TABLE webhooks (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, remote_address TEXT, body TEXT NOT NULL, body_bytes INTEGER NOT NULL);
    CREATE TABLE decisions (id INTEGER PRIMARY KEY, webhook_id INTEGER NOT NULL REFERENCES webhooks (id), at INTEGER NOT NULL, fingerprint TEXT NOT NULL, alertname TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL, tier TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, dry_run INTEGER NOT NULL);
    CREATE INDEX decisions_webhook_id ON decisions (webhook_id); CREATE INDEX decisions_alertname ON decisions (alertname);
    CREATE TABLE actions (id INTEGER PRIMARY KEY, decision_id INTEGER NOT NULL REFERENCES decisions (id), action TEXT NOT NULL, target TEXT NOT NULL, started_at INTEGER NOT NULL, duration_ms REAL NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, data TEXT);
    CREATE INDEX actions_started_at ON actions (started_at); CREATE INDEX actions_decision_id ON actions (decision_id);
    CREATE TABLE idempotency (key TEXT PRIMARY KEY, claimed_at INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX idempotency_claimed_at ON idempotency (claimed_at);
    CREATE TABLE cooldowns (alertname TEXT NOT NULL, target TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (alertname, target)) WITHOUT ROWID;
    CREATE TABLE breaker (id INTEGER PRIMARY KEY CHECK (id = 1), tripped INTEGER NOT NULL, since INTEGER, reason TEXT); INSERT INTO breaker (id, tripped) VALUES (1, 0);
    INSERT INTO webhooks VALUES (1, 1, 'accepted', NULL, NULL, '{}', 2);
    INSERT INTO decisions VALUES (1, 1, 2, 'fp', 'A', 'firing', 'critical', 'P0', 'act', 'playbook A', 0);
    INSERT INTO actions VALUES (1, 1, 'noop', 'noop@fp', 3, 1, 'success', 'nothing to do', NULL);
    PRAGMA user_version = 1;`);
  raw.close();
  const s = f.open();
  assert.deepEqual(
    s.listActions({ limit: 10 }).map((a) => [a.alertname, a.action, a.outcome]),
    [['A', 'noop', 'success']],
  );
  assert.equal(s.stepRows(1)[0]!.step, 0);
});
