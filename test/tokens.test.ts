import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ALWAYS_EXACT_CHARS, MAX_RUN_CHARS, TOKENIZE_BUDGET_CHARS, TokenTally, countTokens, estimatePromptTokens } from '../src/core/openai/tokens.ts';
import { createRng as rng } from '../src/simulator/rng.ts';

const { countTokens: exact } = createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: (s: string) => number };

test('ordinary text under the always-exact size counts as the tokenizer does', () => {
  const words = ['the', 'queue', 'latency', 'went', 'up,', 'roll', 'back', 'and', 'check', '(again)', 'GPU', '42'];
  const r = rng(3);
  for (let k = 0; k < 40; k++) {
    let s = '';
    while (s.length < ALWAYS_EXACT_CHARS - 20) s += (r.next() < 0.1 ? '\n' : ' ') + words[r.int(0, words.length - 1)];
    assert.equal(countTokens(s), exact(s), `text ${k}`);
  }
});

test('a run of one character is cut into bounded pieces: the count stays close, and only a bounded sample is tokenized', () => {
  // Within the sample the cut costs at most a token per MAX_RUN_CHARS characters.
  const run = 'a'.repeat(ALWAYS_EXACT_CHARS);
  assert.ok(Math.abs(countTokens(run) - exact(run)) <= ALWAYS_EXACT_CHARS / MAX_RUN_CHARS, `${countTokens(run)} vs ${exact(run)}`);
  for (const unit of ['a', ' ', '!', '中', '😀']) {
    const big = unit.repeat((4 * 1024 * 1024) / unit.length);
    const tally = new TokenTally().add(big);
    assert.ok(tally.countedChars <= TOKENIZE_BUDGET_CHARS, `${JSON.stringify(unit)}: ${tally.countedChars} characters tokenized`);
    assert.ok(tally.extrapolated);
    // Extrapolated at the sample's ratio: proportional to the length.
    const half = new TokenTally().add(big.slice(0, big.length / 2)).total;
    assert.ok(Math.abs(tally.total - 2 * half) <= 2 * ALWAYS_EXACT_CHARS, `${JSON.stringify(unit)}: ${tally.total} vs 2 x ${half}`);
  }
});

test('every kind of text terminates and counts at least one token per non-empty segment (fuzz)', () => {
  const r = rng(11);
  const alphabet = ['a', 'b', ' ', '  ', '\n', '\t', '!', '中', '😀', 'é', '\u3000', '9'];
  for (let k = 0; k < 300; k++) {
    let s = '';
    const len = r.int(0, 5000);
    while (s.length < len) s += alphabet[r.int(0, alphabet.length - 1)]!.repeat(r.next() < 0.1 ? r.int(1, 300) : 1);
    const n = countTokens(s);
    assert.ok(Number.isInteger(n) && n >= (s.length === 0 ? 0 : 1), `text ${k}: ${n}`);
  }
});

test('a prompt of many messages shares one budget; token-id arrays count exactly', () => {
  const messages = Array.from({ length: 20_000 }, () => ({ role: 'user', content: 'a'.repeat(40) }));
  const n = estimatePromptTokens('chat_completions', { messages });
  const one = countTokens('a'.repeat(40));
  assert.ok(Math.abs(n - 20_000 * one) <= 20_000 * one * 0.1, `${n} vs ${20_000 * one}`);
  assert.equal(estimatePromptTokens('completions', { prompt: [[1, 2, 3], [4]] }), 4);
});
