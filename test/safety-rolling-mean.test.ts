import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RollingMean } from '../src/gateway/safety/rolling-mean.ts';

test('an empty window reads 0', () => {
  const mean = new RollingMean();
  assert.equal(mean.window, 100);
  assert.equal(mean.value, 0);
  assert.equal(mean.count, 0);
});

test('the mean of a part-filled window is over the values so far', () => {
  const mean = new RollingMean({ window: 4 });
  mean.add(1);
  assert.equal(mean.value, 1);
  mean.add(0);
  assert.equal(mean.value, 0.5);
  assert.equal(mean.count, 2);
});

test('only the last `window` values count', () => {
  const mean = new RollingMean({ window: 3 });
  for (const v of [1, 2, 3]) mean.add(v);
  assert.equal(mean.value, 2);
  mean.add(4); // 1 leaves
  assert.equal(mean.value, 3);
  mean.add(5);
  mean.add(6);
  assert.equal(mean.value, 5);
  assert.equal(mean.count, 3);
  for (let i = 0; i < 3; i++) mean.add(0);
  assert.equal(mean.value, 0);
});

test('a window of 1 is the last value', () => {
  const mean = new RollingMean({ window: 1 });
  for (const v of [0.3, 0.9, 0.1]) {
    mean.add(v);
    assert.equal(mean.value, v);
  }
});

test('matches a recomputed mean over many adds, without drift', () => {
  const window = 7;
  const mean = new RollingMean({ window });
  const all: number[] = [];
  let x = 0.123;
  for (let i = 0; i < 10_000; i++) {
    x = (x * 9301 + 0.49297) % 1;
    mean.add(x);
    all.push(x);
    const last = all.slice(-window);
    assert.ok(Math.abs(mean.value - last.reduce((a, b) => a + b, 0) / last.length) < 1e-12, `add ${i}`);
  }
  // After a window of zeros only rounding residue of the last few adds is left.
  for (let i = 0; i < window; i++) mean.add(0);
  assert.ok(Math.abs(mean.value) < 1e-15);
});

test('non-finite values are ignored', () => {
  const mean = new RollingMean({ window: 2 });
  mean.add(0.5);
  mean.add(Number.NaN);
  mean.add(Number.POSITIVE_INFINITY);
  assert.equal(mean.value, 0.5);
  assert.equal(mean.count, 1);
});

test('a window that is not a positive integer is refused', () => {
  for (const window of [0, -1, 1.5, Number.NaN]) assert.throws(() => new RollingMean({ window }), /window/);
});
