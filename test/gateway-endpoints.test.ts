import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema, endpointLabel } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { scrape, until } from './helpers/stack.ts';

// Replicas of one model server behind one upstream: balancing by least in flight, passive ejection and
// re-admission, and the admin API a scale driver registers replicas through. Real simulators, the official
// openai SDK as the client.

const MODEL = 'llama-3.1-8b-instruct';
const TOKEN = 'admin-token-for-tests-0123456789';
const P = 'openllm_';

interface EndpointRow {
  url: string;
  inFlight: number;
  requests: number;
  ejected: boolean;
  ejections: number;
}

function sim(port = 0): Promise<SimulatorHandle> {
  return startSimulator(simulatorConfig({ port, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 4, max: 4 } } }), { port });
}

function gatewayConfig(endpoints: string[], extra: Record<string, unknown> = {}) {
  return validateConfig(GatewayConfigSchema, {
    port: 0,
    metrics: { processMetrics: false },
    admin: { token: TOKEN },
    upstreams: { pool: { endpoints, maxConcurrency: 8, ...extra } },
    models: { [MODEL]: { upstream: 'pool' } },
  });
}

async function admin(gw: GatewayHandle, method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function rows(gw: GatewayHandle): Promise<Map<string, EndpointRow>> {
  const { body } = await admin(gw, 'GET', '/admin/upstreams/pool');
  return new Map((body.endpoints as EndpointRow[]).map((e) => [e.url, e]));
}

const v1 = (s: SimulatorHandle) => `${s.url}/v1`;
const label = (s: SimulatorHandle) => `127.0.0.1:${s.port}/v1`;
const ask = (client: OpenAI, content = 'hello') => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 4 });

describe('least in-flight balancing', () => {
  const sims: SimulatorHandle[] = [];
  let gw: GatewayHandle;
  let client: OpenAI;
  before(async () => {
    for (let i = 0; i < 3; i++) sims.push(await sim());
    gw = await startGateway(gatewayConfig([v1(sims[0]!)]), { port: 0 });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    for (const s of sims) await s.close();
  });

  test('concurrent requests spread evenly, one per endpoint in turn', async () => {
    // Every replica holds its requests long enough to be counted while in flight.
    for (const s of sims) s.profiles.patch(MODEL, { ttftMs: 1_500 });
    for (const s of sims.slice(1)) assert.equal((await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: v1(s) })).status, 201);
    const calls = Array.from({ length: 9 }, (_, i) => ask(client, `even ${i}`));
    await until(async () => [...(await rows(gw)).values()].reduce((n, e) => n + e.inFlight, 0) === 9);
    const now = await rows(gw);
    assert.deepEqual(sims.map((s) => now.get(v1(s))!.inFlight), [3, 3, 3]);
    const m = await scrape(gw.url);
    for (const s of sims) assert.equal(sampleValue(m, P + 'upstream_endpoint_in_flight', { upstream: 'pool', upstream_endpoint: label(s) }), 3);
    assert.equal(sampleValue(m, P + 'upstream_endpoints', { upstream: 'pool' }), 3);
    await Promise.all(calls);
    const done = await rows(gw);
    assert.deepEqual(sims.map((s) => done.get(v1(s))!.inFlight), [0, 0, 0]);
  });

  test('a loaded endpoint gets no new request while the others have fewer in flight (round robin would send it some)', async () => {
    for (const s of sims) s.profiles.reset(MODEL);
    // Three slow requests pinned on the first replica: only it is in the pool when they start.
    for (const s of sims.slice(1)) assert.equal((await admin(gw, 'DELETE', `/admin/upstreams/pool/endpoints?url=${encodeURIComponent(v1(s))}`)).body.changed, true);
    sims[0]!.profiles.patch(MODEL, { ttftMs: 3_000 });
    const before = (await rows(gw)).get(v1(sims[0]!))!.requests;
    const slow = Array.from({ length: 3 }, (_, i) => ask(client, `slow ${i}`));
    await until(async () => (await rows(gw)).get(v1(sims[0]!))!.inFlight === 3);
    for (const s of sims.slice(1)) assert.equal((await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: v1(s) })).status, 201);
    // Four quick requests at once: the two idle replicas take them, the busy one none.
    await Promise.all(Array.from({ length: 4 }, (_, i) => ask(client, `quick ${i}`)));
    const now = await rows(gw);
    assert.equal(now.get(v1(sims[0]!))!.requests - before, 3, 'the replica with 3 in flight got none of the quick requests');
    assert.equal(now.get(v1(sims[1]!))!.requests + now.get(v1(sims[2]!))!.requests, 4);
    await Promise.all(slow);
  });
});

