import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import type { GatewayConfigInput } from '../src/core/config/gateway-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import { startModerationStandIn } from './fixtures/moderation-classifier.ts';
import { startScriptedUpstream } from './fixtures/scripted-upstream.ts';
import type { Script } from './fixtures/scripted-upstream.ts';
import { sampleValue } from './helpers/exposition.ts';
import { scrape, until } from './helpers/stack.ts';

const MODEL = 'behaving-model';
const P = 'openllm_';

async function pair(t: { after(fn: () => Promise<void>): void }, extra: Partial<GatewayConfigInput> = {}) {
  const up = await startScriptedUpstream();
  t.after(() => up.close());
  const gw = await startGateway(
    validateConfig(GatewayConfigSchema, { port: 0, metrics: { processMetrics: false }, upstreams: { up: { baseURL: `${up.url}/v1` } }, models: { [MODEL]: { upstream: 'up', cache: false } }, ...extra }),
    { port: 0 },
  );
  t.after(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'none', maxRetries: 0 });
  const chat = async (s: Script, stream = false) => {
    const messages = [{ role: 'user' as const, content: JSON.stringify(s) }];
    if (!stream) return void (await client.chat.completions.create({ model: MODEL, messages }));
    for await (const _ of await client.chat.completions.create({ model: MODEL, messages, stream: true, n: s.second === undefined ? 1 : 2 }));
  };
  return { gw, client, chat };
}

const finish = (m: Awaited<ReturnType<typeof scrape>>, reason: string) => sampleValue(m, P + 'answers_total', { model: MODEL, finish_reason: reason });
const one = (m: Awaited<ReturnType<typeof scrape>>, name: string) => sampleValue(m, P + name, { model: MODEL });

test('before any answer: finish reasons the alerts read, refusals, empty answers and tool calls are exported at zero; tool_calls and other are not', async (t) => {
  const { gw } = await pair(t);
  const m = await scrape(gw.url);
  for (const r of ['stop', 'length', 'content_filter']) assert.equal(finish(m, r), 0, r);
  assert.equal(finish(m, 'tool_calls'), undefined);
  assert.equal(finish(m, 'other'), undefined);
  for (const name of ['answer_refusals_total', 'answer_empty_total', 'answer_tool_calls_total']) assert.equal(one(m, name), 0, name);
});

test('each answer is counted by its finish reason, as a refusal, an empty answer or a tool call, streamed or not, through the openai SDK', async (t) => {
  const { gw, chat } = await pair(t);
  for (const stream of [false, true]) {
    await chat({ content: 'Paris is the capital of France.', finish_reason: 'stop' }, stream);
    await chat({ content: "I'm sorry, but I can't help with that request.", finish_reason: 'stop' }, stream);
    await chat({ content: 'The first three steps are', finish_reason: 'length' }, stream);
    await chat({ content: null, tool_calls: true, finish_reason: 'tool_calls' }, stream);
    await chat({ content: '', finish_reason: 'stop' }, stream);
    await chat({ content: 'Blocked', finish_reason: 'content_filter' }, stream);
    await chat({ content: 'odd', finish_reason: 'eos_token' }, stream);
  }
  // The older API's function_call is a tool call; content parts are text.
  await chat({ content: null, function_call: true, finish_reason: 'function_call' });
  await chat({ content: [{ type: 'text', text: 'I cannot provide that.' }], finish_reason: 'stop' });
  const m = await scrape(gw.url);
  assert.equal(finish(m, 'stop'), 7);
  assert.equal(finish(m, 'length'), 2);
  assert.equal(finish(m, 'tool_calls'), 3);
  assert.equal(finish(m, 'content_filter'), 2);
  assert.equal(finish(m, 'other'), 2);
  assert.equal(one(m, 'answer_refusals_total'), 3);
  assert.equal(one(m, 'answer_empty_total'), 2);
  assert.equal(one(m, 'answer_tool_calls_total'), 3);
});

test('a stream with two choices is counted by choice 0 alone: its text and its finish reason', async (t) => {
  const { gw, chat } = await pair(t);
  await chat({ content: 'A fine and helpful answer to the question.', finish_reason: 'stop', second: "I can't help with that." }, true);
  const m = await scrape(gw.url);
  assert.equal(finish(m, 'stop'), 1);
  assert.equal(finish(m, 'length'), 0);
  assert.equal(one(m, 'answer_refusals_total'), 0);
});

test('a large answer read from its tail (not parsed) still gives its finish reason, and is neither empty nor read for refusals', async (t) => {
  const { gw, chat } = await pair(t);
  await chat({ content: "I can't help with that.", finish_reason: 'length', padTo: 200 * 1024 });
  const m = await scrape(gw.url);
  assert.equal(finish(m, 'length'), 1);
  assert.equal(one(m, 'answer_empty_total'), 0);
  // Not read: an answer over 64 KiB is not a refusal in practice (docs/drift.md, "What it misses").
  assert.equal(one(m, 'answer_refusals_total'), 0);
});

test('refusal detection is configurable: extra phrases, a detector turned off', async (t) => {
  await t.test('extraPhrases', async (t) => {
    const { gw, chat } = await pair(t, { behaviour: { refusal: { extraPhrases: ['no puedo ayudar'] } } });
    await chat({ content: 'Lo siento, pero no puedo ayudar con esa solicitud.', finish_reason: 'stop' });
    assert.equal(one(await scrape(gw.url), 'answer_refusals_total'), 1);
  });
  await t.test('none', async (t) => {
    const { gw, chat } = await pair(t, { behaviour: { refusal: { detector: 'none' } } });
    await chat({ content: "I'm sorry, but I can't help with that request.", finish_reason: 'stop' });
    const m = await scrape(gw.url);
    assert.equal(one(m, 'answer_refusals_total'), 0);
    assert.equal(finish(m, 'stop'), 1);
  });
});

test('a refusal classifier judges answers off the request path; its failures are counted by reason', async (t) => {
  const mod = await startModerationStandIn();
  t.after(() => mod.close());
  const { gw, chat } = await pair(t, { behaviour: { refusal: { detector: 'classifier', classifier: { baseURL: mod.baseURL, timeoutMs: 500 } } } });
  // The stand-in scores text with 'hate' in it 0.9, anything else 0.01.
  await chat({ content: 'I would hate to do that; no.', finish_reason: 'stop' });
  await chat({ content: "I'm sorry, but I can't help with that request.", finish_reason: 'stop' });
  await until(() => mod.requests() === 2);
  await until(async () => one(await scrape(gw.url), 'answer_refusals_total') === 1);
  mod.mode = 'http-500';
  await chat({ content: 'anything', finish_reason: 'stop' });
  await until(async () => sampleValue(await scrape(gw.url), P + 'refusal_classifier_failures_total', { reason: 'error' }) === 1);
});

test('a refusal classifier without its baseURL is refused at start-up with the field named', () => {
  assert.throws(
    () => validateConfig(GatewayConfigSchema, { upstreams: { up: { baseURL: 'http://127.0.0.1:9/v1' } }, models: { m: { upstream: 'up' } }, behaviour: { refusal: { detector: 'classifier' } } }),
    /behaviour\.refusal\.classifier/,
  );
});
