import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { LlmwatchError } from '../../core/errors.ts';
import type { UpstreamErrorReason } from '../../core/conventions/metrics.ts';
import { Exchange, classifyFailure } from '../../core/metering/exchange.ts';
import type { RouteMeter } from '../../core/metering/gateway-metrics.ts';
import { FrameMeter, nativeTokens } from '../../core/metering/native/frame-meter.ts';
import { NATIVE_READERS } from '../../core/metering/native/readers.ts';
import { NATIVE_ENDPOINTS, isEmbeddingEndpoint } from '../../core/native/endpoints.ts';
import { GW_ERR_UPSTREAM_HTTP, GW_ERR_UPSTREAM_MALFORMED, GW_ERR_UPSTREAM_RESET, GW_ERR_UPSTREAM_STREAM } from '../errors.ts';
import { pump, readAll, upstreamError } from '../proxy.ts';
import type { ModelRoute, RouteTarget } from '../router.ts';
import { classifyUpstreamError } from '../upstream.ts';
import type { NativeRequest } from '../../core/native/requests.ts';
import { NATIVE_WIRES, isErrorBody } from '../../core/native/wire.ts';
import type { NativeWire } from '../../core/native/wire.ts';
import { redactSecrets } from '../../core/http/redact.ts';

const ERROR_BODY_LIMIT = 64 * 1024;
const CLIENT_GONE = new Error('client closed the connection');
/** What an upstream must answer a stream request with, per framing. */
const STREAM_TYPES = { sse: 'text/event-stream', ndjson: 'application/x-ndjson' } as const;

/**
 * Forwards one native request (Ollama, TGI, Responses) to its model's active
 * target and meters it from the API's own fields, with the same lifecycle
 * promises as the OpenAI path: the upstream's slot and queue, one count per
 * request whatever happens, errors in the API's own shape. No cache, safety
 * scoring or failover: those stay on the OpenAI endpoints (docs/gateway.md).
 */
export async function forwardNative(
  req: IncomingMessage,
  res: ServerResponse,
  model: ModelRoute,
  meter: RouteMeter,
  request: NativeRequest,
  raw: Buffer,
  startedAt: number,
  ownsAuthorization: boolean,
): Promise<void> {
  const ex = new Exchange(meter, startedAt);
  const wire = NATIVE_WIRES[NATIVE_ENDPOINTS[request.endpoint].api];
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(CLIENT_GONE);
  };
  res.on('close', onClose);
  const target = model.targets[model.active]!;
  const { limiter } = target.upstream;
  try {
    if (limiter.tryAcquire()) {
      target.meter.queueWait.observe(0);
    } else {
      try {
        await limiter.acquire(target.queue, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) return ex.cancel();
        ex.fail(classifyFailure((err as LlmwatchError).status, 'gateway'));
        return wire.sendError(res, err);
      }
    }
    target.meter.inFlight.inc();
    target.meter.requests.inc();
    try {
      await exchange({ req, res, request, raw, ex, wire, target, signal: ac.signal, ownsAuthorization });
    } finally {
      target.meter.inFlight.dec();
      limiter.release();
    }
  } finally {
    res.off('close', onClose);
    if (!ex.counted) ex.fail('error_5xx');
  }
}

interface NativeCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly request: NativeRequest;
  readonly raw: Buffer;
  readonly ex: Exchange;
  readonly wire: NativeWire;
  readonly target: RouteTarget;
  readonly signal: AbortSignal;
  readonly ownsAuthorization: boolean;
}

async function exchange(call: NativeCall): Promise<void> {
  const { req, res, request, target, signal, ex, wire } = call;
  const body = target.rename && request.model !== undefined ? JSON.stringify({ ...request.body, model: target.upstreamModel }) : call.raw;
  const reader = NATIVE_READERS[request.endpoint];
  const headers = { 'content-type': 'application/json', accept: request.stream ? `${STREAM_TYPES[reader.framing]}, application/json` : 'application/json' };
  let answer: Dispatcher.ResponseData;
  try {
    answer = await target.upstream.dispatch(NATIVE_ENDPOINTS[request.endpoint].path, 'POST', headers, body, call.ownsAuthorization ? undefined : req.headers.authorization, signal);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = classifyUpstreamError(err);
    return failed(call, reason, upstreamError(reason, target, err), false);
  }
  if (answer.statusCode >= 400) return relayError(call, answer);
  const type = String(answer.headers['content-type'] ?? '');
  if (request.stream && type.startsWith(STREAM_TYPES[reader.framing])) return relayStream(call, answer, reader.framing);
  if (request.stream) {
    await answer.body.dump().catch(() => {});
    return failed(call, 'malformed', GW_ERR_UPSTREAM_MALFORMED(`Upstream '${target.upstream.name}' answered a stream request with ${type.slice(0, 60) || 'no content type'}, not ${STREAM_TYPES[reader.framing]}`), false);
  }
  let buf: Buffer;
  try {
    buf = await readAll(answer.body, target.upstream.config.maxResponseBytes);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = classifyUpstreamError(err);
    return failed(call, err instanceof Error && 'code' in err && err.code === GW_ERR_UPSTREAM_MALFORMED.code ? 'malformed' : reason, upstreamError(reason, target, err), false);
  }
  const m = new FrameMeter(reader, Number.POSITIVE_INFINITY, false);
  if (!m.readWhole(buf)) {
    return failed(call, 'malformed', GW_ERR_UPSTREAM_MALFORMED(`Upstream '${target.upstream.name}' answered HTTP ${answer.statusCode} with a body that is not a JSON object`), false);
  }
  res.writeHead(answer.statusCode, { 'content-type': 'application/json', 'content-length': buf.length });
  res.end(buf);
  succeed(call, m);
}