describe('passive ejection and re-admission', () => {
  let a: SimulatorHandle;
  let b: SimulatorHandle;
  let gw: GatewayHandle;
  let client: OpenAI;
  before(async () => {
    a = await sim();
    b = await sim();
    // A long ejection: re-admission here comes from the readiness probe, not the clock.
    gw = await startGateway(gatewayConfig([v1(a), v1(b)], { ejection: { consecutiveFailures: 2, baseMs: 600_000, maxMs: 600_000 } }), { port: 0 });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  test('a replica that refuses connections is ejected; requests meanwhile succeed on the other (nothing was sent)', async () => {
    const port = b.port;
    await b.close();
    for (let i = 0; i < 6; i++) assert.equal((await ask(client, `down ${i}`)).object, 'chat.completion');
    const now = await rows(gw);
    assert.equal(now.get(`http://127.0.0.1:${port}/v1`)!.ejected, true);
    assert.equal(now.get(`http://127.0.0.1:${port}/v1`)!.ejections, 1);
    assert.equal(now.get(v1(a))!.ejected, false);
    const m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'upstream_endpoint_ejected', { upstream: 'pool', upstream_endpoint: `127.0.0.1:${port}/v1` }), 1);
    assert.equal(sampleValue(m, P + 'upstream_endpoint_ejections_total', { upstream: 'pool', upstream_endpoint: `127.0.0.1:${port}/v1` }), 1);
    // The clients saw no error: the refused attempts were retried on the other replica.
    assert.equal(sampleValue(m, P + 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'error', code: '5xx' }), 0);
    // Ejected, it is not even tried: its request count stays.
    const sent = now.get(`http://127.0.0.1:${port}/v1`)!.requests;
    for (let i = 0; i < 4; i++) await ask(client, `after ${i}`);
    assert.equal((await rows(gw)).get(`http://127.0.0.1:${port}/v1`)!.requests, sent);
    // Half the slots: one replica admitted.
    assert.equal((await admin(gw, 'GET', '/admin/upstreams/pool')).body.slots, 8);

    // Back on the same port: the readiness probe finds it answering and admits it again.
    b = await sim(port);
    const ready = await fetch(`${gw.url}/readyz`);
    const report = (await ready.json()) as { ready: boolean; upstreams: Record<string, { ok: boolean; endpoints: Array<{ ok: boolean }> }> };
    assert.equal(ready.status, 200);
    assert.deepEqual(report.upstreams.pool!.endpoints.map((e) => e.ok), [true, true]);
    assert.equal((await rows(gw)).get(v1(b))!.ejected, false);
    assert.equal((await admin(gw, 'GET', '/admin/upstreams/pool')).body.slots, 16);
    for (let i = 0; i < 4; i++) await ask(client, `back ${i}`);
    assert.ok((await rows(gw)).get(v1(b))!.requests > sent, 'the re-admitted replica serves again');
    assert.equal(sampleValue(await scrape(gw.url), P + 'upstream_endpoint_ejected', { upstream: 'pool', upstream_endpoint: label(b) }), 0);
  });

  test('the last admitted replica is never ejected: with every replica failing, the upstream still takes requests', async () => {
    a.profiles.patch(MODEL, { errors: { http500: 1 } });
    b.profiles.patch(MODEL, { errors: { http500: 1 } });
    try {
      for (let i = 0; i < 8; i++) await assert.rejects(ask(client, `all bad ${i}`), (err: unknown) => err instanceof OpenAI.InternalServerError);
      const now = [...(await rows(gw)).values()];
      assert.equal(now.filter((e) => e.ejected).length, 1, JSON.stringify(now));
    } finally {
      a.profiles.reset(MODEL);
      b.profiles.reset(MODEL);
    }
  });
});

