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
test('the queue drill: QueueBacklog fires, the responder scales to 3 replicas, the queue drains and the alert resolves under the same load', { timeout: 240_000 }, async (t) => {
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
});
