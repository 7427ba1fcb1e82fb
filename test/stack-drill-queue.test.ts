import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SCENARIOS, formatResults, runDrill } from '../src/stack/drill.ts';
import { startStack } from '../src/stack/stack.ts';
import { compressedTimings } from '../src/stack/timings.ts';

// The article's loop closed locally: a queue over 20 makes the responder scale the stack's simulator to 3
// replicas through the local driver, the new slots drain the queue, and QueueBacklog resolves while the
// fault and the traffic go on.
test('the queue drill: QueueBacklog fires, the responder scales to 3 replicas, the queue drains and the alert resolves under the same load; then the scale drill steps back in to 1', { timeout: 420_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-stack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const stack = await startStack({ dir, ports: 'free', timings: compressedTimings(), log: (l) => lines.push(l) });
  t.after(() => stack.stop());
  assert.deepEqual(stack.info.scale, { deployment: 'openllm', namespace: 'default', maxReplicas: 3, upstream: 'local' });

  const queue = SCENARIOS.find((s) => s.name === 'queue')!;
  const result = await runDrill(stack.info, queue, (l) => lines.push(l));
  console.log(formatResults([result]).replace(/^/gm, '# '));
  assert.equal(result.ok, true, `${result.problems.join('; ')}\n${lines.join('\n')}`);
  assert.match(result.actionDetail ?? '', /^success: scaled default\/openllm in the local stack from 1 to 3$/);
  assert.ok(result.resolve !== undefined);

  const res = await fetch(`${stack.info.urls.gateway}/admin/upstreams/local`, { headers: { authorization: `Bearer ${stack.info.adminToken}` } });
  const upstream = (await res.json()) as { slots: number; endpoints: Array<{ url: string; requests: number }> };
  assert.equal(upstream.endpoints.length, 3);
  assert.equal(upstream.slots, 24);
  // Each replica served drill traffic.
  for (const e of upstream.endpoints) assert.ok(e.requests > 0, JSON.stringify(upstream.endpoints));
  assert.ok(lines.some((l) => /^scale {2}replica 3 of openllm/.test(l)), lines.join('\n'));

  // Already scaled out: the scale-out cannot be drilled again, and says so rather than passing.
  const again = await runDrill(stack.info, queue, (l) => lines.push(l));
  assert.match(again.skipped ?? '', /runs 3 simulator replicas/);

  // The scale-in (issue 15): under light traffic SpareReplicas fires, the responder (a warning: scale-in
  // is low risk) steps in one replica, the alert resolves (the count changed), fires again a window
  // later, and steps in again: back at one replica, each step audited, no request failed.
  const scale = SCENARIOS.find((s) => s.name === 'scale')!;
  const scaled = await runDrill(stack.info, scale, (l) => lines.push(l));
  // Each step's firing on Prometheus' clock and when the drill saw it: what its bounds were made of.
  console.log(`${lines.filter((l) => l.startsWith('scale: ')).join('\n')}\n${formatResults([scaled])}`.replace(/^/gm, '# '));
  assert.equal(scaled.ok, true, `${scaled.problems.join('; ')}\n${lines.join('\n')}`);
  assert.deepEqual(scaled.steps?.map((x) => [x.from, x.to]), [[3, 2], [2, 1]]);
  const after = (await (await fetch(`${stack.info.urls.gateway}/admin/upstreams/local`, { headers: { authorization: `Bearer ${stack.info.adminToken}` } })).json()) as { slots: number; endpoints: unknown[] };
  assert.equal(after.endpoints.length, 1);
  assert.equal(after.slots, 8);
  assert.ok(lines.some((l) => /^scale {2}stopped .*; 1 replica of openllm$/.test(l)), lines.join('\n'));
  const audit = (await (await fetch(`${stack.info.urls.responder}/actions?alertname=SpareReplicas&limit=100`, { headers: { authorization: `Bearer ${stack.info.responderToken}` } })).json()) as {
    actions: Array<{ action: string; outcome: string; detail: string; severity?: string }>;
  };
  assert.deepEqual(
    audit.actions.filter((a) => a.action === 'scale' && a.outcome === 'success').map((a) => a.detail).sort(),
    ['scaled default/openllm in the local stack from 2 to 1', 'scaled default/openllm in the local stack from 3 to 2'],
  );

  // At one replica there is nothing to scale in: skipped, never passed.
  const none = await runDrill(stack.info, scale, (l) => lines.push(l));
  assert.match(none.skipped ?? '', /runs 1 simulator replica: nothing to scale in/);
});
