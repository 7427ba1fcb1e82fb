import { defineError } from '../../core/errors.ts';

/*
 * The response cache's error codes. They never reach an LLM client: a store
 * hands them to its `CacheErrorHandler`, and a failed cache degrades to no
 * cache. Kept beside the stores, in the `GW_ERR_*` namespace of the gateway;
 * a retired code is never reused.
 */

/** The store's backend cannot be reached: not connected yet, connection refused or lost, or closed. */
export const GW_ERR_CACHE_UNAVAILABLE = defineError('GW_ERR_CACHE_UNAVAILABLE', 503, 'server_error', 'cache_unavailable');
/** A cache command got no reply within `commandTimeoutMs`. */
export const GW_ERR_CACHE_TIMEOUT = defineError('GW_ERR_CACHE_TIMEOUT', 504, 'server_error', 'cache_timeout');
/** The backend answered a command with an error reply (out of memory, wrong type, auth). */
export const GW_ERR_CACHE_REPLY = defineError('GW_ERR_CACHE_REPLY', 502, 'server_error', 'cache_error_reply');
/** A stored entry is not in the format this version writes (another writer, a truncated value). */
export const GW_ERR_CACHE_CORRUPT = defineError('GW_ERR_CACHE_CORRUPT', 500, 'server_error', 'cache_corrupt');
/**
 * Too many commands (or bytes) are still awaiting Redis' reply, as when Redis
 * hangs with the connection open; new ones are refused rather than buffered.
 */
export const GW_ERR_CACHE_BACKLOG = defineError('GW_ERR_CACHE_BACKLOG', 503, 'server_error', 'cache_backlog');
