import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResults, summarise } from '../src/stack/drill.ts';
import type { DrillResult } from '../src/stack/drill.ts';

const base = { alert: 'A', fireBound: 10, actionBound: 20, resolveBound: 30, problems: [] as string[] };
const passed: DrillResult = { ...base, scenario: 'latency', fire: 5, resolve: 9, ok: true };
const failed: DrillResult = { ...base, scenario: 'errors', ok: false, problems: ['never fired'] };
// A skipped drill carries ok: true (nothing failed) but proved nothing.
const skipped: DrillResult = { ...base, scenario: 'gpu', skipped: 'no GPU exporter in this stack', ok: true };

test('a skipped drill is counted apart from the passed ones', () => {
  assert.equal(summarise([passed, skipped]), '1 passed, 0 failed, 1 skipped (not proven)');
  assert.equal(summarise([passed, failed, skipped, skipped]), '1 passed, 1 failed, 2 skipped (not proven)');
  assert.equal(summarise([passed, passed]), '2 passed, 0 failed');
});

test('the drill table ends with the counts and names why a drill was skipped', () => {
  const out = formatResults([passed, failed, skipped]);
  assert.match(out, /^gpu .*skipped: no GPU exporter in this stack$/m);
  assert.match(out, /^errors .*FAILED: never fired$/m);
  assert.match(out, /\n\n1 passed, 1 failed, 1 skipped \(not proven\)$/);
});
