import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
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
  assert.equal(JSON.parse(json.output().trim()).outcome, 'success');
});
