import { defineError } from '../core/errors.ts';

/* The gateway's error registry. Codes are stable; a retired one is never reused. */

/** Every upstream slot is busy and the queue is full. */
export const GW_ERR_QUEUE_FULL = defineError('GW_ERR_QUEUE_FULL', 429, 'rate_limit_error', 'queue_full');
/** A request waited longer than `queueTimeoutMs` for an upstream slot. */
export const GW_ERR_QUEUE_TIMEOUT = defineError('GW_ERR_QUEUE_TIMEOUT', 503, 'server_error', 'queue_timeout');
/** The upstream refused the connection (not running, wrong port). */
export const GW_ERR_UPSTREAM_REFUSED = defineError('GW_ERR_UPSTREAM_REFUSED', 502, 'server_error', 'upstream_unavailable');
/** Connecting, waiting for headers, or waiting for the next chunk took too long. */
export const GW_ERR_UPSTREAM_TIMEOUT = defineError('GW_ERR_UPSTREAM_TIMEOUT', 504, 'server_error', 'upstream_timeout');
/** The connection to the upstream broke, or a stream ended before `[DONE]`. */
export const GW_ERR_UPSTREAM_RESET = defineError('GW_ERR_UPSTREAM_RESET', 502, 'server_error', 'upstream_reset');
/** The upstream answered something that is not the OpenAI protocol. */
export const GW_ERR_UPSTREAM_MALFORMED = defineError('GW_ERR_UPSTREAM_MALFORMED', 502, 'server_error', 'upstream_malformed_response');
/** The upstream answered with an HTTP error that was not in the OpenAI shape; status passed through. */
export const GW_ERR_UPSTREAM_HTTP = defineError('GW_ERR_UPSTREAM_HTTP', 502, 'server_error', 'upstream_error');
/** The upstream sent an error event inside a stream. */
export const GW_ERR_UPSTREAM_STREAM = defineError('GW_ERR_UPSTREAM_STREAM', 502, 'server_error', 'upstream_stream_error');
/** A model's answer was withheld by its `block` safety policy (as Azure OpenAI's content filter answers). */
export const GW_ERR_CONTENT_BLOCKED = defineError('GW_ERR_CONTENT_BLOCKED', 400, 'invalid_request_error', 'content_filter');
/** `stream: true` to a model whose config says `streaming: false` (its safety policy must see whole answers). */
export const GW_ERR_STREAMING_DISABLED = defineError('GW_ERR_STREAMING_DISABLED', 400, 'invalid_request_error', 'streaming_not_supported');
/** No or an unknown client API key. */
export const GW_ERR_INVALID_API_KEY = defineError('GW_ERR_INVALID_API_KEY', 401, 'invalid_request_error', 'invalid_api_key');
/** An admin request names no such model or target. */
export const GW_ERR_ADMIN_BAD_TARGET = defineError('GW_ERR_ADMIN_BAD_TARGET', 400, 'invalid_request_error', 'invalid_target');
/** A route switch through the admin API of a gateway run with `--workers` and local routes (`routes.store: local`): each worker routes on its own, so one cannot switch them all. */
export const GW_ERR_ADMIN_WORKERS = defineError('GW_ERR_ADMIN_WORKERS', 409, 'invalid_request_error', 'route_switch_unsupported');
/** An admin request to add or remove an upstream endpoint gives no usable `url` (an http:// or https:// base URL, without credentials). */
export const GW_ERR_ADMIN_BAD_ENDPOINT = defineError('GW_ERR_ADMIN_BAD_ENDPOINT', 400, 'invalid_request_error', 'invalid_endpoint');
/** An endpoint change the upstream's bounds forbid: one more than `maxEndpoints`, or removing its last endpoint. */
export const GW_ERR_ADMIN_ENDPOINT_LIMIT = defineError('GW_ERR_ADMIN_ENDPOINT_LIMIT', 409, 'invalid_request_error', 'endpoint_limit');
/**
 * A route switch while the shared route store (`routes.store: redis`) does not answer: applied on
 * this replica alone it would hold on one replica of several, so it is refused; retry, or fix Redis.
 */
export const GW_ERR_ROUTE_STORE_UNAVAILABLE = defineError('GW_ERR_ROUTE_STORE_UNAVAILABLE', 503, 'server_error', 'route_store_unavailable');
