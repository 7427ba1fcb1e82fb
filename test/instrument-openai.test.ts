import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { instrumentOpenAI } from '../src/index.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';
import { until } from './helpers/stack.ts';

const MODEL = 'llama-3.1-8b-instruct';
const P = 'openllm_';

test('an instrumented openai client records the gateway metrics, under the same names', async (t) => {
  const sim = await startSimulator(
    simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 5, jitter: 0, outputTokens: { min: 6, max: 6 } }, models: { [MODEL]: {}, broken: { errors: { http500: 1 } } } }),
    { port: 0 },
  );
  t.after(() => sim.close());
  const registry = new Registry();
  const client = instrumentOpenAI(new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 }), { registry, models: [MODEL] });
  const metrics = async () => parseExposition(await registry.metrics());
  const v = async (name: string, labels: Record<string, string>) => sampleValue(await metrics(), P + name, labels);

  const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  assert.equal(response.status, 200, 'the SDK promise is returned untouched');
  await until(async () => (await v('requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' })) === 1);
  assert.equal(await v('tokens_processed_total', { model: MODEL, kind: 'completion', source: 'usage' }), data.usage!.completion_tokens);

  const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
  for await (const _ of stream) {
    // read to the end
  }
  assert.equal(await v('requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 2);
  assert.equal(await v('time_to_first_token_seconds_count', { model: MODEL, endpoint: 'chat_completions' }), 1);
  assert.equal(await v('tokens_processed_total', { model: MODEL, kind: 'completion', source: 'usage' }), 12);

  const early = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
  for await (const c of early) {
    if ((c.choices[0]?.delta.content ?? '') !== '') break;
  }
  assert.equal(await v('requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'cancelled', code: '4xx' }), 1);
  assert.equal(await v('requests_in_flight', { model: MODEL, upstream: 'direct' }), 0);

  await assert.rejects(client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'hi' }] }));
  // A model not in the list is counted, under `other`: the label set stays closed.
  await until(async () => (await v('requests_total', { model: 'other', endpoint: 'chat_completions', status: 'error', code: '5xx' })) === 1);

  await client.embeddings.create({ model: MODEL, input: 'text' });
  await until(async () => (await v('requests_total', { model: MODEL, endpoint: 'embeddings', status: 'success', code: '2xx' })) === 1);
  const m = await metrics();
  assert.ok(!m.samples.some((s) => s.labels.model === 'broken'));
  assert.equal(m.types.get(P + 'inference_duration_seconds'), 'histogram');
});

test('a stream that is never iterated does not leak in-flight: aborted, or idle past streamIdleTimeoutMs', async (t) => {
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 5, jitter: 0, outputTokens: { min: 50, max: 50 } } }), { port: 0 });
  t.after(() => sim.close());
  const v = async (registry: Registry, name: string, labels: Record<string, string>) => sampleValue(parseExposition(await registry.metrics()), P + name, labels);
  const ask = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], stream: true as const };

  // Aborted by its controller, never read.
  const r1 = new Registry();
  const c1 = instrumentOpenAI(new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 }), { registry: r1, models: [MODEL] });
  const s1 = await c1.chat.completions.create(ask);
  await until(async () => (await v(r1, 'requests_in_flight', { model: MODEL, upstream: 'direct' })) === 1);
  s1.controller.abort();
  await until(async () => (await v(r1, 'requests_in_flight', { model: MODEL, upstream: 'direct' })) === 0);
  assert.equal(await v(r1, 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'cancelled', code: '4xx' }), 1);

  // Never read nor aborted: the idle timeout ends it.
  const r2 = new Registry();
  const c2 = instrumentOpenAI(new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 }), { registry: r2, models: [MODEL], streamIdleTimeoutMs: 200 });
  const s2 = await c2.chat.completions.create(ask);
  await until(async () => (await v(r2, 'requests_in_flight', { model: MODEL, upstream: 'direct' })) === 0);
  assert.equal(await v(r2, 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'cancelled', code: '4xx' }), 1);
  s2.controller.abort();
});
