import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWebhook } from '../src/responder/webhook.ts';
import { alert, webhook } from './helpers/webhook.ts';

const many = (n: number) => Array.from({ length: n }, (_, i) => alert({ alertname: 'HighErrorRate', model: `m${i}` }));

test('a webhook of 10,000 alerts is validated a slice at a time: turn() between slices of 20', async () => {
  let turns = 0;
  const r = await parseWebhook(JSON.parse(JSON.stringify(webhook(many(10_000)))), async () => void turns++);
  assert.ok(r.ok);
  assert.equal(r.alerts.length, 10_000);
  assert.equal(r.webhook.alerts.length, 10_000);
  assert.equal(turns, 10_000 / 20 - 1);
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
  let turns = 0;
  const r = await parseWebhook(webhook(many(10_001)), async () => void turns++);
  assert.equal(r.ok, false);
  assert.equal(turns, 0);
});
