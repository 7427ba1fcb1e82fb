import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startChild } from './helpers/processes.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

test('`llmwatch up` (npm start) brings the stack up, serves metered completions, and stops every child on SIGTERM', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-up-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const up = startChild(process.execPath, [BIN, 'up', '--free-ports', '--fast', '--dir', dir]);
  t.after(() => up.stop());
  for (let i = 0; i < 600 && !up.output().includes('Ctrl-C stops everything'); i++) {
    if (up.process.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /OpenAI API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(up.output())?.[1];
  assert.ok(url, `no gateway URL printed:\n${up.output()}`);
  for (const part of ['simulator', 'gateway', 'responder', 'node-exporter', 'alertmanager', 'prometheus']) assert.match(up.output(), new RegExp(`ready  ${part}`));
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const res = await client.chat.completions.create({ model: 'llama-3.2-1b-instruct', messages: [{ role: 'user', content: 'hi' }] });
  assert.ok((res.usage?.completion_tokens ?? 0) > 0);

  const exited = once(up.process, 'exit');
  up.process.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, up.output());
  assert.match(up.output(), /stopped/);
  // No orphans: nothing started with this stack's folder in its arguments is left running.
  let left = '';
  try {
    left = execFileSync('pgrep', ['-af', dir], { encoding: 'utf8' });
  } catch {
    left = '';
  }
  assert.equal(left.trim(), '', `children left running:\n${left}`);
});

test('`llmwatch gateway` without a config says what to give, exit code 2', async () => {
  const gw = startChild(process.execPath, [BIN, 'gateway']);
  const [code] = await once(gw.process, 'exit');
  assert.equal(code, 2);
  assert.match(gw.output(), /needs --config FILE, or --upstream URL/);
});

test('`llmwatch drill` without a running stack says how to start one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-nostack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const drill = startChild(process.execPath, [BIN, 'drill', 'latency', '--dir', dir]);
  const [code] = await once(drill.process, 'exit');
  assert.notEqual(code, 0);
  assert.match(drill.output(), /No running stack found: .*stack\.json is missing\. Start one with 'llmwatch up'/);
});
