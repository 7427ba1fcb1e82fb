import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { sha256Hex } from '../src/core/http/auth.ts';
import { startGateway } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { TOXIC_LEXICON } from '../src/simulator/text.ts';
import { startModerationStandIn } from './fixtures/moderation-classifier.ts';
import { sampleValue } from './helpers/exposition.ts';
import { scrape, until } from './helpers/stack.ts';

const CLEAN = 'llama-3.1-8b-instruct';
const TOXIC = 'toxic-model';
const BLOCKED = 'blocked-model';
const REDACTED = 'redacted-model';
const P = 'openllm_';

async function simulator() {
  return startSimulator(
    simulatorConfig({
      port: 0,
      defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 12, max: 12 } },
      models: { [CLEAN]: {}, [TOXIC]: { toxicFraction: 1 } },
    }),
    { port: 0 },
  );
}

describe('client API keys', () => {
  test('no key or an unknown one gets 401 invalid_api_key; a known key is counted by name', async (t) => {
    const sim = await simulator();
    t.after(() => sim.close());
    const gw = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false },
        auth: { keys: [{ name: 'team-a', sha256: sha256Hex('sk-team-a-secret') }, { name: 'team-b', sha256: sha256Hex('sk-team-b-secret') }] },
        upstreams: { sim: { baseURL: `${sim.url}/v1` } },
        models: { [CLEAN]: { upstream: 'sim' } },
      }),
      { port: 0 },
    );
    t.after(() => gw.close());
    const as = (apiKey: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 });
    await assert.rejects(as('sk-wrong').chat.completions.create({ model: CLEAN, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError);
      assert.equal(err.code, 'invalid_api_key');
      return true;
    });
    const none = await fetch(`${gw.url}/v1/models`);
    assert.equal(none.status, 401);
    await as('sk-team-a-secret').chat.completions.create({ model: CLEAN, messages: [{ role: 'user', content: 'hi' }] });
    await as('sk-team-a-secret').models.list();
    const m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'client_requests_total', { key: 'team-a' }), 2);
    assert.equal(sampleValue(m, P + 'client_requests_total', { key: 'team-b' }), 0);
    assert.equal(sampleValue(m, P + 'gateway_rejected_requests_total', { endpoint: 'chat_completions', reason: 'unauthorized' }), 1);
    assert.equal(sampleValue(m, P + 'gateway_rejected_requests_total', { endpoint: 'none', reason: 'unauthorized' }), 1);
    // Keys are never stored in clear: the digest is all the metrics and config hold.
    assert.ok(!JSON.stringify(m.samples).includes('sk-team-a-secret'));
  });
});

describe('output safety', () => {
  test('toxic outputs raise the model toxicity score; block refuses with content_filter; redact masks', async (t) => {
    const sim = await simulator();
    t.after(() => sim.close());
    const gw = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false },
        // The simulator's mild abuse words, added to the lexical scorer's dataset.
        safety: { scorer: 'lexical', extraTerms: [...TOXIC_LEXICON] },
        upstreams: { sim: { baseURL: `${sim.url}/v1` } },
        models: {
          [CLEAN]: { upstream: 'sim' },
          [TOXIC]: { upstream: 'sim' },
          [BLOCKED]: { upstream: 'sim', upstreamModel: TOXIC, streaming: false, safety: { policy: 'block' } },
          [REDACTED]: { upstream: 'sim', upstreamModel: TOXIC, streaming: false, safety: { policy: 'redact' } },
        },
      }),
      { port: 0 },
    );
    t.after(() => gw.close());
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const say = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'talk to me' }] });

    await say(CLEAN);
    const toxic = await say(TOXIC);
    const stream = await client.chat.completions.create({ model: TOXIC, messages: [{ role: 'user', content: 'stream' }], stream: true });
    for await (const _ of stream) {
      // drained; scored once it has all reached the client
    }
    let m = await scrape(gw.url);
    const score = (model: string) => sampleValue(m, P + 'output_toxicity_score', { model })!;
    assert.equal(score(CLEAN), 0);
    assert.ok(score(TOXIC) >= 0.5, `toxic model scores ${score(TOXIC)}`);
    assert.equal(sampleValue(m, P + 'output_flagged_total', { model: TOXIC, action: 'observed' }), 2);
    assert.ok(TOXIC_LEXICON.some((w) => toxic.choices[0]!.message.content!.includes(w)), 'observe passes the answer unchanged');

    await assert.rejects(say(BLOCKED), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.code, 'content_filter');
      assert.match(err.message, /withheld by the gateway's content policy/);
      return true;
    });
    // block and redact need the whole answer: the config had to turn streaming off, and a stream request is refused, named.
    for (const model of [BLOCKED, REDACTED]) {
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'talk to me' }], stream: true }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.code, 'streaming_not_supported');
        assert.equal(err.param, 'stream');
        return true;
      });
    }
    const redacted = await say(REDACTED);
    const text = redacted.choices[0]!.message.content!;
    assert.ok(text.includes('*'), text);
    assert.ok(!TOXIC_LEXICON.some((w) => new RegExp(`\\b${w}\\b`).test(text)), `no flagged word left: ${text}`);
    m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'output_flagged_total', { model: BLOCKED, action: 'blocked' }), 1);
    assert.equal(sampleValue(m, P + 'output_flagged_total', { model: REDACTED, action: 'redacted' }), 1);
    // A content_filter block is a client error, never a server-side failure (issue 14, SLI classes).
    assert.equal(sampleValue(m, P + 'requests_total', { model: BLOCKED, endpoint: 'chat_completions', status: 'client_error', code: '4xx' }), 1);
    assert.equal(sampleValue(m, P + 'requests_total', { model: BLOCKED, endpoint: 'chat_completions', status: 'error', code: '4xx' }), 0);
  });

  test('the external classifier scores off the request path, and its failures are counted', async (t) => {
    const sim = await simulator();
    t.after(() => sim.close());
    const moderation = await startModerationStandIn();
    t.after(() => moderation.close());
    const gw = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false },
        safety: { scorer: 'classifier', classifier: { baseURL: moderation.baseURL, timeoutMs: 500 } },
        upstreams: { sim: { baseURL: `${sim.url}/v1` } },
        models: { [CLEAN]: { upstream: 'sim' }, [TOXIC]: { upstream: 'sim' } },
      }),
      { port: 0 },
    );
    t.after(() => gw.close());
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    // The stand-in flags any text containing 'hate', which the simulator's toxic outputs do often.
    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: TOXIC, messages: [{ role: 'user', content: `x${i}` }] });
    await client.chat.completions.create({ model: CLEAN, messages: [{ role: 'user', content: 'y' }] });
    await until(() => moderation.requests() === 6);
    await until(async () => (sampleValue(await scrape(gw.url), P + 'output_safety_score_count', { model: CLEAN }) ?? 0) === 1);
    const m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'output_safety_score_count', { model: TOXIC }), 5);
    assert.equal(sampleValue(m, P + 'output_toxicity_score', { model: CLEAN }), 0.01);

    moderation.mode = 'http-500';
    await client.chat.completions.create({ model: CLEAN, messages: [{ role: 'user', content: 'z' }] });
    await until(async () => (sampleValue(await scrape(gw.url), P + 'safety_classifier_failures_total', { reason: 'error' }) ?? 0) === 1);
  });
});
