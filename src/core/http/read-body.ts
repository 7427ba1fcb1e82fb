import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import { HTTP_ERR_BAD_ENCODING, HTTP_ERR_BODY_TOO_LARGE, HTTP_ERR_INVALID_JSON, HTTP_ERR_REQUEST_TIMEOUT, HTTP_ERR_UNSUPPORTED_MEDIA_TYPE } from './errors.ts';

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the
 * limit is refused before any byte is read; a chunked body is refused as soon
 * as it crosses the limit, so an oversized upload never sits in memory. With
 * `timeoutMs`, a body still arriving after that long is refused with a 408:
 * a client trickling its body cannot hold a connection and a buffer for long.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs = 0): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            cleanup();
            reject(HTTP_ERR_REQUEST_TIMEOUT(`The request body did not arrive within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/**
 * The body as sent, decoded per its `Content-Encoding`: gzip and deflate are
 * decompressed (off the event loop) up to `limit` bytes of output, so a small
 * bomb cannot grow past the body limit; any other encoding is a 415.
 */
export async function decodeBody(raw: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  const enc = encoding?.trim().toLowerCase();
  if (enc === undefined || enc === '' || enc === 'identity') return raw;
  const decode = enc === 'gzip' || enc === 'x-gzip' ? gunzipAsync : enc === 'deflate' ? inflateAsync : undefined;
  if (decode === undefined) {
    throw HTTP_ERR_UNSUPPORTED_MEDIA_TYPE(`Unsupported Content-Encoding '${enc.slice(0, 40)}': send identity, gzip or deflate`);
  }
  try {
    return await decode(raw, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw HTTP_ERR_BODY_TOO_LARGE(`The decompressed request body exceeds the limit of ${limit} bytes`);
    throw HTTP_ERR_BAD_ENCODING(`The request body is not valid ${enc} data`, { cause: err });
  }
}

/** Refuses a body that does not say it is JSON (a cross-site form posts `text/plain` or a form type). */
export function requireJsonContentType(header: string | undefined): void {
  const type = header?.split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/json') return;
  const shown = header === undefined ? 'none' : `'${header.slice(0, 60)}'`;
  throw HTTP_ERR_UNSUPPORTED_MEDIA_TYPE(`Content-Type must be application/json (got ${shown})`);
}

function tooLarge(limit: number) {
  return HTTP_ERR_BODY_TOO_LARGE(`Request body exceeds the limit of ${limit} bytes`);
}

/** Parses a JSON body that must be an object; anything else is a 400. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    // V8's message quotes the input: keep it printable and short (a gzip body is binary).
    const why = (err as Error).message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    throw HTTP_ERR_INVALID_JSON(`Request body is not valid JSON: ${why}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw HTTP_ERR_INVALID_JSON('Request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
