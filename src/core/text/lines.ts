/**
 * What a complete line means to its reader: `'complete'`, it ends a record
 * (the record's bytes, this line's included, may be forwarded); `'continue'`,
 * the record goes on; `'refuse'`, the stream stops before this record.
 */
export type LineVerdict = 'complete' | 'continue' | 'refuse';

/**
 * Reads one complete line: `buf` from `start` to `end`, its LF and the CR
 * before it (if any) left out. `buf` is the chunk itself where the line lay in
 * one chunk, else the line's pieces joined once; it is valid only during the call.
 */
export type LineReader = (buf: Buffer, start: number, end: number) => LineVerdict;

/**
 * Incremental, capped splitter of a byte stream into LF- or CRLF-terminated
 * lines, grouped into records by its reader (an SSE event is lines up to a
 * blank one; an NDJSON record is one line). It is fed chunks as they pass and
 * hands back the bytes of the records now complete, holding only the record
 * still arriving. Hostile input costs linear time and bounded memory: each
 * byte is scanned once and copied at most once, whatever the chunking, and a
 * record still unfinished past `maxRecordBytes` stops the stream with
 * `overflowed` set. A record that arrives whole inside one chunk is not held,
 * so the cap does not apply to it.
 *
 * A lone CR is not a line end (the SSE spec allows it; the model servers
 * llmwatch reads do not send it).
 */
export class LineSplitter {
  readonly #onLine: LineReader;
  readonly #onEnd: () => boolean;
  readonly #maxRecordBytes: number;
  /** Bytes of the record still arriving (from its first line on), not yet returned. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** The unfinished last line, in pieces (the tail of `#held`), so that no byte is copied twice. */
  #line: Buffer[] = [];
  #stopped = false;
  /** Set when a record grew past `maxRecordBytes` before its end. */
  overflowed = false;

  /**
   * `onLine` reads each complete line; `onEnd`, at the end of the stream, is
   * told that the record still held (if any) is complete, and refuses it by
   * returning false.
   */
  constructor(onLine: LineReader, maxRecordBytes = Number.POSITIVE_INFINITY, onEnd: () => boolean = () => true) {
    this.#onLine = onLine;
    this.#maxRecordBytes = maxRecordBytes;
    this.#onEnd = onEnd;
  }

  /** True once a record was refused, one overflowed, or the stream ended. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Takes the next chunk and returns the bytes of the records it completed, up
   * to the one refused, if one was. A record still arriving stays held for the
   * next push.
   */
  push(chunk: Uint8Array): Buffer {
    if (this.#stopped) return EMPTY;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: Buffer[] = [];
    let lineStart = 0;
    let recordStart = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, lineStart)) {
      const verdict = this.#line.length === 0 ? this.#read(buf, lineStart, nl) : this.#readJoined(buf.subarray(lineStart, nl));
      lineStart = nl + 1;
      if (verdict === 'refuse') {
        this.#stop();
        return concat(out);
      }
      if (verdict === 'complete') {
        out.push(...this.#held, buf.subarray(recordStart, lineStart));
        this.#held = [];
        this.#heldBytes = 0;
        recordStart = lineStart;
      }
    }
    if (lineStart < buf.length) this.#line.push(buf.subarray(lineStart));
    if (recordStart < buf.length) {
      const rest = buf.subarray(recordStart);
      this.#held.push(rest);
      this.#heldBytes += rest.length;
      if (this.#heldBytes > this.#maxRecordBytes) {
        this.overflowed = true;
        this.#stop();
      }
    }
    return concat(out);
  }

  /**
   * At the end of the stream: an unterminated last line is read as a line,
   * and the record still held counts as complete unless a reader refuses it.
   * Returns that record's bytes; the splitter takes nothing after.
   */
  end(): Buffer {
    if (this.#stopped) return EMPTY;
    const ok = (this.#line.length === 0 || this.#readJoined(EMPTY) !== 'refuse') && this.#onEnd();
    const out = ok ? concat(this.#held) : EMPTY;
    this.#stop();
    return out;
  }

  /** A line whose start is in the held pieces: joined once, then read. */
  #readJoined(last: Buffer): LineVerdict {
    this.#line.push(last);
    const line = Buffer.concat(this.#line);
    this.#line = [];
    return this.#read(line, 0, line.length);
  }

  #read(buf: Buffer, start: number, end: number): LineVerdict {
    return this.#onLine(buf, start, end > start && buf[end - 1] === 13 ? end - 1 : end);
  }

  #stop(): void {
    this.#stopped = true;
    this.#held = [];
    this.#heldBytes = 0;
    this.#line = [];
  }
}

const EMPTY = Buffer.alloc(0);

function concat(parts: Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY;
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
