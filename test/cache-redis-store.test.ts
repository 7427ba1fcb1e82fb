import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import { LlmwatchError } from '../src/core/errors.ts';
import { encodeAnswer } from '../src/gateway/cache/codec.ts';
import { GW_ERR_CACHE_BACKLOG, GW_ERR_CACHE_CORRUPT, GW_ERR_CACHE_REPLY, GW_ERR_CACHE_TIMEOUT, GW_ERR_CACHE_UNAVAILABLE } from '../src/gateway/cache/errors.ts';
import { RedisCacheStore } from '../src/gateway/cache/redis-store.ts';
import type { RedisCacheStoreOptions } from '../src/gateway/cache/redis-store.ts';
import type { CachedAnswer, CacheOp } from '../src/gateway/cache/types.ts';
import { freePort } from './helpers/processes.ts';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';

// Generous: these tests assert behaviour, never timing; the bound only keeps a bug from hanging CI.
const TIMEOUT = { timeout: 60_000 };

interface Reported {
  readonly op: CacheOp;
  readonly code: string;
}

/** A store whose onError calls are recorded by op and code; closed after the test. */
function storeFor(t: TestContext, url: string, options: Partial<RedisCacheStoreOptions> = {}) {
  const errors: Reported[] = [];
  const store = new RedisCacheStore({
    url,
    onError: (op, err) => errors.push({ op, code: err instanceof LlmwatchError ? err.code : `raw:${String(err)}` }),
    ...options,
  });
  t.after(() => store.close());
  return { store, errors };
}

async function redisFor(t: TestContext): Promise<RedisServer> {
  const server = await startRedis();
  t.after(() => server.stop());
  return server;
}

/** A plain node-redis client, to look at what the store wrote. */
async function rawClient(t: TestContext, url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.destroy());
  return client;
}

function answer(body: Buffer, stream = false): CachedAnswer {
  return {
    status: 200,
    contentType: stream ? 'text/event-stream' : 'application/json',
    body,
    stream,
    promptTokens: 11,
    completionTokens: 22,
  };
}

function assertSameAnswer(actual: CachedAnswer | undefined, expected: CachedAnswer): void {
  assert.ok(actual, 'expected a hit');
  assert.deepEqual({ ...actual, body: null }, { ...expected, body: null });
  assert.equal(actual.body.length, expected.body.length);
  assert.ok(actual.body.equals(expected.body), 'body differs');
}

/** Polls `probe` every 50 ms until it is true, for at most `maxMs`; true if it became true. */
async function eventually(probe: () => Promise<boolean>, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sseStream(): Buffer {
  const chunks: string[] = [];
  for (let i = 0; i < 400; i++) {
    // Multi-byte characters, so a UTF-8 decode/encode on the way would show.
    const delta = JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: `tok ${i} é✓🙂` } }] });
    chunks.push(`data: ${delta}\n\n`);
  }
  chunks.push('data: [DONE]\n\n');
  return Buffer.from(chunks.join(''), 'utf8');
}

test('set then get gives back a binary body with every byte value, byte for byte', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url);
  await store.connect();
  assert.equal(store.isReady, true);
  const body = Buffer.alloc(256 * 8);
  for (let i = 0; i < body.length; i++) body[i] = i % 256;
  const a = answer(body);
  await store.set('k-binary', a, 60_000);
  assertSameAnswer(await store.get('k-binary'), a);
  assert.equal(errors.length, 0, JSON.stringify(errors));
});

test('set then get gives back a multi-KB SSE stream byte for byte', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url);
  await store.connect();
  const a = answer(sseStream(), true);
  assert.ok(a.body.length > 40_000, `${a.body.length} bytes`);
  await store.set('k-sse', a, 60_000);
  assertSameAnswer(await store.get('k-sse'), a);
  assert.equal(await store.get('k-absent'), undefined);
  assert.equal(errors.length, 0, JSON.stringify(errors));
});

test('connects on first use without connect()', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store } = storeFor(t, redis.url);
  const a = answer(Buffer.from('{"lazy":true}'));
  // The first calls may run before the connection is up; those are misses, then it works.
  const ok = await eventually(async () => {
    await store.set('k-lazy', a, 60_000);
    return (await store.get('k-lazy'))?.body.equals(a.body) === true;
  }, 10_000);
  assert.ok(ok, 'the store never connected');
});

