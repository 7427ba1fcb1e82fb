import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Duration, durationMs, durationSeconds, isDuration, modelDurationMs } from '../src/core/config/duration.ts';
import { minutesOf } from '../src/monitoring/scenario.ts';

test('one duration grammar for specs: a positive whole number and one unit', () => {
  for (const ok of ['500ms', '30s', '5m', '1h', '7d', '1w']) assert.ok(isDuration(ok) && Duration.safeParse(ok).success, ok);
  for (const bad of ['0s', '1h30m', '1.5h', '5', 'm', '5 m', '1y', '-1s']) assert.ok(!isDuration(bad) && !Duration.safeParse(bad).success, bad);
  assert.equal(durationMs('1w'), 604_800_000);
  assert.equal(durationSeconds('500ms'), 0.5);
  assert.throws(() => durationMs('1h30m'), /not a duration/);
});

test("the generator's minutes are the same parser's, rounded up", () => {
  assert.equal(minutesOf('5m'), 5);
  assert.equal(minutesOf('90s'), 2);
  assert.equal(minutesOf('0s'), 0);
  assert.equal(minutesOf('1h'), 60);
  assert.throws(() => minutesOf('5 minutes'), /not a duration/);
});

test("Prometheus' and Alertmanager's own durations combine units, largest first", () => {
  assert.equal(modelDurationMs('1h30m'), 5_400_000);
  assert.equal(modelDurationMs('30s'), 30_000);
  assert.equal(modelDurationMs('1y'), 365 * 86_400_000);
  for (const bad of ['', '1h 30m', '30', 'h', '1.5h']) assert.throws(() => modelDurationMs(bad), /not a duration/, bad);
});
