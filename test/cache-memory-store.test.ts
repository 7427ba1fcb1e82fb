import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MEMORY_ENTRY_OVERHEAD_BYTES, MemoryCacheStore, memoryEntryBytes } from '../src/gateway/cache/memory-store.ts';
import type { CachedAnswer } from '../src/gateway/cache/types.ts';

/** Keys of one length, so every entry of a body size costs the same. */
const KEY_LENGTH = 4;
const key = (name: string) => name.padEnd(KEY_LENGTH, '_');

function answer(bodyBytes: number, fill = 0x61): CachedAnswer {
  return {
    status: 200,
    contentType: 'application/json',
    body: Buffer.alloc(bodyBytes, fill),
    stream: false,
    promptTokens: 3,
    completionTokens: 5,
  };
}

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const BODY = 100;
const ENTRY = BODY + KEY_LENGTH + MEMORY_ENTRY_OVERHEAD_BYTES;
const TTL = 60_000;

async function keysPresent(store: MemoryCacheStore, names: string[]): Promise<string[]> {
  // Reading refreshes recency; callers check presence only after the step under test.
  const present: string[] = [];
  for (const n of names) if ((await store.get(key(n))) !== undefined) present.push(n);
  return present;
}

test('an entry counts body + key + the fixed overhead', () => {
  assert.equal(memoryEntryBytes(key('a'), answer(BODY)), ENTRY);
});

test('round-trip returns the same answer; a missing key is undefined', async () => {
  const store = new MemoryCacheStore({ maxBytes: 10 * ENTRY });
  const a = answer(BODY);
  await store.set(key('a'), a, TTL);
  assert.equal(await store.get(key('a')), a);
  assert.equal(await store.get(key('b')), undefined);
  assert.equal(store.size, 1);
  assert.equal(store.bytes, ENTRY);
});

test('over the byte bound, the least recently set entry goes first', async () => {
  const store = new MemoryCacheStore({ maxBytes: 3 * ENTRY });
  for (const n of ['a', 'b', 'c']) await store.set(key(n), answer(BODY), TTL);
  assert.equal(store.bytes, 3 * ENTRY);
  await store.set(key('d'), answer(BODY), TTL);
  assert.equal(store.size, 3);
  assert.equal(store.bytes, 3 * ENTRY);
  assert.deepEqual(await keysPresent(store, ['a', 'b', 'c', 'd']), ['b', 'c', 'd']);
});

test('get refreshes recency: the entry read survives, the next oldest goes', async () => {
  const store = new MemoryCacheStore({ maxBytes: 3 * ENTRY });
  for (const n of ['a', 'b', 'c']) await store.set(key(n), answer(BODY), TTL);
  assert.notEqual(await store.get(key('a')), undefined);
  await store.set(key('d'), answer(BODY), TTL);
  assert.deepEqual(await keysPresent(store, ['a', 'b', 'c', 'd']), ['a', 'c', 'd']);
});

test('eviction is by bytes: one large entry evicts as many small ones as it needs', async () => {
  const store = new MemoryCacheStore({ maxBytes: 4 * ENTRY });
  for (const n of ['a', 'b', 'c', 'd']) await store.set(key(n), answer(BODY), TTL);
  // Costs two small entries plus a little: three must go.
  const big = answer(2 * ENTRY - KEY_LENGTH - MEMORY_ENTRY_OVERHEAD_BYTES + 1);
  await store.set(key('big'), big, TTL);
  assert.deepEqual(await keysPresent(store, ['a', 'b', 'c', 'd', 'big']), ['d', 'big']);
  assert.equal(store.bytes, ENTRY + memoryEntryBytes(key('big'), big));
  assert.ok(store.bytes <= 4 * ENTRY);
});

test('an entry larger than the bound is not stored and evicts nothing', async () => {
  const store = new MemoryCacheStore({ maxBytes: 3 * ENTRY });
  await store.set(key('a'), answer(BODY), TTL);
  await store.set(key('huge'), answer(3 * ENTRY), TTL);
  assert.equal(await store.get(key('huge')), undefined);
  assert.deepEqual(await keysPresent(store, ['a']), ['a']);
  assert.equal(store.bytes, ENTRY);
});

test('an entry exactly at the bound is stored', async () => {
  const store = new MemoryCacheStore({ maxBytes: ENTRY });
  await store.set(key('a'), answer(BODY), TTL);
  assert.equal(store.size, 1);
});

test('set on an existing key replaces it and keeps the byte count exact', async () => {
  const store = new MemoryCacheStore({ maxBytes: 10 * ENTRY });
  await store.set(key('a'), answer(BODY, 0x61), TTL);
  const b = answer(2 * BODY, 0x62);
  await store.set(key('a'), b, TTL);
  assert.equal(await store.get(key('a')), b);
  assert.equal(store.size, 1);
  assert.equal(store.bytes, memoryEntryBytes(key('a'), b));
});

test('a replacement too large to store removes the older answer', async () => {
  const store = new MemoryCacheStore({ maxBytes: 2 * ENTRY });
  await store.set(key('a'), answer(BODY), TTL);
  await store.set(key('a'), answer(3 * ENTRY), TTL);
  assert.equal(await store.get(key('a')), undefined);
  assert.equal(store.size, 0);
  assert.equal(store.bytes, 0);
});

test('an entry expires after its own TTL, by the injected clock', async () => {
  const c = clock();
  const store = new MemoryCacheStore({ maxBytes: 10 * ENTRY, now: c.now });
  await store.set(key('short'), answer(BODY), 1_000);
  await store.set(key('long'), answer(BODY), 5_000);
  c.advance(999);
  assert.notEqual(await store.get(key('short')), undefined);
  c.advance(1);
  assert.equal(await store.get(key('short')), undefined);
  // An expired entry is dropped when noticed, and its bytes with it.
  assert.equal(store.size, 1);
  assert.equal(store.bytes, ENTRY);
  assert.notEqual(await store.get(key('long')), undefined);
  c.advance(4_000);
  assert.equal(await store.get(key('long')), undefined);
  assert.equal(store.size, 0);
  assert.equal(store.bytes, 0);
});

test('reading does not extend a TTL; setting again does', async () => {
  const c = clock();
  const store = new MemoryCacheStore({ maxBytes: 10 * ENTRY, now: c.now });
  await store.set(key('a'), answer(BODY), 1_000);
  c.advance(900);
  assert.notEqual(await store.get(key('a')), undefined);
  c.advance(100);
  assert.equal(await store.get(key('a')), undefined);
  await store.set(key('a'), answer(BODY), 1_000);
  c.advance(900);
  assert.notEqual(await store.get(key('a')), undefined);
});

test('a TTL of zero or less stores nothing', async () => {
  const store = new MemoryCacheStore({ maxBytes: 10 * ENTRY });
  await store.set(key('a'), answer(BODY), 0);
  await store.set(key('b'), answer(BODY), -5);
  assert.equal(store.size, 0);
  assert.equal(store.bytes, 0);
});

test('close empties the store', async () => {
  const store = new MemoryCacheStore({ maxBytes: 10 * ENTRY });
  await store.set(key('a'), answer(BODY), TTL);
  await store.close();
  assert.equal(store.size, 0);
  assert.equal(store.bytes, 0);
  assert.equal(store.kind, 'memory');
});

test('a bound that is not a positive integer is refused at construction', () => {
  for (const maxBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new MemoryCacheStore({ maxBytes }), RangeError);
  }
});
