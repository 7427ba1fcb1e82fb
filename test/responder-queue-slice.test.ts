import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TimeSlice } from '../src/responder/queue-slice.ts';

/** A clock that moves only when the simulated work says so. */
function fakeClock() {
  const c = { t: 1_000, now: () => c.t };
  return c;
}

test('waiters woken together share one slice: only those it has room for work, the rest wait for the next turn', async () => {
  const clock = fakeClock();
  const slice = new TimeSlice(4, clock.now);
  const turnOf: number[] = [];
  // Ten pieces of 2 ms of work, all waiting when the burst starts (as runs and webhooks do).
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (slice.over) await slice.next;
      turnOf.push(slice.turns);
      clock.t += 2;
    }),
  );
  const perTurn = new Map<number, number>();
  for (const t of turnOf) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
  // Work starts at 0, 2 and 4 ms into a slice of 4 ms: three pieces a turn, in the order they came.
  assert.deepEqual([...perTurn.values()], [3, 3, 3, 1]);
  assert.deepEqual(turnOf, [...turnOf].sort((a, b) => a - b));
});

test('the check in an awaited helper lets the whole crowd through in one turn (why callers loop on `over` themselves)', async () => {
  const clock = fakeClock();
  const slice = new TimeSlice(4, clock.now);
  const turn = async () => {
    while (slice.over) await slice.next;
  };
  const turnOf: number[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      await turn();
      turnOf.push(slice.turns);
      clock.t += 2;
    }),
  );
  assert.deepEqual(new Set(turnOf).size, 1);
});

test('with room left, work goes on without waiting for a turn', async () => {
  const clock = fakeClock();
  const slice = new TimeSlice(4, clock.now);
  await slice.next;
  const turns = slice.turns;
  assert.equal(slice.over, false);
  clock.t += 3;
  assert.equal(slice.over, false);
  clock.t += 2;
  assert.equal(slice.over, true);
  assert.equal(slice.turns, turns);
});
