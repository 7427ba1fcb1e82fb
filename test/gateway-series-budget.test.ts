import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { startGateway } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { sampleValue, seriesKeys } from './helpers/exposition.ts';
import { MODEL, SMALL_MODEL, gatewayConfig, scrape } from './helpers/stack.ts';

const P = 'openllm_';

// Issue 16's series budget: `models.<m>.endpoints` names the OpenAI endpoints a model is expected
// on; only their series exist at zero from the start. A request to another endpoint is still
// served and metered exactly, its series created by it.
test('models.<m>.endpoints: series at zero only for the endpoints named; another endpoint is metered from its first request', async (t) => {
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 8, max: 8 } } }), { port: 0 });
  t.after(() => sim.close());
  const config = gatewayConfig(`${sim.url}/v1`, {
    models: { [MODEL]: { upstream: 'sim', endpoints: ['chat_completions'] }, [SMALL_MODEL]: { upstream: 'sim' } },
  } as never);
  const gw = await startGateway(config, { port: 0 });
  t.after(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test', maxRetries: 0, timeout: 10_000 });

  const before = await scrape(gw.url);
  const seriesOf = (model: string) => [...seriesKeys(before)].filter((k) => k.includes(`model="${model}"`));
  const withEndpoint = (model: string, e: string) => seriesOf(model).filter((k) => k.includes(`endpoint="${e}"`));
  // The chat model: its chat series exist at zero, none for completions or embeddings.
  assert.ok(withEndpoint(MODEL, 'chat_completions').length > 0);
  assert.equal(sampleValue(before, `${P}requests_total`, { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 0);
  assert.deepEqual(withEndpoint(MODEL, 'completions'), []);
  assert.deepEqual(withEndpoint(MODEL, 'embeddings'), []);
  // The model without the field keeps every endpoint's series, as before.
  for (const e of ['chat_completions', 'completions', 'embeddings']) assert.ok(withEndpoint(SMALL_MODEL, e).length > 0, e);
  const budget = { chat: seriesOf(MODEL).length, all: seriesOf(SMALL_MODEL).length };
  assert.ok(budget.chat < budget.all * 0.6, `chat-only ${budget.chat} series, all endpoints ${budget.all}`);
  console.log(`# series per model before any request: chat_completions only ${budget.chat}, all three endpoints ${budget.all}`);

  // An embeddings request to the chat model is served and counted exactly, from its first request.
  const emb = await client.embeddings.create({ model: MODEL, input: 'hello there' });
  assert.equal(emb.data.length, 1);
  await client.embeddings.create({ model: MODEL, input: 'and again' });
  const after = await scrape(gw.url);
  assert.equal(sampleValue(after, `${P}requests_total`, { model: MODEL, endpoint: 'embeddings', status: 'success', code: '2xx' }), 2);
  assert.equal(sampleValue(after, `${P}inference_duration_seconds_count`, { model: MODEL, endpoint: 'embeddings' }), 2);
  // Only the series that were used appear: no error or cancelled series for embeddings yet.
  assert.equal(sampleValue(after, `${P}requests_total`, { model: MODEL, endpoint: 'embeddings', status: 'error', code: '5xx' }), undefined);
  assert.deepEqual([...seriesKeys(after)].filter((k) => k.includes(`model="${MODEL}"`) && k.includes('endpoint="completions"')), []);
});
