/**
 * Incremental splitter for the `text/event-stream` framing OpenAI-compatible
 * servers use. It is fed bytes as they pass and hands back the bytes of the
 * events that are now complete, holding only an unfinished event: the gateway
 * forwards whole events, each checked before the client sees it, and never
 * holds the stream itself.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export class SseParser {
  #held: Buffer | undefined;
  readonly #onData: (data: string) => boolean;

  /**
   * `onData` receives the data of each complete event (its lines joined by
   * `\n`); returning false stops the stream at that event.
   */
  constructor(onData: (data: string) => boolean) {
    this.#onData = onData;
  }

  /**
   * Takes the next chunk and returns the bytes of the events it completed (and
   * of comments between them), up to the event that stopped the stream, if one
   * did. An event still arriving stays held for the next push.
   */
  push(chunk: Uint8Array): Buffer {
    const buf: Buffer =
      this.#held === undefined ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#held, chunk]);
    const { end, stopped } = this.#scan(buf, false);
    this.#held = stopped || end === buf.length ? undefined : buf.subarray(end);
    return buf.subarray(0, end);
  }

  /** At the end of the stream: an unterminated last event counts as complete. */
  end(): Buffer {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) return Buffer.alloc(0);
    return held.subarray(0, this.#scan(held, true).end);
  }

  /** Dispatches complete events; returns where the forwardable bytes end. */
  #scan(buf: Buffer, final: boolean): { end: number; stopped: boolean } {
    let eventStart = 0;
    let lineStart = 0;
    let data: string[] = [];
    while (lineStart < buf.length) {
      let nl = buf.indexOf(10, lineStart);
      if (nl === -1) {
        if (!final) break;
        nl = buf.length;
      }
      let lineEnd = nl;
      if (lineEnd > lineStart && buf[lineEnd - 1] === 13) lineEnd--;
      if (lineEnd === lineStart) {
        if (data.length > 0 && !this.#dispatch(data)) return { end: eventStart, stopped: true };
        data = [];
        eventStart = nl + 1;
      } else if (buf[lineStart] === 0x64 && buf.toString('latin1', lineStart, lineStart + 5) === 'data:') {
        const from = lineStart + (buf[lineStart + 5] === 32 ? 6 : 5);
        data.push(buf.toString('utf8', from, lineEnd));
      }
      // Other fields (event, id, retry) and comments carry nothing llmwatch meters.
      lineStart = nl + 1;
    }
    if (final && data.length > 0) {
      if (!this.#dispatch(data)) return { end: eventStart, stopped: true };
      return { end: buf.length, stopped: false };
    }
    return { end: final ? buf.length : eventStart, stopped: false };
  }

  #dispatch(data: string[]): boolean {
    return this.#onData(data.length === 1 ? data[0]! : data.join('\n'));
  }
}

/** One SSE event carrying `data` as JSON. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
