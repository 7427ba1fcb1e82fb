import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { GW_ERR_QUEUE_FULL, GW_ERR_QUEUE_TIMEOUT } from '../src/gateway/errors.ts';
import { ConcurrencyLimiter } from '../src/gateway/limiter.ts';

function observer() {
  const o = { queued: 0, dequeued: 0, queuedNow: 0 };
  return {
    o,
    obs: {
      queued: () => {
        o.queued++;
        o.queuedNow++;
      },
      dequeued: () => {
        o.dequeued++;
        o.queuedNow--;
      },
    },
  };
}

test('hands slots to waiters in arrival order', async () => {
  const l = new ConcurrencyLimiter(1, 10, 10_000);
  const { o, obs } = observer();
  assert.equal(l.tryAcquire(), true);
  assert.equal(l.tryAcquire(), false);
  const order: number[] = [];
  const signal = new AbortController().signal;
  const waits = [1, 2, 3].map((i) => l.acquire(obs, signal).then(() => order.push(i)));
  assert.equal(l.waiting, 3);
  for (let i = 0; i < 3; i++) {
    l.release();
    await waits[i];
  }
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(l.active, 1);
  l.release();
  assert.equal(l.active, 0);
  assert.deepEqual(o, { queued: 3, dequeued: 3, queuedNow: 0 });
});

test('a full queue rejects at once with GW_ERR_QUEUE_FULL', async () => {
  const l = new ConcurrencyLimiter(1, 1, 10_000);
  const { obs } = observer();
  l.tryAcquire();
  const ac = new AbortController();
  const w = l.acquire(obs, ac.signal);
  await assert.rejects(l.acquire(obs, ac.signal), (err: unknown) => hasCode(err, GW_ERR_QUEUE_FULL));
  l.release();
  await w;
  l.release();
  assert.equal(l.active, 0);
});

test('a waiter that times out or is aborted leaves; the slot goes to the next live one', async () => {
  const l = new ConcurrencyLimiter(1, 10, 30);
  const { o, obs } = observer();
  l.tryAcquire();
  const timedOut = l.acquire(obs, new AbortController().signal);
  await assert.rejects(timedOut, (err: unknown) => hasCode(err, GW_ERR_QUEUE_TIMEOUT));
  const ac = new AbortController();
  const aborted = l.acquire(obs, ac.signal);
  const live = l.acquire(new (class { queued() {} dequeued() {} })(), new AbortController().signal);
  ac.abort(new Error('gone'));
  await assert.rejects(aborted, /gone/);
  assert.equal(l.waiting, 1);
  l.release();
  await live;
  assert.equal(l.active, 1);
  assert.equal(l.waiting, 0);
  l.release();
  assert.equal(l.active, 0);
  assert.equal(o.queuedNow, 0);
  // With nobody queued, tryAcquire works again.
  assert.equal(l.tryAcquire(), true);
});

test('resize: more slots go to waiters at once, oldest first; fewer take effect as holders release', async () => {
  const l = new ConcurrencyLimiter(1, 10, 10_000);
  const { o, obs } = observer();
  const signal = new AbortController().signal;
  assert.equal(l.tryAcquire(), true);
  const order: number[] = [];
  const waits = [1, 2, 3].map((i) => l.acquire(obs, signal).then(() => order.push(i)));
  l.resize(3);
  await Promise.all(waits.slice(0, 2));
  assert.deepEqual(order, [1, 2]);
  assert.equal(l.active, 3);
  assert.equal(o.queuedNow, 1);
  // Down to one slot: nobody running is cut, and released slots are not handed on while above it.
  l.resize(1);
  l.release();
  l.release();
  assert.equal(l.active, 1);
  assert.equal(o.queuedNow, 1);
  l.release();
  await waits[2];
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(l.active, 1);
  assert.equal(l.tryAcquire(), false);
  l.release();
  assert.equal(l.active, 0);
  assert.equal(l.tryAcquire(), true);
});
