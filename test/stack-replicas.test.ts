import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { createDriverScaleAction, ReplicaDriverError } from '../src/responder/actions/scale-driver.ts';
import type { Action, ActionContext, Alert } from '../src/responder/types.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { LocalReplicas } from '../src/stack/replicas.ts';

// The local stack's scale driver: the responder's `scale` action starting and stopping simulator replicas
// behind a real gateway's upstream, with the Kubernetes action's safety rules (bounds, steps, conflicts,
// dry runs) and the driver's own ceiling.

const MODEL = 'llama-3.1-8b-instruct';
const TOKEN = 'admin-token-for-tests-0123456789';
const TARGET = { deployment: 'openllm', namespace: 'default' };

const alert: Alert = {
  status: 'firing',
  labels: { alertname: 'QueueBacklog', severity: 'critical', model: MODEL },
  annotations: {},
  startsAt: '2026-12-03T00:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus/graph',
  fingerprint: 'f00d',
};

function ctx(params: Record<string, unknown>, over: Partial<ActionContext> = {}): ActionContext {
  return { alert, params, dryRun: false, signal: AbortSignal.timeout(30_000), ...over };
}

const fast = () => startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 4, max: 4 } } }), { port: 0 });

interface Row {
  url: string;
  requests: number;
  inFlight: number;
}

/** A gateway whose upstream `local` is the primary simulator, with the admin API the driver calls. */
function localGateway(primary: SimulatorHandle): Promise<GatewayHandle> {
  return startGateway(
    validateConfig(GatewayConfigSchema, {
      port: 0,
      metrics: { processMetrics: false },
      admin: { token: TOKEN },
      upstreams: { local: { baseURL: `${primary.url}/v1`, maxConcurrency: 4 } },
      models: { [MODEL]: { upstream: 'local' } },
    }),
    { port: 0 },
  );
}

