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
  /**
   * Bytes of the record still arriving (from its first line on), not yet returned, copied into one
   * buffer: a chunk's tail is copied out, never kept by reference, so a server that sends a record a
   * byte at a time costs its bytes, not a Buffer object (and the chunk behind it) per byte.
   */
  #held: Buffer = EMPTY;
  #heldBytes = 0;
  /** Where in `#held` the unfinished last line starts; -1 when the next line starts in the next chunk. */
  #lineAt = -1;
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
    let nl = buf.indexOf(10);
    if (nl !== -1 && this.#lineAt !== -1) {
      // A line begun in an earlier chunk ends here: its end joins it in the held record, read there.
      this.#append(buf.subarray(0, nl + 1));
      const verdict = this.#read(this.#held, this.#lineAt, this.#heldBytes - 1);
      this.#lineAt = -1;
      lineStart = recordStart = nl + 1;
      if (verdict === 'refuse') {
        this.#stop();
        return EMPTY;
      }
      if (verdict === 'complete') out.push(this.#take());
      nl = buf.indexOf(10, lineStart);
    }
    // Lines that lie whole in this chunk are read in place.
    for (; nl !== -1; nl = buf.indexOf(10, lineStart)) {
      const verdict = this.#read(buf, lineStart, nl);
      lineStart = nl + 1;
      if (verdict === 'refuse') {
        this.#stop();
        return concat(out);
      }
      if (verdict === 'complete') {
        if (this.#heldBytes > 0) out.push(this.#take());
        out.push(buf.subarray(recordStart, lineStart));
        recordStart = lineStart;
      }
    }
    if (recordStart < buf.length) {
      if (lineStart < buf.length && this.#lineAt === -1) this.#lineAt = this.#heldBytes + (lineStart - recordStart);
      this.#append(buf.subarray(recordStart));
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
    const ok = (this.#lineAt === -1 || this.#read(this.#held, this.#lineAt, this.#heldBytes) !== 'refuse') && this.#onEnd();
    const out = ok && this.#heldBytes > 0 ? this.#take() : EMPTY;
    this.#stop();
    return out;
  }

  /** Copies `bytes` after the held ones, the buffer doubled when full: each byte copied once, plus the doublings (less than the bytes held). */
  #append(bytes: Buffer): void {
    const need = this.#heldBytes + bytes.length;
    if (need > this.#held.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.#held.length, 256));
      this.#held.copy(grown, 0, 0, this.#heldBytes);
      this.#held = grown;
    }
    bytes.copy(this.#held, this.#heldBytes);
    this.#heldBytes = need;
  }

  /** The held record's bytes, handed over (no copy); the splitter holds nothing after. */
  #take(): Buffer {
    const bytes = this.#held.subarray(0, this.#heldBytes);
    this.#held = EMPTY;
    this.#heldBytes = 0;
    return bytes;
  }

  #read(buf: Buffer, start: number, end: number): LineVerdict {
    return this.#onLine(buf, start, end > start && buf[end - 1] === 13 ? end - 1 : end);
  }

  #stop(): void {
    this.#stopped = true;
    this.#held = EMPTY;
    this.#heldBytes = 0;
    this.#lineAt = -1;
  }
}

const EMPTY = Buffer.alloc(0);

function concat(parts: Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY;
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
