import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteAuditStore } from '../src/responder/audit-store.ts';
import { startChild } from './helpers/processes.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

test('`llmwatch responder log` shows the audit log, newest first, as a table or JSON lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'audit.db');
  const store = new SqliteAuditStore(db);
  const webhookId = store.recordWebhook({ receivedAt: 1, status: 'accepted', body: '{}' });
  const decisionId = store.recordDecision({
    webhookId,
    at: Date.UTC(2026, 10, 29, 4),
    fingerprint: 'abc',
    alertname: 'HighInferenceLatency',
    status: 'firing',
    severity: 'critical',
    tier: 'P0',
    decision: 'act',
    reason: 'playbook',
    dryRun: false,
  });
  store.recordAction({ decisionId, action: 'switch-model', target: 'switch-model:m', startedAt: Date.UTC(2026, 10, 29, 4, 0, 1), durationMs: 3, outcome: 'success', detail: 'routed model m to sim/light' });
  store.close();

  const table = startChild(process.execPath, [BIN, 'responder', 'log', '--db', db]);
  assert.equal((await once(table.process, 'exit'))[0], 0, table.output());
  assert.match(table.output(), /2026-11-29T04:00:01\.000Z\s+HighInferenceLatency\s+firing\s+switch-model\s+success\s+routed model m to sim\/light/);

  const json = startChild(process.execPath, [BIN, 'responder', 'log', '--db', db, '--json']);
  assert.equal((await once(json.process, 'exit'))[0], 0);
  const lines = json.output().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; outcome: string });
  assert.deepEqual(
    lines.map((l) => [l.kind, l.outcome]),
    [
      ['action', 'success'],
      ['decision', 'act'],
    ],
  );
});

/** Issue 13 point 7: the whole trail, filtered, with flags validated and a missing database refused. */
test('`llmwatch responder log` shows decisions, holds, skips and rejected deliveries, filtered; bad flags and a missing --db are clear errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'audit.db');
  const store = new SqliteAuditStore(db);
  const at = Date.UTC(2026, 10, 29, 4);
  const webhookId = store.recordWebhook({ receivedAt: at, status: 'accepted', body: '{}' });
  store.recordWebhook({ receivedAt: at + 1, status: 'rejected', reason: 'RSP_ERR_FORBIDDEN: Wrong credentials', remoteAddress: '10.0.0.9', body: '' });
  const decision = (alertname: string, d: 'act' | 'skip', reason: string, offset: number) =>
    store.recordDecision({ webhookId, at: at + offset, fingerprint: `fp-${alertname}`, alertname, status: 'firing', severity: 'critical', tier: 'P0', decision: d, reason, dryRun: false });
  const acted = decision('HighInferenceLatency', 'act', 'playbook HighInferenceLatency (P0)', 2);
  store.recordAction({ decisionId: acted, action: 'switch-model', target: 'switch-model:m', startedAt: at + 3, durationMs: 3, outcome: 'success', detail: 'routed model m to sim/light' });
  decision('QueueBacklog', 'skip', 'kill switch on (set by alice at 2026-11-29T04:00:00.000Z): no action runs', 4);
  store.recordOperation({ at: at + 5, what: 'kill-switch-on', who: 'alice', remote: '127.0.0.1', detail: 'incident 42' });
  store.close();

  const run = async (...args: string[]) => {
    const c = startChild(process.execPath, [BIN, 'responder', 'log', '--db', db, ...args]);
    const [code] = await once(c.process, 'exit');
    return { code: code as number, out: c.output() };
  };
  const all = await run();
  assert.equal(all.code, 0, all.out);
  assert.match(all.out, /kill-switch-on\s+alice from 127\.0\.0\.1: incident 42/);
  assert.match(all.out, /QueueBacklog\s+firing\s+decision\s+skip\s+kill switch on \(set by alice/);
  assert.match(all.out, /webhook\s+rejected\s+RSP_ERR_FORBIDDEN: Wrong credentials from 10\.0\.0\.9/);
  assert.match(all.out, /HighInferenceLatency\s+firing\s+switch-model\s+success/);

  const skips = await run('--outcome', 'skip', '--json');
  assert.deepEqual(
    skips.out.trim().split('\n').map((l) => JSON.parse(l).alertname),
    ['QueueBacklog'],
  );
  const one = await run('--alert', 'HighInferenceLatency', '--since', '2026-11-29T04:00:00.003Z', '--json');
  assert.deepEqual(
    one.out.trim().split('\n').map((l) => JSON.parse(l).kind),
    ['action'],
  );

  for (const [args, message] of [
    [['-n', 'abc'], /-n takes a whole number from 1 to 100000, not 'abc'/],
    [['--since', 'yesterday'], /--since takes an ISO date .* not 'yesterday'/],
    [['--outcome', 'sucess'], /--outcome takes one of act, skip, .* not 'sucess'/],
  ] as const) {
    const bad = await run(...args);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, message);
    assert.doesNotMatch(bad.out, /at .*\.ts:\d+/, 'no stack trace');
  }
  const typo = startChild(process.execPath, [BIN, 'responder', 'log', '--db', join(dir, 'audti.db')]);
  const [typoCode] = await once(typo.process, 'exit');
  assert.notEqual(typoCode, 0);
  assert.match(typo.output(), /no audit database at .*audti\.db \(give the responder's auditPath with --db, or --create/);
  assert.equal(existsSync(join(dir, 'audti.db')), false, 'nothing created');
});
