import { createRequire } from 'node:module';
import type { Endpoint } from './endpoints.ts';

type Counter = (text: string) => number;
let countO200k: Counter | undefined;

/**
 * Token counting with a real BPE tokenizer (OpenAI's o200k_base, via
 * gpt-tokenizer). Used only when a server reports no `usage`: the count is an
 * estimate for any model with another vocabulary, and llmwatch labels it so.
 * The vocabulary costs about 68 MiB and a quarter of a second to load.
 */
function tokenizer(): Counter {
  return (countO200k ??= loadTokenizer());
}

/**
 * Loads the vocabulary now rather than at the first estimate: loading is
 * synchronous, and took 0.3 s to 1.5 s of the event loop (issue 12). The
 * gateway calls it at start-up.
 */
export function preloadTokenizer(): void {
  tokenizer();
}

function loadTokenizer(): Counter {
  return (createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: Counter }).countTokens;
}

/**
 * BPE merges cost quadratic time in the length of one pre-token, and a run of
 * one character (or of spaces, or of punctuation) is one pre-token: 100 KB of
 * `a` took 6 s on the event loop (issue 12). Text is therefore cut inside any
 * run of non-space (or of space) characters longer than this, which leaves
 * ordinary prose untouched (its runs are words) and costs at most a token per cut.
 */
export const MAX_RUN_CHARS = 64;
/** Characters tokenized in one go, between two checks of the budget. */
const SEGMENT_CHARS = 1024;
/**
 * Per tally (a request's prompt, or its completion), at most this many
 * characters are tokenized, and for at most {@link TOKENIZE_BUDGET_MS} of
 * tokenizer time (plus one segment: random CJK runs near 2.5 µs a
 * character); the rest is counted at the tokens-per-character
 * ratio of the part tokenized. A long prompt costs one bounded sample, not a
 * stall of the event loop every other client shares.
 */
export const TOKENIZE_BUDGET_CHARS = 32 * 1024;
/** The first characters of a tally are always tokenized, so that counts of ordinary answers do not depend on the machine's speed. */
export const ALWAYS_EXACT_CHARS = 4096;
export const TOKENIZE_BUDGET_MS = 5;
/** The ratio used when nothing could be tokenized (o200k averages about 4 characters a token in English). */
const CHARS_PER_TOKEN = 4;

/**
 * The token count of one request's texts, in time bounded whatever the text:
 * exact for the first {@link TOKENIZE_BUDGET_CHARS} characters (within
 * {@link TOKENIZE_BUDGET_MS} once {@link ALWAYS_EXACT_CHARS} are done),
 * extrapolated past them.
 * @example
 * const tally = new TokenTally();
 * for (const m of messages) tally.add(m.content);
 * tally.total;
 */
export class TokenTally {
  #tokens = 0;
  #countedChars = 0;
  #skippedChars = 0;
  #exactTokens = 0;
  #budget = TOKENIZE_BUDGET_CHARS;
  #spentMs = 0;

