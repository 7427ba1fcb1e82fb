import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startChild } from './helpers/processes.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

test('`llmwatch up` (npm start) serves metered completions and stops cleanly on SIGTERM', async (t) => {
  const up = startChild(process.execPath, [BIN, 'up', '--port', '0', '--sim-port', '0']);
  t.after(() => up.stop());
  let url: string | undefined;
  for (let i = 0; i < 200 && url === undefined; i++) {
    url = /gateway\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(up.output())?.[1];
    if (url === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(url, `no gateway URL printed:\n${up.output()}`);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const res = await client.chat.completions.create({ model: 'llama-3.2-1b-instruct', messages: [{ role: 'user', content: 'hi' }] });
  assert.ok((res.usage?.completion_tokens ?? 0) > 0);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /openllm_requests_total\{model="llama-3.2-1b-instruct",endpoint="chat_completions",status="success",code="2xx"\} 1/);

  const exited = once(up.process, 'exit');
  up.process.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, up.output());
  assert.match(up.output(), /stopped/);
});

test('`llmwatch gateway` without a config says what to give, exit code 2', async () => {
  const gw = startChild(process.execPath, [BIN, 'gateway']);
  const [code] = await once(gw.process, 'exit');
  assert.equal(code, 2);
  assert.match(gw.output(), /needs --config FILE, or --upstream URL/);
});