test('an entry expires after its TTL, with PX on the Redis key', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url, { keyPrefix: 'ttl:' });
  const raw = await rawClient(t, redis.url);
  await store.connect();
  const a = answer(Buffer.from('{"short":"lived"}'));
  await store.set('k-ttl', a, 200);
  const pttl = await raw.pTTL('ttl:k-ttl');
  assert.ok(pttl > 0 && pttl <= 200, `PTTL ${pttl}`);
  // Not asserting it is still there: on a loaded machine 200 ms can pass before this get.
  const expired = await eventually(async () => (await store.get('k-ttl')) === undefined, 10_000);
  assert.ok(expired, 'the entry never expired');
  assert.equal(await raw.exists('ttl:k-ttl'), 0);
  assert.equal(errors.length, 0, JSON.stringify(errors));
});

test('a TTL of zero stores nothing', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url);
  await store.connect();
  await store.set('k-zero', answer(Buffer.from('x')), 0);
  assert.equal(await store.get('k-zero'), undefined);
  assert.equal(errors.length, 0, JSON.stringify(errors));
});

test('keyPrefix isolates stores sharing one Redis', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const one = storeFor(t, redis.url, { keyPrefix: 'gw-one:' });
  const two = storeFor(t, redis.url, { keyPrefix: 'gw-two:' });
  const defaults = storeFor(t, redis.url);
  const raw = await rawClient(t, redis.url);
  await Promise.all([one.store.connect(), two.store.connect(), defaults.store.connect()]);

  const a1 = answer(Buffer.from('{"from":"one"}'));
  await one.store.set('same-key', a1, 60_000);
  assert.equal(await two.store.get('same-key'), undefined);
  assert.equal(await defaults.store.get('same-key'), undefined);

  const a2 = answer(Buffer.from('{"from":"two"}'));
  await two.store.set('same-key', a2, 60_000);
  assertSameAnswer(await one.store.get('same-key'), a1);
  assertSameAnswer(await two.store.get('same-key'), a2);

  await defaults.store.set('same-key', a1, 60_000);
  assert.deepEqual((await raw.keys('*')).sort(), ['gw-one:same-key', 'gw-two:same-key', 'llmwatch:cache:same-key']);
  assert.deepEqual([...one.errors, ...two.errors, ...defaults.errors], []);
});

test('a value that is not in the store format is a miss reported as GW_ERR_CACHE_CORRUPT', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url);
  const raw = await rawClient(t, redis.url);
  await store.connect();
  await raw.set('llmwatch:cache:k-foreign', 'written by someone else');
  assert.equal(await store.get('k-foreign'), undefined);
  assert.deepEqual(errors, [{ op: 'get', code: GW_ERR_CACHE_CORRUPT.code }]);
  // And one the store itself wrote reads fine next to it.
  await raw.set('llmwatch:cache:k-ours', encodeAnswer(answer(Buffer.from('{}'))));
  assert.ok(await store.get('k-ours'));
});

test('a key of another Redis type is a miss reported as GW_ERR_CACHE_REPLY', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url);
  const raw = await rawClient(t, redis.url);
  await store.connect();
  await raw.lPush('llmwatch:cache:k-list', 'x');
  assert.equal(await store.get('k-list'), undefined);
  assert.deepEqual(errors, [{ op: 'get', code: GW_ERR_CACHE_REPLY.code }]);
});

test('Redis that was never there: connect, get, set and close settle, and report', TIMEOUT, async (t) => {
  const port = await freePort();
  const { store, errors } = storeFor(t, `redis://127.0.0.1:${port}`);
  await store.connect();
  assert.equal(store.isReady, false);
  assert.equal(await store.get('k'), undefined);
  await store.set('k', answer(Buffer.from('x')), 60_000);
  assert.deepEqual(
    errors.filter((e) => e.op !== 'connect'),
    [
      { op: 'get', code: GW_ERR_CACHE_UNAVAILABLE.code },
      { op: 'set', code: GW_ERR_CACHE_UNAVAILABLE.code },
    ],
  );
  // Once per outage, not once per reconnect attempt.
  assert.deepEqual(
    errors.filter((e) => e.op === 'connect'),
    [{ op: 'connect', code: GW_ERR_CACHE_UNAVAILABLE.code }],
  );
  await store.close();
});

