import { defineError } from '../core/errors.ts';

/** The local stack's error registry. */

/** Components are missing and cannot be installed here; the message says what to install. */
export const STACK_ERR_MISSING = defineError('STACK_ERR_MISSING', 500, 'server_error', 'missing_components');
/** `llmwatch drill` found no running stack (no stack.json). */
export const STACK_ERR_NO_STACK = defineError('STACK_ERR_NO_STACK', 500, 'server_error', 'no_stack');
/** `llmwatch drill` was given a scenario that does not exist. */
export const STACK_ERR_UNKNOWN_SCENARIO = defineError('STACK_ERR_UNKNOWN_SCENARIO', 400, 'invalid_request_error', 'unknown_scenario');
/** A part of the stack did not become ready. */
export const STACK_ERR_NOT_READY = defineError('STACK_ERR_NOT_READY', 500, 'server_error', 'not_ready');
/** `llmwatch up --upstream` cannot use the upstream: unreachable, not an OpenAI API at that base URL, or no models. */
export const STACK_ERR_UPSTREAM = defineError('STACK_ERR_UPSTREAM', 502, 'server_error', 'upstream_unusable');
/** `llmwatch noise` was given flags that do not fit together (a range that ends before it starts, a step longer than it). */
export const STACK_ERR_NOISE_ARGS = defineError('STACK_ERR_NOISE_ARGS', 400, 'invalid_request_error', 'noise_bad_arguments');
/** `llmwatch noise` cannot read one of its inputs: Prometheus, the Alertmanager config or the responder's audit database. */
export const STACK_ERR_NOISE_INPUT = defineError('STACK_ERR_NOISE_INPUT', 500, 'server_error', 'noise_input_unreadable');
