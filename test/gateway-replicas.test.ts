import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { createClient } from 'redis';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import type { GatewayConfigInput } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { freePort, startChild } from './helpers/processes.ts';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';
import { MODEL, SMALL_MODEL, scrape, until } from './helpers/stack.ts';

// Issue 19, point 4: gateway replicas share the active route per model through Redis.
const TOKEN = 'admin-token-for-replicas-0123456789';
const P = 'openllm_';
const PREFIX = 'llmwatch:routes:';
const BIG = `big/${MODEL}`;
const SMALL = `small/${SMALL_MODEL}`;
/**
 * How long the tests wait for replicas to converge: a liveness bound (a loaded machine stalls a process
 * for seconds), far under the 60 s re-read of the replicas that prove the change message alone.
 */
const CONVERGE_MS = 20_000;

function config(simURL: string, redisURL: string, extra: Partial<GatewayConfigInput> = {}) {
  return validateConfig(GatewayConfigSchema, {
    port: 0,
    metrics: { processMetrics: false },
    admin: { token: TOKEN },
    routes: { store: 'redis', redisURL },
    // One simulator serves both targets; the answer's `model` says which target served.
    upstreams: { big: { baseURL: `${simURL}/v1` }, small: { baseURL: `${simURL}/v1` } },
    models: { [MODEL]: { targets: [{ upstream: 'big' }, { upstream: 'small', model: SMALL_MODEL }] } },
    ...extra,
  });
}

