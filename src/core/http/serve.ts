import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import { logger } from '../log.ts';
import { answerClientError, clientErrorOf } from './client-errors.ts';
import type { ClientErrorKind } from './client-errors.ts';
import { HTTP_ERR_METHOD_NOT_ALLOWED, HTTP_ERR_NOT_FOUND } from './errors.ts';
import { sendError } from './send.ts';

/** What a route's handler is given besides the request and response. */
export interface RouteContext {
  /** The request path, without its query string. */
  readonly path: string;
  /** The request method (`GET` when Node gives none). */
  readonly method: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => Promise<void> | void;

/**
 * One entry of a server's route table.
 * - `methods`: a handler per method; a `GET` handler answers `HEAD` too. Any
 *   other method is a 405 whose `Allow` lists these.
 * - `any`: one handler for every method, for a route that checks methods
 *   itself (an admin API with its own sub-paths).
 */
export type Route = {
  /** An exact path, or with `prefix: true` every path that starts with it. */
  readonly path: string;
  readonly prefix?: boolean;
} & ({ readonly methods: Readonly<Record<string, Handler>>; readonly any?: undefined } | { readonly any: Handler; readonly methods?: undefined });

/** Why a request was refused before any handler saw it (a part may meter it). */
export type RefusedKind = 'not_found' | 'method_not_allowed' | ClientErrorKind;

/** The `/metrics` a server exposes: a prom-client registry, or anything like it. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface ServeOptions {
  /** The part's name: its logger's child (`logger(part)`) logs the unknown errors. */
  readonly part: string;
  readonly routes: readonly Route[];
  /** Serves `GET /metrics` from this registry; `beforeScrape` runs first (a gauge read on demand). */
  readonly metrics?: MetricsSource;
  readonly beforeScrape?: () => void;
  /** Node's server options (timeouts). */
  readonly server?: ServerOptions;
  /** The 404 message; by default it names the path and lists the ones the server has. */
  readonly notFound?: (method: string, path: string) => string;
  /** Told of each request refused by the table itself (404, 405) or by Node's parser (408, 431, 400, bad method). */
  readonly refused?: (kind: RefusedKind, path: string) => void;
}

/**
 * llmwatch's one HTTP server: a route table, 404 and 405 with `Allow` for
 * what is not in it, `/metrics`, llmwatch errors answered with their status
 * and code, anything else a 500 `ERR_INTERNAL` logged once by the part's
 * logger, and Node's own parser errors answered in the same error shape.
 * Every body is the OpenAI error shape, which is also every part's shape.
 */
export function serve(opts: ServeOptions): Server {
  const log = logger(opts.part);
  const routes = opts.metrics === undefined ? opts.routes : [...opts.routes, metricsRoute(opts.metrics, opts.beforeScrape)];
  const exact = new Map<string, Route>();
  const prefixes: Route[] = [];
  for (const r of routes) {
    if (r.prefix === true) prefixes.push(r);
    else if (exact.has(r.path)) throw new Error(`route ${r.path} is defined twice`);
    else exact.set(r.path, r);
  }
  const allowOf = new Map(routes.map((r) => [r, r.methods === undefined ? undefined : allowHeader(Object.keys(r.methods))]));
  const everyMethod = allowHeader([...new Set(routes.flatMap((r) => (r.methods === undefined ? ['GET', 'POST'] : Object.keys(r.methods))))]);
  const paths = routes.map((r) => (r.prefix === true ? `${r.path}...` : r.path)).join(', ');
  const notFound = opts.notFound ?? ((method: string, path: string) => `Unknown path: ${method} ${truncate(path)}; this server serves ${paths}`);

  function route(path: string): Route | undefined {
    const hit = exact.get(path);
    if (hit !== undefined) return hit;
    for (const r of prefixes) if (path.startsWith(r.path)) return r;
    return undefined;
  }

  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const r = route(path);
    if (r === undefined) {
      opts.refused?.('not_found', path);
      return sendError(res, HTTP_ERR_NOT_FOUND(notFound(method, path)), log);
    }
    const ctx = { path, method };
    if (r.any !== undefined) return r.any(req, res, ctx);
    const handler = r.methods[method] ?? (method === 'HEAD' ? r.methods.GET : undefined);
    if (handler !== undefined) return handler(req, res, ctx);
    opts.refused?.('method_not_allowed', path);
    const allow = allowOf.get(r)!;
    return sendError(res, HTTP_ERR_METHOD_NOT_ALLOWED(`Use ${allow} for ${truncate(path)}`, { headers: { allow } }), log);
  }

  const server = createServer(opts.server ?? {}, (req, res) => {
    try {
      const pending = handle(req, res);
      if (pending !== undefined) pending.catch((err: unknown) => sendError(res, err, log));
    } catch (err) {
      sendError(res, err, log);
    }
  });
  // Node answers parse errors and timeouts with a bare status line: answer them in the error shape.
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return void socket.destroy();
    const { error, kind, headers } = clientErrorOf(err, everyMethod);
    opts.refused?.(kind, '');
    answerClientError(socket, error, headers);
  });
  return server;
}

function metricsRoute(source: MetricsSource, beforeScrape: (() => void) | undefined): Route {
  return {
    path: '/metrics',
    methods: {
      GET: async (_req, res) => {
        beforeScrape?.();
        const text = await source.metrics();
        res.writeHead(200, { 'content-type': source.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  };
}

/** The `Allow` value of a route's methods: `GET` brings `HEAD`. */
function allowHeader(methods: readonly string[]): string {
  const all = new Set(methods);
  if (all.has('GET')) all.add('HEAD');
  return [...all].join(', ');
}

/**
 * The URL clients reach a server at: a wildcard bind (`0.0.0.0`, `::`) is
 * reached on loopback, an IPv6 literal goes in brackets (`http://[::1]:8080`).
 */
export function serverURL(host: string, port: number, scheme = 'http'): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${h}:${port}`;
}

/** Client-supplied text echoed in an error, cut short: a 3 MB path or model name is not sent back. */
export function truncate(text: string, max = 128): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} characters)`;
}
