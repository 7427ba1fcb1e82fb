import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { secretOf } from '../core/config/secrets.ts';
import { modelTargets } from '../core/config/gateway-config.ts';
import type { GatewayConfig } from '../core/config/gateway-config.ts';
import { hasCode } from '../core/errors.ts';
import {
  HTTP_ERR_BAD_ENCODING,
  HTTP_ERR_BODY_TOO_LARGE,
  HTTP_ERR_INVALID_JSON,
  HTTP_ERR_REQUEST_TIMEOUT,
  HTTP_ERR_UNSUPPORTED_MEDIA_TYPE,
} from '../core/http/errors.ts';
import { close, listen } from '../core/http/listen.ts';
import { decodeBody, parseJsonObject, readBody, requireJsonContentType } from '../core/http/read-body.ts';
import { retryAfter, sendError, sendJson } from '../core/http/send.ts';
import { serve, serverURL, truncate } from '../core/http/serve.ts';
import type { MetricsSource, Route } from '../core/http/serve.ts';
import { ENDPOINT_NONE } from '../core/conventions/metrics.ts';
import type { RejectReason } from '../core/conventions/metrics.ts';
import { GatewayMetrics } from '../core/metering/gateway-metrics.ts';
import { renderMetrics } from '../core/metering/exposition.ts';
import { ENDPOINT_NAMES, ENDPOINTS, endpointForPath } from '../core/openai/endpoints.ts';
import type { Endpoint } from '../core/openai/endpoints.ts';
import { preloadTokenizer } from '../core/openai/tokens.ts';
import { validateInferenceRequest } from '../core/openai/validate.ts';
import { VERSION } from '../core/version.ts';
import { serveAdmin } from './admin.ts';
import { serveUpstreamAdmin } from './admin-upstreams.ts';
import { EndpointMetrics } from './endpoint-metrics.ts';
import { AnswerCache } from './cache/answer-cache.ts';
import { tenantOf } from './cache/key.ts';
import { MemoryCacheStore } from './cache/memory-store.ts';
import { RedisCacheStore } from './cache/redis-store.ts';
import type { CacheStore } from './cache/types.ts';
import { ClientKeys, readKeysFile } from './client-keys.ts';
import { OAI_ERR_UNKNOWN_MODEL } from '../core/openai/errors.ts';
import { GW_ERR_INVALID_API_KEY, GW_ERR_STREAMING_DISABLED } from './errors.ts';
import { forward } from './proxy.ts';
import type { ProxyServices } from './proxy.ts';
import { probeUpstreams } from './readiness.ts';
import { Router } from './router.ts';
import { RedisRouteStore } from './redis-route-store.ts';
import { LocalRouteStore } from './route-store.ts';
import type { RouteStore } from './route-store.ts';
import type { RouteSwitch } from './router.ts';
import { ClassifierScorer } from './safety/classifier-scorer.ts';
import { LexicalScorer } from './safety/lexical-scorer.ts';
import { OutputSafety } from './safety/output-safety.ts';
import { SampledClassifier } from './safety/sampled-classifier.ts';
import { answerBehaviour } from './behaviour/from-config.ts';
import { Upstream } from './upstream.ts';
import { logger } from '../core/log.ts';
import { ENDPOINT_OTHER, NATIVE_ENDPOINTS, NATIVE_ENDPOINT_NAMES, nativeEndpointsOf } from '../core/native/endpoints.ts';
import type { EndpointLabel, NativeEndpoint } from '../core/native/endpoints.ts';
import { OAI_ERR_MISSING_PARAM } from '../core/openai/errors.ts';
import { HTTP_ERR_NOT_FOUND } from '../core/http/errors.ts';
import { forwardNative } from './native/native-proxy.ts';
import { parseNativeRequest } from '../core/native/requests.ts';
import { NATIVE_WIRES } from '../core/native/wire.ts';
import type { NativeWire } from '../core/native/wire.ts';
import { allows, namedModel, passTarget, passThrough } from './native/passthrough.ts';

