import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { Exchange, classifyFailure } from '../../core/metering/exchange.ts';
import type { GatewayMetrics } from '../../core/metering/gateway-metrics.ts';
import { ENDPOINT_OTHER, MODEL_NONE } from '../../core/native/endpoints.ts';
import { sendError } from '../../core/http/send.ts';
import { pump, upstreamError } from '../proxy.ts';
import type { QueueObserver } from '../limiter.ts';
import type { ModelRoute, RouteTarget, Router } from '../router.ts';
import type { Upstream } from '../upstream.ts';
import { classifyUpstreamError } from '../upstream.ts';
import type { LlmwatchError } from '../../core/errors.ts';

/**
 * Hop-by-hop headers (RFC 9110 section 7.6.1) and those the gateway sets itself: never passed on.
 * https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'x-llmwatch-model']);

const NO_QUEUE: QueueObserver = { queued: () => {}, dequeued: () => {} };
const CLIENT_GONE = new Error('client closed the connection');

/** Where a passed-through request goes, and under which model it is counted. */
export interface PassTarget {
  readonly upstream: Upstream;
  /** A configured model, or {@link MODEL_NONE}. */
  readonly model: string;
  /** The model's target on that upstream, when the request named a model: its queue and error meters. */
  readonly target: RouteTarget | undefined;
}

/** Does an upstream's `passthrough` allow list admit `path`? */
export function allows(upstream: Upstream, path: string): boolean {
  for (const prefix of upstream.config.passthrough) if (path.startsWith(prefix)) return true;
  return false;
}

/**
 * Chooses the upstream of a passed-through request: the active target of the
 * model it names (header `x-llmwatch-model`, or a JSON body's `model`), else
 * the first upstream, in config order, whose allow list admits the path.
 * Undefined when none admits it (a 404).
 */
export function passTarget(path: string, named: ModelRoute | undefined, upstreams: Iterable<Upstream>): PassTarget | undefined {
  if (named !== undefined) {
    const target = named.targets[named.active]!;
    return allows(target.upstream, path) ? { upstream: target.upstream, model: named.name, target } : undefined;
  }
  for (const u of upstreams) if (allows(u, path)) return { upstream: u, model: MODEL_NONE, target: undefined };
  return undefined;
}

/** The model a passed-through request names, if it names a configured one. */
export function namedModel(router: Router, headers: IncomingHttpHeaders, body: Buffer | undefined): ModelRoute | undefined {
  const h = headers['x-llmwatch-model'];
  if (typeof h === 'string') return router.get(h);
  if (body === undefined || body.length === 0) return undefined;
  try {
    const v = JSON.parse(body.toString('utf8')) as { model?: unknown };
    return v !== null && typeof v === 'object' && typeof v.model === 'string' ? router.get(v.model) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Proxies a request the gateway does not serve itself to an upstream, byte for
 * byte both ways (streamed answers stay streamed), behind the upstream's
 * concurrency limit and queue. Counted under `endpoint="other"`: requests by
 * status class and duration, no tokens, and no path in any label.
 * `body` is the request's body when it was read already (to find its model),
 * `decoded` when the gateway undid its content encoding; otherwise the
 * request itself streams upstream.
 */
export async function passThrough(
  req: IncomingMessage,
  res: ServerResponse,
  pt: PassTarget,
  body: Buffer | undefined,
  metrics: GatewayMetrics,
  ownsAuthorization: boolean,
  startedAt: number,
  decoded = false,
): Promise<void> {
  const meter = metrics.route(pt.model, ENDPOINT_OTHER)!;
  const ex = new Exchange(meter, startedAt);
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(CLIENT_GONE);
  };
  res.on('close', onClose);
  const { limiter } = pt.upstream;
  try {
    if (!limiter.tryAcquire()) {
      try {
        await limiter.acquire(pt.target?.queue ?? NO_QUEUE, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) return ex.cancel();
        ex.fail(classifyFailure((err as LlmwatchError).status, 'gateway'));
        return sendError(res, err);
      }
    }
    pt.target?.meter.inFlight.inc();
    pt.target?.meter.requests.inc();
    try {
      await exchange(req, res, pt, body, ex, ac.signal, ownsAuthorization, decoded);
    } finally {
      pt.target?.meter.inFlight.dec();
      limiter.release();
    }
  } finally {
    res.off('close', onClose);
    if (!ex.counted) ex.fail('error_5xx');
  }
}

async function exchange(req: IncomingMessage, res: ServerResponse, pt: PassTarget, body: Buffer | undefined, ex: Exchange, signal: AbortSignal, ownsAuthorization: boolean, decoded: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  // A body the gateway decoded (a native request it read, then passed on) goes as the bytes it now is.
  if (decoded) delete headers['content-encoding'];
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  const hasBody = method !== 'GET' && method !== 'HEAD';
  if (body !== undefined) headers['content-length'] = String(body.length);
  let answer: Dispatcher.ResponseData;
  try {
    answer = await pt.upstream.dispatch(req.url ?? '/', method, headers, hasBody ? (body ?? req) : null, ownsAuthorization ? undefined : req.headers.authorization, signal);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = classifyUpstreamError(err);
    pt.target?.meter.errors[reason].inc();
    ex.fail('error_5xx');
    return sendError(res, upstreamError(reason, { upstream: pt.upstream } as RouteTarget, err));
  }
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  res.writeHead(answer.statusCode, out);
  if (answer.statusCode >= 500) pt.target?.meter.errors.http_5xx.inc();
  else if (answer.statusCode === 429) pt.target?.meter.errors.http_429.inc();
  try {
    await pump(answer.body, res, signal, identity, never);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = classifyUpstreamError(err);
    pt.target?.meter.errors[reason].inc();
    ex.fail('error_5xx');
    res.destroy();
    return;
  }
  res.end();
  // The caller chose the path: a 4xx there is the client's (a 404 of a path the engine lacks), as for the SDK.
  if (answer.statusCode < 400) ex.passed();
  else ex.fail(classifyFailure(answer.statusCode, 'sdk'));
}

const identity = (b: Buffer) => b;
const never = () => false;
