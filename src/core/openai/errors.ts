import { defineError } from '../errors.ts';

/** A request that is valid JSON but not a valid OpenAI request. */
export const OAI_ERR_INVALID_PARAM = defineError('OAI_ERR_INVALID_PARAM', 400, 'invalid_request_error', 'invalid_value');
/** The request names a model this server does not serve (the gateway's config, the simulator's profiles); `param` is `model`. */
export const OAI_ERR_UNKNOWN_MODEL = defineError('OAI_ERR_UNKNOWN_MODEL', 404, 'invalid_request_error', 'model_not_found');
/** A required field is missing. */
export const OAI_ERR_MISSING_PARAM = defineError('OAI_ERR_MISSING_PARAM', 400, 'invalid_request_error', 'missing_required_parameter');
