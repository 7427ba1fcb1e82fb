import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWebhook } from '../src/responder/webhook.ts';
import { alert, webhook } from './helpers/webhook.ts';

const many = (n: number) => Array.from({ length: n }, (_, i) => alert({ alertname: 'HighErrorRate', model: `m${i}` }));

/** A time slice that counts how often it is asked for room, and has room once in `every` asks. */
function countingSlice(every = 1) {
  let asks = 0;
  return {
    get asks() {
      return asks;
    },
    get over() {
      return ++asks % every !== 0;
    },
    next: Promise.resolve(),
  };
}

test('a webhook of 10,000 alerts is validated a slice at a time: room asked for between chunks of 20', async () => {
  const slice = countingSlice();
  const r = await parseWebhook(JSON.parse(JSON.stringify(webhook(many(10_000)))), slice);
  assert.ok(r.ok);
  assert.equal(r.alerts.length, 10_000);
  assert.equal(r.webhook.alerts.length, 10_000);
  assert.equal(slice.asks, 10_000 / 20 - 1);
});

test('a chunk waits while the slice is over, and asks again after each wait', async () => {
  // Room once in three asks: two waits before each chunk after the first.
  const slice = countingSlice(3);
  const r = await parseWebhook(webhook(many(100)), slice);
  assert.ok(r.ok);
  assert.equal(slice.asks, (100 / 20 - 1) * 3);
});

test('every fault is named with its alert index, past the first slice too', async () => {
  const alerts: unknown[] = many(60);
  alerts[45] = { ...(alerts[45] as object), startsAt: 'yesterday' };
  alerts[3] = 'not an alert';
  const r = await parseWebhook({ ...webhook([]), version: '3', alerts });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(r.reason, /version/);
  assert.match(r.reason, /alerts\.3: /);
  assert.match(r.reason, /alerts\.45\.startsAt: /);
  assert.doesNotMatch(r.reason, /alerts\.(0|1|2|4|44|46)\b/);
});

test('more than 10,000 alerts is refused before any is validated', async () => {
  const slice = countingSlice();
  const r = await parseWebhook(webhook(many(10_001)), slice);
  assert.equal(r.ok, false);
  assert.equal(slice.asks, 0);
});
