import { createClient, ErrorReply, RESP_TYPES } from 'redis';
import { decodeAnswer, encodeAnswer } from './codec.ts';
import { GW_ERR_CACHE_BACKLOG, GW_ERR_CACHE_REPLY, GW_ERR_CACHE_TIMEOUT, GW_ERR_CACHE_UNAVAILABLE } from './errors.ts';
import { LlmwatchError } from '../../core/errors.ts';
import type { CachedAnswer, CacheErrorHandler, CacheOp, CacheStore } from './types.ts';

/** Options of {@link RedisCacheStore}. */
export interface RedisCacheStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  readonly url: string;
  /** Prepended to every key, so several gateways (or other users) can share one Redis. Default `llmwatch:cache:`. */
  readonly keyPrefix?: string;
  /** The most a GET or SET may wait for its reply before it counts as a miss. Default 100 ms: a cache must not slow requests. */
  readonly commandTimeoutMs?: number;
  /**
   * The most SET payload bytes that may await Redis' reply at once; beyond it
   * a SET is refused (GW_ERR_CACHE_BACKLOG) instead of buffered. Matters only
   * when Redis hangs with the connection open. Default 16 MiB.
   */
  readonly maxPendingBytes?: number;
  /** The most one connection attempt may take. Default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /** The cap of the exponential reconnect backoff. Default 2000 ms. */
  readonly maxReconnectDelayMs?: number;
  /** Told of every failed operation, and once per outage of the connection (`connect`). */
  readonly onError: CacheErrorHandler;
}

export const REDIS_DEFAULT_KEY_PREFIX = 'llmwatch:cache:';
const DEFAULT_COMMAND_TIMEOUT_MS = 100;
const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** The most commands that may await a reply at once; see `maxPendingBytes`. */
const MAX_PENDING_COMMANDS = 1_024;

/** Built once here so the client's type carries the Buffer mapping. */
function buildClient(options: RedisCacheStoreOptions) {
  const maxDelay = options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  return createClient({
    url: options.url,
    // Without this, commands sent while Redis is down wait in memory until it
    // comes back; a cache must answer "miss" at once instead.
    disableOfflineQueue: true,
    // RESP2 defaults to this already; explicit because "enabled" would relax
    // command timeouts to 10 s during a Redis Enterprise maintenance window.
    maintNotifications: 'disabled',
    socket: {
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Exponential from 50 ms, capped, with jitter so that the replicas of a
      // gateway do not reconnect in lockstep. Always a number: never give up.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) + Math.floor(Math.random() * 50),
    },
    // No `timeout` command option: node-redis times a command only until it
    // is written, not while it awaits the reply, so the store times replies itself.
    commandOptions: {
      // Bodies are bytes (a stream may split a UTF-8 character across chunks
      // and embeddings may be base64); the default decodes replies as UTF-8 strings.
      typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
    },
  });
}

