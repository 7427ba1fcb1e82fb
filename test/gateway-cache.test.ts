import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { startRedis } from './helpers/redis.ts';
import { scrape, until } from './helpers/stack.ts';

const MODEL = 'llama-3.1-8b-instruct';
const P = 'openllm_';

async function simulator() {
  // Jitter and varied lengths: a replay that came from the model again would differ.
  return startSimulator(simulatorConfig({ port: 0, seed: 7, defaults: { ttftMs: 0, tpotMs: 0, outputTokens: { min: 8, max: 40 } } }), { port: 0 });
}

function gatewayConfig(simURL: string, cache: Record<string, unknown>) {
  return validateConfig(GatewayConfigSchema, {
    port: 0,
    metrics: { processMetrics: false },
    cache: { enabled: true, ...cache },
    upstreams: { sim: { baseURL: `${simURL}/v1` } },
    models: { [MODEL]: { upstream: 'sim' } },
  });
}

async function ask(gw: GatewayHandle, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'What is 2+2?' }], ...body }),
  });
  return { status: res.status, cache: res.headers.get('x-llmwatch-cache'), type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

function cacheCounts(m: Awaited<ReturnType<typeof scrape>>) {
  const v = (result: string) => sampleValue(m, P + 'cache_requests_total', { model: MODEL, result });
  return { hit: v('hit'), miss: v('miss'), bypass: v('bypass') };
}

describe('in-memory response cache', () => {
  test('a deterministic request is answered from the cache, byte for byte, streams as streams', async (t) => {
    const sim = await simulator();
    t.after(() => sim.close());
    const gw = await startGateway(gatewayConfig(sim.url, { store: 'memory' }), { port: 0 });
    t.after(() => gw.close());

    const a = await ask(gw, { temperature: 0 });
    const b = await ask(gw, { temperature: 0 });
    assert.equal(a.cache, null);
    assert.equal(b.cache, 'hit');
    assert.deepEqual(b.bytes, a.bytes);

    const s1 = await ask(gw, { temperature: 0, stream: true, stream_options: { include_usage: true } });
    const s2 = await ask(gw, { temperature: 0, stream: true, stream_options: { include_usage: true } });
    assert.match(s1.type ?? '', /^text\/event-stream/);
    assert.equal(s2.cache, 'hit');
    assert.match(s2.type ?? '', /^text\/event-stream/);
    assert.deepEqual(s2.bytes, s1.bytes);
    assert.ok(s2.bytes.toString().endsWith('data: [DONE]\n\n'));

    // Sampled requests are not cached; the client can force or bypass.
    const warm = await ask(gw, { temperature: 0.7 });
    assert.equal(warm.cache, null);
    const bypass = await ask(gw, { temperature: 0 }, { 'x-llmwatch-cache': 'bypass' });
    assert.equal(bypass.cache, null);

    const m = await scrape(gw.url);
    assert.deepEqual(cacheCounts(m), { hit: 2, miss: 2, bypass: 2 });
    // Six answers for the client, four inferences: hits are successes with no tokens and no duration.
    assert.equal(sampleValue(m, P + 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 6);
    assert.equal(sampleValue(m, P + 'inference_duration_seconds_count', { model: MODEL, endpoint: 'chat_completions' }), 4);
    assert.equal(sampleValue(m, P + 'upstream_requests_total', { model: MODEL, upstream: 'sim', upstream_model: MODEL }), 4);
  });
});

describe('Redis response cache, shared by replicas', () => {
  test('a second gateway hits what the first stored; Redis killed mid-test degrades to no cache, counted', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const sim = await simulator();
    t.after(() => sim.close());
    const one = await startGateway(gatewayConfig(sim.url, { store: 'redis', redisURL: redis.url }), { port: 0 });
    t.after(() => one.close());
    const two = await startGateway(gatewayConfig(sim.url, { store: 'redis', redisURL: redis.url }), { port: 0 });
    t.after(() => two.close());

    const first = await ask(one, { temperature: 0, stream: true });
    // The store is written in the background: wait until the other replica sees it.
    let replay = await ask(two, { temperature: 0, stream: true });
    await until(async () => {
      if (replay.cache === 'hit') return true;
      replay = await ask(two, { temperature: 0, stream: true });
      return replay.cache === 'hit';
    });
    assert.deepEqual(replay.bytes, first.bytes);

    await redis.stop();
    for (let i = 0; i < 3; i++) {
      const r = await ask(one, { temperature: 0 });
      assert.equal(r.status, 200, 'a cache outage never fails a request');
      assert.equal(r.cache, null);
    }
    const m = await scrape(one.url);
    const errors = ['get', 'set', 'connect'].reduce((a, op) => a + (sampleValue(m, P + 'cache_errors_total', { store: 'redis', op }) ?? 0), 0);
    assert.ok(errors >= 3, `cache errors counted: ${errors}`);
    assert.equal(sampleValue(m, P + 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 4);
  });
});

describe('cache isolation between tenants (issue 12)', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const sdk = (gw: GatewayHandle, apiKey: string, headers: Record<string, string> = {}) =>
    new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, timeout: 10_000, defaultHeaders: headers });
  const question = { model: MODEL, messages: [{ role: 'user' as const, content: 'What is 2+2?' }], temperature: 0 };
  async function cacheHeader(client: OpenAI, extra: Record<string, unknown> = {}) {
    const { response } = await client.chat.completions.create({ ...question, ...extra }).withResponse();
    return response.headers.get('x-llmwatch-cache');
  }

  test('with client keys, key B never gets what key A cached; `user` splits entries too', async (t) => {
    const sim = await simulator();
    t.after(() => sim.close());
    const config = validateConfig(GatewayConfigSchema, {
      port: 0,
      metrics: { processMetrics: false },
      cache: { enabled: true },
      auth: { keys: [{ name: 'team-a', sha256: sha('key-a') }, { name: 'team-b', sha256: sha('key-b') }] },
      upstreams: { sim: { baseURL: `${sim.url}/v1` } },
      models: { [MODEL]: { upstream: 'sim' } },
    });
    const gw = await startGateway(config, { port: 0 });
    t.after(() => gw.close());
    const a = sdk(gw, 'key-a');
    const b = sdk(gw, 'key-b');
    assert.equal(await cacheHeader(a), null);
    await until(async () => (await cacheHeader(a)) === 'hit');
    assert.equal(await cacheHeader(b), null, "key B must not see key A's answer");
    assert.equal(await cacheHeader(a, { user: 'alice' }), null, 'another user is another entry');
  });

  test('without client keys, the credential the upstream sees is the tenant; no credential is its own tenant', async (t) => {
    const sim = await simulator();
    t.after(() => sim.close());
    const gw = await startGateway(gatewayConfig(sim.url, { store: 'memory' }), { port: 0 });
    t.after(() => gw.close());
    const u1 = sdk(gw, 'upstream-credential-1');
    assert.equal(await cacheHeader(u1), null);
    await until(async () => (await cacheHeader(u1)) === 'hit');
    assert.equal(await cacheHeader(sdk(gw, 'upstream-credential-2')), null);
    // The SDK always sends Authorization: a raw request without one is the anonymous tenant.
    const anon = await ask(gw, { temperature: 0 });
    assert.equal(anon.status, 200);
    assert.equal(anon.cache, null);
  });

  test('a failover answer is cached under the target that gave it, never replayed as the primary recovered', async (t) => {
    const primary = await simulator();
    t.after(() => primary.close());
    const fallback = await simulator();
    t.after(() => fallback.close());
    const setErrors = async (http500: number) => {
      const res = await fetch(`${primary.url}/admin/profiles/${MODEL}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: { http500 } }) });
      assert.equal(res.status, 200, await res.text());
    };
    const config = validateConfig(GatewayConfigSchema, {
      port: 0,
      metrics: { processMetrics: false },
      cache: { enabled: true },
      upstreams: { big: { baseURL: `${primary.url}/v1` }, small: { baseURL: `${fallback.url}/v1` } },
      models: { [MODEL]: { failover: true, targets: [{ upstream: 'big' }, { upstream: 'small' }] } },
    });
    const gw = await startGateway(config, { port: 0 });
    t.after(() => gw.close());
    await setErrors(1);
    const failedOver = await ask(gw, { temperature: 0 });
    assert.equal(failedOver.status, 200);
    // Still failing over: the lookup is under the primary's key, the answer was stored under the fallback's.
    assert.equal((await ask(gw, { temperature: 0 })).cache, null);
    await setErrors(0);
    const recovered = await ask(gw, { temperature: 0 });
    assert.equal(recovered.cache, null, "the fallback's answer is not replayed for the primary");
    await until(async () => (await ask(gw, { temperature: 0 })).cache === 'hit');
    const m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'failovers_total', { model: MODEL, upstream: 'big' }), 2);
  });
});
