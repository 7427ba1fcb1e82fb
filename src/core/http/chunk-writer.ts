import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Writes the body of a response whose headers are out, piece by piece, and
 * says when to wait for `drain` (on `drainer`).
 */
export interface ChunkWriter {
  /** Writes `buf` (not empty); false when the caller should wait for `drain` on {@link drainer}. */
  readonly write: (buf: Buffer) => boolean;
  readonly drainer: NodeJS.EventEmitter;
}

/**
 * What of Node's ServerResponse this module reads: whether the header went out
 * (`headersSent` is true as soon as `writeHead` stored it), and bytes buffered
 * before a socket was assigned.
 */
interface OutgoingInternals {
  readonly _headerSent?: boolean;
  readonly outputData?: readonly unknown[];
}

/**
 * A writer for a streamed (chunked) response: each piece goes to the socket
 * as one HTTP chunk in one buffer, so one `write` system call and one
 * Writable write. `res.write` makes four socket writes of each piece (the
 * length, CRLF, the piece, CRLF), corked and flushed as a `writev` on the next
 * tick, and at about 9,000 SSE events a second that framing was a fifth of the
 * gateway's CPU (docs/gateway.md#performance). The bytes on the wire are the
 * same. Only once the headers are out, framed as chunked, on a socket that
 * holds nothing of this response yet; otherwise (an HTTP/1.0 client, a
 * pipelined response still waiting for its turn) `res.write` as usual.
 * `res.end()` still ends the response (the last chunk, keep-alive, `finish`).
 */
export function chunkWriter(res: ServerResponse): ChunkWriter {
  const socket: Socket | null = res.socket;
  const internals = res as unknown as OutgoingInternals;
  const pending = internals.outputData;
  if (internals._headerSent !== true || !res.chunkedEncoding || socket === null || socket.destroyed || pending === undefined || pending.length > 0) {
    return { write: (buf) => res.write(buf), drainer: res };
  }
  return { write: (buf) => socket.write(frame(buf)), drainer: socket };
}

/** `buf` as one HTTP/1.1 chunk: its length in hex, CRLF, the bytes, CRLF (RFC 9112, section 7.1). */
function frame(buf: Buffer): Buffer {
  const len = buf.length;
  let digits = 1;
  while (len >= 16 ** digits) digits++;
  const out = Buffer.allocUnsafe(digits + 4 + len);
  // The hex digits by hand: a string write is a call into C++ per event.
  for (let i = digits - 1, n = len; i >= 0; i--, n = Math.floor(n / 16)) out[i] = HEX[n % 16]!;
  let at = digits;
  out[at++] = 13;
  out[at++] = 10;
  at += buf.copy(out, at);
  out[at++] = 13;
  out[at] = 10;
  return out;
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');
