import { defineError } from '../core/errors.ts';

/** An injected server error (profile `errors.http500`); the body matches OpenAI's own 500. */
export const SIM_ERR_INJECTED_500 = defineError('SIM_ERR_INJECTED_500', 500, 'server_error', 'server_error');
/** An injected rate limit (profile `errors.http429`), with `Retry-After`; type and code as OpenAI sends them. */
export const SIM_ERR_INJECTED_429 = defineError('SIM_ERR_INJECTED_429', 429, 'requests', 'rate_limit_exceeded');
/**
 * A prompt that, with the `max_tokens` asked, does not fit the model's context (`engine.maxModelLen`):
 * refused before the engine sees it, as vLLM's OpenAI server does, in its words. Also the injected
 * client error (profile `errors.http400`), whose message ends "(simulated fault)".
 */
export const SIM_ERR_CONTEXT_LENGTH = defineError('SIM_ERR_CONTEXT_LENGTH', 400, 'invalid_request_error', 'context_length_exceeded');
/** An admin profile change that breaks the profile schema; `param` names the field. */
export const SIM_ERR_INVALID_PROFILE = defineError('SIM_ERR_INVALID_PROFILE', 400, 'invalid_request_error', 'invalid_profile');
