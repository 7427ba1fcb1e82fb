import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';
import { alert, post, webhook } from './helpers/webhook.ts';

const TOKEN = 'responder-token-0123456789abcdef';
const ADMIN = 'responder-admin-token-0123456789';

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-sec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return (extra: Record<string, unknown> = {}) =>
    validateConfig(ResponderConfigSchema, { port: 0, auditPath: join(dir, 'audit.db'), maxBodyBytes: 64 * 1024, playbooks: { HighToxicityScore: { steps: [{ action: 'noop' }] } }, ...extra });
}

test('secure by default: no credentials configured refuses to start, unless --insecure on a loopback address', async (t) => {
  const config = setup(t);
  await assert.rejects(startResponder(config(), { port: 0 }), { code: 'RSP_ERR_NO_AUTH', message: /auth\.token, auth\.tokenFile or auth\.basic.*--insecure/ });
  await assert.rejects(startResponder(config({ host: '0.0.0.0' }), { port: 0, insecure: true }), { code: 'RSP_ERR_NO_AUTH', message: /loopback address only, not 0\.0\.0\.0/ });
  const r = await startResponder(config(), { port: 0, insecure: true });
  t.after(() => r.close());
  const res = await post(r.url, webhook([alert({ alertname: 'HighToxicityScore' })]));
  assert.equal(res.status, 200);
});

test('the webhook credential cannot steer: /admin/* takes the admin token only, and is refused when none is configured', async (t) => {
  const config = setup(t);
  const r = await startResponder(config({ auth: { token: TOKEN } }), { port: 0 });
  t.after(() => r.close());
  const json = { 'content-type': 'application/json' };
  const disabled = await fetch(`${r.url}/admin/kill-switch`, { method: 'POST', headers: { ...json, authorization: `Bearer ${TOKEN}` }, body: '{"on":true}' });
  assert.equal(disabled.status, 403);
  assert.equal(((await disabled.json()) as { error: { code: string } }).error.code, 'admin_disabled');
  await r.close();

  const r2 = await startResponder(config({ auth: { token: TOKEN }, adminAuth: { token: ADMIN } }), { port: 0 });
  t.after(() => r2.close());
  const withWebhookToken = await fetch(`${r2.url}/admin/kill-switch`, { method: 'POST', headers: { ...json, authorization: `Bearer ${TOKEN}` }, body: '{"on":true}' });
  assert.equal(withWebhookToken.status, 403);
  const without = await fetch(`${r2.url}/admin/breaker/reset`, { method: 'POST', headers: json, body: '{}' });
  assert.equal(without.status, 401);
  assert.equal(r2.engine.killSwitch, false);
  // A browser form can post text/plain without a CORS preflight: refused.
  const form = await fetch(`${r2.url}/admin/kill-switch`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${ADMIN}` }, body: '{"on":true}' });
  assert.equal(form.status, 415);
  const ok = await fetch(`${r2.url}/admin/kill-switch`, { method: 'POST', headers: { ...json, authorization: `Bearer ${ADMIN}` }, body: '{"on":true}' });
  assert.equal(ok.status, 200);
  assert.equal(r2.engine.killSwitch, true);
  assert.equal(r2.store.listOperations({ limit: 1 })[0]!.who, 'admin');

  // The audit log is behind auth too: the admin token or Alertmanager's credential reads it.
  assert.equal((await fetch(`${r2.url}/actions`)).status, 401);
  assert.equal((await fetch(`${r2.url}/actions`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
  assert.equal((await fetch(`${r2.url}/actions`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  const badSince = await fetch(`${r2.url}/actions?since=yesterday`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(badSince.status, 400);
  assert.equal(((await badSince.json()) as { error: { param: string } }).error.param, 'since');
});

test('hostile webhooks: text/plain, oversized, deeply nested, many alerts; each refused with its reason, recorded bounded, the process keeps serving', async (t) => {
  const config = setup(t);
  const r = await startResponder(config({ auth: { token: TOKEN } }), { port: 0 });
  t.after(() => r.close());
  const auth = { authorization: `Bearer ${TOKEN}` };
  const plain = await fetch(`${r.url}/alerts`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: JSON.stringify(webhook([alert({ alertname: 'HighToxicityScore' })])) });
  assert.equal(plain.status, 415);
  assert.match(((await plain.json()) as { error: { message: string } }).error.message, /application\/json \(got "text\/plain"\)/);

  // A 10 MB chunked body: refused as it crosses the limit, never held whole.
  const huge = await new Promise<number>((resolve, reject) => {
    const req = request(`${r.url}/alerts`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < 160) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  }).catch(() => 413);
  assert.equal(huge, 413);

  const nested = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
  assert.equal((await post(r.url, nested, auth)).status, 400);
  const tooMany = await post(r.url, webhook(Array.from({ length: 10_001 }, () => alert({ alertname: 'HighToxicityScore' }))), auth);
  assert.ok(tooMany.status === 413 || tooMany.status === 400, String(tooMany.status));

  assert.equal((await fetch(`${r.url}/healthz`)).status, 200);
  const m = parseExposition(await (await fetch(`${r.url}/metrics`)).text());
  assert.equal(sampleValue(m, 'llmwatch_responder_webhooks_total', { result: 'unsupported_media_type' }), 1);
  assert.equal(sampleValue(m, 'llmwatch_responder_audit_db_bytes'), r.store.sizeBytes());
  const rejected = r.store.getWebhook(1)!;
  assert.equal(rejected.status, 'rejected');
  assert.match(rejected.reason!, /HTTP_ERR_UNSUPPORTED_MEDIA_TYPE/);
});

test('concurrent deliveries of the same alert act once', async (t) => {
  const config = setup(t);
  const r = await startResponder(config({ auth: { token: TOKEN } }), { port: 0 });
  t.after(() => r.close());
  const body = webhook([alert({ alertname: 'HighToxicityScore' })]);
  const answers = await Promise.all(Array.from({ length: 20 }, () => post(r.url, body, { authorization: `Bearer ${TOKEN}` })));
  assert.equal(answers.filter((a) => a.body.decisions[0].decision === 'act').length, 1);
  await r.engine.idle();
  assert.equal(r.store.listActions({ limit: 100 }).length, 1);
});
