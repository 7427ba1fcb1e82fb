import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FULL_PARSE_BYTES, readAnswer } from '../src/core/metering/answer-usage.ts';

const big = (usage: string, tail = '') =>
  Buffer.from(`{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"${'a'.repeat(FULL_PARSE_BYTES)} \\"usage\\": {}"}}]${usage}${tail}}\n`);

test('a small answer is parsed whole: usage and the object', () => {
  const r = readAnswer(Buffer.from('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}'));
  assert.deepEqual(r?.usage, { prompt: 3, completion: 4 });
  assert.ok(r?.parsed !== undefined);
  assert.equal(readAnswer(Buffer.from('[1]')), undefined);
  assert.equal(readAnswer(Buffer.from('not json')), undefined);
});

test("a large answer's usage is read from its tail, without parsing the whole", () => {
  const r = readAnswer(big(',"usage":{"prompt_tokens":12,"completion_tokens":65536,"total_tokens":65548}'));
  assert.deepEqual(r, { parsed: undefined, usage: { prompt: 12, completion: 65536 } });
  // A member after usage is fine too.
  const r2 = readAnswer(big(',"usage": {"prompt_tokens":1,"completion_tokens":2} ', ',"system_fingerprint":"fp"'));
  assert.deepEqual(r2?.usage, { prompt: 1, completion: 2 });
});

test('a large answer without usage in its tail is parsed whole (its text is needed for the estimate)', () => {
  const r = readAnswer(big(''));
  assert.equal(r?.usage, undefined);
  assert.ok(r?.parsed !== undefined);
  // The quoted word inside the content is not taken for the key.
  assert.equal(readAnswer(Buffer.from(`{"x":"${'b'.repeat(FULL_PARSE_BYTES)}`)), undefined);
});
