import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { RefusalDetector } from '../src/gateway/behaviour/refusal-detector.ts';
import { startGateway } from '../src/gateway/server.ts';
import { BEHAVIOUR_PROFILES } from '../src/simulator/behaviour.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { REFUSAL_TOKENS } from '../src/simulator/text.ts';
import { sampleValue } from './helpers/exposition.ts';
import { scrape } from './helpers/stack.ts';

// Issue 18, point 3: the simulator's behaviour profiles, switched at run time, and what the gateway counts of them.

const MODEL = 'llama-3.1-8b-instruct';
const ZERO = { ttftMs: 0, tpotMs: 0, jitter: 0 };
const P = 'openllm_';

test('the refusal is one o200k token per entry, so completion_tokens stays exact, and the gateway\'s detector flags it', () => {
  const text = REFUSAL_TOKENS.join('');
  assert.equal(encode(text).length, REFUSAL_TOKENS.length);
  assert.equal(new RefusalDetector().isRefusal(text), true);
});

test('behaviour profiles switched through the admin API: refusals, truncation at max_tokens, terse answers; DELETE undoes them', async (t) => {
  const sim = await startSimulator(simulatorConfig({ defaults: ZERO }), { port: 0 });
  t.after(() => sim.close());
  const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 5_000 });
  const put = (patch: unknown) => fetch(`${sim.url}/admin/profiles/${MODEL}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
  const ask = (maxTokens?: number) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) });

  assert.equal((await put({ refusalFraction: 1 })).status, 200);
  const refused = await ask();
  assert.equal(refused.choices[0]!.message.content, REFUSAL_TOKENS.join(''));
  assert.equal(refused.choices[0]!.finish_reason, 'stop');
  assert.equal(refused.usage!.completion_tokens, REFUSAL_TOKENS.length);

  assert.equal((await put({ refusalFraction: 0, truncateFraction: 1 })).status, 200);
  const cut = await ask(40);
  assert.equal(cut.choices[0]!.finish_reason, 'length');
  assert.equal(cut.usage!.completion_tokens, 40, 'runs on to max_tokens');
  // With no max_tokens, a truncated answer runs to the profile's longest (64 by default).
  const cutAtMax = await ask();
  assert.equal(cutAtMax.choices[0]!.finish_reason, 'length');
  assert.equal(cutAtMax.usage!.completion_tokens, 64);

  assert.equal((await fetch(`${sim.url}/admin/profiles/${MODEL}`, { method: 'DELETE' })).status, 200);
  assert.equal((await put(BEHAVIOUR_PROFILES.terse)).status, 200);
  const terse = await ask();
  assert.ok(terse.usage!.completion_tokens >= 2 && terse.usage!.completion_tokens <= 4);
  assert.equal(terse.choices[0]!.finish_reason, 'stop');

  const bad = await put({ refusalFraction: 2 });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /refusalFraction/);
});

test('through the gateway: a refusing profile shows in answer_refusals_total, a truncating one in answers_total{finish_reason="length"}', async (t) => {
  const sim = await startSimulator(simulatorConfig({ defaults: ZERO }), { port: 0 });
  t.after(() => sim.close());
  const gw = await startGateway(validateConfig(GatewayConfigSchema, { port: 0, metrics: { processMetrics: false }, upstreams: { sim: { baseURL: `${sim.url}/v1` } }, models: { [MODEL]: { upstream: 'sim', cache: false } } }), { port: 0 });
  t.after(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 5_000 });
  const put = (patch: unknown) => fetch(`${sim.url}/admin/profiles/${MODEL}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
  const ask = async (n: number, stream: boolean) => {
    for (let i = 0; i < n; i++) {
      if (stream) for await (const _ of await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 100, stream: true }));
      else await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 100 });
    }
  };
  await ask(4, false);
  await put({ refusalFraction: 1 });
  await ask(3, false);
  await ask(3, true);
  await put({ refusalFraction: 0, truncateFraction: 1 });
  await ask(2, true);
  const m = await scrape(gw.url);
  assert.equal(sampleValue(m, P + 'answer_refusals_total', { model: MODEL }), 6);
  assert.equal(sampleValue(m, P + 'answers_total', { model: MODEL, finish_reason: 'length' }), 2);
  assert.equal(sampleValue(m, P + 'answers_total', { model: MODEL, finish_reason: 'stop' }), 10);
});
