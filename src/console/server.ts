import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '../core/dashboard-model.ts';
import { HTTP_ERR_NOT_FOUND } from '../core/http/errors.ts';
import { close, listen } from '../core/http/listen.ts';
import { sendJson } from '../core/http/send.ts';
import { serve, serverURL, truncate } from '../core/http/serve.ts';
import type { Handler, Route } from '../core/http/serve.ts';
import { fromAlertmanager, fromPrometheus } from './alerts.ts';
import type { ConsoleAlert } from './alerts.ts';
import { LlmwatchError } from '../core/errors.ts';
import { CONSOLE_ERR_BAD_PARAM, CONSOLE_ERR_NOT_CONFIGURED, CONSOLE_ERR_UPSTREAM } from './errors.ts';
import { markdownToHtml } from './markdown.ts';
import { noiseRange, optionalTime, queryParam, rangeParams } from './query-bounds.ts';
import { getJson } from './upstream.ts';

export interface ConsoleOptions {
  /** Base URLs, e.g. `http://127.0.0.1:9090`. Alertmanager and the responder are optional. */
  readonly prometheus: string;
  readonly alertmanager?: string;
  readonly responder?: string;
  /** The responder's webhook token: its audit log needs credentials. */
  readonly responderToken?: string;
  /** The dashboard model to draw (`buildDashboards(buildModel(spec))`). */
  readonly dashboards: readonly Dashboard[];
  /** 0 for any free port. */
  readonly port: number;
  /** Milliseconds each call to a peer may take. */
  readonly upstreamTimeoutMs?: number;
  /** The stack's file of the last drill run (`llmwatch drill` writes it), when there is a stack. */
  readonly drillsFile?: string;
  /**
   * The monitoring model whose runbooks to serve at `/runbooks/<Alert>.md`, filled in with the
   * alert labels of the query string; the alerts table links its alerts there.
   */
  readonly runbooks?: RunbookSource;
  /** The alert-noise report (`llmwatch noise`) over a range, served at `/api/noise`; handed in by whoever starts the console. */
  readonly noise?: NoiseSource;
}

/** Builds the alert-noise report over [startMs, endMs] (JSON: the shape `llmwatch noise --json` prints). */
export interface NoiseSource {
  report(startMs: number, endMs: number): Promise<unknown>;
}

/** How long a noise report is reused for the same range: the page refreshes every 10 s, a report reads the whole range's history. */
const NOISE_REUSE_MS = 30_000;

/** The runbooks a console serves: generated from the spec by the monitoring part, handed in by whoever starts the console. */
export interface RunbookSource {
  /** The Markdown of an alert's runbook filled in for these labels; undefined for an alert the spec does not generate. */
  page(alert: string, labels: Readonly<Record<string, string>>): string | undefined;
  /** The Markdown index of every runbook. */
  index(): string;
  /** The labels that tell one instance of the alert from another; undefined for an alert without a runbook. */
  identity(alert: string): readonly string[] | undefined;
}