/** A running gateway. */
export interface GatewayHandle {
  readonly port: number;
  /** `http://host:port`, without `/v1`. */
  readonly url: string;
  readonly metrics: GatewayMetrics;
  readonly router: Router;
  /** Where route switches go: this process, or every replica sharing Redis. */
  readonly routes: RouteStore;
  readonly server: Server;
  close(): Promise<void>;
}

export interface GatewayOptions {
  readonly registry?: Registry;
  /** Where `/metrics` comes from (with `--workers`, the aggregate of all workers); default this gateway's registry. */
  readonly metricsSource?: (registry: Registry) => MetricsSource;
  /** Where route switches are logged, one JSON object per line; default stdout. */
  readonly log?: (entry: RouteSwitch) => void;
}

/**
 * The OpenAI-compatible metering gateway: checks client keys, validates and
 * routes each request to its model's active target through the proxy core
 * (with the response cache and output safety around it), and serves
 * `/metrics`, `/healthz`, `/readyz` and the admin API. Everything that can be
 * decided from the config is decided here, once; secrets in files are read
 * here too, so a missing file stops the gateway at start-up.
 */
export function createGateway(config: GatewayConfig, opts: GatewayOptions = {}) {
  const registry = opts.registry ?? new Registry();
  const endpointMetrics = new EndpointMetrics(registry, config.metrics.prefix);
  const upstreams = new Map(Object.entries(config.upstreams).map(([name, u]) => [name, new Upstream(name, u, endpointMetrics.upstream(name), logEndpointChange)]));
  const keys = new ClientKeys([...config.auth.keys, ...(config.auth.keysFile === undefined ? [] : readKeysFile(config.auth.keysFile))]);
  const adminToken = secretOf(config.admin.token, config.admin.tokenFile, 'admin.tokenFile');
  const metrics = new GatewayMetrics(registry, {
    prefix: config.metrics.prefix,
    durationBuckets: config.metrics.durationBuckets,
    processMetrics: config.metrics.processMetrics,
    version: VERSION,
    models: Object.entries(config.models).map(([model, m]) => ({ model, targets: modelTargets(model, m), endpoints: m.endpoints, extraEndpoints: extraEndpoints(config, modelTargets(model, m)) })),
    passthroughWithoutModel: Object.values(config.upstreams).some((u) => u.passthrough.length > 0),
    keys: keys.names,
    cacheStore: config.cache.enabled ? config.cache.store : undefined,
    naming: config.metrics.naming,
    providerName: config.metrics.providerName,
    routeStore: config.routes.store === 'redis' ? 'redis' : undefined,
  });
  const router = new Router(config, upstreams, metrics, opts.log ?? logRouteSwitch);
  const routeSwitches = routeStore(config, router, metrics);
  const store = config.cache.enabled ? cacheStore(config, metrics) : undefined;
  const classifier =
    config.safety.scorer === 'classifier'
      ? new SampledClassifier(new ClassifierScorer({ ...config.safety.classifier! }), {
          sampleRate: config.safety.classifier!.sampleRate,
          maxInFlight: config.safety.classifier!.maxInFlight,
          onFailure: (why) => metrics.classifierFailure(why),
        })
      : undefined;
  const services: ProxyServices = {
    behaviour: answerBehaviour(config, metrics),
    cache: store === undefined ? undefined : new AnswerCache(store, config.cache.ttlSeconds * 1000, Math.min(config.cache.maxBytes / 4, 8 * 1024 * 1024)),
    safety:
      config.safety.scorer === 'none'
        ? undefined
        : new OutputSafety(config.safety.scorer === 'lexical' ? new LexicalScorer({ extraTerms: config.safety.extraTerms }) : undefined, classifier, config.safety.window),
    ownsAuthorization: keys.size > 0,
  };
  const modelObjects = new Map(Object.keys(config.models).map((id) => [id, { id, object: 'model', created: 0, owned_by: 'llmwatch' }]));
  const modelList = JSON.stringify({ object: 'list', data: [...modelObjects.values()] });
  const limit = config.maxBodyBytes;
  const knownModels = config.listModelsInErrors ? ` (known: ${Object.keys(config.models).join(', ')})` : '';

  async function handleInference(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, tenant: string): Promise<void> {
    const startedAt = performance.now();
    let raw: Buffer;
    let request;
    let model;
    try {
      requireJsonContentType(req.headers['content-type']);
      raw = await readBody(req, limit, config.server.bodyTimeoutMs);
      const encoding = req.headers['content-encoding'];
      // Decoded bytes are what goes upstream: the upstream is never sent an encoding it may not read.
      if (encoding !== undefined) raw = await decodeBody(raw, encoding, limit);
      request = validateInferenceRequest(endpoint, parseJsonObject(raw));
      model = router.get(request.model);
      if (model === undefined) {
        throw OAI_ERR_UNKNOWN_MODEL(`The model '${truncate(request.model)}' does not exist on this gateway${knownModels}`, { param: 'model' });
      }
      if (request.stream && !model.config.streaming) {
        throw GW_ERR_STREAMING_DISABLED(`The model '${request.model}' does not stream on this gateway (its answers are checked whole by its '${model.config.safety.policy}' safety policy): send stream: false`, { param: 'stream' });
      }
    } catch (err) {
      metrics.rejected(endpoint, rejectReason(err));
      // The rest of a body refused unread (oversized, slow, wrong type) is not worth reading: close after answering.
      if (!req.complete) res.setHeader('connection', 'close');
      return sendError(res, err);
    }
    await forward(req, res, model, metrics.route(model.name, endpoint)!, request, raw, startedAt, services, tenant);
  }

  /**
   * A native API's request (Ollama, TGI, Responses): read and checked as the
   * OpenAI ones are, routed by its model (TGI's name none: the
   * `x-llmwatch-model` header, or the gateway's only model), and answered in
   * the API's own shape. A model whose active upstream does not serve the API
   * is passed through when the upstream allows the path.
   */
  async function handleNative(req: IncomingMessage, res: ServerResponse, endpoint: NativeEndpoint, wire: NativeWire): Promise<void> {
    const startedAt = performance.now();
    if (admitted(req, res, endpoint, wire) === undefined) return;
    let raw: Buffer;
    let request;
    let model;
    try {
      // Ollama and TGI accept any content type (curl's default form type included); the Responses API is OpenAI's.
      if (endpoint === 'responses') requireJsonContentType(req.headers['content-type']);
      raw = await readBody(req, limit, config.server.bodyTimeoutMs);
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined) raw = await decodeBody(raw, encoding, limit);
      request = parseNativeRequest(endpoint, parseJsonObject(raw));
      const header = req.headers['x-llmwatch-model'];
      const name = request.model ?? (typeof header === 'string' ? header : onlyModel);
      if (name === undefined) throw OAI_ERR_MISSING_PARAM("Name the model: this gateway serves several; send the header x-llmwatch-model", { param: 'model' });
      model = router.get(name);
      if (model === undefined) throw OAI_ERR_UNKNOWN_MODEL(`The model '${truncate(name)}' does not exist on this gateway${knownModels}`, { param: 'model' });
      if (request.stream && !model.config.streaming) {
        throw GW_ERR_STREAMING_DISABLED(`The model '${name}' does not stream on this gateway (its answers are checked whole by its '${model.config.safety.policy}' safety policy): send stream: false`, { param: 'stream' });
      }
    } catch (err) {
      metrics.rejected(endpoint, rejectReason(err));
      if (!req.complete) res.setHeader('connection', 'close');
      return wire.sendError(res, err);
    }
    const meter = metrics.route(model.name, endpoint);
    if (meter === undefined || !model.targets[model.active]!.upstream.config.apis.includes(NATIVE_ENDPOINTS[endpoint].api)) {
      const path = NATIVE_ENDPOINTS[endpoint].path;
      const pt = passTarget(path, model, upstreams.values());
      if (pt === undefined) return refuse(res, endpoint, 'not_found', HTTP_ERR_NOT_FOUND(`The model '${model.name}' is served by an upstream that does not serve ${path} (upstreams.<name>.apis)`), wire);
      return passThrough(req, res, pt, raw, metrics, services.ownsAuthorization, startedAt, req.headers['content-encoding'] !== undefined);
    }
    await forwardNative(req, res, model, meter, request, raw, startedAt, services.ownsAuthorization);
  }

  /** Any other path, passed through to an upstream that allows it (docs/gateway.md, "Passthrough"). */
  async function handlePassthrough(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const startedAt = performance.now();
    // Not one upstream allows the path: a plain 404, as before passthrough existed.
    if (!anyAllows(path)) return refuse(res, ENDPOINT_NONE, 'not_found', HTTP_ERR_NOT_FOUND(`Unknown path: ${req.method ?? 'GET'} ${truncate(path)}`));
    if (admitted(req, res, ENDPOINT_OTHER) === undefined) return;
    let body: Buffer | undefined;
    // A JSON body is read (within maxBodyBytes) to find the model it names; any other streams upstream as it comes.
    if (typeof req.headers['content-type'] === 'string' && req.headers['content-type'].startsWith('application/json') && req.headers['x-llmwatch-model'] === undefined) {
      try {
        body = await readBody(req, limit, config.server.bodyTimeoutMs);
      } catch (err) {
        if (!req.complete) res.setHeader('connection', 'close');
        return refuse(res, ENDPOINT_OTHER, rejectReason(err), err);
      }
    }
    const pt = passTarget(path, namedModel(router, req.headers, body), upstreams.values());
    if (pt === undefined) return refuse(res, ENDPOINT_OTHER, 'not_found', HTTP_ERR_NOT_FOUND(`Passthrough of ${truncate(path)} is off for the model's upstream (upstreams.<name>.passthrough)`));
    await passThrough(req, res, pt, body, metrics, services.ownsAuthorization, startedAt);
  }

  const passPrefixes = [...upstreams.values()].map((u) => u.config.passthrough);
  const anyAllows = (path: string) => [...upstreams.values()].some((u) => allows(u, path));
  const onlyModel = Object.keys(config.models).length === 1 ? Object.keys(config.models)[0] : undefined;
  const servedApis = new Set(Object.values(config.upstreams).flatMap((u) => u.apis));

  /**
   * With client keys configured, every `/v1` request needs one. Returns the
   * request's cache tenant when it may go on, undefined when it was refused.
   */
  function admitted(req: IncomingMessage, res: ServerResponse, endpoint: EndpointLabel | typeof ENDPOINT_NONE, wire?: NativeWire): string | undefined {
    // The tenant only keys the cache: without one, no digest of the credential on the hot path.
    if (keys.size === 0) return store === undefined ? 'anonymous' : tenantOf(undefined, req.headers.authorization);
    const name = keys.identify(req.headers.authorization);
    if (name !== undefined) {
      metrics.client(name);
      return tenantOf(name, undefined);
    }
    metrics.rejected(endpoint, 'unauthorized');
    (wire?.sendError ?? sendError)(res, GW_ERR_INVALID_API_KEY('Missing or unknown API key: send Authorization: Bearer <key>'));
    return undefined;
  }

  /** Every path the gateway serves; the rest is a 404, a wrong method a 405 with `Allow` (both metered). */
  const routes: Route[] = [
    ...ENDPOINT_NAMES.map((endpoint) => ({
      path: ENDPOINTS[endpoint],
      methods: {
        POST: (req: IncomingMessage, res: ServerResponse) => {
          const tenant = admitted(req, res, endpoint);
          if (tenant === undefined) return;
          return handleInference(req, res, endpoint, tenant);
        },
      },
    })),
    {
      path: '/v1/models',
      methods: {
        GET: (req, res) => {
          if (admitted(req, res, ENDPOINT_NONE) === undefined) return;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(modelList) });
          res.end(modelList);
        },
      },
    },
    { path: '/v1/models/', prefix: true, methods: { GET: (req, res, { path }) => retrieveModel(req, res, path) } },
    { path: '/healthz', methods: { GET: (_req, res) => sendJson(res, 200, { status: 'ok' }) } },
    {
      path: '/readyz',
      methods: {
        GET: async (_req, res) => {
          const report = await probeUpstreams(upstreams.values());
          sendJson(res, report.ready ? 200 : 503, report, retryAfter(report.ready ? 200 : 503));
        },
      },
    },
    { path: '/admin/upstreams', prefix: true, any: (req, res, { path }) => serveUpstreamAdmin(req, res, path, upstreams, adminToken, opts.metricsSource === undefined) },
    // Workers (a metrics source of their own) each route on their own unless the routes are shared.
    { path: '/admin/', prefix: true, any: (req, res, { path }) => serveAdmin(req, res, path, router, adminToken, routeSwitches, opts.metricsSource === undefined || routeSwitches.shared) },
    // The native APIs some upstream serves; the others' paths fall to passthrough.
    ...NATIVE_ENDPOINT_NAMES.filter((e) => servedApis.has(NATIVE_ENDPOINTS[e].api)).map((endpoint) => {
      const wire = NATIVE_WIRES[NATIVE_ENDPOINTS[endpoint].api];
      return { path: NATIVE_ENDPOINTS[endpoint].path, methods: { POST: (req: IncomingMessage, res: ServerResponse) => handleNative(req, res, endpoint, wire) } };
    }),
    // Last: every path no route above serves.
    ...(passPrefixes.some((p) => p.length > 0) ? [{ path: '/', prefix: true, any: (req: IncomingMessage, res: ServerResponse, { path }: { path: string }) => handlePassthrough(req, res, path) }] : []),
  ];

  /** `GET /v1/models/{id}`, as the SDK's `models.retrieve` asks; ids may contain `/`. */
  function retrieveModel(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (admitted(req, res, ENDPOINT_NONE) === undefined) return;
    let id: string;
    try {
      id = decodeURIComponent(path.slice('/v1/models/'.length));
    } catch {
      id = path.slice('/v1/models/'.length);
    }
    const model = modelObjects.get(id);
    if (model === undefined) {
      return refuse(res, ENDPOINT_NONE, 'unknown_model', OAI_ERR_UNKNOWN_MODEL(`The model '${truncate(id)}' does not exist on this gateway${knownModels}`, { param: 'model' }));
    }
    sendJson(res, 200, model);
  }

  function refuse(res: ServerResponse, endpoint: EndpointLabel | typeof ENDPOINT_NONE, why: RejectReason, err: unknown, wire?: NativeWire): void {
    metrics.rejected(endpoint, why);
    (wire?.sendError ?? sendError)(res, err);
  }

  const limits = config.server;
  const server = serve({
    part: 'gateway',
    routes,
    // The same text as registry.metrics(), rendered from the stores (src/core/metering/exposition.ts).
    metrics: opts.metricsSource?.(registry) ?? { contentType: registry.contentType, metrics: () => renderMetrics(registry) },
    server: {
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // The body has its own timer (readBody); this is the backstop for the whole request.
      requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + 5_000,
      // Node checks these timeouts on this interval (30 s by default, which made them 30 s late).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.headersTimeoutMs / 2)),
    },
    notFound: (method, path) => `Unknown path: ${method} ${truncate(path)}`,
    // A 405 on an inference path is that endpoint's; everything else is no endpoint's.
    refused: (kind, path) => metrics.rejected(endpointForPath(path) ?? ENDPOINT_NONE, kind),
  });
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.on('drop', () => metrics.rejected(ENDPOINT_NONE, 'connection_limit'));
  return {
    server,
    metrics,
    router,
    routes: routeSwitches,
    /** Connects the cache store, if any, and reads the shared routes; never fails (a Redis outage is counted, not fatal). */
    start: async () => {
      // Before the first client: loading the vocabulary holds the event loop for a moment.
      preloadTokenizer();
      await Promise.all([store instanceof RedisCacheStore ? store.connect() : undefined, routeSwitches.start()]);
    },
    closeResources: async () => {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      await routeSwitches.close();
      await store?.close();
      await classifier?.close();
      await services.behaviour.close();
    },
  };
}

