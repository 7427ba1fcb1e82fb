import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteAuditStore } from '../src/responder/audit-store.ts';
import { SCENARIOS, formatResults, runDrill } from '../src/stack/drill.ts';
import { startStack } from '../src/stack/stack.ts';
import { compressedTimings } from '../src/stack/timings.ts';

test('the whole stack with compressed timings: the latency drill fires, the responder switches to the fallback, latency recovers, the alert resolves', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-stack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const stack = await startStack({ dir, ports: 'free', timings: compressedTimings(), log: (l) => lines.push(l) });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await stack.stop();
  });
  assert.ok(lines.some((l) => l.startsWith('ready  prometheus')), lines.join('\n'));

  const latency = SCENARIOS.find((s) => s.name === 'latency')!;
  const result = await runDrill(stack.info, latency, (l) => lines.push(l));
  console.log(formatResults([result]).replace(/^/gm, '# '));
  assert.equal(result.ok, true, `${result.problems.join('; ')}\n${lines.join('\n')}`);
  assert.match(result.actionDetail ?? '', /^success: routed model llama-3\.1-8b-instruct to local\/llama-3\.2-1b-instruct/);

  // After the alert resolved, the responder switched the model back.
  const deadline = Date.now() + 20_000;
  let reverted = false;
  while (!reverted && Date.now() < deadline) {
    const body = (await (await fetch(`${stack.info.urls.responder}/actions?alertname=HighInferenceLatency`, { headers: { authorization: `Bearer ${stack.info.responderToken}` } })).json()) as { actions: Array<{ action: string; outcome: string }> };
    reverted = body.actions.some((a) => a.action === 'switch-model:revert' && a.outcome === 'success');
    if (!reverted) await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(reverted, 'switched back to the primary once resolved');

  await stack.stop();
  stopped = true;
  // Stopped cleanly: the audit log is intact and readable by another process.
  const store = new SqliteAuditStore(join(dir, 'data/responder.db'));
  const log = store.listActions({ limit: 50, alertname: 'HighInferenceLatency' });
  store.close();
  assert.deepEqual(
    ['switch-model', 'switch-model:revert'].map((a) => log.some((x) => x.action === a && x.outcome === 'success')),
    [true, true],
  );
});