export interface ConsoleHandle {
  readonly url: string;
  close(): Promise<void>;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const require = createRequire(import.meta.url);
const here = (file: string) => fileURLToPath(new URL(`./assets/${file}`, import.meta.url));

/**
 * Every file the page loads, read once at start-up: the page itself and uPlot
 * from node_modules, so the browser never reaches past 127.0.0.1.
 */
function loadAssets(): ReadonlyMap<string, Asset> {
  const uplot = (file: string) => require.resolve(`uplot/dist/${file}`);
  const files: Array<[string, string, string]> = [
    ['/', here('index.html'), 'text/html; charset=utf-8'],
    ['/assets/console.js', here('console.js'), 'text/javascript; charset=utf-8'],
    ['/assets/console.css', here('console.css'), 'text/css; charset=utf-8'],
    ['/vendor/uPlot.iife.min.js', uplot('uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['/vendor/uPlot.min.css', uplot('uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([path, file, type]) => [path, { type, body: readFileSync(file) }]));
}

// The page loads only its own origin; Chromium then blocks any other request, and a test proves none is tried.
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
} as const;

/**
 * `llmwatch console`: serves the page and a small read-only JSON API on
 * 127.0.0.1. Only GET (and HEAD for assets), only these paths:
 * - `/api/dashboards`: the dashboard model
 * - `/api/query`, `/api/query_range`: proxied to Prometheus, bounded (`QUERY_BOUNDS`)
 * - `/api/alerts`: Prometheus' pending and firing alerts and Alertmanager's, with runbook links
 * - `/api/actions`: the responder's recent actions
 * - `/api/drills`: the last drill run
 * - `/api/noise`: the alert-noise report over `range` seconds back from now (or `start`..`end`)
 * A peer that does not answer is a 502 with the OpenAI error shape; a PromQL
 * error keeps Prometheus' own status and body.
 */
export async function startConsole(opts: ConsoleOptions): Promise<ConsoleHandle> {
  const assets = loadAssets();
  const timeout = opts.upstreamTimeoutMs ?? 10_000;
  const prom = opts.prometheus.replace(/\/+$/, '');
  const dashboards = { dashboards: opts.dashboards };

  async function proxyPrometheus(res: ServerResponse, path: string, params: Record<string, string | number | undefined>): Promise<void> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.set(k, String(v));
    const reply = await getJson('Prometheus', `${prom}${path}?${qs}`, timeout);
    sendJson(res, reply.status, reply.body);
  }

  async function alerts(res: ServerResponse): Promise<void> {
    const fromProm = fromPrometheus((await getJson('Prometheus', `${prom}/api/v1/alerts`, timeout)).body);
    let alertmanager: ReturnType<typeof fromAlertmanager> | null = null;
    let alertmanagerError: string | null = null;
    if (opts.alertmanager !== undefined) {
      // Prometheus' alerts are the page's core; an Alertmanager outage is shown beside them, not instead.
      try {
        const r = await getJson('Alertmanager', `${opts.alertmanager.replace(/\/+$/, '')}/api/v2/alerts`, timeout);
        if (r.status === 200) alertmanager = fromAlertmanager(r.body);
        else alertmanagerError = `Alertmanager answered HTTP ${r.status}`;
      } catch (err) {
        alertmanagerError = (err as Error).message;
      }
    }
    sendJson(res, 200, { prometheus: fromProm.map(localRunbook), alertmanager: alertmanager?.map(localRunbook) ?? null, alertmanagerError });
  }

  /** An alert this console has a runbook for links to it, filled in with the alert's identity labels. */
  function localRunbook(a: ConsoleAlert): ConsoleAlert {
    const identity = opts.runbooks?.identity(a.name);
    if (identity === undefined) return a;
    const qs = new URLSearchParams(identity.filter((l) => a.labels[l] !== undefined).map((l) => [l, a.labels[l]!]));
    return { ...a, runbookURL: `/runbooks/${a.name}.md${qs.size > 0 ? `?${qs}` : ''}` };
  }

  function runbookPage(res: ServerResponse, path: string, params: URLSearchParams, method: string): void {
    const runbooks = opts.runbooks;
    if (runbooks === undefined) throw HTTP_ERR_NOT_FOUND('This console serves no runbooks (it was started without a monitoring spec)');
    const name = path.slice('/runbooks/'.length).replace(/\.md$/, '');
    let markdown: string | undefined;
    if (name === '' || name === 'README') markdown = runbooks.index();
    else markdown = runbooks.page(name, Object.fromEntries(params));
    if (markdown === undefined) throw HTTP_ERR_NOT_FOUND(`No runbook for '${name}': the spec generates no such alert (see /runbooks/)`);
    const body = Buffer.from(markdownToHtml(markdown, name === '' ? 'Runbooks' : name));
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
  }

  async function actions(res: ServerResponse): Promise<void> {
    if (opts.responder === undefined) throw CONSOLE_ERR_NOT_CONFIGURED('No responder URL was given (--responder)');
    const r = await getJson('The responder', `${opts.responder.replace(/\/+$/, '')}/actions?limit=20`, timeout, opts.responderToken === undefined ? {} : { authorization: `Bearer ${opts.responderToken}` });
    sendJson(res, r.status, r.body);
  }

