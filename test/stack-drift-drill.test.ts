import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SCENARIOS, formatResults, runDrill } from '../src/stack/drill.ts';
import { startStack } from '../src/stack/stack.ts';
import { compressedTimings } from '../src/stack/timings.ts';

// Issue 18, point 3: the drift drill on the whole stack, its windows compressed (a "week" of 40 s):
// healthy answers until both baselines exist, then half the answers decline, and RefusalDrift fires
// and resolves within its bounds.
test('the drift drill: the seasonal baseline forms, RefusalDrift fires within the drift window and resolves', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-drift-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const stack = await startStack({ dir, ports: 'free', timings: compressedTimings(), log: (l) => lines.push(l) });
  t.after(() => stack.stop());
  assert.equal(stack.info.spec.drift.baselineOffset, compressedTimings().drift.baselineOffset);

  const drift = SCENARIOS.find((s) => s.name === 'drift')!;
  const result = await runDrill(stack.info, drift, (l) => lines.push(l));
  console.log(formatResults([result]).replace(/^/gm, '# '));
  assert.equal(result.ok, true, `${result.problems.join('; ')}\n${lines.join('\n')}`);
  // The drift was compared with the seasonal baseline, not only the rolling one: it existed before the fault.
  assert.ok(lines.includes('drift: both baselines in place'), lines.join('\n'));
  assert.ok(result.fire !== undefined && result.resolve !== undefined);
});
