import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LlmwatchError } from '../errors.ts';
import { HTTP_ERR_BAD_REQUEST, HTTP_ERR_HEADERS_TOO_LARGE, HTTP_ERR_METHOD_NOT_ALLOWED, HTTP_ERR_REQUEST_TIMEOUT } from './errors.ts';
import { openAIErrorBody } from './send.ts';

/** Why a connection was answered before any request handler saw it. */
export type ClientErrorKind = 'request_timeout' | 'bad_http' | 'method_not_allowed';

/**
 * What an HTTP parser or timeout error means for the client: Node answers
 * these itself with a bare status line (`408`, `400`) and no body; llmwatch
 * answers them in the OpenAI error shape, like every other error.
 * https://nodejs.org/api/http.html#event-clienterror
 */
export function clientErrorOf(err: Error & { code?: string }, allow: string): { error: LlmwatchError; kind: ClientErrorKind; headers: Record<string, string> } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { error: HTTP_ERR_REQUEST_TIMEOUT('The request headers or body arrived too slowly (server.headersTimeoutMs / server.bodyTimeoutMs)'), kind: 'request_timeout', headers: {} };
    case 'HPE_HEADER_OVERFLOW':
      return { error: HTTP_ERR_HEADERS_TOO_LARGE('The request headers are too large'), kind: 'bad_http', headers: {} };
    case 'HPE_INVALID_METHOD':
      return { error: HTTP_ERR_METHOD_NOT_ALLOWED(`Unknown HTTP method; use ${allow}`), kind: 'method_not_allowed', headers: { allow } };
    default:
      return { error: HTTP_ERR_BAD_REQUEST(`Malformed HTTP request (${err.code ?? 'parse error'})`), kind: 'bad_http', headers: {} };
  }
}

/**
 * Answers a client error on the raw socket, when a response is still
 * possible, then closes it.
 */
export function answerClientError(socket: Duplex, error: LlmwatchError, headers: Record<string, string>): void {
  if (!socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(openAIErrorBody(error));
  let head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nx-llmwatch-error: ${error.code}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${body}`);
  // A client that never reads its answer must not hold the socket.
  setTimeout(() => socket.destroy(), 1000).unref();
}
