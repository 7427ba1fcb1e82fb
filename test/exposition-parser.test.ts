import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition, sampleValue } from './helpers/exposition.ts';

test("regression: prom-client's `Nan` (an event-loop gauge before its first sample) parses as NaN", () => {
  const e = parseExposition('# TYPE g gauge\ng Nan\nh{a="b"} +Inf\ni -Inf\nj 2.5e-3\n');
  assert.ok(Number.isNaN(sampleValue(e, 'g')!));
  assert.equal(sampleValue(e, 'h', { a: 'b' }), Infinity);
  assert.equal(sampleValue(e, 'i'), -Infinity);
  assert.equal(sampleValue(e, 'j'), 0.0025);
  assert.throws(() => parseExposition('k banana\n'), /bad value/);
});
