import { createRequire } from 'node:module';
import type { Endpoint } from './endpoints.ts';

type Counter = (text: string) => number;
let countO200k: Counter | undefined;

/**
 * Token counting with a real BPE tokenizer (OpenAI's o200k_base, via
 * gpt-tokenizer). Used only when a server reports no `usage`: the count is an
 * estimate for any model with another vocabulary, and llmwatch labels it so.
 * The vocabulary costs about 68 MiB and a quarter of a second to load, so it
 * is loaded the first time it is needed: a gateway whose servers always
 * report usage (vLLM, TGI) never pays for it.
 */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  countO200k ??= (createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: Counter }).countTokens;
  return countO200k(text);
}

/**
 * Estimated prompt tokens of a validated request body: the text of every
 * message (or prompt, or embedding input); token-id arrays count exactly.
 */
export function estimatePromptTokens(endpoint: Endpoint, body: Record<string, unknown>): number {
  switch (endpoint) {
    case 'chat_completions': {
      let n = 0;
      for (const m of body.messages as Array<Record<string, unknown>>) n += countTokens(contentText(m.content));
      return n;
    }
    case 'completions':
      return countTextOrTokens(body.prompt);
    case 'embeddings':
      return countTextOrTokens(body.input);
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

function countTextOrTokens(v: unknown): number {
  if (typeof v === 'string') return countTokens(v);
  if (!Array.isArray(v)) return 0;
  let n = 0;
  for (const x of v) {
    if (typeof x === 'string') n += countTokens(x);
    else if (typeof x === 'number') n += 1;
    else if (Array.isArray(x)) n += x.length;
  }
  return n;
}
