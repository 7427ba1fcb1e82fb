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
  readonly #maxEventBytes: number;
  /** Bytes of the event still arriving (from its first line on), not yet returned. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** The unfinished last line, in pieces, so that no byte is copied twice. */
  #line: Buffer[] = [];
  #data: string[] = [];
  #stopped = false;
  /** Set when an event grew past `maxEventBytes` before its end. */
  overflowed = false;

  /**
   * `onData` receives the data of each complete event (its lines joined by
   * `\n`); returning false stops the stream at that event. An event still
   * unfinished after `maxEventBytes` stops the stream too, with `overflowed`
   * set: nothing a server sends is held without bound.
   */
  constructor(onData: (data: string) => boolean, maxEventBytes = Number.POSITIVE_INFINITY) {
    this.#onData = onData;
    this.#maxEventBytes = maxEventBytes;
  }

  /** True once an event stopped the stream, or one overflowed. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Takes the next chunk and returns the bytes of the events it completed (and
   * of comments between them), up to the event that stopped the stream, if one
   * did. An event still arriving stays held for the next push. Each byte is
   * scanned once, whatever the chunking.
   */
  push(chunk: Uint8Array): Buffer {
    if (this.#stopped) return EMPTY;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: Buffer[] = [];
    let lineStart = 0;
    let eventStart = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, lineStart)) {
      const blank = this.#line.length === 0 ? nl === lineStart || (nl === lineStart + 1 && buf[lineStart] === 13) : this.#lineIsBlank(buf, nl);
      if (blank) {
        if (this.#data.length > 0 && !this.#dispatch()) {
          this.#stop();
          return concat(out);
        }
        this.#data = [];
        this.#line = [];
        // The event (or comment) is whole: its bytes may go.
        out.push(...this.#pending, buf.subarray(eventStart, nl + 1));
        this.#pending = [];
        this.#pendingBytes = 0;
        eventStart = nl + 1;
      } else {
        this.#takeLine(buf, lineStart, nl);
      }
      lineStart = nl + 1;
    }
    if (lineStart < buf.length) this.#line.push(buf.subarray(lineStart));
    if (eventStart < buf.length) {
      const rest = buf.subarray(eventStart);
      this.#pending.push(rest);
      this.#pendingBytes += rest.length;
      if (this.#pendingBytes > this.#maxEventBytes) {
        this.overflowed = true;
        this.#stop();
      }
    }
    return concat(out);
  }

  /** At the end of the stream: an unterminated last event counts as complete. */
  end(): Buffer {
    if (this.#stopped) return EMPTY;
    if (this.#line.length > 0) {
      const line = Buffer.concat(this.#line);
      this.#line = [];
      this.#takeLine(line, 0, line.length);
    }
    if (this.#data.length > 0 && !this.#dispatch()) {
      this.#stop();
      return EMPTY;
    }
    const out = concat(this.#pending);
    this.#stop();
    return out;
  }

  #lineIsBlank(buf: Buffer, nl: number): boolean {
    // A line split across chunks is blank only if it is a lone CR before the LF.
    if (nl > 1) return false;
    let len = nl;
    for (const piece of this.#line) len += piece.length;
    if (len !== 1) return false;
    return nl === 1 ? buf[0] === 13 : this.#line.some((piece) => piece.length === 1 && piece[0] === 13);
  }

  /** One complete, non-blank line ending before `nl` (its start maybe in held pieces). */
  #takeLine(buf: Buffer, from: number, nl: number): void {
    let line: Buffer;
    let start: number;
    if (this.#line.length > 0) {
      this.#line.push(buf.subarray(from, nl));
      line = Buffer.concat(this.#line);
      this.#line = [];
      start = 0;
    } else {
      line = buf;
      start = from;
    }
    let end = start === 0 && line !== buf ? line.length : nl;
    if (end > start && line[end - 1] === 13) end--;
    if (end - start >= 5 && line[start] === 0x64 && line.toString('latin1', start, start + 5) === 'data:') {
      this.#data.push(line.toString('utf8', start + (line[start + 5] === 32 ? 6 : 5), end));
    }
    // Other fields (event, id, retry) and comments carry nothing llmwatch meters.
  }

  #dispatch(): boolean {
    const data = this.#data;
    this.#data = [];
    return this.#onData(data.length === 1 ? data[0]! : data.join('\n'));
  }

  #stop(): void {
    this.#stopped = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#line = [];
    this.#data = [];
  }
}

const EMPTY = Buffer.alloc(0);

function concat(parts: Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY;
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** One SSE event carrying `data` as JSON. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