describe('the local scale driver', () => {
  let primary: SimulatorHandle;
  let gw: GatewayHandle;
  let replicas: LocalReplicas;
  let scale: Action;
  let client: OpenAI;
  const started: SimulatorHandle[] = [];
  const endpoints = async (): Promise<Row[]> => {
    const res = await fetch(`${gw.url}/admin/upstreams/local`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await res.json()) as { endpoints: Row[] }).endpoints;
  };
  before(async () => {
    primary = await fast();
    gw = await localGateway(primary);
    replicas = new LocalReplicas({
      ...TARGET,
      upstream: 'local',
      gatewayURL: gw.url,
      adminToken: TOKEN,
      primary,
      maxReplicas: 3,
      start: async () => {
        const s = await fast();
        started.push(s);
        return s;
      },
    });
    scale = createDriverScaleAction(replicas);
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  after(async () => {
    await replicas.stop();
    await gw.close();
    await primary.close();
  });

  test('a dry run changes nothing; a step of 2 starts two replicas, each registered with the gateway and serving', async () => {
    const dry = await scale.run(ctx({ ...TARGET, step: 2, max: 3 }, { dryRun: true }));
    assert.equal(dry.outcome, 'dry-run');
    assert.equal(replicas.replicas, 1);
    // A fault on the primary when the replicas start: they are copies of the same server.
    primary.profiles.patch(MODEL, { toxicFraction: 0.25 });
    const checkpoints: unknown[] = [];
    const r = await scale.run(ctx({ ...TARGET, step: 2, max: 3 }, { checkpoint: (d) => checkpoints.push(d) }));
    assert.equal(r.outcome, 'success', r.detail);
    assert.deepEqual([r.data?.from, r.data?.to], [1, 3]);
    assert.deepEqual(checkpoints, [{ from: 1, to: 3 }]);
    assert.equal(replicas.replicas, 3);
    assert.deepEqual((await endpoints()).map((e) => e.url), replicas.urls);
    for (const s of started) assert.equal(s.profiles.get(MODEL)!.toxicFraction, 0.25);
    primary.profiles.reset(MODEL);
    for (const s of started) s.profiles.reset(MODEL);
    // Three replicas, twelve slots: twelve slow requests at once are all in flight, four on each. Slow
    // enough (5 s to a first token) that none ends before the last has started on a loaded machine: at 1 s
    // the first could end while the twelfth was still on its way.
    for (const s of [primary, ...started]) s.profiles.patch(MODEL, { ttftMs: 5_000 });
    const calls = Array.from({ length: 12 }, (_, i) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `r${i}` }], max_tokens: 4 }));
    for (let i = 0; i < 200 && (await endpoints()).reduce((n, e) => n + e.inFlight, 0) < 12; i++) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual((await endpoints()).map((e) => e.inFlight), [4, 4, 4]);
    await Promise.all(calls);
    for (const s of [primary, ...started]) s.profiles.reset(MODEL);
  });

  test('at its max the action skips; a playbook max above the driver\'s ceiling is refused by the driver', async () => {
    const atMax = await scale.run(ctx({ ...TARGET, max: 3 }));
    assert.equal(atMax.outcome, 'skipped');
    assert.match(atMax.detail, /already at max 3/);
    const beyond = await scale.run(ctx({ ...TARGET, max: 5 }));
    assert.equal(beyond.outcome, 'failure');
    assert.equal(beyond.data?.reason, 'forbidden');
    assert.match(beyond.detail, /at most 3 replicas/);
    assert.equal(replicas.replicas, 3);
    await assert.rejects(replicas.write(TARGET, 0, (await replicas.read(TARGET)).version, AbortSignal.timeout(5_000)), (e: unknown) => e instanceof ReplicaDriverError && e.reason === 'forbidden');
  });

  test('a write at a stale version is a conflict; another deployment is not found', async () => {
    const { version } = await replicas.read(TARGET);
    await replicas.write(TARGET, 3, version, AbortSignal.timeout(5_000));
    await assert.rejects(replicas.write(TARGET, 2, version, AbortSignal.timeout(5_000)), (e: unknown) => e instanceof ReplicaDriverError && e.reason === 'conflict');
    const other = await scale.run(ctx({ deployment: 'vllm', namespace: 'default' }));
    assert.equal(other.outcome, 'failure');
    assert.equal(other.data?.reason, 'not-found');
  });

  test('scale-in takes the newest replica out of the gateway, lets its request finish, then stops it; never below 1', async () => {
    // 5 s to a first token: all three are still in flight when the scale-in starts, even on a loaded machine.
    for (const s of [primary, ...started]) s.profiles.patch(MODEL, { ttftMs: 5_000 });
    const calls = Array.from({ length: 3 }, (_, i) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `in${i}` }], max_tokens: 4 }));
    for (let i = 0; i < 200 && (await endpoints()).reduce((n, e) => n + e.inFlight, 0) < 3; i++) await new Promise((res) => setTimeout(res, 20));
    const newest = replicas.urls[2]!;
    assert.equal((await endpoints()).find((e) => e.url === newest)!.inFlight, 1);
    const r = await scale.run(ctx({ ...TARGET, direction: 'in' }));
    assert.equal(r.outcome, 'success', r.detail);
    assert.deepEqual([r.data?.from, r.data?.to], [3, 2]);
    // The request on the replica taken out was answered, not cut.
    for (const answer of await Promise.all(calls)) assert.equal(answer.object, 'chat.completion');
    assert.equal((await endpoints()).some((e) => e.url === newest), false);
    await assert.rejects(fetch(`${newest.replace(/\/v1$/, '')}/healthz`));
    for (const s of [primary, ...started]) s.profiles.reset(MODEL);
    assert.equal((await scale.run(ctx({ ...TARGET, direction: 'in' }))).outcome, 'success');
    const atMin = await scale.run(ctx({ ...TARGET, direction: 'in' }));
    assert.equal(atMin.outcome, 'skipped');
    assert.match(atMin.detail, /already at min 1/);
    assert.deepEqual((await endpoints()).map((e) => e.url), [`${primary.url}/v1`]);
  });
});

/**
 * A TCP relay to the gateway that, while `hold` is set, passes requests on but keeps the answers: the
 * gateway applies an admin call whose caller never hears back, as when the action's timeout cuts it.
 */
