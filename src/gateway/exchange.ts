import type { ErrorClass, RouteMeter } from '../metrics/gateway-metrics.ts';
import type { TokenCount } from './usage.ts';

/** Timing of a streamed answer, from `performance.now()`. */
export interface StreamTiming {
  readonly firstTokenAt: number;
  readonly lastTokenAt: number;
}

/**
 * The metering record of one routed request. Whatever happens to the request,
 * exactly one of `succeed`, `fail` or `cancel` counts it; later calls are
 * ignored, so no path can count a request twice.
 */
export class Exchange {
  readonly meter: RouteMeter;
  readonly startedAt: number;
  #counted = false;

  constructor(meter: RouteMeter, startedAt: number) {
    this.meter = meter;
    this.startedAt = startedAt;
  }

  get counted(): boolean {
    return this.#counted;
  }

  succeed(tokens: TokenCount, timing: StreamTiming | undefined): void {
    if (this.#claim()) return;
    const m = this.meter;
    const now = performance.now();
    m.success.inc();
    observe(m.duration, (now - this.startedAt) / 1000);
    this.#tokens(tokens);
    observe(m.promptSize, tokens.prompt);
    if (m.endpoint !== 'embeddings') observe(m.completionSize, tokens.completion);
    if (timing !== undefined && timing.firstTokenAt > 0) {
      observe(m.ttft, (timing.firstTokenAt - this.startedAt) / 1000);
      if (tokens.completion > 1) observe(m.tpot, (timing.lastTokenAt - timing.firstTokenAt) / 1000 / (tokens.completion - 1));
    }
  }

  /**
   * Counts a failure by the status class the client got. (Which upstream was
   * at fault, and why, is counted per attempt by the proxy.) Tokens a failed
   * stream already carried are counted: the server did process them.
   */
  fail(cls: ErrorClass, tokens?: TokenCount): void {
    if (this.#claim()) return;
    this.meter.errorByClass[cls].inc();
    if (tokens !== undefined) this.#tokens(tokens);
  }

  /** Counts an answer served from the cache: a success, but no inference, so no duration and no tokens. */
  served(): void {
    if (this.#claim()) return;
    this.meter.success.inc();
  }

  /** Counts a request whose client went away before the answer ended. */
  cancel(tokens?: TokenCount): void {
    if (this.#claim()) return;
    this.meter.cancelled.inc();
    if (tokens !== undefined) this.#tokens(tokens);
  }

  #claim(): boolean {
    if (this.#counted) return true;
    this.#counted = true;
    return false;
  }

  #tokens(t: TokenCount): void {
    const pair = this.meter.perModel.tokens[t.source];
    if (t.prompt > 0) pair.prompt.inc(t.prompt);
    if (t.completion > 0) pair.completion.inc(t.completion);
  }
}

let warned = false;

/** Observes a value; a non-finite one is dropped with one warning, never thrown. */
function observe(child: { observe(v: number): void }, v: number): void {
  if (Number.isFinite(v) && v >= 0) {
    child.observe(v);
  } else if (!warned) {
    warned = true;
    process.emitWarning(`llmwatch: dropped a metric observation with invalid value ${v}`);
  }
}
