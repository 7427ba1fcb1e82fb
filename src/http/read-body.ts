import type { IncomingMessage } from 'node:http';
import { HTTP_ERR_BODY_TOO_LARGE, HTTP_ERR_INVALID_JSON } from './errors.ts';

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the
 * limit is refused before any byte is read; a chunked body is refused as soon
 * as it crosses the limit, so an oversized upload never sits in memory.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
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
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
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
    throw HTTP_ERR_INVALID_JSON(`Request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw HTTP_ERR_INVALID_JSON('Request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
