import type { InferenceRequest } from '../../core/openai/validate.ts';
import type { ModelMeter } from '../../core/metering/gateway-metrics.ts';
import { cacheKey, isCacheable } from './key.ts';
import type { CachedAnswer, CacheStore } from './types.ts';

/** What the cache needs of a model: its hit, miss and bypass counters (not the whole route). */
export interface CacheSubject {
  readonly meter: Pick<ModelMeter, 'cache'>;
}

/** What the cache says about one request. */
export type CacheLookup = { readonly kind: 'hit'; readonly answer: CachedAnswer } | { readonly kind: 'miss' } | { readonly kind: 'bypass' };

/**
 * The response cache as the proxy core uses it: decides whether a request is
 * cacheable, looks it up under a key that names the serving target (so a
 * route switch never replays the other model's answers), counts hit, miss or
 * bypass per model, and stores answers without delaying the client.
 */
export class AnswerCache {
  readonly store: CacheStore;
  readonly ttlMs: number;
  /** Larger answers are passed through but not kept. */
  readonly maxEntryBytes: number;

  constructor(store: CacheStore, ttlMs: number, maxEntryBytes: number) {
    this.store = store;
    this.ttlMs = ttlMs;
    this.maxEntryBytes = maxEntryBytes;
  }

  /** Looks a request up under the key of `target` (the model's active one) for `tenant`. */
  async lookup(model: CacheSubject, request: InferenceRequest, target: string, tenant: string, header: string | string[] | undefined): Promise<CacheLookup> {
    if (isCacheable(request, typeof header === 'string' ? header : undefined) === 'bypass') {
      model.meter.cache.bypass.inc();
      return { kind: 'bypass' };
    }
    const key = cacheKey(request, target, tenant);
    // The store never rejects: an outage reads as a miss and is counted by its error handler.
    const answer = await this.store.get(key);
    if (answer === undefined) {
      model.meter.cache.miss.inc();
      return { kind: 'miss' };
    }
    model.meter.cache.hit.inc();
    return { kind: 'hit', answer };
  }

  /**
   * Stores an answer in the background, under the key of the `target` that
   * actually answered: a failover's answer is never replayed as the primary's.
   * The store reports its own failures.
   */
  save(request: InferenceRequest, target: string, tenant: string, answer: CachedAnswer): void {
    if (answer.body.length > this.maxEntryBytes) return;
    void this.store.set(cacheKey(request, target, tenant), answer, this.ttlMs);
  }
}
