import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { LlmwatchError } from '../errors.ts';
import { openAIErrorBody, sendError, sendJson } from '../http/send.ts';
import type { RouteMeter } from '../metrics/gateway-metrics.ts';
import type { UpstreamErrorReason } from '../metrics/conventions.ts';
import { ENDPOINTS } from '../openai/endpoints.ts';
import { sseData } from '../openai/sse.ts';
import type { InferenceRequest } from '../openai/validate.ts';
import {
  GW_ERR_UPSTREAM_MALFORMED,
  GW_ERR_UPSTREAM_REFUSED,
  GW_ERR_UPSTREAM_RESET,
  GW_ERR_UPSTREAM_STREAM,
  GW_ERR_UPSTREAM_TIMEOUT,
} from './errors.ts';
import { Exchange } from './exchange.ts';
import type { QueueObserver } from './limiter.ts';
import { StreamMeter } from './stream-meter.ts';
import { classifyUpstreamError } from './upstream.ts';
import type { Upstream } from './upstream.ts';
import { generatedText, reportedUsage, tokenCount } from './usage.ts';
import type { TokenCount } from './usage.ts';

/** Where one public (model, endpoint) goes, resolved at start-up. */
export interface Route {
  readonly meter: RouteMeter;
  readonly upstream: Upstream;
  /** Path under the upstream's base URL, e.g. `/chat/completions`. */
  readonly path: string;
  /** Set when the upstream knows the model by another name. */
  readonly upstreamModel: string | undefined;
  readonly queue: QueueObserver;
}

/** Builds the route of a (model, endpoint) once, at start-up. */
export function createRoute(meter: RouteMeter, upstream: Upstream, upstreamModel: string | undefined): Route {
  return {
    meter,
    upstream,
    path: ENDPOINTS[meter.endpoint].slice('/v1'.length),
    upstreamModel,
    queue: {
      queued: () => meter.queueLength.inc(),
      dequeued: (waitedMs) => {
        meter.queueLength.dec();
        meter.queueWait.observe(waitedMs / 1000);
      },
    },
  };
}

/** The reason a request was aborted when its client went away. */
const CLIENT_GONE = new Error('client closed the connection');

const UPSTREAM_ERROR_BODY_LIMIT = 64 * 1024;

/**
 * The proxy core: waits for an upstream slot, forwards the request's bytes,
 * and passes the answer back as it arrives, metering it through an
 * {@link Exchange}. Every way out counts the request exactly once and gives
 * the slot and the gauges back.
 */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  request: InferenceRequest,
  rawBody: Buffer,
  startedAt: number,
): Promise<void> {
  const ex = new Exchange(route.meter, startedAt);
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(CLIENT_GONE);
  };
  res.on('close', onClose);
  const { limiter } = route.upstream;
  try {
    if (limiter.tryAcquire()) {
      route.meter.queueWait.observe(0);
    } else {
      try {
        await limiter.acquire(route.queue, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) ex.cancel();
        else {
          ex.fail((err as LlmwatchError).status >= 500 ? '5xx' : '4xx', undefined);
          sendError(res, err);
        }
        return;
      }
    }
    route.meter.inFlight.inc();
    try {
      await exchange({ req, res, route, request, rawBody, ex, signal: ac.signal });
    } finally {
      route.meter.inFlight.dec();
      limiter.release();
    }
  } finally {
    res.off('close', onClose);
    if (!ex.counted) ex.fail('5xx', undefined);
  }
}

/** One request on its way through the proxy, once it holds an upstream slot. */
interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: Route;
  readonly request: InferenceRequest;
  readonly rawBody: Buffer;
  readonly ex: Exchange;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

async function exchange(call: Call): Promise<void> {
  const { req, res, route, request, rawBody, ex, signal } = call;
  // The client's bytes go upstream untouched unless the model must be renamed.
  const body = route.upstreamModel === undefined ? rawBody : JSON.stringify({ ...request.body, model: route.upstreamModel });
  let answer: Dispatcher.ResponseData;
  try {
    answer = await route.upstream.request(route.path, body, req.headers.authorization, signal);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = classifyUpstreamError(err);
    ex.fail('5xx', reason);
    return sendError(res, upstreamError(reason, route, err));
  }
  if (answer.statusCode >= 400) return relayUpstreamError(call, answer);
  if (request.stream && isEventStream(answer.headers['content-type'])) return relayStream(call, answer);
  return relayJson(call, answer);
}

async function relayJson(call: Call, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, route, request, ex, signal } = call;
  let buf: Buffer;
  try {
    buf = await readAll(answer.body, route.upstream.config.maxResponseBytes);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = err instanceof LlmwatchError ? 'malformed' : classifyUpstreamError(err);
    ex.fail('5xx', reason);
    return sendError(res, err instanceof LlmwatchError ? err : upstreamError(reason, route, err));
  }
  let obj: unknown;
  try {
    obj = JSON.parse(buf.toString('utf8'));
  } catch {
    obj = undefined;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    ex.fail('5xx', 'malformed');
    return sendError(res, GW_ERR_UPSTREAM_MALFORMED(`Upstream '${route.upstream.name}' answered HTTP ${answer.statusCode} with a body that is not a JSON object`));
  }
  const answerObj = obj as Record<string, unknown>;
  const usage = reportedUsage(answerObj);
  // The answer's text is only read when the server reported no usage.
  const tokens = tokenCount(usage, request, usage === undefined ? generatedText(answerObj, 'message') : '');
  res.writeHead(answer.statusCode, passHeaders(answer.headers, 'application/json', buf.length));
  res.end(buf);
  ex.succeed(tokens, undefined);
}

