import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { freePort, startChild, waitReady } from './helpers/processes.ts';
import { MODEL, scrape } from './helpers/stack.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;
const P = 'openllm_';

// Issue 16, point 4: with --workers the counters of every worker are summed exactly into one /metrics,
// whichever worker serves the scrape (LiteLLM's multi-worker counters are a known source of wrong numbers).
test('llmwatch gateway --workers 2: one /metrics that sums every worker exactly, through the openai SDK', async (t) => {
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 5, max: 9 } } }), { port: 0 });
  t.after(() => sim.close());
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-workers-'));
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({ port, admin: { token: 'admin-secret-0123456789' }, upstreams: { sim: { baseURL: `${sim.url}/v1` } }, models: { [MODEL]: { upstream: 'sim' } } }));
  const gw = startChild(process.execPath, [BIN, 'gateway', '--config', config, '--workers', '2']);
  t.after(() => gw.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, gw, 'gateway --workers 2', () => gw.stop());
  // Two gateway processes under the primary.
  const workers = execFileSync('pgrep', ['-P', String(gw.process.pid)], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(workers.length >= 2, `${workers.length} worker processes: ${gw.output()}`);

  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  let prompt = 0;
  let completion = 0;
  const N = 60;
  // Concurrent requests open many connections, which the cluster hands to the workers in turn.
  const answers = await Promise.all(
    Array.from({ length: N }, (_, i) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `question ${i} about ${'x '.repeat(i)}` }] })),
  );
  for (const a of answers) {
    prompt += a.usage!.prompt_tokens;
    completion += a.usage!.completion_tokens;
  }
  // Every scrape, whichever worker answers it, is the sum over both.
  for (let i = 0; i < 4; i++) {
    const m = await scrape(url);
    assert.equal(sampleValue(m, P + 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), N);
    assert.equal(sampleValue(m, P + 'tokens_processed_total', { model: MODEL, kind: 'prompt', source: 'usage' }), prompt);
    assert.equal(sampleValue(m, P + 'tokens_processed_total', { model: MODEL, kind: 'completion', source: 'usage' }), completion);
    assert.equal(sampleValue(m, P + 'inference_duration_seconds_count', { model: MODEL, endpoint: 'chat_completions' }), N);
    assert.equal(sampleValue(m, P + 'inference_duration_seconds_bucket', { model: MODEL, endpoint: 'chat_completions', le: '+Inf' }), N);
    assert.equal(sampleValue(m, P + 'upstream_requests_total', { model: MODEL, upstream: 'sim', upstream_model: MODEL }), N);
    assert.equal(sampleValue(m, P + 'requests_in_flight', { model: MODEL, upstream: 'sim' }), 0);
    // Gauges that say which route serves are the same in every worker: not summed.
    assert.equal(sampleValue(m, P + 'route_active', { model: MODEL, upstream: 'sim', upstream_model: MODEL }), 1);
    assert.equal(sampleValue(m, P + 'route_primary', { model: MODEL, upstream: 'sim', upstream_model: MODEL }), 1);
  }
  // Each worker routes on its own: a route switch through one worker's admin API is refused, not half done.
  const res = await fetch(`${url}/admin/routes/${MODEL}`, { method: 'PUT', headers: { authorization: 'Bearer admin-secret-0123456789', 'content-type': 'application/json' }, body: '{"target":"primary"}' });
  assert.equal(res.status, 409);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'route_switch_unsupported');
  // Without Redis the gateway says at start-up that its routes are its own (issue 19, point 4).
  assert.match(gw.output(), /routes are local to this gateway \(routes\.store: local\)/);
});
