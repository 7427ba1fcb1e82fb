import { LineSplitter, type LineVerdict } from '../text/lines.ts';

/**
 * Incremental splitter for the `text/event-stream` framing OpenAI-compatible
 * servers use. It is fed bytes as they pass and hands back the bytes of the
 * events that are now complete, holding only an unfinished event: the gateway
 * forwards whole events, each checked before the client sees it, and never
 * holds the stream itself.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export class SseParser {
  readonly #onData: (data: string) => boolean;
  readonly #lines: LineSplitter;
  #data: string[] = [];

  /**
   * `onData` receives the data of each complete event (its lines joined by
   * `\n`); returning false stops the stream at that event. An event still
   * unfinished after `maxEventBytes` stops the stream too, with `overflowed`
   * set: nothing a server sends is held without bound.
   */
  constructor(onData: (data: string) => boolean, maxEventBytes = Number.POSITIVE_INFINITY) {
    this.#onData = onData;
    this.#lines = new LineSplitter(
      (buf, start, end) => this.#line(buf, start, end),
      maxEventBytes,
      () => this.#data.length === 0 || this.#dispatch(),
    );
  }

  /** True once an event stopped the stream, or one overflowed. */
  get stopped(): boolean {
    return this.#lines.stopped;
  }

  /** Set when an event grew past `maxEventBytes` before its end. */
  get overflowed(): boolean {
    return this.#lines.overflowed;
  }

  /**
   * Takes the next chunk and returns the bytes of the events it completed (and
   * of comments between them), up to the event that stopped the stream, if one
   * did. An event still arriving stays held for the next push. Each byte is
   * scanned once, whatever the chunking.
   */
  push(chunk: Uint8Array): Buffer {
    const out = this.#lines.push(chunk);
    if (this.#lines.stopped) this.#data = [];
    return out;
  }

  /** At the end of the stream: an unterminated last event counts as complete. */
  end(): Buffer {
    const out = this.#lines.end();
    this.#data = [];
    return out;
  }

  /** One complete line: a blank one ends the event (or comment), a `data:` field adds to it. */
  #line(buf: Buffer, start: number, end: number): LineVerdict {
    if (end === start) {
      if (this.#data.length > 0 && !this.#dispatch()) return 'refuse';
      return 'complete';
    }
    if (end - start >= 5 && buf[start] === 0x64 && buf.toString('latin1', start, start + 5) === 'data:') {
      this.#data.push(buf.toString('utf8', start + (buf[start + 5] === 32 ? 6 : 5), end));
    }
    // Other fields (event, id, retry) and comments carry nothing llmwatch meters.
    return 'continue';
  }

  #dispatch(): boolean {
    const data = this.#data;
    this.#data = [];
    return this.#onData(data.length === 1 ? data[0]! : data.join('\n'));
  }
}

/** One SSE event carrying `data` as JSON. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