function succeed(call: NativeCall, m: FrameMeter): void {
  const { ex, request } = call;
  const tokens = nativeTokens(m, NATIVE_READERS[request.endpoint], request.body, isEmbeddingEndpoint(request.endpoint));
  ex.succeed(tokens, { firstTokenAt: request.stream ? m.firstTokenAt : 0, lastTokenAt: m.lastTokenAt, tpotSeconds: m.tpotSeconds });
  if (m.loadSeconds !== undefined) ex.meter.modelLoad.observe(m.loadSeconds);
}

async function relayStream(call: NativeCall, answer: Dispatcher.ResponseData, framing: 'sse' | 'ndjson'): Promise<void> {
  const { res, request, target, signal, ex } = call;
  res.writeHead(answer.statusCode, {
    'content-type': String(answer.headers['content-type']),
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const m = new FrameMeter(NATIVE_READERS[request.endpoint], target.upstream.config.maxEventBytes);
  const sent = () => (m.textChars === 0 && m.completion === undefined ? undefined : nativeTokens(m, NATIVE_READERS[request.endpoint], request.body, false));
  try {
    await pump(answer.body, res, signal, (chunk) => m.push(chunk), () => m.fault !== undefined);
    if (m.fault === undefined) {
      const rest = m.end();
      if (rest.length > 0) res.write(rest);
    }
  } catch (err) {
    if (signal.aborted) return ex.cancel(sent());
    const reason = classifyUpstreamError(err);
    return failed(call, reason, upstreamError(reason, target, err), true, sent());
  }
  if (m.fault !== undefined) {
    const make = m.fault.kind === 'malformed' ? GW_ERR_UPSTREAM_MALFORMED : GW_ERR_UPSTREAM_STREAM;
    return failed(call, m.fault.kind, make(m.fault.message), true, sent());
  }
  if (!m.done) {
    const end = framing === 'ndjson' ? 'a done: true object' : 'its final event';
    return failed(call, 'reset', GW_ERR_UPSTREAM_RESET(`Upstream '${target.upstream.name}' ended the stream before ${end}`), true, sent());
  }
  res.end();
  succeed(call, m);
}

/** Books an upstream failure on the target and the request, and tells the client in the API's shape. */
function failed(call: NativeCall, reason: UpstreamErrorReason, err: LlmwatchError, midStream: boolean, sent?: ReturnType<typeof nativeTokens>): void {
  call.target.meter.errors[reason].inc();
  call.ex.fail('error_5xx', sent);
  if (!midStream) return call.wire.sendError(call.res, err);
  if (!call.res.destroyed) call.res.end(call.wire.streamError(err));
}

/**
 * An upstream HTTP error reaches the client with its status: a body that is
 * already an error object passes as it is, anything else is wrapped.
 */
async function relayError(call: NativeCall, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, target, signal, ex, ownsAuthorization } = call;
  const status = answer.statusCode;
  const reason: UpstreamErrorReason | undefined = status >= 500 ? 'http_5xx' : status === 429 ? 'http_429' : undefined;
  if (reason !== undefined) target.meter.errors[reason].inc();
  const clientKeyForwarded = !ownsAuthorization && target.upstream.config.apiKey === undefined;
  ex.fail(classifyFailure(status, clientKeyForwarded ? 'upstream-client-key' : 'upstream'));
  let buf: Buffer | undefined;
  try {
    buf = await readAll(answer.body, ERROR_BODY_LIMIT);
  } catch {
    if (signal.aborted) return;
    buf = undefined;
  }
  const extra: Record<string, string> = { 'x-llmwatch-error': 'GW_ERR_UPSTREAM_HTTP' };
  const retryAfter = answer.headers['retry-after'];
  if (typeof retryAfter === 'string') extra['retry-after'] = retryAfter;
  if (buf !== undefined && isErrorBody(buf)) {
    res.writeHead(status, { ...extra, 'content-type': 'application/json', 'content-length': buf.length });
    res.end(buf);
    return;
  }
  const snippet = buf === undefined ? '' : `: ${redactSecrets(buf.toString('utf8', 0, Math.min(buf.length, 200)).trim())}`;
  const err = upstreamHttpError(status, `Upstream '${target.upstream.name}' answered HTTP ${status}${snippet}`, extra);
  call.wire.sendError(res, err);
}


/** GW_ERR_UPSTREAM_HTTP with the upstream's own status passed through. */
function upstreamHttpError(status: number, message: string, headers: Record<string, string>): LlmwatchError {
  const err = GW_ERR_UPSTREAM_HTTP(message, { headers });
  Object.defineProperty(err, 'status', { value: status });
  return err;
}
