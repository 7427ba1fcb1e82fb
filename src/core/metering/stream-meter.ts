import { SseParser } from '../openai/sse.ts';
import { generatedText, reportedUsage } from './usage.ts';
import { redactSecrets } from '../http/redact.ts';
import { StreamFacts } from './answer-facts.ts';
import { GeneratedText } from './generated-text.ts';

/**
 * Watches an OpenAI SSE stream as its bytes pass through the gateway: times
 * the first and last content token, keeps the start of the generated text
 * (for a token estimate when the server sends no usage, and for scoring),
 * and notes `usage`, `[DONE]`, an error event, a malformed event or one that
 * outgrew `maxEventBytes`. It never holds the stream itself.
 */
export class StreamMeter extends GeneratedText {
  usage: { prompt: number; completion: number } | undefined;
  /** The behaviour facts of the answer's first choice (finish reason, tool calls, start of its text). */
  readonly facts = new StreamFacts();
  done = false;
  /** Set when the stream stops being the protocol. */
  fault: { readonly kind: 'malformed' | 'stream_error'; readonly message: string } | undefined;
  readonly #parser: SseParser;
  readonly #maxEventBytes: number;

  constructor(maxEventBytes = Number.POSITIVE_INFINITY) {
    super();
    this.#maxEventBytes = maxEventBytes;
    this.#parser = new SseParser((data) => this.#onEvent(data), maxEventBytes);
  }

  /**
   * Feeds the next chunk; returns the bytes of the events it completed, which
   * are safe to forward. After a fault (see `fault`) nothing more is returned.
   */
  push(chunk: Uint8Array): Buffer {
    const out = this.#parser.push(chunk);
    if (this.#parser.overflowed && this.fault === undefined) {
      this.fault = { kind: 'malformed', message: `The upstream sent a stream event larger than ${this.#maxEventBytes} bytes (maxEventBytes)` };
    }
    return out;
  }

  /** The end of the stream: returns an unterminated last event, if valid. */
  end(): Buffer {
    return this.#parser.end();
  }

  #onEvent(data: string): boolean {
    if (data === '[DONE]') {
      this.done = true;
      return true;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      this.fault = { kind: 'malformed', message: 'The upstream sent a stream event that is not JSON' };
      return false;
    }
    // An array is JSON but no event of the protocol (the native frame meter refuses it too).
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      this.fault = { kind: 'malformed', message: 'The upstream sent a stream event that is not a JSON object' };
      return false;
    }
    const event = obj as Record<string, unknown>;
    if (event.error !== undefined && event.error !== null) {
      const e = event.error as { message?: unknown };
      const message = typeof e.message === 'string' ? e.message.slice(0, 1024) : JSON.stringify(event.error).slice(0, 1024);
      this.fault = { kind: 'stream_error', message: `The upstream failed mid-stream: ${redactSecrets(message)}` };
      return false;
    }
    this.facts.add(event);
    this.token(generatedText(event, 'delta'));
    const usage = reportedUsage(event);
    if (usage !== undefined) this.usage = usage;
    return true;
  }
}
