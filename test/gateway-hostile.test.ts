import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';
import { MODEL, gatewayConfig, scrape } from './helpers/stack.ts';
import { startMisbehaving } from './fixtures/misbehaving-upstream.ts';
import type { Misbehaving } from './fixtures/misbehaving-upstream.ts';

const P = 'openllm_';
const est = (m: Exposition, kind: string) => sampleValue(m, P + 'tokens_processed_total', { model: MODEL, kind, source: 'estimate' }) ?? 0;
const count = (m: Exposition, name: string, labels: Record<string, string>) => sampleValue(m, P + name, labels) ?? 0;

describe('hostile upstream output and huge prompts: bounded cost, true counters', () => {
  let bad: Misbehaving;
  let gw: GatewayHandle;
  let client: OpenAI;
  before(async () => {
    bad = await startMisbehaving();
    gw = await startGateway(gatewayConfig(`${bad.url}/v1`, {}, { maxEventBytes: 256 * 1024 }), { port: 0 });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test', maxRetries: 0, timeout: 30_000 });
  });
  after(async () => {
    await gw.close();
    await bad.close();
  });

  test('a 4 MiB prompt of one character: answered, its tokens estimated from a bounded sample', async () => {
    const before = await scrape(gw.url);
    const content = `no-usage ${'a'.repeat(4 * 1024 * 1024 - 200)}`;
    const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }] });
    assert.equal(res.choices[0]!.message.content, ' the quick answer is here');
    const after = await scrape(gw.url);
    const prompt = est(after, 'prompt') - est(before, 'prompt');
    // o200k takes runs of `a` 8 at a time: about 524k tokens, extrapolated.
    assert.ok(prompt > 400_000 && prompt < 700_000, `prompt estimate ${prompt}`);
    const health = await fetch(`${gw.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('a 256 KiB one-character completion without usage, streamed and not: estimated, counted as success', async () => {
    for (const mode of ['stream-degenerate', 'json-degenerate'] as const) {
      const before = await scrape(gw.url);
      let text = '';
      if (mode === 'stream-degenerate') {
        const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: mode }], stream: true });
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      } else {
        const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: mode }] });
        text = res.choices[0]!.message.content!;
      }
      assert.equal(text.length, 256 * 1024, mode);
      const after = await scrape(gw.url);
      const completion = est(after, 'completion') - est(before, 'completion');
      assert.ok(completion > 25_000 && completion < 45_000, `${mode}: completion estimate ${completion}`);
      assert.equal(count(after, 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }) - count(before, 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 1);
    }
  });

  test('an SSE event that never ends is cut at maxEventBytes: an error event, counted as malformed', async () => {
    const before = await scrape(gw.url);
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stream-huge-event' }], stream: true });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })(),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal((err.error as { code?: string }).code, 'upstream_malformed_response');
        assert.match(err.message, /maxEventBytes/);
        return true;
      },
    );
    assert.equal(text, ' one', 'the events before the huge one were delivered');
    const after = await scrape(gw.url);
    assert.equal(count(after, 'upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'malformed' }) - count(before, 'upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'malformed' }), 1);
    assert.equal(count(after, 'requests_in_flight', { model: MODEL, upstream: 'sim' }), 0);
  });

  test('a plain JSON answer to a stream request -> 502 before any byte, counted as malformed', async () => {
    const before = await scrape(gw.url);
    await assert.rejects(
      (async () => {
        const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'json-to-stream' }], stream: true });
        for await (const _ of stream) {
          // an SDK would see an empty stream here, were it passed
        }
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 502 && err.code === 'upstream_malformed_response',
    );
    const after = await scrape(gw.url);
    assert.equal(count(after, 'upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'malformed' }) - count(before, 'upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'malformed' }), 1);
  });

  test('unknown vendor fields reach the upstream untouched, byte for byte', async () => {
    const body = `{"model":"${MODEL}","messages":[{"role":"user","content":"no-usage"}],"top_k":5,"vendor":{"x":[1,"\\u00e9"]},"repetition_penalty":1.1}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200, await res.text());
    assert.equal(bad.lastBody(), body);
  });

  test('GET /v1/models/{id} answers the SDK models.retrieve; an unknown id -> 404 model_not_found', async () => {
    const m = await client.models.retrieve(MODEL);
    assert.equal(m.id, MODEL);
    assert.equal(m.object, 'model');
    await assert.rejects(client.models.retrieve('no-such-model'), (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found');
  });
});
