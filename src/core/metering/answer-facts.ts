import { FINISH_REASON } from '../conventions/metrics.ts';
import type { FinishReason } from '../conventions/metrics.ts';

/**
 * The most of an answer's text kept for the behaviour signals: the refusal
 * detector reads the first sentences only (its `headChars`, at most this).
 */
export const FACTS_HEAD_CHARS = 1024;

/** Where a large, unparsed answer's `finish_reason` is looked for: its last bytes, beside `usage`. */
const TAIL_BYTES = 4096;

/**
 * What the behaviour signals need of one answer, read from its first choice
 * (index 0; an `n` > 1 request is counted by its first choice): why it
 * finished, whether it called a tool, and the start of its text (content
 * only, not reasoning or tool arguments).
 */
export interface AnswerFacts {
  readonly finishReason: FinishReason;
  readonly toolCalls: boolean;
  /** The start of the first choice's text, at most {@link FACTS_HEAD_CHARS}; '' when not read (a large answer). */
  readonly head: string;
  /** Whether the first choice carried any text at all. */
  readonly hasText: boolean;
}

const KNOWN = new Set<string>(FINISH_REASON);

/** A server's `finish_reason` in the closed set: `function_call` (the older API) is `tool_calls`; anything else, or none, is `other`. */
export function finishReasonOf(raw: unknown): FinishReason {
  if (typeof raw !== 'string') return 'other';
  if (raw === 'function_call') return 'tool_calls';
  return KNOWN.has(raw) ? (raw as FinishReason) : 'other';
}

/** The facts of a parsed non-streamed chat or completions answer. */
export function factsOfAnswer(obj: Record<string, unknown>): AnswerFacts {
  const choice = firstChoice(obj.choices);
  if (choice === undefined) return { finishReason: 'other', toolCalls: false, head: '', hasText: false };
  const message = choice.message;
  const m = message !== null && typeof message === 'object' ? (message as Record<string, unknown>) : undefined;
  const text = typeof choice.text === 'string' ? choice.text : m === undefined ? '' : contentText(m.content);
  return {
    finishReason: finishReasonOf(choice.finish_reason),
    toolCalls: m !== undefined && callsTools(m),
    head: text.length > FACTS_HEAD_CHARS ? text.slice(0, FACTS_HEAD_CHARS) : text,
    hasText: text.length > 0,
  };
}

/**
 * The facts of a large answer that was not parsed (its `usage` was read from
 * its tail): the `finish_reason` from the last bytes, and no text read. An
 * answer this large is neither empty nor, in practice, a refusal; a tool call
 * is known by its finish reason only.
 */
export function factsOfTail(buf: Buffer): AnswerFacts {
  const tail = buf.toString('latin1', Math.max(0, buf.length - TAIL_BYTES));
  let raw: string | undefined;
  for (const m of tail.matchAll(/"finish_reason"\s*:\s*"([a-z_]{1,32})"/g)) raw = m[1];
  const finishReason = finishReasonOf(raw);
  return { finishReason, toolCalls: finishReason === 'tool_calls', head: '', hasText: true };
}

/**
 * The facts of a streamed answer, gathered chunk by chunk as the stream
 * meter parses each event: a few property reads a chunk, the text kept up to
 * {@link FACTS_HEAD_CHARS}.
 */
export class StreamFacts {
  #finish: unknown;
  #toolCalls = false;
  #head = '';
  #hasText = false;

  /** Notes one parsed stream event (`chat.completion.chunk` or `text_completion`). */
  add(event: Record<string, unknown>): void {
    const choice = firstChoice(event.choices);
    if (choice === undefined) return;
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.#finish = choice.finish_reason;
    let text: string;
    if (typeof choice.text === 'string') text = choice.text;
    else {
      const delta = choice.delta;
      if (delta === null || typeof delta !== 'object') return;
      const d = delta as Record<string, unknown>;
      if (!this.#toolCalls && callsTools(d)) this.#toolCalls = true;
      text = contentText(d.content);
    }
    if (text.length === 0) return;
    this.#hasText = true;
    if (this.#head.length < FACTS_HEAD_CHARS) this.#head += text.slice(0, FACTS_HEAD_CHARS - this.#head.length);
  }

  facts(): AnswerFacts {
    return { finishReason: finishReasonOf(this.#finish), toolCalls: this.#toolCalls, head: this.#head, hasText: this.#hasText };
  }
}

/** Choice 0: the element with `index` 0, or the first element when choices carry no index. */
function firstChoice(choices: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const first = choices[0] as unknown;
  if (first === null || typeof first !== 'object') return undefined;
  const c = first as Record<string, unknown>;
  // A stream interleaves choices of an `n` > 1 request, one per chunk: only index 0 counts.
  return c.index === undefined || c.index === 0 ? c : undefined;
}

/** Chat content: a string, or an array of parts whose `text` parts are joined. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part !== null && typeof part === 'object' && typeof (part as Record<string, unknown>).text === 'string') text += (part as Record<string, string>).text;
  }
  return text;
}

function callsTools(m: Record<string, unknown>): boolean {
  const calls = m.tool_calls;
  if (Array.isArray(calls) && calls.length > 0) return true;
  return m.function_call !== null && typeof m.function_call === 'object';
}
