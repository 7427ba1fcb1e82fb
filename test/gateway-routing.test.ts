import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import type { RouteSwitch } from '../src/gateway/router.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { scrape } from './helpers/stack.ts';

const MODEL = 'llama-3.1-8b-instruct';
const LIGHT = 'llama-3.2-1b-instruct';
const TOKEN = 'admin-token-for-tests-0123456789';
const P = 'openllm_';

async function sim(): Promise<SimulatorHandle> {
  return startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 4, max: 4 } } }), { port: 0 });
}

function served(m: Awaited<ReturnType<typeof scrape>>, upstream: string, upstreamModel: string) {
  return sampleValue(m, P + 'upstream_requests_total', { model: MODEL, upstream, upstream_model: upstreamModel });
}

async function admin(gw: GatewayHandle, method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('route switching through the admin API', () => {
  let primary: SimulatorHandle;
  let light: SimulatorHandle;
  let gw: GatewayHandle;
  let client: OpenAI;
  const log: RouteSwitch[] = [];
  before(async () => {
    primary = await sim();
    light = await sim();
    gw = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false },
        admin: { token: TOKEN },
        upstreams: { big: { baseURL: `${primary.url}/v1` }, small: { baseURL: `${light.url}/v1` } },
        models: { [MODEL]: { targets: [{ upstream: 'big' }, { upstream: 'small', model: LIGHT }] } },
      }),
      { port: 0, log: (e) => log.push(e) },
    );
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await primary.close();
    await light.close();
  });

  test('the primary serves first; a switch to the fallback moves the next request, visibly in the metrics', async () => {
    const first = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(first.model, MODEL);
    let m = await scrape(gw.url);
    assert.equal(served(m, 'big', MODEL), 1);
    assert.equal(served(m, 'small', LIGHT), 0);
    assert.equal(sampleValue(m, P + 'route_active', { model: MODEL, upstream: 'big', upstream_model: MODEL }), 1);

    const r = await admin(gw, 'PUT', `/admin/routes/${MODEL}`, TOKEN, { target: 'fallback' });
    assert.equal(r.status, 200);
    assert.equal(r.body.activeTarget, `small/${LIGHT}`);
    assert.equal(r.body.changed, true);

    const second = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    // The fallback server answers under the model name it was asked for: the gateway renamed it.
    assert.equal(second.model, LIGHT);
    m = await scrape(gw.url);
    assert.equal(served(m, 'big', MODEL), 1);
    assert.equal(served(m, 'small', LIGHT), 1);
    assert.equal(sampleValue(m, P + 'route_active', { model: MODEL, upstream: 'small', upstream_model: LIGHT }), 1);
    assert.equal(sampleValue(m, P + 'route_active', { model: MODEL, upstream: 'big', upstream_model: MODEL }), 0);
    // The primary stays the primary whatever serves now: ModelServedByFallback reads it.
    assert.equal(sampleValue(m, P + 'route_primary', { model: MODEL, upstream: 'big', upstream_model: MODEL }), 1);
    assert.equal(sampleValue(m, P + 'route_primary', { model: MODEL, upstream: 'small', upstream_model: LIGHT }), 0);
    assert.equal(sampleValue(m, P + 'route_switches_total', { model: MODEL }), 1);
    assert.equal(log.length, 1);
    assert.deepEqual({ ...log[0], time: undefined }, { event: 'route_switch', time: undefined, model: MODEL, from: `big/${MODEL}`, to: `small/${LIGHT}`, by: 'admin' });
  });

  test('GET lists the routes; DELETE sends the model back to its primary', async () => {
    const list = await admin(gw, 'GET', '/admin/routes', TOKEN);
    assert.equal(list.status, 200);
    assert.equal(list.body.models[0].targets.length, 2);
    const back = await admin(gw, 'DELETE', `/admin/routes/${MODEL}`, TOKEN);
    assert.equal(back.body.active, 0);
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(served(await scrape(gw.url), 'big', MODEL), 2);
  });

  test('a missing token gets 401, a wrong one 403, and nothing changes', async () => {
    const before = await admin(gw, 'GET', '/admin/routes', TOKEN);
    const missing = await admin(gw, 'PUT', `/admin/routes/${MODEL}`, undefined, { target: 'fallback' });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, 'unauthorized');
    const wrong = await admin(gw, 'PUT', `/admin/routes/${MODEL}`, 'not-the-token-at-all-000000', { target: 'fallback' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'forbidden');
    assert.deepEqual(await admin(gw, 'GET', '/admin/routes', TOKEN), before);
    assert.equal(sampleValue(await scrape(gw.url), P + 'route_switches_total', { model: MODEL }), 2);
  });

  test('a bad target or model is a 400 naming what exists', async () => {
    const bad = await admin(gw, 'PUT', `/admin/routes/${MODEL}`, TOKEN, { target: 7 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /"big\/llama-3\.1-8b-instruct", "small\/llama-3\.2-1b-instruct"/);
    const unknown = await admin(gw, 'PUT', '/admin/routes/gpt-9', TOKEN, { target: 'fallback' });
    assert.equal(unknown.status, 400);
  });
});

describe('automatic failover', () => {
  test('an unreachable primary hands the request to the fallback, counted; without failover the client gets 502', async (t) => {
    const light = await sim();
    t.after(() => light.close());
    const config = (failover: boolean) =>
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false },
        // Port 1 is never served here: the primary refuses every connection.
        upstreams: { big: { baseURL: 'http://127.0.0.1:1/v1' }, small: { baseURL: `${light.url}/v1` } },
        models: { [MODEL]: { failover, targets: [{ upstream: 'big' }, { upstream: 'small', model: LIGHT }] } },
      });
    const on = await startGateway(config(true), { port: 0 });
    t.after(() => on.close());
    const client = new OpenAI({ baseURL: `${on.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.model, LIGHT);
    const m = await scrape(on.url);
    assert.equal(sampleValue(m, P + 'failovers_total', { model: MODEL, upstream: 'big' }), 1);
    assert.equal(sampleValue(m, P + 'upstream_errors_total', { model: MODEL, upstream: 'big', reason: 'refused' }), 1);
    assert.equal(sampleValue(m, P + 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 1);
    assert.equal(sampleValue(m, P + 'requests_in_flight', { model: MODEL, upstream: 'big' }), 0);

    const off = await startGateway(config(false), { port: 0 });
    t.after(() => off.close());
    const plain = new OpenAI({ baseURL: `${off.url}/v1`, apiKey: 'x', maxRetries: 0 });
    await assert.rejects(plain.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => err instanceof OpenAI.APIError && err.status === 502);
    assert.equal(sampleValue(await scrape(off.url), P + 'failovers_total', { model: MODEL, upstream: 'big' }), 0);
  });

  test('with the admin API off, /admin answers 403 admin_disabled (as on the responder)', async (t) => {
    const light = await sim();
    t.after(() => light.close());
    const gw = await startGateway(
      validateConfig(GatewayConfigSchema, { port: 0, upstreams: { small: { baseURL: `${light.url}/v1` } }, models: { [LIGHT]: { upstream: 'small' } } }),
      { port: 0 },
    );
    t.after(() => gw.close());
    const r = await admin(gw, 'GET', '/admin/routes', TOKEN);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'admin_disabled');
  });
});
