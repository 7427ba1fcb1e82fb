import { defineError } from '../errors.ts';

/** Errors of the HTTP layer shared by every llmwatch server. */
export const HTTP_ERR_INVALID_JSON = defineError('HTTP_ERR_INVALID_JSON', 400, 'invalid_request_error', 'invalid_json');
export const HTTP_ERR_BODY_TOO_LARGE = defineError('HTTP_ERR_BODY_TOO_LARGE', 413, 'invalid_request_error', 'body_too_large');
export const HTTP_ERR_NOT_FOUND = defineError('HTTP_ERR_NOT_FOUND', 404, 'invalid_request_error', 'not_found');
export const HTTP_ERR_METHOD_NOT_ALLOWED = defineError('HTTP_ERR_METHOD_NOT_ALLOWED', 405, 'invalid_request_error', 'method_not_allowed');
export const HTTP_ERR_UNSUPPORTED_MEDIA_TYPE = defineError('HTTP_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'invalid_request_error', 'unsupported_media_type');
export const HTTP_ERR_UNAUTHORIZED = defineError('HTTP_ERR_UNAUTHORIZED', 401, 'invalid_request_error', 'unauthorized');