/** The endpoints a model is metered on beyond OpenAI's: its upstreams' native APIs, and `other` when one passes paths through. */
function extraEndpoints(config: GatewayConfig, targets: ReadonlyArray<{ upstream: string }>): EndpointLabel[] {
  const ups = targets.map((t) => config.upstreams[t.upstream]!);
  const out: EndpointLabel[] = nativeEndpointsOf(ups.flatMap((u) => u.apis));
  if (ups.some((u) => u.passthrough.length > 0)) out.push(ENDPOINT_OTHER);
  return out;
}

function cacheStore(config: GatewayConfig, metrics: GatewayMetrics): CacheStore {
  if (config.cache.store === 'memory') return new MemoryCacheStore({ maxBytes: config.cache.maxBytes });
  return new RedisCacheStore({ url: config.cache.redisURL, onError: (op) => metrics.cacheError(op) });
}

/** The route store of the config: this process's own, or Redis shared by every replica (`routes.redisURL`, else the cache's). */
function routeStore(config: GatewayConfig, router: Router, metrics: GatewayMetrics): RouteStore {
  const log = logger('gateway');
  if (config.routes.store === 'local') return new LocalRouteStore(router, log);
  return new RedisRouteStore(router, {
    url: config.routes.redisURL ?? config.cache.redisURL,
    keyPrefix: config.routes.keyPrefix,
    reconcileMs: config.routes.reconcileMs,
    meter: metrics.routeStore!,
    log,
  });
}