async function holdingRelay(target: string): Promise<{ url: string; hold: boolean; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const relay = {
    url: '',
    hold: false,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => relay.hold || client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}

test('replicas start from the primary\'s simulator config, not the built-in one', async (t) => {
  // Before: the stack's replicas started from the built-in config (a KV cache 21 times the primary's
  // 49,152 tokens), so the "copies of the same server" had another engine behind them.
  const config = simulatorConfig({ port: 0, engine: { kvCacheTokens: 49_152 }, gpu: { name: 'Replica Drill GPU' } });
  const primary = await startSimulator(config, { port: 0 });
  const gw = await startGateway(
    validateConfig(GatewayConfigSchema, { port: 0, metrics: { processMetrics: false }, admin: { token: TOKEN }, upstreams: { local: { baseURL: `${primary.url}/v1` } }, models: { [MODEL]: { upstream: 'local' } } }),
    { port: 0 },
  );
  const replicas = new LocalReplicas({ ...TARGET, upstream: 'local', gatewayURL: gw.url, adminToken: TOKEN, primary, maxReplicas: 2, simulator: config });
  t.after(async () => {
    await replicas.stop();
    await gw.close();
    await primary.close();
  });
  await replicas.write(TARGET, 2, (await replicas.read(TARGET)).version, AbortSignal.timeout(10_000));
  const replica = replicas.urls[1]!.replace(/\/v1$/, '');
  const res = await fetch(`${replica}/nvidia-smi?query-gpu=name&format=csv,noheader`);
  // One GPU per model, each the config's product.
  assert.deepEqual((await res.text()).trim().split('\n'), ['Replica Drill GPU', 'Replica Drill GPU']);
});

describe('the local scale driver when an admin call is cut midway', () => {
  // Attack: the action's timeout aborting the driver's POST or DELETE after the gateway applied it.
  // Before: a cut POST closed the replica but left its endpoint in the gateway (a dead endpoint counted
  // against maxEndpoints); a cut DELETE counted the replica as running though the gateway no longer sent
  // it anything. The gateway's endpoints and the driver's replicas must stay the same set.
  let primary: SimulatorHandle;
  let gw: GatewayHandle;
  let relay: Awaited<ReturnType<typeof holdingRelay>>;
  let replicas: LocalReplicas;
  const endpoints = async (): Promise<string[]> => {
    const res = await fetch(`${gw.url}/admin/upstreams/local`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await res.json()) as { endpoints: Row[] }).endpoints.map((e) => e.url);
  };
  const until = async (n: number) => {
    for (let i = 0; i < 500 && (await endpoints()).length !== n; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal((await endpoints()).length, n);
  };
  /**
   * Writes `count` replicas with the relay holding the gateway's answer, cuts the call once the gateway
   * has applied it (its endpoints number `count`), and checks the driver settled back: the call failed,
   * one replica counted, and the gateway's endpoints are the driver's.
   */
  const cutMidway = async (count: number) => {
    relay.hold = true;
    const cut = new AbortController();
    const write = replicas.write(TARGET, count, (await replicas.read(TARGET)).version, cut.signal);
    await until(count);
    cut.abort(new Error('action timed out'));
    relay.hold = false;
    await assert.rejects(write);
    assert.equal(replicas.replicas, 1);
    assert.deepEqual(await endpoints(), replicas.urls);
  };
  before(async () => {
    primary = await fast();
    gw = await localGateway(primary);
    relay = await holdingRelay(gw.url);
    replicas = new LocalReplicas({ ...TARGET, upstream: 'local', gatewayURL: relay.url, adminToken: TOKEN, primary, maxReplicas: 3, drainMs: 1_000, start: fast });
  });
  after(async () => {
    relay.hold = false;
    await replicas.stop();
    await relay.close();
    await gw.close();
    await primary.close();
  });

  test('a POST cut after the gateway added the endpoint is undone: no dead endpoint stays', async () => {
    await cutMidway(2);
  });

  test('a DELETE cut after the gateway removed the endpoint is settled: the replica is stopped, not counted', async () => {
    await replicas.write(TARGET, 2, (await replicas.read(TARGET)).version, AbortSignal.timeout(10_000));
    assert.deepEqual(await endpoints(), replicas.urls);
    const second = replicas.urls[1]!;
    await cutMidway(1);
    await assert.rejects(fetch(`${second.replace(/\/v1$/, '')}/healthz`));
  });
});
