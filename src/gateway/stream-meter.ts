import { SseParser } from '../openai/sse.ts';
import { generatedText, reportedUsage } from './usage.ts';

/**
 * Watches an OpenAI SSE stream as its bytes pass through the gateway: times
 * the first and last content token, keeps the generated text (for a token
 * estimate when the server sends no usage), and notes `usage`, `[DONE]`, an
 * error event or a malformed event. It never holds the stream itself.
 */
export class StreamMeter {
  firstTokenAt = 0;
  lastTokenAt = 0;
  text = '';
  usage: { prompt: number; completion: number } | undefined;
  done = false;
  /** Set when the stream stops being the protocol. */
  fault: { readonly kind: 'malformed' | 'stream_error'; readonly message: string } | undefined;
  readonly #parser = new SseParser((data) => this.#onEvent(data));

  /**
   * Feeds the next chunk; returns the bytes of the events it completed, which
   * are safe to forward. After a fault (see `fault`) nothing more is returned.
   */
  push(chunk: Uint8Array): Buffer {
    return this.#parser.push(chunk);
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
    if (obj === null || typeof obj !== 'object') {
      this.fault = { kind: 'malformed', message: 'The upstream sent a stream event that is not a JSON object' };
      return false;
    }
    const event = obj as Record<string, unknown>;
    if (event.error !== undefined && event.error !== null) {
      const e = event.error as { message?: unknown };
      const message = typeof e.message === 'string' ? e.message : JSON.stringify(event.error);
      this.fault = { kind: 'stream_error', message: `The upstream failed mid-stream: ${message}` };
      return false;
    }
    const text = generatedText(event, 'delta');
    if (text.length > 0) {
      const now = performance.now();
      if (this.firstTokenAt === 0) this.firstTokenAt = now;
      this.lastTokenAt = now;
      this.text += text;
    }
    const usage = reportedUsage(event);
    if (usage !== undefined) this.usage = usage;
    return true;
  }
}