describe('re-admission when the ejection ends', () => {
  test('a replica answering 5xx is ejected, then admitted again on its own once its backoff ends', async (t) => {
    const a = await sim();
    const b = await sim();
    const gw = await startGateway(gatewayConfig([v1(a), v1(b)], { ejection: { consecutiveFailures: 2, baseMs: 300, maxMs: 1_000 } }), { port: 0 });
    t.after(async () => {
      await gw.close();
      await a.close();
      await b.close();
    });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    b.profiles.patch(MODEL, { errors: { http500: 1 } });
    let failed = 0;
    for (let i = 0; i < 8 && !(await rows(gw)).get(v1(b))!.ejected; i++) {
      await ask(client, `five ${i}`).catch(() => failed++);
    }
    assert.equal(failed, 2, 'two 500s in a row eject it');
    assert.equal((await rows(gw)).get(v1(b))!.ejected, true);
    b.profiles.reset(MODEL);
    await until(async () => !(await rows(gw)).get(v1(b))!.ejected, 10_000);
    const sent = (await rows(gw)).get(v1(b))!.requests;
    for (let i = 0; i < 4; i++) await ask(client, `healed ${i}`);
    assert.ok((await rows(gw)).get(v1(b))!.requests > sent);
  });
});

describe('the endpoint admin API', () => {
  let a: SimulatorHandle;
  let gw: GatewayHandle;
  before(async () => {
    a = await sim();
    gw = await startGateway(gatewayConfig([v1(a)], { maxEndpoints: 2 }), { port: 0 });
  });
  after(async () => {
    await gw.close();
    await a.close();
  });

  test('needs the admin token', async () => {
    assert.equal((await admin(gw, 'GET', '/admin/upstreams', undefined, null)).status, 401);
    assert.equal((await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: 'http://127.0.0.1:1/v1' }, 'wrong-token')).status, 403);
  });

  test('adds and removes idempotently, within maxEndpoints, never the last one', async () => {
    const listed = await admin(gw, 'GET', '/admin/upstreams');
    assert.deepEqual(listed.body.upstreams.map((u: { upstream: string }) => u.upstream), ['pool']);
    const first = await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: 'http://127.0.0.1:1/v1' });
    assert.equal(first.status, 201);
    assert.equal(first.body.changed, true);
    assert.equal(first.body.slots, 16);
    const again = await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: 'http://127.0.0.1:1/v1/' });
    assert.equal(again.status, 200);
    assert.equal(again.body.changed, false);
    const full = await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: 'http://127.0.0.1:2/v1' });
    assert.equal(full.status, 409);
    assert.equal(full.body.error.code, 'endpoint_limit');
    assert.match(String(full.body.error.message), /maxEndpoints/);
    let m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'upstream_endpoint_in_flight', { upstream: 'pool', upstream_endpoint: '127.0.0.1:1/v1' }), 0);
    const removed = await admin(gw, 'DELETE', `/admin/upstreams/pool/endpoints?url=${encodeURIComponent('http://127.0.0.1:1/v1')}`);
    assert.equal(removed.body.changed, true);
    assert.equal(removed.body.slots, 8);
    // A removed endpoint's series go with it: the label's values stay bounded by the endpoints there are.
    m = await scrape(gw.url);
    assert.equal(m.samples.some((s) => s.labels.upstream_endpoint === '127.0.0.1:1/v1'), false);
    assert.equal((await admin(gw, 'DELETE', `/admin/upstreams/pool/endpoints?url=${encodeURIComponent('http://127.0.0.1:1/v1')}`)).body.changed, false);
    const last = await admin(gw, 'DELETE', `/admin/upstreams/pool/endpoints?url=${encodeURIComponent(v1(a))}`);
    assert.equal(last.status, 409);
    assert.equal(last.body.error.code, 'endpoint_limit');
  });

  test('refuses a bad url, an unknown upstream and a wrong method with specific errors', async () => {
    for (const url of ['ftp://x/v1', 'not a url', 42, 'x'.repeat(5000)]) {
      const r = await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url });
      assert.equal(r.status, 400, String(url).slice(0, 20));
      assert.equal(r.body.error.code, 'invalid_endpoint');
    }
    // Credentials in the URL would never be sent (the pool connects to the origin): refused, and not echoed.
    const creds = await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: 'http://admin:s3cret-pw@127.0.0.1:1/v1' });
    assert.equal(creds.status, 400);
    assert.equal(creds.body.error.code, 'invalid_endpoint');
    assert.match(String(creds.body.error.message), /credentials.*apiKey/);
    assert.doesNotMatch(JSON.stringify(creds.body), /s3cret-pw/);
    assert.equal((await admin(gw, 'POST', '/admin/upstreams/nope/endpoints', { url: 'http://127.0.0.1:1/v1' })).status, 404);
    assert.equal((await admin(gw, 'PUT', '/admin/upstreams/pool/endpoints', { url: 'http://127.0.0.1:1/v1' })).status, 405);
    assert.equal((await admin(gw, 'GET', '/admin/upstreamsx')).status, 404);
  });

  test('refuses an endpoint that differs from another by scheme only: one series per endpoint, none deleted under a live one', async () => {
    // Attack: http:// and https:// to one host:port/path were two endpoints with one upstream_endpoint
    // label, so their series merged, and removing the https one deleted the live http one's series.
    const url = 'http://127.0.0.1:1/v1';
    assert.equal((await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url })).status, 201);
    const clash = await admin(gw, 'POST', '/admin/upstreams/pool/endpoints', { url: 'https://127.0.0.1:1/v1/' });
    assert.equal(clash.status, 400);
    assert.equal(clash.body.error.code, 'invalid_endpoint');
    assert.equal(clash.body.error.param, 'url');
    assert.match(String(clash.body.error.message), /http or https, not both/);
    assert.equal((await admin(gw, 'DELETE', `/admin/upstreams/pool/endpoints?url=${encodeURIComponent('https://127.0.0.1:1/v1')}`)).body.changed, false);
    const m = await scrape(gw.url);
    assert.equal(sampleValue(m, P + 'upstream_endpoints', { upstream: 'pool' }), 2);
    assert.equal(sampleValue(m, P + 'upstream_endpoint_in_flight', { upstream: 'pool', upstream_endpoint: '127.0.0.1:1/v1' }), 0);
    assert.equal((await admin(gw, 'DELETE', `/admin/upstreams/pool/endpoints?url=${encodeURIComponent(url)}`)).body.changed, true);
  });
});

