import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { ENDPOINT_CLASH_MESSAGE, endpointKey, endpointLabel, upstreamURLs } from '../core/config/gateway-config.ts';
import type { UpstreamConfig } from '../core/config/gateway-config.ts';
import type { UpstreamErrorReason } from '../core/conventions/metrics.ts';
import { redactUrl } from '../core/http/redact.ts';
import { ConcurrencyLimiter } from './limiter.ts';
import { NO_UPSTREAM_METER } from './endpoint-metrics.ts';
import type { EndpointMeter, UpstreamMeter } from './endpoint-metrics.ts';

/** What the admin API and `/readyz` show of one endpoint. */
export interface EndpointView {
  readonly url: string;
  readonly inFlight: number;
  /** Requests sent to it since it was added. */
  readonly requests: number;
  readonly ejected: boolean;
  /** When an ejected endpoint is admitted again (ISO time). */
  readonly ejectedUntil?: string;
  readonly consecutiveFailures: number;
  readonly ejections: number;
}

/** One replica of an upstream: its own connection pool and health record. */
class Endpoint {
  readonly url: string;
  readonly key: string;
  /** Its `upstream_endpoint` label, one per endpoint of an upstream. */
  readonly label: string;
  readonly basePath: string;
  readonly pool: Pool;
  readonly meter: EndpointMeter;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Ejections in a row (reset by a success): the backoff doubles with each. */
  streak = 0;
  ejections = 0;
  /** 0 while admitted; else the time (ms since the epoch) its ejection ends. */
  ejectedUntil = 0;
  timer: NodeJS.Timeout | undefined;