async function admin(url: string, method: string, body?: unknown) {
  const res = await fetch(`${url}/admin/routes/${MODEL}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** The upstream model that answered one chat request through `url`. */
async function servedBy(url: string): Promise<string> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const a = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
  return a.model;
}

async function active(url: string): Promise<{ big?: number; small?: number; up?: number; invalid?: number; switches?: number }> {
  const m = await scrape(url);
  return {
    big: sampleValue(m, P + 'route_active', { model: MODEL, upstream: 'big', upstream_model: MODEL }),
    small: sampleValue(m, P + 'route_active', { model: MODEL, upstream: 'small', upstream_model: SMALL_MODEL }),
    up: sampleValue(m, P + 'route_store_up', { store: 'redis' }),
    invalid: sampleValue(m, P + 'route_store_invalid_values_total', { model: MODEL }),
    switches: sampleValue(m, P + 'route_switches_total', { model: MODEL }),
  };
}

/**
 * Polls every replica with requests (openai SDK) until each one's answer
 * comes from `model`, for at most {@link CONVERGE_MS}; returns the ms from
 * `since` at which the last replica converged.
 */
async function converged(urls: readonly string[], model: string, since: number): Promise<number> {
  const pending = new Set(urls);
  let last = 0;
  const deadline = Date.now() + CONVERGE_MS;
  while (pending.size > 0) {
    // One request to each replica still pending, at once: the time measured is the routes', not three requests in a row.
    await Promise.all(
      [...pending].map(async (url) => {
        if ((await servedBy(url)) === model) {
          pending.delete(url);
          last = Math.max(last, performance.now() - since);
        }
      }),
    );
    if (pending.size > 0 && Date.now() > deadline) throw new Error(`${pending.size} replicas still not on ${model} after ${CONVERGE_MS} ms`);
  }
  return last;
}

describe('three gateway replicas sharing routes through a real Redis', () => {
  let redis: RedisServer;
  let sim: SimulatorHandle;
  const gws: GatewayHandle[] = [];
  let direct: ReturnType<typeof createClient>;
  const urls = () => gws.map((g) => g.url);

  before(async () => {
    redis = await startRedis();
    sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
    for (let i = 0; i < 3; i++) gws.push(await startGateway(config(sim.url, redis.url), { port: 0, log: () => {} }));
    direct = createClient({ url: redis.url });
    direct.on('error', () => {});
    await direct.connect();
  });
  after(async () => {
    direct.destroy();
    await Promise.all(gws.map((g) => g.close()));
    await sim.close();
    await redis.stop();
  });

  // The promise, a switch in force on every replica within a second, holds by construction: the change
  // message reaches every replica at once (the next test proves that path alone), and a lost message is
  // made up by the re-read every reconcileMs (1 s by default; the last test of this group proves that path).
  // The time is printed, not asserted: a timing threshold would fail on a loaded machine, not on a bug.
  test('a switch through one replica reroutes requests through all three, visible in each /metrics', async () => {
    for (const url of urls()) {
      assert.equal(await servedBy(url), MODEL);
      assert.deepEqual(await active(url), { big: 1, small: 0, up: 1, invalid: 0, switches: 0 });
    }
    const since = performance.now();
    const r = await admin(gws[0]!.url, 'PUT', { target: 'fallback' });
    assert.equal(r.status, 200);
    assert.equal(r.body.activeTarget, SMALL);
    const ms = await converged(urls(), SMALL_MODEL, since);
    console.log(`# all 3 replicas served the switched route ${ms.toFixed(1)} ms after the switch was sent`);
    // Each replica's /metrics shows the route; the switch is counted once, where it was made.
    const states = await Promise.all(urls().map(active));
    assert.deepEqual(states, [
      { big: 0, small: 1, up: 1, invalid: 0, switches: 1 },
      { big: 0, small: 1, up: 1, invalid: 0, switches: 0 },
      { big: 0, small: 1, up: 1, invalid: 0, switches: 0 },
    ]);
    assert.equal(await direct.get(PREFIX + MODEL), SMALL);
    const list = await fetch(`${gws[2]!.url}/admin/routes`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await list.json()) as { routes: unknown; models: Array<{ activeTarget: string }> };
    assert.deepEqual(body.routes, { store: 'redis', connected: true });
    assert.equal(body.models[0]!.activeTarget, SMALL);
  });

  test('a switch reaches replicas that re-read Redis only every 60 s: the change message alone carries it', async (t) => {
    const slow: GatewayHandle[] = [];
    for (let i = 0; i < 2; i++) slow.push(await startGateway(config(sim.url, redis.url, { routes: { store: 'redis', redisURL: redis.url, reconcileMs: 60_000 } }), { port: 0, log: () => {} }));
    t.after(() => Promise.all(slow.map((g) => g.close())));
    const slowURLs = slow.map((g) => g.url);
    for (const url of slowURLs) assert.equal(await servedBy(url), SMALL_MODEL, 'started on the switched route');
    // Back to the primary through one of them: the other, and the three, follow within the liveness bound,
    // a third of the slow pair's re-read period.
    const since = performance.now();
    assert.equal((await admin(slowURLs[0]!, 'DELETE')).body.activeTarget, BIG);
    const ms = await converged([...slowURLs, ...urls()], MODEL, since);
    console.log(`# by the change message: all 5 replicas on the primary ${ms.toFixed(1)} ms after the switch was sent`);
    // And to the fallback again through one of the three, the state the tests below start from.
    assert.equal((await admin(gws[0]!.url, 'PUT', { target: 'fallback' })).body.activeTarget, SMALL);
    await converged([...slowURLs, ...urls()], SMALL_MODEL, performance.now());
  });

  test('a restarted replica comes back on the switched route, from its first request', async () => {
    await gws[2]!.close();
    gws[2] = await startGateway(config(sim.url, redis.url), { port: 0, log: () => {} });
    assert.deepEqual(await active(gws[2]!.url), { big: 0, small: 1, up: 1, invalid: 0, switches: 0 });
    assert.equal(await servedBy(gws[2]!.url), SMALL_MODEL);
  });

  test('garbage in Redis is ignored and counted; the routes stay and a valid switch still works', async () => {
    const hostile = ['nope/not-a-target', `${BIG} `, 'x'.repeat(1_000_000), '\u0000\u00ff binary', `small/${MODEL}`];
    for (const value of hostile) {
      const before = await Promise.all(urls().map(async (u) => (await active(u)).invalid!));
      await direct.set(PREFIX + MODEL, value);
      await direct.publish(`${PREFIX}changed`, MODEL);
      for (const [i, u] of urls().entries()) await until(async () => (await active(u)).invalid! > before[i]!);
      for (const u of urls()) {
        assert.equal(await servedBy(u), SMALL_MODEL, `after ${JSON.stringify(value.slice(0, 20))}`);
        assert.equal((await active(u)).small, 1);
      }
    }
    // A key of another type: WRONGTYPE is an invalid value too, not an outage.
    await direct.del(PREFIX + MODEL);
    await direct.hSet(PREFIX + MODEL, 'target', BIG);
    await direct.publish(`${PREFIX}changed`, MODEL);
    const before = await Promise.all(urls().map(async (u) => (await active(u)).invalid!));
    for (const [i, u] of urls().entries()) await until(async () => (await active(u)).invalid! > before[i]!);
    for (const u of urls()) assert.deepEqual({ ...(await active(u)), invalid: undefined, switches: undefined }, { big: 0, small: 1, up: 1, invalid: undefined, switches: undefined });
    // A replica started on garbage serves the config's primary.
    const fresh = await startGateway(config(sim.url, redis.url), { port: 0, log: () => {} });
    try {
      const s = await active(fresh.url);
      assert.equal(s.big, 1);
      assert.ok(s.invalid! >= 1);
    } finally {
      await fresh.close();
    }
    await direct.del(PREFIX + MODEL);
    const since = performance.now();
    const back = await admin(gws[1]!.url, 'DELETE');
    assert.equal(back.status, 200);
    assert.equal(back.body.activeTarget, BIG);
    await converged(urls(), MODEL, since);
    assert.equal(await direct.get(PREFIX + MODEL), BIG);
  });

  test('Redis down: replicas keep their routes, refuse switches (503), and reconcile when it returns empty', async () => {
    await admin(gws[0]!.url, 'PUT', { target: 'fallback' });
    await converged(urls(), SMALL_MODEL, performance.now());
    await redis.stop();
    for (const u of urls()) await until(async () => (await active(u)).up === 0);
    for (const u of urls()) assert.equal(await servedBy(u), SMALL_MODEL);
    const refused = await admin(gws[1]!.url, 'PUT', { target: 'primary' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'route_store_unavailable');
    for (const u of urls()) assert.equal((await active(u)).small, 1);
    // Back on the same port, empty (no persistence): the replicas hand their decided route back.
    redis = await startRedis(redis.port);
    for (const u of urls()) await until(async () => (await active(u)).up === 1, 10_000);
    direct.destroy();
    direct = createClient({ url: redis.url });
    direct.on('error', () => {});
    await direct.connect();
    await until(async () => (await direct.get(PREFIX + MODEL)) === SMALL);
    // A change made in Redis itself (redis-cli, no message) reaches every replica by the periodic re-read.
    await direct.set(PREFIX + MODEL, BIG);
    await converged(urls(), MODEL, performance.now());
  });
});