  // One report kept (the last range asked, its end rounded down to 10 s): bounded memory, and the
  // page's refreshes do not read the whole history again each time.
  let lastNoise: { key: string; at: number; report: Promise<unknown> } | undefined;
  async function noise(res: ServerResponse, p: URLSearchParams): Promise<void> {
    const source = opts.noise;
    if (source === undefined) throw CONSOLE_ERR_NOT_CONFIGURED('This console reports no alert noise (it was started without a stack or an Alertmanager config)');
    const { start, end } = noiseRange(p);
    const key = `${start}:${end}`;
    const now = Date.now();
    if (lastNoise === undefined || lastNoise.key !== key || now - lastNoise.at > NOISE_REUSE_MS) {
      const report = source.report(start * 1000, end * 1000);
      lastNoise = { key, at: now, report };
      // A failed report is not kept: the next refresh tries again.
      report.catch(() => {
        if (lastNoise?.report === report) lastNoise = undefined;
      });
    }
    try {
      sendJson(res, 200, await lastNoise.report);
    } catch (err) {
      if (err instanceof LlmwatchError && err.status === 400) throw CONSOLE_ERR_BAD_PARAM(err.message, { cause: err });
      throw CONSOLE_ERR_UPSTREAM(`The alert noise report could not be built: ${(err as Error).message}`, { cause: err });
    }
  }

  const params = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://console').searchParams;
  const runbook: Handler = (req, res, { path, method }) => runbookPage(res, path === '/runbooks' ? '/runbooks/' : path, params(req), method);
  const api = (path: string, get: Handler): Route => ({ path, methods: { GET: get } });
  const routes: Route[] = [
    ...[...assets].map(([path, asset]): Route => ({
      path,
      methods: {
        GET: (_req, res, { method }) => {
          res.writeHead(200, { ...PAGE_HEADERS, 'content-type': asset.type, 'content-length': asset.body.length });
          res.end(method === 'HEAD' ? undefined : asset.body);
        },
      },
    })),
    { path: '/runbooks', methods: { GET: runbook } },
    { path: '/runbooks/', prefix: true, methods: { GET: runbook } },
    api('/api/dashboards', (_req, res) => sendJson(res, 200, dashboards)),
    api('/api/query', (req, res) => {
      const p = params(req);
      return proxyPrometheus(res, '/api/v1/query', { query: queryParam(p), time: optionalTime(p) });
    }),
    api('/api/query_range', (req, res) => {
      const r = rangeParams(params(req));
      return proxyPrometheus(res, '/api/v1/query_range', { query: r.query, start: r.start, end: r.end, step: r.step });
    }),
    api('/api/alerts', (_req, res) => alerts(res)),
    api('/api/actions', (_req, res) => actions(res)),
    api('/api/drills', (_req, res) => sendJson(res, 200, lastDrills(opts.drillsFile))),
    api('/api/noise', (req, res) => noise(res, params(req))),
  ];

  const server = serve({
    part: 'console',
    routes,
    notFound: (_method, path) =>
      path.startsWith('/api/')
        ? `No API at ${truncate(path)}: the console serves only dashboards, query, query_range, alerts, actions, drills and noise`
        : `No page at ${truncate(path)}`,
  });
  const port = await listen(server, opts.port, '127.0.0.1');
  return { url: serverURL('127.0.0.1', port), close: () => close(server) };
}

/** The last drill run, or none yet. A file that cannot be read is shown as no run, with why. */
function lastDrills(file: string | undefined): { at?: string; results: unknown[]; error?: string } {
  if (file === undefined || !existsSync(file)) return { results: [] };
  try {
    const run = JSON.parse(readFileSync(file, 'utf8')) as { at?: string; results?: unknown[] };
    return { at: run.at, results: Array.isArray(run.results) ? run.results : [] };
  } catch (err) {
    return { results: [], error: `cannot read ${file}: ${(err as Error).message}` };
  }
}
