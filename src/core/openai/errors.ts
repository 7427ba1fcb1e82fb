import { defineError } from '../errors.ts';

/** A request that is valid JSON but not a valid OpenAI request. */
export const OAI_ERR_INVALID_PARAM = defineError('OAI_ERR_INVALID_PARAM', 400, 'invalid_request_error', 'invalid_value');
/** A required field is missing. */
export const OAI_ERR_MISSING_PARAM = defineError('OAI_ERR_MISSING_PARAM', 400, 'invalid_request_error', 'missing_required_parameter');
