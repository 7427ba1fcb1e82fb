import { defineError } from '../core/errors.ts';

/** The console's error registry. */

/** Prometheus, Alertmanager or the responder did not answer (refused, timed out, not JSON). */
export const CONSOLE_ERR_UPSTREAM = defineError('CONSOLE_ERR_UPSTREAM', 502, 'server_error', 'upstream_unreachable');
/** A query parameter is missing or out of bounds. */
export const CONSOLE_ERR_BAD_PARAM = defineError('CONSOLE_ERR_BAD_PARAM', 400, 'invalid_request_error', 'bad_param');
/** An endpoint whose peer was not configured (no Alertmanager or responder URL). */
export const CONSOLE_ERR_NOT_CONFIGURED = defineError('CONSOLE_ERR_NOT_CONFIGURED', 404, 'invalid_request_error', 'not_configured');
/** `llmwatch console` has no Prometheus URL: no stack.json and no --prometheus. */
export const CONSOLE_ERR_NO_PROMETHEUS = defineError('CONSOLE_ERR_NO_PROMETHEUS', 500, 'server_error', 'no_prometheus');
