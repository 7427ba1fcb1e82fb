import { GW_ERR_CACHE_CORRUPT } from './errors.ts';
import type { CachedAnswer } from './types.ts';

/*
 * How an answer is stored as one opaque value (a Redis string):
 *
 *   byte 0      format version (1)
 *   bytes 1..4  N, the length of the metadata, unsigned 32-bit big-endian
 *   N bytes     metadata, UTF-8 JSON: [status, contentType, stream, promptTokens, completionTokens]
 *   the rest    the body, byte for byte
 *
 * The body is not base64'd or JSON-escaped: an SSE stream of a few hundred KB
 * stays its own size, and decoding is a slice, not a copy.
 */

const FORMAT_VERSION = 1;
const HEADER_BYTES = 5;

/** Encodes an answer into one value; {@link decodeAnswer} is its inverse. */
export function encodeAnswer(answer: CachedAnswer): Buffer {
  const meta = Buffer.from(
    JSON.stringify([answer.status, answer.contentType, answer.stream, answer.promptTokens, answer.completionTokens]),
    'utf8',
  );
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt8(FORMAT_VERSION, 0);
  header.writeUInt32BE(meta.length, 1);
  return Buffer.concat([header, meta, answer.body], HEADER_BYTES + meta.length + answer.body.length);
}

/**
 * Decodes a value written by {@link encodeAnswer}. The body is a view into
 * `value`, not a copy. Throws GW_ERR_CACHE_CORRUPT for anything else, so a
 * foreign or truncated value is reported and treated as a miss.
 */
export function decodeAnswer(value: Buffer): CachedAnswer {
  if (value.length < HEADER_BYTES) throw GW_ERR_CACHE_CORRUPT(`cache value too short: ${value.length} bytes`);
  const version = value.readUInt8(0);
  if (version !== FORMAT_VERSION) throw GW_ERR_CACHE_CORRUPT(`cache value has format version ${version}, expected ${FORMAT_VERSION}`);
  const metaLength = value.readUInt32BE(1);
  if (HEADER_BYTES + metaLength > value.length) {
    throw GW_ERR_CACHE_CORRUPT(`cache value metadata length ${metaLength} exceeds the value (${value.length} bytes)`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(value.toString('utf8', HEADER_BYTES, HEADER_BYTES + metaLength));
  } catch (err) {
    throw GW_ERR_CACHE_CORRUPT('cache value metadata is not JSON', { cause: err });
  }
  if (!Array.isArray(meta) || meta.length !== 5) throw GW_ERR_CACHE_CORRUPT('cache value metadata is not a 5-element array');
  const [status, contentType, stream, promptTokens, completionTokens] = meta as unknown[];
  if (
    !Number.isInteger(status) ||
    typeof contentType !== 'string' ||
    typeof stream !== 'boolean' ||
    !Number.isInteger(promptTokens) ||
    !Number.isInteger(completionTokens)
  ) {
    throw GW_ERR_CACHE_CORRUPT('cache value metadata has fields of the wrong type');
  }
  return {
    status: status as number,
    contentType,
    body: value.subarray(HEADER_BYTES + metaLength),
    stream,
    promptTokens: promptTokens as number,
    completionTokens: completionTokens as number,
  };
}