  /** Adds a text's tokens. */
  add(text: string): this {
    let from = 0;
    while (from < text.length) {
      if (this.#budget <= 0 || (this.#spentMs > TOKENIZE_BUDGET_MS && this.#countedChars >= ALWAYS_EXACT_CHARS)) {
        this.#skippedChars += text.length - from;
        return this;
      }
      const to = segmentEnd(text, from, Math.min(text.length, from + Math.min(SEGMENT_CHARS, this.#budget)));
      const count = tokenizer();
      const t0 = performance.now();
      this.#tokens += count(text.slice(from, to));
      this.#spentMs += performance.now() - t0;
      this.#countedChars += to - from;
      this.#budget -= to - from;
      from = to;
    }
    return this;
  }

  /** Counts `chars` characters of text that was not kept, at the ratio of the text counted. */
  skip(chars: number): this {
    if (chars > 0) this.#skippedChars += chars;
    return this;
  }

  /** Adds tokens known exactly (token-id arrays). */
  addTokens(n: number): this {
    this.#exactTokens += n;
    return this;
  }

  /** Characters actually tokenized so far. */
  get countedChars(): number {
    return this.#countedChars;
  }

  /** Whether part of the text was extrapolated rather than tokenized. */
  get extrapolated(): boolean {
    return this.#skippedChars > 0;
  }

  get total(): number {
    if (this.#skippedChars === 0) return this.#tokens + this.#exactTokens;
    const perChar = this.#countedChars > 0 ? this.#tokens / this.#countedChars : 1 / CHARS_PER_TOKEN;
    return this.#tokens + this.#exactTokens + Math.round(this.#skippedChars * perChar);
  }
}

/**
 * Where a segment starting at `from` ends, at most at `limit`: cut early at
 * the first run of one character class (space or non-space) longer than
 * {@link MAX_RUN_CHARS}, so that no pre-token the tokenizer sees is longer;
 * else at `limit`, moved back to the start of the last word. Never splits a
 * surrogate pair.
 */
function segmentEnd(text: string, from: number, limit: number): number {
  let run = 0;
  let space = false;
  for (let i = from; i < limit; i++) {
    const s = isSpace(text.charCodeAt(i));
    if (s === space) run++;
    else {
      space = s;
      run = 1;
    }
    if (run > MAX_RUN_CHARS) return cutAt(text, i, from);
  }
  if (limit === text.length) return limit;
  // Cut before the space that leads the last word, where the tokenizer splits anyway.
  // Where the tokenizer splits anyway: before the space that leads the last
  // word (" word" is one pre-token), or before a word after another kind of
  // space (",\n" is one pre-token, so never between them). Never at `from`
  // itself: every segment makes progress.
  if (run < limit - from - 1) {
    if (!space) return text.charCodeAt(limit - run - 1) === 32 ? limit - run - 1 : limit - run;
    if (text.charCodeAt(limit - 1) === 32) return limit - 1;
  }
  return cutAt(text, limit, from);
}

function cutAt(text: string, i: number, from: number): number {
  const c = text.charCodeAt(i);
  // A low surrogate belongs with the high one before it.
  return c >= 0xdc00 && c <= 0xdfff && i - 1 > from ? i - 1 : i;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a);
}

/** Counts the tokens of one text, in bounded time (see {@link TokenTally}). */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  return new TokenTally().add(text).total;
}

/**
 * Estimated prompt tokens of a validated request body: the text of every
 * message (or prompt, or embedding input); token-id arrays count exactly.
 */
export function estimatePromptTokens(endpoint: Endpoint, body: Record<string, unknown>): number {
  const tally = new TokenTally();
  switch (endpoint) {
    case 'chat_completions':
      for (const m of body.messages as Array<Record<string, unknown>>) addContent(tally, m.content);
      return tally.total;
    case 'completions':
      return addTextOrTokens(tally, body.prompt).total;
    case 'embeddings':
      return addTextOrTokens(tally, body.input).total;
    default: {
      const never: never = endpoint;
      throw new Error(`unhandled endpoint ${String(never)}`);
    }
  }
}

/** The text of a chat message `content`: a string, or the text of its parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part !== null && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
      text += (part as { text: string }).text;
    }
  }
  return text;
}

/** Adds a chat message `content` without joining its parts into one string. */
function addContent(tally: TokenTally, content: unknown): void {
  if (typeof content === 'string') tally.add(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (part !== null && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') tally.add((part as { text: string }).text);
    }
  }
}

function addTextOrTokens(tally: TokenTally, v: unknown): TokenTally {
  if (typeof v === 'string') return tally.add(v);
  if (!Array.isArray(v)) return tally;
  for (const x of v) {
    if (typeof x === 'string') tally.add(x);
    else if (typeof x === 'number') tally.addTokens(1);
    else if (Array.isArray(x)) tally.addTokens(x.length);
  }
  return tally;
}
