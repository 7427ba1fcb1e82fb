import type { Rng } from './rng.ts';

/**
 * Filler vocabulary. Each entry, with its leading space, is exactly one
 * o200k_base token, so an output of n words is n tokens and a client counting
 * with a real tokenizer gets the same number as `usage.completion_tokens`.
 * (test/simulator.test.ts checks every word.)
 */
export const VOCABULARY: readonly string[] = Object.freeze(
  (
    'the model server token request response latency stream system metric alert value time first output input ' +
    'quality data result answer question simple small large fast slow good clear better each every this that with ' +
    'from into over under about after before while when where which there here very more most some many much other ' +
    'same new old last next high low long short open close start end part point state level rate test check user ' +
    'team cloud node memory network queue batch cache window prompt reply text word line page note plan step goal ' +
    'task work help learn build run serve load scale watch trace graph chart report signal error status event ' +
    'change update review health'
  ).split(' '),
);

/**
 * The abusive words a toxic output is salted with, each one o200k token with a
 * leading space (which is why 'moron' is not here: it takes two). A lexical
 * safety scorer that knows these words flags every toxic output.
 */
export const TOXIC_LEXICON: readonly string[] = Object.freeze([
  'idiot',
  'stupid',
  'hate',
  'kill',
  'damn',
  'dumb',
  'fool',
  'loser',
  'pathetic',
  'worthless',
]);

/**
 * A refusal, as a model that declines words it, as o200k splits it, one token per entry (test/simulator-behaviour.test.ts
 * checks), so `usage.completion_tokens` stays exact. The gateway's refusal detector flags it.
 */
export const REFUSAL_TOKENS: readonly string[] = Object.freeze([" I'm", ' sorry', ',', ' but', ' I', " can't", ' help', ' with', ' that', '.']);

/**
 * `count` output tokens (words with a leading space). A toxic output has every
 * other word from {@link TOXIC_LEXICON}, so even a short one carries several.
 */
export function generateTokens(rng: Rng, count: number, toxic: boolean): string[] {
  const tokens = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const words = toxic && i % 2 === 0 ? TOXIC_LEXICON : VOCABULARY;
    tokens[i] = ' ' + words[rng.int(0, words.length - 1)]!;
  }
  return tokens;
}
