import { createHash } from 'node:crypto';
import type { InferenceRequest } from '../../core/openai/validate.ts';

/**
 * The request header a client sends to steer the cache: `force` caches an
 * answer that would not be cached by default, `bypass` neither reads nor writes.
 */
export const CACHE_HEADER = 'x-llmwatch-cache';

/** Whether one request may be answered from (and stored into) the cache. */
export type Cacheability = 'cacheable' | 'bypass';

/**
 * Top-level body fields that do not change the answer's bytes, dropped from
 * the key so that two requests of one tenant asking the same thing share an
 * entry. `stream_options` is dropped as a whole, but its `include_usage` is
 * mixed in separately (see {@link cacheKey}) because it adds a chunk to a
 * stream. `user` and `service_tier` stay in the key: a server may answer
 * per user (moderation, personalisation) or per tier (another model).
 */
const IGNORED_FIELDS: ReadonlySet<string> = new Set(['stream_options', 'metadata', 'store']);

/**
 * Bumped whenever the key derivation changes, so that entries written by an
 * older gateway (in a shared Redis) are never read as answers to a new key.
 */
const KEY_VERSION = 'llmwatch-cache-key-v2';

/**
 * The cache key of a request: the SHA-256 hex of a canonical JSON (keys sorted
 * at every depth, answer-neutral fields removed) of the body, mixed with the
 * endpoint, the upstream `target` that answers and the `tenant` who asks. The
 * body's `model` is the public name, so `target` is what makes a route switch
 * (or a failover) to a fallback change the key; `tenant` is what keeps one
 * client's answers from another (see {@link tenantOf}).
 * @example
 * const key = cacheKey(request, target.id, tenantOf(keyName, req.headers.authorization));
 */
export function cacheKey(request: InferenceRequest, target: string, tenant: string): string {
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.body)) {
    if (!IGNORED_FIELDS.has(name)) body[name] = value;
  }
  // The validated model and stream flag, not whatever spelling the body had
  // (`stream: null` and no `stream` are the same request).
  body.model = request.model;
  body.stream = request.stream;
  // `include_usage` only changes the bytes of a stream (one extra usage
  // chunk); for a JSON answer it is ignored upstream, so it must not split entries.
  const includeUsage = request.stream && request.includeUsage;
  return createHash('sha256')
    .update(canonicalJson([KEY_VERSION, tenant, request.endpoint, target, includeUsage, body]))
    .digest('hex');
}

/**
 * Who a cached answer belongs to. With client keys configured, the key's
 * name; without, the client's own `Authorization` is what the upstream sees,
 * so a SHA-256 digest of it (never the header itself, which could sit in a
 * shared Redis); no header at all is the tenant `anonymous`.
 */
export function tenantOf(keyName: string | undefined, authorization: string | undefined): string {
  if (keyName !== undefined) return `key:${keyName}`;
  if (authorization === undefined || authorization === '') return 'anonymous';
  return `auth:${createHash('sha256').update(authorization).digest('hex')}`;
}

/**
 * Decides whether a request goes through the cache. Only deterministic
 * answers are worth replaying: `temperature: 0` with at most one choice, and
 * embeddings always. The client's `x-llmwatch-cache` header overrides that:
 * `bypass` always wins, `force` caches a sampled answer on purpose (a demo, a
 * test suite). Any other header value is ignored, not an error.
 */
export function isCacheable(request: InferenceRequest, headerValue: string | undefined): Cacheability {
  const steer = headerValue?.trim().toLowerCase();
  if (steer === 'bypass') return 'bypass';
  if (steer === 'force') return 'cacheable';
  if (request.endpoint === 'embeddings') return 'cacheable';
  if (request.temperature !== 0) return 'bypass';
  // `n` is not validated upstream; anything but a count above 1 asks for one choice.
  const n = request.body.n;
  if (typeof n === 'number' && n > 1) return 'bypass';
  return 'cacheable';
}

/**
 * JSON with object keys sorted at every depth, so that two bodies that
 * differ only in key order hash the same. Arrays keep their order (message
 * order is meaning). `undefined` members are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const name of Object.keys(record).sort()) {
    const member = record[name];
    if (member === undefined) continue;
    parts.push(`${JSON.stringify(name)}:${canonicalJson(member)}`);
  }
  return `{${parts.join(',')}}`;
}
