import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { redactSecrets, redactUrl } from '../src/core/http/redact.ts';

test('redactUrl masks user, password and credential-like query parameters, and nothing else', () => {
  assert.equal(redactUrl('http://bob:s3cret@10.0.0.5:8000/v1?api_key=abc&x=1'), 'http://***:***@10.0.0.5:8000/v1?api_key=***&x=1');
  assert.equal(redactUrl('http://127.0.0.1:8000/v1'), 'http://127.0.0.1:8000/v1');
  assert.equal(redactUrl('rediss://:hunter2@cache:6380'), 'rediss://:***@cache:6380');
});

test('redactSecrets masks tokens in free text', () => {
  const text = 'GET http://u:p4ss@h/v1 failed; Authorization: Bearer abc.def-123 key sk-proj-ABCDEFGHIJKL token=xyz';
  const out = redactSecrets(text);
  for (const secret of ['p4ss', 'abc.def-123', 'sk-proj-ABCDEFGHIJKL', 'xyz']) assert.ok(!out.includes(secret), `${secret} in ${out}`);
  assert.match(out, /http:\/\/\*\*\*:\*\*\*@h\/v1/);
});

/** Starts the gateway on a config naming `baseURL`, and collects its output until `until` matches or it exits (bounded). */
async function gatewayOutput(t: { after(fn: () => void): void }, baseURL: string, until: RegExp): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-redact-'));
  const config = join(dir, 'gw.json');
  writeFileSync(config, JSON.stringify({ port: 0, upstreams: { up: { baseURL } }, models: { m: { upstream: 'up' } } }));
  const child = spawn(process.execPath, ['bin/llmwatch.js', 'gateway', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGTERM'));
  let out = '';
  let exited = false;
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  // 'close', not 'exit': it comes once the child's stdout and stderr have ended, so all its output is in
  // (after 'exit' a fixed 100 ms pause was left for it to arrive, a race on a loaded machine).
  child.on('close', (code) => {
    out += `[exit ${code}]`;
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  while (!until.test(out) && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return out;
}

test('the gateway never prints an upstream URL credential at start-up', async (t) => {
  // Port 1 is never served: the start-up check warns about it, quoting the URL with its key masked.
  const out = await gatewayOutput(t, 'http://127.0.0.1:1/v1?api_key=KeyInQuery', /"level":"warn"/);
  assert.match(out, /listening on/);
  // The warning is a line of the gateway's logger (pino JSON).
  assert.match(out, /"level":"warn"/);
  assert.ok(!out.includes('KeyInQuery'), out);
  assert.match(out, /\*\*\*/);
});

test('a user and password in an upstream URL are refused at start-up without being printed', async (t) => {
  // The pool connects to the origin alone, so they would never be sent: the config is refused (exit 2).
  const out = await gatewayOutput(t, 'http://alice:TopSecret42@127.0.0.1:1/v1?api_key=KeyInQuery', /\[exit \d+\]/);
  assert.match(out, /\[exit 2\]/);
  assert.match(out, /upstreams\.up\.baseURL: holds credentials .*apiKey/);
  assert.ok(!out.includes('TopSecret42') && !out.includes('KeyInQuery') && !out.includes('alice'), out);
});