/**
 * A cache store in Redis, shared by every gateway replica. Each answer is one
 * Redis string (see `codec.ts`) under `keyPrefix + key`, with a `PX` TTL.
 *
 * Redis being down, slow or restarted is a miss, never a failed request:
 * `get` and `set` never reject, commands fail at once while disconnected (no
 * offline queue) and after `commandTimeoutMs` when Redis hangs, and the client
 * reconnects in the background. A Redis that hangs with the connection open
 * (stopped, overloaded) is not disconnected: each call is a timed-out miss,
 * and once `maxPendingBytes` or 1024 commands await a reply, new ones are
 * refused unsent, so memory stays bounded until Redis answers again. A SET
 * that timed out may still land once Redis resumes. Every failure goes to
 * `onError` with a `GW_ERR_CACHE_*` code and the driver's error as `cause`.
 *
 * Connects on first use; call {@link RedisCacheStore.connect} at start-up to
 * have the connection ready before the first request.
 * @example
 * const cache = new RedisCacheStore({ url: 'redis://127.0.0.1:6379', onError: (op) => errors.inc({ op }) });
 * await cache.connect();
 */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis';
  readonly #client: ReturnType<typeof buildClient>;
  readonly #keyPrefix: string;
  readonly #onError: CacheErrorHandler;
  readonly #commandTimeoutMs: number;
  readonly #maxPendingBytes: number;
  /** Commands sent whose reply (or failure) the driver has not yet delivered, timed out or not. */
  #pendingCommands = 0;
  #pendingBytes = 0;
  /** Operations in progress, so that `close` can let them settle first. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #started = false;
  #closed = false;
  /** True once a connection failure was reported, until the next `ready`: one report per outage. */
  #outageReported = false;

  constructor(options: RedisCacheStoreOptions) {
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!(this.#commandTimeoutMs > 0)) {
      throw new RangeError(`RedisCacheStore: 'commandTimeoutMs' must be positive, got ${String(options.commandTimeoutMs)}`);
    }
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    if (!(this.#maxPendingBytes > 0)) {
      throw new RangeError(`RedisCacheStore: 'maxPendingBytes' must be positive, got ${String(options.maxPendingBytes)}`);
    }
    this.#keyPrefix = options.keyPrefix ?? REDIS_DEFAULT_KEY_PREFIX;
    this.#onError = options.onError;
    this.#client = buildClient(options);
    // An EventEmitter 'error' without a listener throws and ends the process;
    // the client emits one on every failed (re)connection attempt.
    this.#client.on('error', (err: unknown) => {
      if (this.#closed || this.#outageReported) return;
      this.#outageReported = true;
      this.#report('connect', classify(err));
    });
    this.#client.on('ready', () => {
      this.#outageReported = false;
    });
  }

  /**
   * Starts connecting and resolves once connected or once the first attempt
   * failed (reported as `connect`), whichever comes first; never rejects, so
   * a gateway starts (without a cache) when Redis is down. Reconnection then
   * continues in the background.
   */
  connect(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#start();
    if (this.#client.isReady) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#client.off('ready', done).off('error', done).off('end', done);
        resolve();
      };
      this.#client.on('ready', done).on('error', done).on('end', done);
    });
  }

  /** True while connected and able to answer; for readiness reporting. */
  get isReady(): boolean {
    return this.#client.isReady;
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    return this.#track(this.#get(key));
  }

  set(key: string, answer: CachedAnswer, ttlMs: number): Promise<void> {
    return this.#track(this.#set(key, answer, ttlMs));
  }

  /**
   * Lets operations in progress settle (each is bounded by `commandTimeoutMs`),
   * then closes the connection, also when Redis is down or hung. Does not
   * send QUIT: it is deprecated since Redis 7.2, whose docs say to just close
   * the connection. A reconnect timer already waiting (at most
   * `maxReconnectDelayMs`) runs out by itself and connects nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    if (!this.#started || !this.#client.isOpen) return;
    try {
      this.#client.destroy();
    } catch {
      // Already closed by the driver itself: nothing left to release.
    }
  }

  async #get(key: string): Promise<CachedAnswer | undefined> {
    this.#start();
    let value: Buffer | null;
    try {
      value = await this.#send(() => this.#client.get(this.#keyPrefix + key), 0);
    } catch (err) {
      this.#report('get', classify(err));
      return undefined;
    }
    if (value === null) return undefined;
    try {
      return decodeAnswer(value);
    } catch (err) {
      this.#report('get', err);
      return undefined;
    }
  }

  async #set(key: string, answer: CachedAnswer, ttlMs: number): Promise<void> {
    // PX takes a positive integer; a zero TTL means "do not keep".
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) return;
    this.#start();
    const value = encodeAnswer(answer);
    try {
      await this.#send(() => this.#client.set(this.#keyPrefix + key, value, { expiration: { type: 'PX', value: px } }), value.length);
    } catch (err) {
      this.#report('set', classify(err));
    }
  }

  #start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    // Resolves when connected or closed; rejects only if the reconnect
    // strategy gave up, which ours never does. Failures of single attempts
    // arrive as 'error' events.
    this.#client.connect().then(
      () => undefined,
      (err: unknown) => {
        if (!this.#closed) this.#report('connect', classify(err));
      },
    );
  }

  /**
   * Sends one command, unless too much already awaits a reply, and settles
   * after at most `commandTimeoutMs`. The command itself stays counted as
   * pending until the driver settles it (a reply, a disconnect, close).
   */
  #send<T>(command: () => Promise<T>, bytes: number): Promise<T> {
    if (this.#pendingCommands >= MAX_PENDING_COMMANDS || this.#pendingBytes + bytes > this.#maxPendingBytes) {
      return Promise.reject(
        GW_ERR_CACHE_BACKLOG(`${this.#pendingCommands} commands (${this.#pendingBytes} bytes) still await a reply from redis`),
      );
    }
    const sent = command();
    this.#pendingCommands++;
    this.#pendingBytes += bytes;
    const settled = () => {
      this.#pendingCommands--;
      this.#pendingBytes -= bytes;
    };
    sent.then(settled, settled);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(GW_ERR_CACHE_TIMEOUT(`redis did not reply within ${this.#commandTimeoutMs} ms`)),
        this.#commandTimeoutMs,
      );
      sent.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  #track<T>(op: Promise<T>): Promise<T> {
    this.#inFlight.add(op);
    return op.finally(() => this.#inFlight.delete(op));
  }

  #report(op: CacheOp, err: unknown): void {
    // Socket errors while closing are the shutdown itself, not an outage.
    if (this.#closed && op === 'connect') return;
    try {
      this.#onError(op, err);
    } catch {
      // A throwing handler must not turn a cache miss into a failed request.
    }
  }
}

/** Wraps a driver error in the `GW_ERR_CACHE_*` code callers branch on. */
function classify(err: unknown): LlmwatchError {
  if (err instanceof LlmwatchError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ErrorReply) return GW_ERR_CACHE_REPLY(`redis answered an error: ${message}`, { cause: err });
  // Offline, closed, refused, reset, connect timeout: all "not reachable now".
  return GW_ERR_CACHE_UNAVAILABLE(`redis unavailable: ${message}`, { cause: err });
}
