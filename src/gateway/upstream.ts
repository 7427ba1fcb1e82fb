import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { UpstreamConfig } from '../core/config/gateway-config.ts';
import type { UpstreamErrorReason } from '../core/conventions/metrics.ts';
import { ConcurrencyLimiter } from './limiter.ts';

/**
 * One configured model server: a keep-alive connection pool to it and the
 * limiter that bounds how many requests it is sent at once.
 */
export class Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly limiter: ConcurrencyLimiter;
  /** Path prefix of the base URL (`/v1`), joined to each endpoint's path under it. */
  readonly basePath: string;
  readonly #pool: Pool;
  readonly #auth: string | undefined;
  readonly #postHeaders: Readonly<Record<string, string>>;

  constructor(name: string, config: UpstreamConfig) {
    this.name = name;
    this.config = config;
    const url = new URL(config.baseURL);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.#auth = config.apiKey === undefined ? undefined : `Bearer ${config.apiKey}`;
    this.#postHeaders = requestHeaders(true, this.#auth);
    this.limiter = new ConcurrencyLimiter(config.maxConcurrency, config.maxQueue, config.queueTimeoutMs);
    this.#pool = new Pool(url.origin, {
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

  /**
   * Sends one request. `path` is relative to the base URL (`/chat/completions`).
   * The upstream's own key, when configured, replaces the client's.
   */
  request(
    path: string,
    body: Buffer | string | undefined,
    clientAuth: string | undefined,
    signal: AbortSignal,
    method: 'GET' | 'POST' = 'POST',
  ): Promise<Dispatcher.ResponseData> {
    const auth = this.#auth ?? clientAuth;
    // Without a client key to pass on, the headers are the same for every request: made once.
    const headers = auth === this.#auth && body !== undefined ? this.#postHeaders : requestHeaders(body !== undefined, auth);
    return this.#pool.request({ path: this.basePath + path, method, headers, body: body ?? null, signal });
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
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