async function relayStream(call: Call, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, route, request, ex, signal } = call;
  res.writeHead(answer.statusCode, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Tells nginx in front of the gateway not to buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const sm = new StreamMeter();
  try {
    for await (const chunk of answer.body) {
      // Only whole, checked events are written: a broken one never reaches the client.
      const ready = sm.push(chunk as Buffer);
      if (ready.length > 0 && !res.write(ready)) await once(res, 'drain', { signal });
      if (sm.fault !== undefined) break;
    }
    if (sm.fault === undefined) {
      const rest = sm.end();
      if (rest.length > 0) res.write(rest);
    }
  } catch (err) {
    if (signal.aborted) return ex.cancel(streamedSoFar(sm, request));
    const reason = classifyUpstreamError(err);
    ex.fail('5xx', reason, streamedSoFar(sm, request));
    return endStreamWithError(res, upstreamError(reason, route, err));
  }
  if (sm.fault !== undefined) {
    ex.fail('5xx', sm.fault.kind, streamedSoFar(sm, request));
    const make = sm.fault.kind === 'malformed' ? GW_ERR_UPSTREAM_MALFORMED : GW_ERR_UPSTREAM_STREAM;
    return endStreamWithError(res, make(sm.fault.message));
  }
  if (!sm.done) {
    ex.fail('5xx', 'reset', streamedSoFar(sm, request));
    return endStreamWithError(res, GW_ERR_UPSTREAM_RESET(`Upstream '${route.upstream.name}' ended the stream before [DONE]`));
  }
  res.end();
  ex.succeed(tokenCount(sm.usage, request, sm.text), sm);
}

/**
 * An upstream HTTP error reaches the client with its status. An OpenAI-shaped
 * body passes as it is; anything else is wrapped in that shape.
 */
async function relayUpstreamError(call: Call, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, route, ex, signal } = call;
  const status = answer.statusCode;
  const reason: UpstreamErrorReason | undefined = status >= 500 ? 'http_5xx' : status === 429 ? 'http_429' : undefined;
  ex.fail(status >= 500 ? '5xx' : '4xx', reason);
  let buf: Buffer | undefined;
  try {
    buf = await readAll(answer.body, UPSTREAM_ERROR_BODY_LIMIT);
  } catch {
    if (signal.aborted) return;
    buf = undefined;
  }
  const retryAfter = answer.headers['retry-after'];
  const extra: Record<string, string> = { 'x-llmwatch-error': 'GW_ERR_UPSTREAM_HTTP' };
  if (typeof retryAfter === 'string') extra['retry-after'] = retryAfter;
  if (buf !== undefined && isOpenAIError(buf)) {
    res.writeHead(status, { ...extra, 'content-type': 'application/json', 'content-length': buf.length });
    res.end(buf);
    return;
  }
  const snippet = buf === undefined ? '' : `: ${buf.toString('utf8', 0, Math.min(buf.length, 200)).trim()}`;
  sendJson(
    res,
    status,
    {
      error: {
        message: `Upstream '${route.upstream.name}' answered HTTP ${status}${snippet}`,
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        param: null,
        code: 'upstream_error',
      },
    },
    extra,
  );
}

function upstreamError(reason: UpstreamErrorReason, route: Route, cause: unknown): LlmwatchError {
  const name = route.upstream.name;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  switch (reason) {
    case 'refused':
      return GW_ERR_UPSTREAM_REFUSED(`Upstream '${name}' is unreachable${detail}`, { cause });
    case 'timeout':
      return GW_ERR_UPSTREAM_TIMEOUT(`Upstream '${name}' timed out${detail}`, { cause });
    case 'malformed':
      return GW_ERR_UPSTREAM_MALFORMED(`Upstream '${name}' broke the HTTP protocol${detail}`, { cause });
    case 'stream_error':
      return GW_ERR_UPSTREAM_STREAM(`Upstream '${name}' failed mid-stream${detail}`, { cause });
    case 'reset':
    case 'http_5xx':
    case 'http_429':
      return GW_ERR_UPSTREAM_RESET(`Upstream '${name}' closed the connection${detail}`, { cause });
    default: {
      const never: never = reason;
      throw new Error(`unhandled reason ${String(never)}`);
    }
  }
}

/** After a 200 has gone out, an error can only travel as a last SSE event. */
function endStreamWithError(res: ServerResponse, err: LlmwatchError): void {
  if (res.destroyed) return;
  res.end(sseData(openAIErrorBody(err)));
}

function streamedSoFar(sm: StreamMeter, request: InferenceRequest): TokenCount | undefined {
  return sm.text.length === 0 ? undefined : tokenCount(undefined, request, sm.text);
}

async function readAll(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw GW_ERR_UPSTREAM_MALFORMED(`The upstream's answer exceeds the limit of ${limit} bytes (maxResponseBytes)`);
    }
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

function isOpenAIError(buf: Buffer): boolean {
  try {
    const v = JSON.parse(buf.toString('utf8')) as { error?: { message?: unknown } };
    return v !== null && typeof v === 'object' && typeof v.error?.message === 'string';
  } catch {
    return false;
  }
}

function isEventStream(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('text/event-stream');
}

const PASSED_HEADERS = ['x-request-id', 'openai-processing-ms'] as const;

function passHeaders(h: Dispatcher.ResponseData['headers'], contentType: string, length: number): Record<string, string | number> {
  const out: Record<string, string | number> = { 'content-type': contentType, 'content-length': length };
  for (const name of PASSED_HEADERS) {
    const v = h[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}
