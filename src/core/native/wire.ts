import type { ServerResponse } from 'node:http';
import { LlmwatchError } from '../errors.ts';
import { openAIErrorBody, retryAfter, sendError, sendJson } from '../http/send.ts';
import type { NativeApi } from './endpoints.ts';

/**
 * How each native API says an error, so that its own clients surface it:
 * - Ollama: `{"error": "message"}` (ollama-js throws `ResponseError(error)`), and mid-stream a line of the same object;
 * - TGI: `{"error": "message", "error_type": "..."}` (router/src/lib.rs `ErrorResponse`), mid-stream a `data:` event of it;
 * - Responses (under /v1): OpenAI's shape, mid-stream an `error` event (`{"type": "error", "code", "message", "param"}`).
 */
export interface NativeWire {
  /** Sends an error before any byte of the answer went out. */
  sendError(res: ServerResponse, err: unknown): void;
  /** The last frame of a stream that failed after its 200. */
  streamError(err: LlmwatchError): string;
}

function sendShaped(res: ServerResponse, err: unknown, shape: (e: LlmwatchError) => unknown): void {
  if (!(err instanceof LlmwatchError)) return sendError(res, err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, shape(err), { 'x-llmwatch-error': err.code, ...retryAfter(err.status), ...err.headers });
}

/** TGI's `error_type` for a status: its router's own values (validation, overloaded, generation). */
function tgiErrorType(status: number): string {
  if (status === 429) return 'overloaded';
  if (status >= 500) return 'generation';
  return 'validation';
}

const ollama: NativeWire = {
  sendError: (res, err) => sendShaped(res, err, (e) => ({ error: e.message })),
  streamError: (e) => `${JSON.stringify({ error: e.message })}\n`,
};

const tgi: NativeWire = {
  sendError: (res, err) => sendShaped(res, err, (e) => ({ error: e.message, error_type: tgiErrorType(e.status) })),
  streamError: (e) => `data:${JSON.stringify({ error: e.message, error_type: tgiErrorType(e.status) })}\n\n`,
};

const responses: NativeWire = {
  sendError: (res, err) => sendError(res, err),
  streamError: (e) => {
    const { message, code, param } = openAIErrorBody(e).error;
    return `event: error\ndata: ${JSON.stringify({ type: 'error', code, message, param })}\n\n`;
  },
};

export const NATIVE_WIRES: Readonly<Record<NativeApi, NativeWire>> = { ollama, tgi, responses };

/** An upstream's error body is passed as it is when it is already an error in some API's shape (`error` at the top). */
export function isErrorBody(buf: Buffer): boolean {
  try {
    const v = JSON.parse(buf.toString('utf8')) as { error?: unknown };
    return v !== null && typeof v === 'object' && v.error !== undefined && v.error !== null;
  } catch {
    return false;
  }
}

