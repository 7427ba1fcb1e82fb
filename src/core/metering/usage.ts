import type { TokenSource } from '../conventions/metrics.ts';
import { estimatePromptTokens, TokenTally } from '../openai/tokens.ts';
import type { InferenceRequest } from '../openai/validate.ts';

/** Token counts of one request and where they came from. */
export interface TokenCount {
  readonly prompt: number;
  readonly completion: number;
  readonly source: TokenSource;
  /** Where the prompt count came from, when not from `source` (a native API that reports only the completion). */
  readonly promptSource?: TokenSource;
}

/** The `usage` a server reported in a response or final stream chunk, if any. */
export function reportedUsage(obj: Record<string, unknown>): { prompt: number; completion: number } | undefined {
  const u = obj.usage;
  if (u === null || typeof u !== 'object') return undefined;
  const { prompt_tokens: p, completion_tokens: c } = u as Record<string, unknown>;
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) return undefined;
  // Embeddings report no completion_tokens: zero is the truth there.
  const completion = typeof c === 'number' && Number.isFinite(c) && c >= 0 ? c : 0;
  return { prompt: p, completion };
}

/**
 * The generated text of a non-streaming answer (`part` = `message`) or of one
 * stream chunk (`part` = `delta`): content, reasoning and tool-call arguments
 * for chat, `text` for completions. All are output tokens.
 */
export function generatedText(obj: Record<string, unknown>, part: 'message' | 'delta'): string {
  const choices = obj.choices;
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices) {
    if (c === null || typeof c !== 'object') continue;
    const choice = c as Record<string, unknown>;
    if (typeof choice.text === 'string') text += choice.text;
    const m = choice[part];
    if (m !== null && typeof m === 'object') text += messageText(m as Record<string, unknown>);
  }
  return text;
}

/**
 * The tokens of one request: as the server reported them, or else estimated
 * with the tokenizer from the request and the text generated, in bounded time
 * (see {@link TokenTally}). `completionChars` is the whole completion's
 * length when only its start was kept in `completionText`.
 */
export function tokenCount(
  reported: { prompt: number; completion: number } | undefined,
  request: InferenceRequest,
  completionText: string,
  completionChars = completionText.length,
): TokenCount {
  if (reported !== undefined) return { ...reported, source: 'usage' };
  const completion = new TokenTally().add(completionText).skip(completionChars - completionText.length).total;
  return { prompt: estimatePromptTokens(request.endpoint, request.body), completion, source: 'estimate' };
}

function messageText(m: Record<string, unknown>): string {
  let text = typeof m.content === 'string' ? m.content : '';
  // vLLM and others stream reasoning models' thoughts under one of these names.
  if (typeof m.reasoning_content === 'string') text += m.reasoning_content;
  else if (typeof m.reasoning === 'string') text += m.reasoning;
  const calls = m.tool_calls;
  if (Array.isArray(calls)) {
    for (const call of calls) {
      const fn = call !== null && typeof call === 'object' ? (call as Record<string, unknown>).function : undefined;
      if (fn !== null && typeof fn === 'object') {
        const args = (fn as Record<string, unknown>).arguments;
        if (typeof args === 'string') text += args;
      }
    }
  }
  return text;
}
