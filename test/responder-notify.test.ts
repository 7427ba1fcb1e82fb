import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';
import { alert, post, webhook } from './helpers/webhook.ts';

const TOKEN = 'responder-token-0123456789abcdef';

/** A real HTTP server that keeps what it is sent, by path, and answers each path's status. */
async function receiver(statusByPath: Record<string, number> = {}) {
  const got: Array<{ path: string; contentType: string | undefined; body: any }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      got.push({ path, contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(statusByPath[path] ?? 200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, got, close: () => new Promise((r) => server.close(r)) };
}

test('notify posts a plain JSON payload and a Slack-compatible one to real receivers, with what the playbook did; a refusal is a recorded failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rx = await receiver({ '/broken': 500 });
  t.after(() => rx.close());
  const r = await startResponder(
    validateConfig(ResponderConfigSchema, {
      port: 0,
      auth: { token: TOKEN },
      auditPath: join(dir, 'audit.db'),
      notify: { webhooks: { chat: `${rx.url}/json`, ops: `${rx.url}/broken` }, slack: { chat: `${rx.url}/slack` } },
      playbooks: {
        HighToxicityScore: { steps: [{ action: 'noop' }, { action: 'notify', always: true, params: { channel: 'chat' } }] },
        HighErrorRate: { steps: [{ action: 'notify', params: { channel: 'ops', text: 'errors on {{ $labels.model }}' } }] },
      },
    }),
    { port: 0 },
  );
  t.after(() => r.close());
  const a = alert({ alertname: 'HighToxicityScore', model: 'llama' });
  await post(r.url, webhook([a]), { authorization: `Bearer ${TOKEN}` });
  await r.engine.idle();
  const json = rx.got.find((g) => g.path === '/json')!;
  const slack = rx.got.find((g) => g.path === '/slack')!;
  assert.equal(json.contentType, 'application/json');
  assert.equal(json.body.channel, 'chat');
  assert.equal(json.body.alert.fingerprint, a.fingerprint);
  assert.equal(json.body.alert.labels.model, 'llama');
  assert.match(json.body.text, /^\[firing\] HighToxicityScore \(llama\): summary of HighToxicityScore — noop: nothing to do$/);
  // Slack's incoming webhooks take `text` only (https://api.slack.com/messaging/webhooks).
  assert.deepEqual(Object.keys(slack.body), ['text']);
  assert.equal(slack.body.text, json.body.text);
  const notifyRow = r.store.listActions({ limit: 10 }).find((x) => x.action === 'notify')!;
  assert.equal(notifyRow.outcome, 'success');

  await post(r.url, webhook([alert({ alertname: 'HighErrorRate', model: 'qwen' })]), { authorization: `Bearer ${TOKEN}` });
  await r.engine.idle();
  assert.equal(rx.got.find((g) => g.path === '/broken')!.body.text, 'errors on qwen');
  const failed = r.store.listActions({ limit: 10, alertname: 'HighErrorRate' })[0]!;
  assert.equal(failed.outcome, 'failure');
  assert.match(failed.detail, /127\.0\.0\.1:\d+ answered 500/);
});
