const EMPTY = Buffer.alloc(0);

/**
 * Incremental splitter for newline-delimited JSON (Ollama's streams,
 * `application/x-ndjson`): fed bytes as they pass, it hands back the bytes of
 * the lines now complete, each given to `onLine` first (a false return stops
 * the stream at that line). An unfinished line is held, up to `maxLineBytes`:
 * past it the splitter stops with `overflowed` set, so a server that never
 * sends a newline costs bounded memory. Each byte is scanned once.
 */
export class NdjsonSplitter {
  readonly #onLine: (line: string) => boolean;
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #stopped = false;
  overflowed = false;

  constructor(onLine: (line: string) => boolean, maxLineBytes = Number.POSITIVE_INFINITY) {
    this.#onLine = onLine;
    this.#maxLineBytes = maxLineBytes;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  push(chunk: Uint8Array): Buffer {
    if (this.#stopped) return EMPTY;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
      const piece = buf.subarray(start, nl + 1);
      const line = this.#pendingBytes === 0 ? piece : Buffer.concat([...this.#pending, piece], this.#pendingBytes + piece.length);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = nl + 1;
      const text = line.toString('utf8').trim();
      if (text !== '' && !this.#onLine(text)) {
        this.#stopped = true;
        return concat(out);
      }
      out.push(line);
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      this.#pending.push(rest);
      this.#pendingBytes += rest.length;
      if (this.#pendingBytes > this.#maxLineBytes) {
        this.overflowed = true;
        this.#stopped = true;
        this.#pending = [];
      }
    }
    return concat(out);
  }

  /** The end of the body: a last line without its newline, if it is valid. */
  end(): Buffer {
    if (this.#stopped || this.#pendingBytes === 0) return EMPTY;
    const line = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    const text = line.toString('utf8').trim();
    if (text !== '' && !this.#onLine(text)) {
      this.#stopped = true;
      return EMPTY;
    }
    return line;
  }
}

function concat(parts: Buffer[]): Buffer {
  return parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