describe('upstream config', () => {
  const base = (u: Record<string, unknown>) => ({ upstreams: { u }, models: { m: { upstream: 'u' } } });
  test('takes baseURL or endpoints, not both nor neither, without duplicates, within maxEndpoints', () => {
    assert.equal(GatewayConfigSchema.safeParse(base({ baseURL: 'http://a/v1' })).success, true);
    assert.equal(GatewayConfigSchema.safeParse(base({ endpoints: ['http://a/v1', 'http://b/v1'] })).success, true);
    // Default ports differ: a:80/v1 and a:443/v1 are two servers with two labels.
    assert.equal(GatewayConfigSchema.safeParse(base({ endpoints: ['http://a/v1', 'https://a/v1'] })).success, true);
    assert.equal(endpointLabel('https://a/v1/'), 'a:443/v1');
    assert.equal(endpointLabel('http://[::1]:3001/v1'), '[::1]:3001/v1');
    for (const bad of [
      { baseURL: 'http://user:pw@a/v1' },
      { endpoints: ['http://a/v1', 'http://:pw@b/v1'] },
      { baseURL: 'http://a/v1', endpoints: ['http://b/v1'] },
      {},
      { endpoints: ['http://a/v1', 'http://a/v1/'] },
      { endpoints: ['http://a:1/v1', 'https://a:1/v1'] },
      { endpoints: ['http://a/v1', 'http://b/v1'], maxEndpoints: 1 },
      { endpoints: ['http://a/v1'], ejection: { baseMs: 5000, maxMs: 1000 } },
    ]) {
      assert.equal(GatewayConfigSchema.safeParse(base(bad)).success, false, JSON.stringify(bad));
    }
    const creds = GatewayConfigSchema.safeParse(base({ baseURL: 'http://user:pw@a/v1' }));
    assert.match(String(creds.error?.issues[0]?.message), /credentials.*apiKey/);
  });
});
