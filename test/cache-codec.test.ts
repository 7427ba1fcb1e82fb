import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { decodeAnswer, encodeAnswer } from '../src/gateway/cache/codec.ts';
import { GW_ERR_CACHE_CORRUPT } from '../src/gateway/cache/errors.ts';
import type { CachedAnswer } from '../src/gateway/cache/types.ts';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('encode then decode gives back every field and the body byte for byte', () => {
  const answer: CachedAnswer = {
    status: 200,
    contentType: 'text/event-stream; charset=utf-8',
    body: Buffer.concat([ALL_BYTES, ALL_BYTES]),
    stream: true,
    promptTokens: 12,
    completionTokens: 345,
  };
  const value = encodeAnswer(answer);
  // Compact: the body plus a small header, not base64 or JSON-escaped.
  assert.ok(value.length < answer.body.length + 80, `${value.length} bytes`);
  const back = decodeAnswer(value);
  assert.deepEqual({ ...back, body: null }, { ...answer, body: null });
  assert.ok(back.body.equals(answer.body));
});

test('an empty body round-trips', () => {
  const answer: CachedAnswer = { status: 204, contentType: '', body: Buffer.alloc(0), stream: false, promptTokens: 0, completionTokens: 0 };
  const back = decodeAnswer(encodeAnswer(answer));
  assert.equal(back.body.length, 0);
  assert.equal(back.status, 204);
});

const good = encodeAnswer({ status: 200, contentType: 'application/json', body: Buffer.from('{}'), stream: false, promptTokens: 1, completionTokens: 2 });
const withMeta = (meta: string) => {
  const m = Buffer.from(meta);
  const header = Buffer.alloc(5);
  header.writeUInt8(1, 0);
  header.writeUInt32BE(m.length, 1);
  return Buffer.concat([header, m]);
};

const CORRUPT: Array<[string, Buffer]> = [
  ['an empty value', Buffer.alloc(0)],
  ['a plain string', Buffer.from('hello world')],
  ['another format version', Buffer.concat([Buffer.from([2]), good.subarray(1)])],
  ['a truncated header', good.subarray(0, 3)],
  ['a metadata length beyond the value', good.subarray(0, 8)],
  ['metadata that is not JSON', withMeta('{nope')],
  ['metadata of the wrong shape', withMeta('{"status":200}')],
  ['metadata with a wrong field type', withMeta('[200,"a","yes",1,2]')],
];

for (const [what, value] of CORRUPT) {
  test(`decoding ${what} throws GW_ERR_CACHE_CORRUPT`, () => {
    assert.throws(() => decodeAnswer(value), (err: unknown) => hasCode(err, GW_ERR_CACHE_CORRUPT));
  });
}
