import type { FailureClass, RouteMeter } from './gateway-metrics.ts';
import type { TokenCount } from './usage.ts';
import { logger } from '../log.ts';

/** Timing of a streamed answer, from `performance.now()`. */
export interface StreamTiming {
  readonly firstTokenAt: number;
  readonly lastTokenAt: number;
  /** The server's own time per output token (Ollama's `eval_duration / eval_count`), which replaces the gateway's estimate. */
  readonly tpotSeconds?: number | undefined;
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
    if (timing !== undefined) {
      if (timing.firstTokenAt > 0) observe(m.ttft, (timing.firstTokenAt - this.startedAt) / 1000);
      if (timing.tpotSeconds !== undefined) observe(m.tpot, timing.tpotSeconds);
      else if (timing.firstTokenAt > 0 && tokens.completion > 1) observe(m.tpot, (timing.lastTokenAt - timing.firstTokenAt) / 1000 / (tokens.completion - 1));
    }
  }

  /** Counts a passed-through request that succeeded: its duration, no tokens (its bytes are not read). */
  passed(): void {
    if (this.#claim()) return;
    this.meter.success.inc();
    observe(this.meter.duration, (performance.now() - this.startedAt) / 1000);
  }

  /**
   * Counts a failure by its SLI class, from {@link classifyFailure}. (Which
   * upstream was at fault, and why, is counted per attempt by the proxy.)
   * Tokens a failed stream already carried are counted: the server did process them.
   */
  fail(cls: FailureClass, tokens?: TokenCount): void {
    if (this.#claim()) return;
    this.meter.failures[cls].inc();
    observe(this.meter.failedDuration[cls], (performance.now() - this.startedAt) / 1000);
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
    observe(this.meter.failedDuration.cancelled, (performance.now() - this.startedAt) / 1000);
    if (tokens !== undefined) this.#tokens(tokens);
  }

  #claim(): boolean {
    if (this.#counted) return true;
    this.#counted = true;
    return false;
  }

  #tokens(t: TokenCount): void {
    const pair = this.meter.perModel.tokens[t.source];
    if (t.prompt > 0) (t.promptSource === undefined ? pair : this.meter.perModel.tokens[t.promptSource]).prompt.inc(t.prompt);
    if (t.completion > 0) pair.completion.inc(t.completion);
  }
}

/**
 * Who answered the failing status: the gateway itself; an upstream it routed to,
 * with its own key (or none) or with the client's key forwarded; or, for the
 * instrumented `openai` SDK, a server the caller chose the model and key for.
 */
export type FailureSource = 'gateway' | 'upstream' | 'upstream-client-key' | 'sdk';

/**
 * The one place a failed request gets its SLI class (docs/metrics.md, "SLI
 * classes"): server-side failures are what the error-rate, availability and
 * error-budget alerts count; client errors are the client's own doing and
 * never page.
 *
 * - 5xx (upstream 5xx, refused, reset, timeout, malformed, queue timeout 503): server-side.
 * - 429 (queue full, upstream rate limit): server-side overload; the client saw a 4xx,
 *   so `code="4xx"` stays as the article counts it.
 * - 408 from a server: it gave up waiting, a server-side timeout.
 * - 404 from an upstream the gateway routed to: the gateway routes only models it
 *   knows to paths it knows, so the target is misconfigured or its model not loaded.
 * - 401/403 from an upstream: the client's fault only when its own key was forwarded;
 *   with the gateway's key (or none) the gateway is misconfigured: server-side.
 * - Any other 4xx (400 context too long, 413, 422, a `content_filter` block): client error.
 *
 * @example classifyFailure(400, 'upstream') // 'client_error_4xx'
 */
export function classifyFailure(httpStatus: number, source: FailureSource): FailureClass {
  if (httpStatus >= 500 || httpStatus < 400) return 'error_5xx';
  if (httpStatus === 429) return 'error_4xx';
  if (source === 'gateway') return 'client_error_4xx';
  if (httpStatus === 408) return 'error_4xx';
  if (source === 'sdk') return 'client_error_4xx';
  if (httpStatus === 404) return 'error_4xx';
  if ((httpStatus === 401 || httpStatus === 403) && source === 'upstream') return 'error_4xx';
  return 'client_error_4xx';
}

let warned = false;

/** Observes a value; a non-finite one is dropped with one warning, never thrown. */
function observe(child: { observe(v: number): void }, v: number): void {
  if (Number.isFinite(v) && v >= 0) {
    child.observe(v);
  } else if (!warned) {
    warned = true;
    logger('metering').warn({ value: String(v) }, 'dropped a metric observation with an invalid value');
  }
}
