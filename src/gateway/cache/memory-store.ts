import type { CachedAnswer, CacheStore } from './types.ts';

/**
 * What one entry costs beyond its body and key: the Map slot, the entry and
 * answer objects, the Buffer header and the content-type string. An estimate,
 * not a measurement; it keeps a cache of many tiny answers from growing
 * unbounded in entry count while its "bytes" stay small.
 */
export const MEMORY_ENTRY_OVERHEAD_BYTES = 256;

/** Options of {@link MemoryCacheStore}. */
export interface MemoryCacheStoreOptions {
  /** The most bytes (see {@link memoryEntryBytes}) all entries may take together. */
  readonly maxBytes: number;
  /** The clock, in ms; injectable so TTL tests need no sleeping. */
  readonly now?: () => number;
}

interface Entry {
  readonly answer: CachedAnswer;
  readonly expiresAt: number;
  readonly bytes: number;
}

/** The bytes one entry counts against `maxBytes`: body + key + a fixed overhead. */
export function memoryEntryBytes(key: string, answer: CachedAnswer): number {
  return answer.body.length + key.length + MEMORY_ENTRY_OVERHEAD_BYTES;
}

/**
 * An in-process cache store: least recently used entries go first once the
 * byte bound is passed, and each entry expires after its own TTL (checked on
 * read, so an expired entry costs bytes until it is read or evicted).
 * O(1) per operation: a Map iterates in insertion order, so deleting and
 * re-inserting an entry on use makes the first key the least recently used.
 *
 * The store keeps the answer's Buffer as given and hands the same one to
 * every hit: callers must not mutate a body after `set` or after `get`.
 * @example
 * const cache = new MemoryCacheStore({ maxBytes: 64 * 1024 * 1024 });
 */
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory';
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: MemoryCacheStoreOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) {
      throw new RangeError(`MemoryCacheStore: 'maxBytes' must be a positive integer, got ${String(options.maxBytes)}`);
    }
    this.#maxBytes = options.maxBytes;
    this.#now = options.now ?? Date.now;
  }

  /** The number of entries held, expired ones not yet noticed included. */
  get size(): number {
    return this.#entries.size;
  }

  /** The bytes all entries count against `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    this.#entries.delete(key);
    if (this.#now() >= entry.expiresAt) {
      this.#bytes -= entry.bytes;
      return Promise.resolve(undefined);
    }
    this.#entries.set(key, entry);
    return Promise.resolve(entry.answer);
  }

  set(key: string, answer: CachedAnswer, ttlMs: number): Promise<void> {
    // A new answer replaces the old one even when it is not stored itself, so
    // that a `set` never leaves an older answer behind.
    this.#delete(key);
    const bytes = memoryEntryBytes(key, answer);
    // An entry above the bound would evict everything and still not fit.
    if (!(ttlMs > 0) || bytes > this.#maxBytes) return Promise.resolve();
    this.#entries.set(key, { answer, expiresAt: this.#now() + ttlMs, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#entries.clear();
    this.#bytes = 0;
    return Promise.resolve();
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}
