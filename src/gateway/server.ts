import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { hasCode } from '../errors.ts';
import { HTTP_ERR_BODY_TOO_LARGE, HTTP_ERR_INVALID_JSON, HTTP_ERR_METHOD_NOT_ALLOWED, HTTP_ERR_NOT_FOUND } from '../http/errors.ts';
import { close, listen } from '../http/listen.ts';
import { parseJsonObject, readBody } from '../http/read-body.ts';
import { sendError, sendJson } from '../http/send.ts';
import { ENDPOINT_NONE } from '../metrics/conventions.ts';
import { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { ENDPOINT_NAMES, endpointForPath } from '../openai/endpoints.ts';
import type { Endpoint } from '../openai/endpoints.ts';
import { validateInferenceRequest } from '../openai/validate.ts';
import { VERSION } from '../version.ts';
import { GW_ERR_UNKNOWN_MODEL } from './errors.ts';
import { createRoute, forward } from './proxy.ts';
import type { Route } from './proxy.ts';
import { probeUpstreams } from './readiness.ts';
import { Upstream } from './upstream.ts';

/** A running gateway. */
export interface GatewayHandle {
  readonly port: number;
  /** `http://host:port`, without `/v1`. */
  readonly url: string;
  readonly metrics: GatewayMetrics;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * The OpenAI-compatible metering gateway: validates and routes each request to
 * its model's upstream through the proxy core, and serves `/metrics`,
 * `/healthz` and `/readyz`. Everything that can be decided from the config is
 * decided here, once.
 */
export function createGateway(config: GatewayConfig, registry: Registry = new Registry()): { server: Server; metrics: GatewayMetrics; closeUpstreams(): Promise<void> } {
  const upstreams = new Map(Object.entries(config.upstreams).map(([name, u]) => [name, new Upstream(name, u)]));
  const metrics = new GatewayMetrics(registry, {
    prefix: config.metrics.prefix,
    durationBuckets: config.metrics.durationBuckets,
    processMetrics: config.metrics.processMetrics,
    version: VERSION,
    routes: Object.entries(config.models).map(([model, m]) => ({ model, upstream: m.upstream })),
  });
  const routes = new Map<string, Route>();
  for (const [model, m] of Object.entries(config.models)) {
    const upstream = upstreams.get(m.upstream)!;
    for (const endpoint of ENDPOINT_NAMES) {
      routes.set(routeKey(endpoint, model), createRoute(metrics.route(model, endpoint)!, upstream, m.upstreamModel));
    }
  }
  const modelList = JSON.stringify({
    object: 'list',
    data: Object.keys(config.models).map((id) => ({ id, object: 'model', created: 0, owned_by: 'llmwatch' })),
  });
  const limit = config.maxBodyBytes;

  async function handleInference(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint): Promise<void> {
    const startedAt = performance.now();
    let route: Route | undefined;
    let raw: Buffer;
    let request;
    try {
      raw = await readBody(req, limit);
      request = validateInferenceRequest(endpoint, parseJsonObject(raw));
      route = routes.get(routeKey(endpoint, request.model));
      if (route === undefined) {
        throw GW_ERR_UNKNOWN_MODEL(`The model '${request.model}' does not exist on this gateway (known: ${Object.keys(config.models).join(', ')})`, {
          param: 'model',
        });
      }
    } catch (err) {
      metrics.rejected(endpoint, rejectReason(err));
      // The rest of an oversized body is not worth reading: close after answering.
      if (hasCode(err, HTTP_ERR_BODY_TOO_LARGE)) res.setHeader('connection', 'close');
      return sendError(res, err);
    }
    await forward(req, res, route, request, raw, startedAt);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const endpoint = endpointForPath(path);
    if (endpoint !== undefined) {
      if (req.method === 'POST') return handleInference(req, res, endpoint);
      return refuse(res, endpoint, 'method_not_allowed', HTTP_ERR_METHOD_NOT_ALLOWED(`Use POST for ${path}`), 'POST');
    }
    const allowed = GET_PATHS.has(path);
    if (allowed && req.method !== 'GET' && req.method !== 'HEAD') {
      return refuse(res, ENDPOINT_NONE, 'method_not_allowed', HTTP_ERR_METHOD_NOT_ALLOWED(`Use GET for ${path}`), 'GET');
    }
    switch (path) {
      case '/v1/models':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(modelList) });
        return void res.end(modelList);
      case '/metrics': {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        return void res.end(text);
      }
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        const report = await probeUpstreams(upstreams.values());
        return sendJson(res, report.ready ? 200 : 503, report);
      }
      default:
        return refuse(res, ENDPOINT_NONE, 'not_found', HTTP_ERR_NOT_FOUND(`Unknown path: ${req.method ?? 'GET'} ${path}`));
    }
  }

  function refuse(
    res: ServerResponse,
    endpoint: Endpoint | typeof ENDPOINT_NONE,
    why: 'method_not_allowed' | 'not_found',
    err: unknown,
    allow?: string,
  ): void {
    metrics.rejected(endpoint, why);
    if (allow !== undefined) res.setHeader('allow', allow);
    sendError(res, err);
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });
  return {
    server,
    metrics,
    closeUpstreams: async () => {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    },
  };
}

/** Starts a gateway; `port` 0 picks a free port. */
export async function startGateway(config: GatewayConfig, opts: { port?: number; host?: string; registry?: Registry } = {}): Promise<GatewayHandle> {
  const { server, metrics, closeUpstreams } = createGateway(config, opts.registry);
  const host = opts.host ?? config.host;
  const port = await listen(server, opts.port ?? config.port, host);
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    metrics,
    server,
    close: async () => {
      await close(server);
      await closeUpstreams();
    },
  };
}

const GET_PATHS = new Set(['/v1/models', '/metrics', '/healthz', '/readyz']);

function routeKey(endpoint: Endpoint, model: string): string {
  return `${endpoint}\u0000${model}`;
}

function rejectReason(err: unknown): 'invalid_json' | 'body_too_large' | 'unknown_model' | 'invalid_request' {
  if (hasCode(err, HTTP_ERR_INVALID_JSON)) return 'invalid_json';
  if (hasCode(err, HTTP_ERR_BODY_TOO_LARGE)) return 'body_too_large';
  if (hasCode(err, GW_ERR_UNKNOWN_MODEL)) return 'unknown_model';
  return 'invalid_request';
}