test('llmwatch gateway --workers 2 with routes in Redis: an admin switch holds on every worker', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
  t.after(() => sim.close());
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-replicas-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(
    file,
    JSON.stringify({
      port,
      admin: { token: TOKEN },
      routes: { store: 'redis', redisURL: redis.url },
      upstreams: { big: { baseURL: `${sim.url}/v1` }, small: { baseURL: `${sim.url}/v1` } },
      models: { [MODEL]: { targets: [{ upstream: 'big' }, { upstream: 'small', model: SMALL_MODEL }] } },
    }),
  );
  const gw = startChild(process.execPath, [new URL('../bin/llmwatch.js', import.meta.url).pathname, 'gateway', '--config', file, '--workers', '2']);
  t.after(() => gw.stop());
  const url = `http://127.0.0.1:${port}`;
  // Three processes compile the sources through tsx: on a loaded 2-core machine that took 25 s, past waitReady's 20 s.
  await until(async () => {
    if (gw.process.exitCode !== null) throw new Error(`gateway --workers 2 exited:\n${gw.output()}`);
    return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true;
  }, 90_000);
  const r = await admin(url, 'PUT', { target: 'fallback' });
  assert.equal(r.status, 200, gw.output());
  // New connections go to the workers in turn: every one of many concurrent requests is on the new route.
  await until(async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => servedBy(url)));
    return answers.every((m) => m === SMALL_MODEL);
  });
  // The aggregated route_active takes the maximum over the workers: 0 for the old target means none is left on it.
  await until(async () => {
    const s = await active(url);
    return s.big === 0 && s.small === 1 && s.up === 1;
  });
  assert.match(gw.output(), /routes are shared through redis/);
});

