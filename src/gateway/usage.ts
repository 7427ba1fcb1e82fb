import type { TokenSource } from '../metrics/conventions.ts';

/** Token counts of one request and where they came from. */
export interface TokenCount {
  readonly prompt: number;
  readonly completion: number;
  readonly source: TokenSource;
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
 * The generated text of a non-streaming answer: message content, reasoning and
 * tool-call arguments for chat, `text` for completions. All are output tokens.
 */
export function answerText(obj: Record<string, unknown>): string {
  const choices = obj.choices;
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices) {
    if (c === null || typeof c !== 'object') continue;
    const choice = c as Record<string, unknown>;
    if (typeof choice.text === 'string') text += choice.text;
    const message = choice.message;
    if (message !== null && typeof message === 'object') text += messageText(message as Record<string, unknown>);
  }
  return text;
}

/** The generated text carried by one stream chunk (a `delta` or a completions `text`). */
export function chunkText(obj: Record<string, unknown>): string {
  const choices = obj.choices;
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices) {
    if (c === null || typeof c !== 'object') continue;
    const choice = c as Record<string, unknown>;
    if (typeof choice.text === 'string') text += choice.text;
    const delta = choice.delta;
    if (delta !== null && typeof delta === 'object') text += messageText(delta as Record<string, unknown>);
  }
  return text;
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