  constructor(url: string, config: UpstreamConfig, meter: EndpointMeter) {
    this.url = url;
    this.key = endpointKey(url);
    this.label = endpointLabel(url);
    const u = new URL(url);
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.meter = meter;
    this.pool = new Pool(u.origin, {
      // One connection per slot, plus one so a readiness probe never waits behind traffic. No
      // pipelining (undici's default of 1): an LLM answer takes seconds, and a request queued
      // behind it on the same connection would wait for it (head-of-line blocking), while the
      // limiter already bounds how many are sent; connections are reused (keep-alive), so the
      // connection cost is paid once per slot, not per request.
      connections: config.maxConcurrency + 1,
      connectTimeout: config.connectTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.idleTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** The base path without a trailing `/v1`: where the native APIs and passed-through paths live. */
  get rootPath(): string {
    return this.basePath.endsWith('/v1') ? this.basePath.slice(0, -3) : this.basePath;
  }

  view(): EndpointView {
    return {
      url: redactUrl(this.url),
      inFlight: this.inFlight,
      requests: this.requests,
      ejected: this.ejected,
      ...(this.ejected ? { ejectedUntil: new Date(this.ejectedUntil).toISOString() } : {}),
      consecutiveFailures: this.failures,
      ejections: this.ejections,
    };
  }
}

/** Thrown by {@link Upstream.addEndpoint} for an endpoint whose label another endpoint has (only the scheme differs). */
export class EndpointClashError extends Error {
  override readonly name = 'EndpointClashError';
}

/**
 * One configured model server, possibly several replicas of it (its
 * endpoints), and the limiter that bounds how many requests it is sent at
 * once: `maxConcurrency` per admitted endpoint. Each request goes to the
 * admitted endpoint with the fewest requests in flight (ties in turn); an
 * endpoint that fails `ejection.consecutiveFailures` times in a row
 * (connection errors or 5xx) is ejected for a backoff, doubled on each
 * ejection in a row, and admitted again when it ends or a readiness probe
 * finds it answering. Endpoints are added and removed at run time (the admin
 * API); a removed one finishes its requests and closes.
 */
export class Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly limiter: ConcurrencyLimiter;
  readonly #auth: string | undefined;
  readonly #postHeaders: Readonly<Record<string, string>>;
  readonly #meter: UpstreamMeter;
  readonly #log: (level: 'info' | 'warn', message: string) => void;
  #endpoints: Endpoint[] = [];
  #turn = 0;
  #closed = false;

  constructor(name: string, config: UpstreamConfig, meter: UpstreamMeter = NO_UPSTREAM_METER, log: (level: 'info' | 'warn', message: string) => void = () => {}) {
    this.name = name;
    this.config = config;
    this.#meter = meter;
    this.#log = log;
    this.#auth = config.apiKey === undefined ? undefined : `Bearer ${config.apiKey}`;
    this.#postHeaders = requestHeaders(true, this.#auth);
    this.limiter = new ConcurrencyLimiter(config.maxConcurrency, config.maxQueue, config.queueTimeoutMs);
    for (const url of upstreamURLs(config)) this.#add(url);
    this.#resize();
  }

  /** The endpoints in the order they were added. */
  get endpoints(): EndpointView[] {
    return this.#endpoints.map((e) => e.view());
  }

  /**
   * Sends one request. `path` is relative to the base URL (`/chat/completions`).
   * The upstream's own key, when configured, replaces the client's. A
   * connection that could not even be opened (refused, connect timeout) is
   * tried on another endpoint: nothing was sent.
   */
  async request(
    path: string,
    body: Buffer | string | undefined,
    clientAuth: string | undefined,
    signal: AbortSignal,
    method: 'GET' | 'POST' = 'POST',
  ): Promise<Dispatcher.ResponseData> {
    const auth = this.#auth ?? clientAuth;
    // Without a client key to pass on, the headers are the same for every request: made once.
    const headers = auth === this.#auth && body !== undefined ? this.#postHeaders : requestHeaders(body !== undefined, auth);
    return this.#send(path, false, method, headers, body, signal);
  }

  /**
   * Sends a request on `path` under the upstream's root (each endpoint's base
   * URL without a trailing `/v1`), with the method, headers and body given:
   * the native APIs and passthrough. The upstream's own key, when
   * configured, replaces the client's.
   */
  dispatch(
    path: string,
    method: Dispatcher.HttpMethod,
    headers: Record<string, string | string[]>,
    body: Dispatcher.DispatchOptions['body'],
    clientAuth: string | undefined,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const auth = this.#auth ?? clientAuth;
    if (auth !== undefined) headers.authorization = auth;
    else delete headers.authorization;
    return this.#send(path, true, method, headers, body ?? undefined, signal);
  }

  /** One request on the least loaded admitted endpoint, under its base path (or its root), tried on another when it was not sent. */
  async #send(
    path: string,
    root: boolean,
    method: Dispatcher.HttpMethod,
    headers: Readonly<Record<string, string | string[]>>,
    body: Dispatcher.DispatchOptions['body'] | undefined,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    let tried: Endpoint[] | undefined;
    for (;;) {
      const e = this.#pick(tried);
      e.inFlight++;
      e.requests++;
      e.meter.inFlight.inc();
      let answer: Dispatcher.ResponseData;
      try {
        answer = await e.pool.request({ path: (root ? e.rootPath : e.basePath) + path, method, headers, body: body ?? null, signal });
      } catch (err) {
        this.#finished(e);
        if (signal.aborted) throw err;
        this.#failed(e);
        if (notSent(err) && (tried ??= []).push(e) < this.#endpoints.length && this.#pick(tried, true) !== undefined) continue;
        throw err;
      }
      if (answer.statusCode >= 500) this.#failed(e);
      else this.#succeeded(e);
      // In flight until the body is read, dumped or broken: a stream counts for its whole length.
      let open = true;
      const done = () => {
        if (!open) return;
        open = false;
        this.#finished(e);
      };
      answer.body.once('close', done);
      answer.body.once('error', (err: unknown) => {
        done();
        if (!signal.aborted && !isAbort(err)) this.#failed(e);
      });
      return answer;
    }
  }

  /**
   * Asks every endpoint for `GET /models` (the readiness probe): an answer
   * below 500 admits an ejected endpoint again, a failure counts as one.
   */
  async probe(timeoutMs: number): Promise<Array<{ url: string; status?: number; error?: unknown }>> {
    return Promise.all(
      this.#endpoints.map(async (e) => {
        try {
          const answer = await e.pool.request({ path: `${e.basePath}/models`, method: 'GET', headers: requestHeaders(false, this.#auth), signal: AbortSignal.timeout(timeoutMs) });
          await answer.body.dump();
          if (answer.statusCode >= 500) this.#failed(e);
          else if (e.ejected) this.#readmit(e, 'a readiness probe got an answer');
          else this.#succeeded(e);
          return { url: e.url, status: answer.statusCode };
        } catch (error) {
          this.#failed(e);
          return { url: e.url, error };
        }
      }),
    );
  }

  /**
   * Adds an endpoint (a new replica); false when it is there already. Throws
   * a RangeError when the upstream has `maxEndpoints` already, an
   * EndpointClashError when another endpoint differs from it by scheme only.
   */
  addEndpoint(url: string): boolean {
    const key = endpointKey(url);
    if (this.#endpoints.some((e) => e.key === key)) return false;
    const label = endpointLabel(url);
    const clash = this.#endpoints.find((e) => e.label === label);
    if (clash !== undefined) throw new EndpointClashError(`${redactUrl(url)} ${ENDPOINT_CLASH_MESSAGE} (${redactUrl(clash.url)})`);
    if (this.#endpoints.length >= this.config.maxEndpoints) throw new RangeError(`upstream '${this.name}' has ${this.#endpoints.length} endpoints, its maxEndpoints`);
    this.#add(url);
    this.#resize();
    this.#log('info', `endpoint ${redactUrl(url)} added to upstream '${this.name}'`);
    return true;
  }

  /**
   * Removes an endpoint: it gets no new request, finishes those in flight,
   * then closes. False when there is no such endpoint; throws a RangeError
   * for the last one (an upstream always has one).
   */
  removeEndpoint(url: string): boolean {
    const key = endpointKey(url);
    const e = this.#endpoints.find((x) => x.key === key);
    if (e === undefined) return false;
    if (this.#endpoints.length === 1) throw new RangeError(`${redactUrl(url)} is the last endpoint of upstream '${this.name}'`);
    this.#endpoints = this.#endpoints.filter((x) => x !== e);
    clearTimeout(e.timer);
    e.meter.retire();
    this.#meter.endpoints.set(this.#endpoints.length);
    this.#resize();
    // close() lets the requests in flight finish; destroy() would cut them.
    e.pool.close().catch(() => {});
    this.#log('info', `endpoint ${redactUrl(url)} removed from upstream '${this.name}'`);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const e of this.#endpoints) clearTimeout(e.timer);
    await Promise.all(this.#endpoints.map((e) => e.pool.destroy()));
  }

  #add(url: string): void {
    this.#endpoints.push(new Endpoint(url, this.config, this.#meter.endpoint(endpointLabel(url))));
    this.#meter.endpoints.set(this.#endpoints.length);
  }

  /**
   * The admitted endpoint with the fewest requests in flight, starting the
   * scan one further each time so that ties take turns. With every endpoint
   * not yet tried ejected, the one whose ejection ends first (better a
   * likely failure than a certain one), unless `admittedOnly`.
   */
  #pick(tried: readonly Endpoint[] | undefined): Endpoint;
  #pick(tried: readonly Endpoint[] | undefined, admittedOnly: true): Endpoint | undefined;
  #pick(tried: readonly Endpoint[] | undefined, admittedOnly = false): Endpoint | undefined {
    const all = this.#endpoints;
    const n = all.length;
    if (n === 1 && tried === undefined) return all[0]!;
    const start = this.#turn++ % n;
    let best: Endpoint | undefined;
    let soonest: Endpoint | undefined;
    for (let k = 0; k < n; k++) {
      const e = all[(start + k) % n]!;
      if (tried?.includes(e) === true) continue;
      if (e.ejected) {
        if (soonest === undefined || e.ejectedUntil < soonest.ejectedUntil) soonest = e;
      } else if (best === undefined || e.inFlight < best.inFlight) {
        best = e;
      }
    }
    return best ?? (admittedOnly ? undefined : (soonest ?? all[start]!));
  }

  #finished(e: Endpoint): void {
    e.inFlight--;
    e.meter.inFlight.dec();
  }

  #succeeded(e: Endpoint): void {
    e.failures = 0;
    e.streak = 0;
  }

  #failed(e: Endpoint): void {
    e.failures++;
    if (e.ejected || e.failures < this.config.ejection.consecutiveFailures || this.#closed) return;
    // The last admitted endpoint stays: ejecting it would leave nothing to send to.
    if (!this.#endpoints.some((x) => x !== e && !x.ejected)) return;
    if (!this.#endpoints.includes(e)) return;
    const { baseMs, maxMs } = this.config.ejection;
    const ms = Math.min(maxMs, baseMs * 2 ** Math.min(e.streak, 30));
    e.streak++;
    e.ejections++;
    e.ejectedUntil = Date.now() + ms;
    e.meter.ejected.set(1);
    e.meter.ejections.inc();
    e.timer = setTimeout(() => this.#readmit(e, `its ${ms} ms ejection ended`), ms);
    e.timer.unref();
    this.#resize();
    this.#log('warn', `endpoint ${redactUrl(e.url)} of upstream '${this.name}' ejected for ${ms} ms after ${e.failures} failures in a row`);
  }

  #readmit(e: Endpoint, why: string): void {
    if (!e.ejected) return;
    clearTimeout(e.timer);
    e.timer = undefined;
    e.ejectedUntil = 0;
    // On probation: one more failure ejects it again, for twice as long.
    e.failures = this.config.ejection.consecutiveFailures - 1;
    e.meter.ejected.set(0);
    this.#resize();
    this.#log('info', `endpoint ${redactUrl(e.url)} of upstream '${this.name}' admitted again: ${why}`);
  }

  /** `maxConcurrency` slots per admitted endpoint (at least one endpoint's worth). */
  #resize(): void {
    const admitted = this.#endpoints.filter((e) => !e.ejected).length;
    this.limiter.resize(this.config.maxConcurrency * Math.max(1, admitted));
  }
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** True when the request never left: the connection could not be opened, so another endpoint may take it. */
function notSent(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'UND_ERR_ABORTED');
}

function requestHeaders(hasBody: boolean, auth: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
  if (hasBody) headers['content-type'] = 'application/json';
  if (auth !== undefined) headers.authorization = auth;
  return headers;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const MALFORMED_CODES = new Set(['HPE_INVALID_CONSTANT', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_STATUS', 'UND_ERR_INFO']);

/** Why an exchange with an upstream failed, from undici's or Node's error code. */
export function classifyUpstreamError(err: unknown): UpstreamErrorReason {
  let e: unknown = err;
  // undici wraps socket errors; the root cause carries the useful code.
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (TIMEOUT_CODES.has(code)) return 'timeout';
      if (REFUSED_CODES.has(code)) return 'refused';
      if (MALFORMED_CODES.has(code) || code.startsWith('HPE_')) return 'malformed';
    }
    e = (e as { cause?: unknown }).cause;
  }
  return 'reset';
}
