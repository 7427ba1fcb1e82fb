/**
 * The gateway's response cache, as the proxy core sees it: a store of whole
 * answers, keyed by the normalised request. Two stores implement it: an
 * in-process LRU bounded by bytes and TTL, and Redis for several replicas.
 */

/** One answer as the client received it, byte for byte. */
export interface CachedAnswer {
  readonly status: number;
  readonly contentType: string;
  /** The exact body bytes: a JSON document, or a whole SSE stream ending in `data: [DONE]`. */
  readonly body: Buffer;
  /** True when `body` is an SSE stream, replayed as a stream. */
  readonly stream: boolean;
  /** Token counts of the original answer, so a hit can be metered like it. */
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/**
 * The closed set of operations that can fail, the `op` label of
 * `openllm_cache_errors_total{op}`. `connect` is a store that lost (or never
 * reached) its backend: reported once per outage, not once per retry.
 */
export const CACHE_OPS = Object.freeze(['get', 'set', 'connect'] as const);

/** Which store operation failed, for `openllm_cache_errors_total{op}`. */
export type CacheOp = (typeof CACHE_OPS)[number];

export interface CacheStore {
  /** `redis` or `memory`: the `store` label of the cache metrics. */
  readonly kind: 'memory' | 'redis';
  /**
   * The answer under `key`, or undefined. Never rejects: a store that fails
   * (Redis down, a timeout) reports through `onError` and answers undefined,
   * so a cache outage degrades to no cache, never to a failed request.
   */
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Stores an answer for `ttlMs`; never rejects (see `get`). */
  set(key: string, answer: CachedAnswer, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Called by a store when an operation fails; the store itself never throws on the request path. */
export type CacheErrorHandler = (op: CacheOp, err: unknown) => void;
