import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GeneratedText, KEPT_TEXT_CHARS } from '../src/core/metering/generated-text.ts';

test('the first non-empty piece marks the first token, each later one the last; empty pieces are no tokens', () => {
  const g = new GeneratedText();
  g.token('');
  assert.deepEqual([g.firstTokenAt, g.lastTokenAt, g.text, g.textChars], [0, 0, '', 0]);
  g.token('a');
  const first = g.firstTokenAt;
  assert.ok(first > 0);
  assert.equal(g.lastTokenAt, first);
  g.token('b');
  g.token('');
  assert.equal(g.firstTokenAt, first, 'the first token stays');
  assert.ok(g.lastTokenAt >= first);
  assert.deepEqual([g.text, g.textChars], ['ab', 2]);
});

test('the text is kept up to KEPT_TEXT_CHARS, a piece across the bound cut at it; the whole length is still counted', () => {
  const g = new GeneratedText();
  g.token('x'.repeat(KEPT_TEXT_CHARS - 2));
  g.token('yyyy');
  g.token('zz');
  assert.equal(g.text.length, KEPT_TEXT_CHARS);
  assert.ok(g.text.endsWith('xyy'));
  assert.equal(g.textChars, KEPT_TEXT_CHARS + 4);
});