/** Starts a gateway; `port` 0 picks a free port. */
export async function startGateway(config: GatewayConfig, opts: GatewayOptions & { port?: number; host?: string } = {}): Promise<GatewayHandle> {
  const gw = createGateway(config, opts);
  await gw.start();
  const host = opts.host ?? config.host;
  const port = await listen(gw.server, opts.port ?? config.port, host);
  return {
    port,
    url: serverURL(host, port),
    metrics: gw.metrics,
    router: gw.router,
    routes: gw.routes,
    server: gw.server,
    close: async () => {
      await close(gw.server);
      await gw.closeResources();
    },
  };
}


function rejectReason(err: unknown): RejectReason {
  if (hasCode(err, HTTP_ERR_UNSUPPORTED_MEDIA_TYPE)) return 'unsupported_media_type';
  if (hasCode(err, HTTP_ERR_REQUEST_TIMEOUT)) return 'request_timeout';
  if (hasCode(err, HTTP_ERR_BAD_ENCODING)) return 'invalid_request';
  if (hasCode(err, HTTP_ERR_INVALID_JSON)) return 'invalid_json';
  if (hasCode(err, HTTP_ERR_BODY_TOO_LARGE)) return 'body_too_large';
  if (hasCode(err, OAI_ERR_UNKNOWN_MODEL)) return 'unknown_model';
  return 'invalid_request';
}

/** A route change, as one log line of the gateway's logger (the entry's own time is the line's). */
function logRouteSwitch(entry: RouteSwitch): void {
  const { time: _time, ...rest } = entry;
  logger('gateway').info(rest, `route switch: ${entry.model} ${entry.from} -> ${entry.to} (by ${entry.by})`);
}

/** An endpoint added, removed, ejected or admitted again, as one log line. */
function logEndpointChange(level: 'info' | 'warn', message: string): void {
  logger('gateway')[level](message);
}