test('Redis down at start-up: the gateway starts on the config routes, says so, and joins the shared routes once Redis answers', async (t) => {
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
  t.after(() => sim.close());
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const gw = await startGateway(config(sim.url, url), { port: 0, log: () => {} });
  t.after(() => gw.close());
  assert.deepEqual(await active(gw.url), { big: 1, small: 0, up: 0, invalid: 0, switches: 0 });
  assert.equal(await servedBy(gw.url), MODEL);
  const refused = await admin(gw.url, 'PUT', { target: 'fallback' });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, 'route_store_unavailable');
  assert.ok(sampleValue(await scrape(gw.url), P + 'route_store_errors_total', { store: 'redis', op: 'connect' })! >= 1);
  // Another replica's switch is waiting in Redis when it comes up.
  const redis = await startRedis(port);
  t.after(() => redis.stop());
  const direct = createClient({ url });
  direct.on('error', () => {});
  await direct.connect();
  t.after(() => direct.destroy());
  await direct.set(PREFIX + MODEL, SMALL);
  await until(async () => {
    const s = await active(gw.url);
    return s.up === 1 && s.small === 1;
  }, 10_000);
  assert.equal(await servedBy(gw.url), SMALL_MODEL);
});

test('start-up: the change-message connection ready before the command connection is no outage, and no read error is counted', async (t) => {
  const redis = await startRedis();
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
  const closing: Array<() => Promise<unknown>> = [() => redis.stop(), () => sim.close()];
  // The gateway first, then what it talks to: no outage logged while the test ends.
  t.after(async () => {
    for (const c of closing.reverse()) await c();
  });
  // A relay in front of the real Redis that holds the first connection (the gateway opens its command
  // connection first) until the second one has passed a reply: the subscriber is ready first.
  let second: Promise<void> | undefined;
  let secondReplied!: () => void;
  const relay = createServer((client) => {
    const first = second === undefined;
    if (first) second = new Promise((r) => (secondReplied = r));
    const upstream = connect(redis.port, '127.0.0.1');
    for (const s of [client, upstream]) s.on('error', () => s.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (first) {
      client.pause();
      void second!.then(() => setTimeout(() => client.resume(), 100));
    } else upstream.once('data', () => secondReplied());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  closing.push(() => new Promise<void>((r) => relay.close(() => r())));
  const gw = await startGateway(config(sim.url, `redis://127.0.0.1:${(relay.address() as AddressInfo).port}`), { port: 0, log: () => {} });
  closing.push(() => gw.close());
  assert.ok(second !== undefined, 'two connections were made');
  await until(async () => (await active(gw.url)).up === 1);
  const m = await scrape(gw.url);
  for (const op of ['connect', 'read', 'write']) assert.equal(sampleValue(m, P + 'route_store_errors_total', { store: 'redis', op }), 0, op);
  assert.equal(await servedBy(gw.url), MODEL);
});
