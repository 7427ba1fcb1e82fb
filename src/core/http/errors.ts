import { defineError } from '../errors.ts';

/* Errors of the HTTP layer shared by every llmwatch server. */

/** A request body that is not JSON, or not a JSON object. */
export const HTTP_ERR_INVALID_JSON = defineError('HTTP_ERR_INVALID_JSON', 400, 'invalid_request_error', 'invalid_json');
/** A request body larger than the server's limit (after decompression). */
export const HTTP_ERR_BODY_TOO_LARGE = defineError('HTTP_ERR_BODY_TOO_LARGE', 413, 'invalid_request_error', 'body_too_large');
/** No such path; the message lists the paths the server has. */
export const HTTP_ERR_NOT_FOUND = defineError('HTTP_ERR_NOT_FOUND', 404, 'invalid_request_error', 'not_found');
/** The path exists, the method does not; `Allow` lists the ones that do. */
export const HTTP_ERR_METHOD_NOT_ALLOWED = defineError('HTTP_ERR_METHOD_NOT_ALLOWED', 405, 'invalid_request_error', 'method_not_allowed');
/** A body not declared `application/json`, or in an encoding other than identity, gzip or deflate (a browser form cannot send JSON without CORS). */
export const HTTP_ERR_UNSUPPORTED_MEDIA_TYPE = defineError('HTTP_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'invalid_request_error', 'unsupported_media_type');
/** No credentials where a server needs them (the gateway's admin API, the responder's webhook and admin API). */
export const HTTP_ERR_UNAUTHORIZED = defineError('HTTP_ERR_UNAUTHORIZED', 401, 'invalid_request_error', 'unauthorized');
/** Credentials given, but wrong. */
export const HTTP_ERR_FORBIDDEN = defineError('HTTP_ERR_FORBIDDEN', 403, 'invalid_request_error', 'forbidden');
/** An admin API (the gateway's `/admin/*`, the responder's `/admin/*`; the simulator's writes off loopback) called on a server with no admin token configured: it is off. */
export const HTTP_ERR_ADMIN_DISABLED = defineError('HTTP_ERR_ADMIN_DISABLED', 403, 'invalid_request_error', 'admin_disabled');
/** The client sent its request (headers or body) too slowly. */
export const HTTP_ERR_REQUEST_TIMEOUT = defineError('HTTP_ERR_REQUEST_TIMEOUT', 408, 'invalid_request_error', 'request_timeout');
/** The request's headers are larger than the server accepts. */
export const HTTP_ERR_HEADERS_TOO_LARGE = defineError('HTTP_ERR_HEADERS_TOO_LARGE', 431, 'invalid_request_error', 'headers_too_large');
/** Not HTTP/1.1 the parser can read (bad request line, bad header, bad chunking). */
export const HTTP_ERR_BAD_REQUEST = defineError('HTTP_ERR_BAD_REQUEST', 400, 'invalid_request_error', 'bad_request');
/** A compressed body that does not decompress. */
export const HTTP_ERR_BAD_ENCODING = defineError('HTTP_ERR_BAD_ENCODING', 400, 'invalid_request_error', 'invalid_content_encoding');
