import { SseParser } from '../../openai/sse.ts';
import { redactSecrets } from '../../http/redact.ts';
import { GeneratedText } from '../generated-text.ts';
import { NdjsonSplitter } from './ndjson.ts';
import { TokenTally } from '../../openai/tokens.ts';
import type { TokenSource } from '../../conventions/metrics.ts';
import type { TokenCount } from '../usage.ts';

/** What a native API's reader tells the meter about one event (or one whole answer). */
export interface EventSink {
  /** Generated text (content, reasoning, tool-call arguments): output tokens; the first marks the first token. */
  token(text: string): void;
  /** The server's own counts, each when it gave one. */
  usage(prompt: number | undefined, completion: number | undefined): void;
  /** The server's own timings, in seconds. */
  timing(loadSeconds: number | undefined, tpotSeconds: number | undefined): void;
  /** The answer's last event arrived (Ollama `done: true`, Responses `response.completed`, TGI's final event). */
  finish(): void;
  /** An error event in the stream. */
  error(message: string): void;
}

/**
 * How one native API is read: its stream framing, what each event (or whole
 * answer) says, and the prompt's text for a token estimate when the server
 * reports no count.
 */
export interface NativeReader {
  readonly framing: 'sse' | 'ndjson';
  /** One event of a stream, or a whole non-streamed answer (`whole`). */
  read(event: Record<string, unknown>, sink: EventSink, whole: boolean): void;
  promptText(body: Record<string, unknown>): string;
}

/**
 * Watches a native answer as its bytes pass (SSE or NDJSON framing), or reads
 * a whole one: the first and last token's time, the start of the text, the
 * server's counts and timings, the end event, and a fault (malformed frame,
 * oversized frame, error event). Only whole, checked frames are returned for
 * forwarding; nothing is held beyond one frame of `maxEventBytes`.
 */
export class FrameMeter extends GeneratedText implements EventSink {
  prompt: number | undefined;
  completion: number | undefined;
  loadSeconds: number | undefined;
  tpotSeconds: number | undefined;
  done = false;
  fault: { readonly kind: 'malformed' | 'stream_error'; readonly message: string } | undefined;
  readonly #reader: NativeReader;
  readonly #maxEventBytes: number;
  readonly #splitter: { push(c: Uint8Array): Buffer; end(): Buffer; readonly overflowed: boolean } | undefined;

  constructor(reader: NativeReader, maxEventBytes = Number.POSITIVE_INFINITY, streaming = true) {
    super();
    this.#reader = reader;
    this.#maxEventBytes = maxEventBytes;
    if (streaming) {
      const onFrame = (data: string) => this.#onFrame(data);
      this.#splitter = reader.framing === 'sse' ? new SseParser(onFrame, maxEventBytes) : new NdjsonSplitter(onFrame, maxEventBytes);
    }
  }

  /** Feeds a streamed chunk; returns the bytes of the whole frames it completed. */
  push(chunk: Uint8Array): Buffer {
    const out = this.#splitter!.push(chunk);
    if (this.#splitter!.overflowed && this.fault === undefined) {
      this.fault = { kind: 'malformed', message: `The upstream sent a stream event larger than ${this.#maxEventBytes} bytes (maxEventBytes)` };
    }
    return out;
  }

  end(): Buffer {
    return this.#splitter!.end();
  }

  /** Reads a whole non-streamed answer; false when it is not a JSON object. */
  readWhole(buf: Buffer): boolean {
    let obj: unknown;
    try {
      obj = JSON.parse(buf.toString('utf8'));
    } catch {
      return false;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return false;
    this.#reader.read(obj as Record<string, unknown>, this, true);
    return true;
  }

  usage(prompt: number | undefined, completion: number | undefined): void {
    if (count(prompt)) this.prompt = prompt;
    if (count(completion)) this.completion = completion;
  }

  timing(loadSeconds: number | undefined, tpotSeconds: number | undefined): void {
    if (loadSeconds !== undefined && Number.isFinite(loadSeconds) && loadSeconds >= 0) this.loadSeconds = loadSeconds;
    if (tpotSeconds !== undefined && Number.isFinite(tpotSeconds) && tpotSeconds >= 0) this.tpotSeconds = tpotSeconds;
  }

  finish(): void {
    this.done = true;
  }

  error(message: string): void {
    if (this.fault === undefined) this.fault = { kind: 'stream_error', message: `The upstream failed mid-stream: ${redactSecrets(message.slice(0, 1024))}` };
  }

  #onFrame(data: string): boolean {
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      this.fault = { kind: 'malformed', message: 'The upstream sent a stream event that is not JSON' };
      return false;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      this.fault = { kind: 'malformed', message: 'The upstream sent a stream event that is not a JSON object' };
      return false;
    }
    this.#reader.read(obj as Record<string, unknown>, this, false);
    return this.fault === undefined;
  }
}

function count(v: number | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/**
 * The tokens of a native answer: the server's counts where it gave them, else
 * estimated with the tokenizer from the prompt's and the answer's text.
 */
export function nativeTokens(m: FrameMeter, reader: NativeReader, body: Record<string, unknown>, embedding: boolean): TokenCount {
  const completion = embedding ? 0 : (m.completion ?? new TokenTally().add(m.text).skip(m.textChars - m.text.length).total);
  const source: TokenSource = embedding ? (m.prompt !== undefined ? 'usage' : 'estimate') : m.completion !== undefined ? 'usage' : 'estimate';
  const prompt = m.prompt ?? new TokenTally().add(reader.promptText(body)).total;
  const promptSource: TokenSource = m.prompt !== undefined ? 'usage' : 'estimate';
  return promptSource === source ? { prompt, completion, source } : { prompt, completion, source, promptSource };
}
