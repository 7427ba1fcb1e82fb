import type { ServerResponse } from 'node:http';
import { ERR_INTERNAL, LlmwatchError } from '../errors.ts';
import { redactSecrets } from './redact.ts';
import type { Logger } from 'pino';
import { logger } from '../log.ts';

/** Writes a JSON response with an exact Content-Length. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/** The OpenAI error body, so existing SDKs surface the error properly. */
export function openAIErrorBody(err: LlmwatchError): { error: { message: string; type: string; param: string | null; code: string } } {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.publicCode } };
}

/**
 * Sends any error in the OpenAI shape. Unknown errors become a 500 whose
 * message does not leak internals.
 */
export function sendError(res: ServerResponse, err: unknown, log: Logger = logger('http')): void {
  const e = err instanceof LlmwatchError ? err : internalError(err, log);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.status, openAIErrorBody(e), { 'x-llmwatch-error': e.code, ...retryAfter(e.status), ...e.headers });
}

/**
 * Every 429 and 503 llmwatch sends says when to come back (an error may set
 * its own): the `openai` SDKs honour `Retry-After` instead of guessing.
 * https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
export function retryAfter(status: number): Record<string, string> | undefined {
  return status === 429 || status === 503 ? { 'retry-after': '1' } : undefined;
}

/**
 * An unknown error is a bug: the client gets `ERR_INTERNAL`, the operator the
 * stack, one JSON line on stderr (never the request: it may hold secrets).
 */
function internalError(cause: unknown, log: Logger): LlmwatchError {
  const err = cause instanceof Error ? cause : new Error(String(cause));
  log.error({ code: ERR_INTERNAL.code, err: { message: redactSecrets(err.message), stack: redactSecrets(err.stack ?? '') } }, 'unexpected error while answering a request');
  return ERR_INTERNAL('Internal error', { cause });
}