test('Redis killed mid-test: get and set settle as misses and report; a restarted Redis is used again', TIMEOUT, async (t) => {
  let redis = await startRedis();
  t.after(() => redis.stop());
  const { store, errors } = storeFor(t, redis.url, { maxReconnectDelayMs: 200 });
  await store.connect();
  const a = answer(Buffer.from('{"before":"the crash"}'));
  await store.set('k-crash', a, 60_000);
  assertSameAnswer(await store.get('k-crash'), a);
  assert.equal(errors.length, 0, JSON.stringify(errors));

  await redis.stop();

  // Whether the client has noticed the close yet or not, each call settles as a miss.
  for (let i = 0; i < 5; i++) {
    assert.equal(await store.get('k-crash'), undefined);
    await store.set('k-crash', a, 60_000);
  }
  const ops = errors.filter((e) => e.op !== 'connect');
  assert.equal(ops.length, 10);
  assert.deepEqual(ops.map((e) => e.op), Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'get' : 'set')));
  for (const e of ops) assert.ok([GW_ERR_CACHE_UNAVAILABLE.code, GW_ERR_CACHE_TIMEOUT.code].includes(e.code), e.code);

  redis = await startRedis(redis.port);
  const recovered = await eventually(async () => {
    await store.set('k-after', a, 60_000);
    return (await store.get('k-after'))?.body.equals(a.body) === true;
  }, 10_000);
  assert.ok(recovered, `the store did not recover; errors: ${JSON.stringify(errors.slice(-3))}`);
  // The restarted Redis is empty: nothing from before the crash comes back.
  assert.equal(await store.get('k-crash'), undefined);
  assert.ok(errors.some((e) => e.op === 'connect'), 'the outage was reported as connect');
});

test('Redis that hangs: get and set time out as misses, the backlog stays bounded, and it recovers', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url, { commandTimeoutMs: 100, maxPendingBytes: 1024 * 1024 });
  await store.connect();
  const pid = redis.child.process.pid;
  assert.ok(pid);
  const body = Buffer.alloc(400 * 1024, 0x7a);
  process.kill(pid, 'SIGSTOP');
  try {
    assert.equal(await store.get('k-hung'), undefined);
    // Two 400 KB SETs fit the 1 MiB backlog and time out; the third is refused unsent.
    await Promise.all(['a', 'b', 'c'].map((k) => store.set(`k-${k}`, answer(body), 60_000)));
    assert.deepEqual(errors, [
      { op: 'get', code: GW_ERR_CACHE_TIMEOUT.code },
      { op: 'set', code: GW_ERR_CACHE_BACKLOG.code },
      { op: 'set', code: GW_ERR_CACHE_TIMEOUT.code },
      { op: 'set', code: GW_ERR_CACHE_TIMEOUT.code },
    ]);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // The late replies drain the backlog; the connection was never lost.
  const a = answer(Buffer.from('{"after":"the pause"}'));
  const recovered = await eventually(async () => {
    await store.set('k-resumed', a, 60_000);
    return (await store.get('k-resumed'))?.body.equals(a.body) === true;
  }, 10_000);
  assert.ok(recovered, `the store did not recover; errors: ${JSON.stringify(errors.slice(-3))}`);
  assertSameAnswer(await store.get('k-a'), answer(body));
  assert.ok(!errors.some((e) => e.op === 'connect'));
});

test('close settles while Redis hangs with commands awaiting a reply', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store, errors } = storeFor(t, redis.url);
  await store.connect();
  const pid = redis.child.process.pid;
  assert.ok(pid);
  process.kill(pid, 'SIGSTOP');
  try {
    const pending = store.get('k-hung');
    await store.close();
    assert.equal(await pending, undefined);
    assert.deepEqual(errors, [{ op: 'get', code: GW_ERR_CACHE_TIMEOUT.code }]);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});

test('a throwing onError does not make get or set reject', TIMEOUT, async (t) => {
  const port = await freePort();
  const store = new RedisCacheStore({
    url: `redis://127.0.0.1:${port}`,
    onError: () => {
      throw new Error('metrics broke');
    },
  });
  t.after(() => store.close());
  await store.connect();
  assert.equal(await store.get('k'), undefined);
  await store.set('k', answer(Buffer.from('x')), 60_000);
});

test('close is idempotent, and a closed store answers misses without rejecting', TIMEOUT, async (t) => {
  const redis = await redisFor(t);
  const { store } = storeFor(t, redis.url);
  await store.connect();
  await store.close();
  await store.close();
  assert.equal(store.isReady, false);
  assert.equal(await store.get('k'), undefined);
  await store.set('k', answer(Buffer.from('x')), 60_000);
  // A store never used closes too.
  const unused = new RedisCacheStore({ url: redis.url, onError: () => {} });
  await unused.close();
});
