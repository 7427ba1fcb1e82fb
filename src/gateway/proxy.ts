import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { LlmwatchError } from '../core/errors.ts';
import { openAIErrorBody, sendError, sendJson } from '../core/http/send.ts';
import type { RouteMeter } from '../core/metering/gateway-metrics.ts';
import type { UpstreamErrorReason } from '../core/conventions/metrics.ts';
import { ENDPOINTS } from '../core/openai/endpoints.ts';
import { sseData } from '../core/openai/sse.ts';
import type { InferenceRequest } from '../core/openai/validate.ts';
import type { AnswerCache, CacheLookup } from './cache/answer-cache.ts';
import {
  GW_ERR_UPSTREAM_MALFORMED,
  GW_ERR_UPSTREAM_REFUSED,
  GW_ERR_UPSTREAM_RESET,
  GW_ERR_UPSTREAM_STREAM,
  GW_ERR_UPSTREAM_TIMEOUT,
} from './errors.ts';
import { Exchange, classifyFailure } from '../core/metering/exchange.ts';
import type { ModelRoute, RouteTarget } from './router.ts';
import type { OutputSafety } from './safety/output-safety.ts';
import { StreamMeter } from '../core/metering/stream-meter.ts';
import { classifyUpstreamError } from './upstream.ts';
import { generatedText, reportedUsage, tokenCount } from '../core/metering/usage.ts';
import type { TokenCount } from '../core/metering/usage.ts';
import { redactSecrets } from '../core/http/redact.ts';

/** The services the proxy core calls through narrow interfaces; each is optional. */
export interface ProxyServices {
  readonly cache: AnswerCache | undefined;
  readonly safety: OutputSafety | undefined;
  /** True when the gateway checks client keys: the client's Authorization is then never sent upstream. */
  readonly ownsAuthorization: boolean;
}

/** One request on its way through the proxy. */
interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly model: ModelRoute;
  readonly meter: RouteMeter;
  readonly request: InferenceRequest;
  readonly rawBody: Buffer;
  readonly ex: Exchange;
  readonly services: ProxyServices;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /** Who the answer is cached for, when it is cacheable and was not cached. */
  readonly cacheTenant: string | undefined;
}

/** The reason a request was aborted when its client went away. */
const CLIENT_GONE = new Error('client closed the connection');

const UPSTREAM_ERROR_BODY_LIMIT = 64 * 1024;

/** What one attempt on a target came to: done (answered, one way or another), or try the next target. */
type Attempt = 'done' | 'next';

/**
 * The proxy core: answers from the cache when it can; otherwise waits for a
 * slot on the model's active target, forwards the request's bytes, and passes
 * the answer back as it arrives, metering it through an {@link Exchange}.
 * With failover on, a target that cannot be reached or answers 5xx before any
 * byte went to the client hands the request to the next target. Every way out
 * counts the request exactly once and gives slots and gauges back.
 */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  model: ModelRoute,
  meter: RouteMeter,
  request: InferenceRequest,
  rawBody: Buffer,
  startedAt: number,
  services: ProxyServices,
  tenant: string,
): Promise<void> {
  const ex = new Exchange(meter, startedAt);
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(CLIENT_GONE);
  };
  res.on('close', onClose);
  try {
    const first = model.targets[model.active]!;
    let lookup: CacheLookup | undefined;
    if (services.cache !== undefined && model.config.cache) {
      lookup = await services.cache.lookup(model, request, first.id, tenant, req.headers['x-llmwatch-cache']);
      if (lookup.kind === 'hit') {
        const a = lookup.answer;
        res.writeHead(a.status, { 'content-type': a.contentType, 'content-length': a.body.length, 'x-llmwatch-cache': 'hit' });
        res.end(a.body);
        ex.served();
        return;
      }
    }
    const call: Call = {
      req,
      res,
      model,
      meter,
      request,
      rawBody,
      ex,
      services,
      signal: ac.signal,
      cacheTenant: lookup?.kind === 'miss' ? tenant : undefined,
    };
    const last = model.config.failover ? model.targets.length - 1 : model.active;
    for (let i = model.active; i <= last; i++) {
      const target = model.targets[i]!;
      if ((await attempt(call, target, i === last)) === 'done') return;
      target.meter.failovers.inc();
    }
  } finally {
    res.off('close', onClose);
    if (!ex.counted) ex.fail('error_5xx');
  }
}

async function attempt(call: Call, target: RouteTarget, last: boolean): Promise<Attempt> {
  const { res, ex, signal } = call;
  const { limiter } = target.upstream;
  if (limiter.tryAcquire()) {
    target.meter.queueWait.observe(0);
  } else {
    try {
      await limiter.acquire(target.queue, signal);
    } catch (err) {
      if (signal.aborted) ex.cancel();
      else {
        // Queue full (429) and queue timeout (503): the gateway is overloaded, a server-side failure.
        ex.fail(classifyFailure((err as LlmwatchError).status, 'gateway'));
        sendError(res, err);
      }
      return 'done';
    }
  }
  target.meter.inFlight.inc();
  target.meter.requests.inc();
  try {
    return await exchange(call, target, last);
  } finally {
    target.meter.inFlight.dec();
    limiter.release();
  }
}

async function exchange(call: Call, target: RouteTarget, last: boolean): Promise<Attempt> {
  const { req, request, rawBody, ex, signal, services } = call;
  // The client's bytes go upstream untouched unless the model must be renamed.
  const body = target.rename ? JSON.stringify({ ...request.body, model: target.upstreamModel }) : rawBody;
  const clientAuth = services.ownsAuthorization ? undefined : req.headers.authorization;
  let answer: Dispatcher.ResponseData;
  try {
    answer = await target.upstream.request(pathOf(call), body, clientAuth, signal);
  } catch (err) {
    if (signal.aborted) {
      ex.cancel();
      return 'done';
    }
    const reason = classifyUpstreamError(err);
    if (!last) {
      target.meter.errors[reason].inc();
      return 'next';
    }
    failUpstream(call, target, reason, upstreamError(reason, target, err));
    return 'done';
  }
  if (answer.statusCode >= 500 && !last) {
    target.meter.errors.http_5xx.inc();
    await answer.body.dump().catch(() => {});
    return 'next';
  }
  if (answer.statusCode >= 400) await relayUpstreamError(call, target, answer);
  else if (request.stream && isEventStream(answer.headers['content-type'])) await relayStream(call, target, answer);
  else if (request.stream) await refuseNotAStream(call, target, answer);
  else await relayJson(call, target, answer);
  return 'done';
}

function pathOf(call: Call): string {
  return ENDPOINTS[call.request.endpoint].slice('/v1'.length);
}

async function relayJson(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, request, ex, signal, model, services } = call;
  let buf: Buffer;
  try {
    buf = await readAll(answer.body, target.upstream.config.maxResponseBytes);
  } catch (err) {
    if (signal.aborted) return ex.cancel();
    const reason = err instanceof LlmwatchError ? 'malformed' : classifyUpstreamError(err);
    return failUpstream(call, target, reason, err instanceof LlmwatchError ? err : upstreamError(reason, target, err));
  }
  let obj: unknown;
  try {
    obj = JSON.parse(buf.toString('utf8'));
  } catch {
    obj = undefined;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return failUpstream(call, target, 'malformed', GW_ERR_UPSTREAM_MALFORMED(`Upstream '${target.upstream.name}' answered HTTP ${answer.statusCode} with a body that is not a JSON object`));
  }
  const answerObj = obj as Record<string, unknown>;
  const usage = reportedUsage(answerObj);
  const scored = services.safety !== undefined && request.endpoint !== 'embeddings';
  // The answer's text is only read when needed: no usage to count, or a safety check.
  const text = usage === undefined || scored ? generatedText(answerObj, 'message') : '';
  const tokens = tokenCount(usage, request, text);
  // Only redact and block need the score before the answer leaves; observe scores after.
  if (scored && model.config.safety.policy !== 'observe') {
    const verdict = await services.safety!.judge(model, text);
    // A long answer is scored over several turns of the event loop: the client may have gone.
    if (signal.aborted) return ex.cancel(tokens);
    if (verdict.action === 'block') {
      // The model did the work: its tokens count, and the request is a client error (content_filter), never a page.
      ex.fail(classifyFailure(verdict.error.status, 'gateway'), tokens);
      return sendError(res, verdict.error);
    }
    if (verdict.action === 'redact') {
      const body = Buffer.from(JSON.stringify(await services.safety!.redactAnswer(answerObj)));
      res.writeHead(answer.statusCode, passHeaders(answer.headers, 'application/json', body.length, 'redacted'));
      res.end(body);
      ex.succeed(tokens, undefined);
      return;
    }
  }
  res.writeHead(answer.statusCode, passHeaders(answer.headers, 'application/json', buf.length, undefined));
  res.end(buf);
  ex.succeed(tokens, undefined);
  if (scored && model.config.safety.policy === 'observe') services.safety!.observe(model, text);
  if (call.cacheTenant !== undefined && answer.statusCode === 200) {
    services.cache!.save(request, target.id, call.cacheTenant, { status: 200, contentType: 'application/json', body: buf, stream: false, promptTokens: tokens.prompt, completionTokens: tokens.completion });
  }
}

async function relayStream(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, request, ex, signal, model, services } = call;
  res.writeHead(answer.statusCode, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Tells nginx in front of the gateway not to buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const sm = new StreamMeter(target.upstream.config.maxEventBytes);
  // A copy for the cache, kept only while the stream stays under the cache's entry limit.
  let copy: Buffer[] | undefined = call.cacheTenant === undefined ? undefined : [];
  let copied = 0;
  const limit = services.cache?.maxEntryBytes ?? 0;
  const keep = (b: Buffer) => {
    if (copy === undefined) return;
    copied += b.length;
    if (copied > limit) copy = undefined;
    else copy.push(b);
  };
  try {
    for await (const chunk of answer.body) {
      // Only whole, checked events are written: a broken one never reaches the client.
      const ready = sm.push(chunk as Buffer);
      if (ready.length > 0) {
        keep(ready);
        if (!res.write(ready)) await once(res, 'drain', { signal });
      }
      if (sm.fault !== undefined) break;
    }
    if (sm.fault === undefined) {
      const rest = sm.end();
      if (rest.length > 0) {
        keep(rest);
        res.write(rest);
      }
    }
  } catch (err) {
    if (signal.aborted) return ex.cancel(streamedSoFar(sm, request));
    const reason = classifyUpstreamError(err);
    return failUpstream(call, target, reason, upstreamError(reason, target, err), { sent: streamedSoFar(sm, request) });
  }
  if (sm.fault !== undefined) {
    const make = sm.fault.kind === 'malformed' ? GW_ERR_UPSTREAM_MALFORMED : GW_ERR_UPSTREAM_STREAM;
    return failUpstream(call, target, sm.fault.kind, make(sm.fault.message), { sent: streamedSoFar(sm, request) });
  }
  if (!sm.done) {
    return failUpstream(call, target, 'reset', GW_ERR_UPSTREAM_RESET(`Upstream '${target.upstream.name}' ended the stream before [DONE]`), { sent: streamedSoFar(sm, request) });
  }
  res.end();
  const tokens = tokenCount(sm.usage, request, sm.text, sm.textChars);
  ex.succeed(tokens, sm);
  // Scored once the client has it all: a stream is never held back for scoring.
  services.safety?.observe(model, sm.text);
  if (copy !== undefined) {
    services.cache!.save(request, target.id, call.cacheTenant!, {
      status: 200,
      contentType: 'text/event-stream; charset=utf-8',
      body: Buffer.concat(copy, copied),
      stream: true,
      promptTokens: tokens.prompt,
      completionTokens: tokens.completion,
    });
  }
}

/**
 * A success that is not an event stream, to a stream request: the client's
 * SDK would read it as an empty stream, a silent 200. Nothing has gone out
 * yet, so it is a 502 `upstream_malformed_response`, counted as malformed.
 */
async function refuseNotAStream(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<void> {
  await answer.body.dump().catch(() => {});
  const type = String(answer.headers['content-type'] ?? 'no content type').slice(0, 60);
  failUpstream(call, target, 'malformed', GW_ERR_UPSTREAM_MALFORMED(`Upstream '${target.upstream.name}' answered a stream request with ${type}, not text/event-stream`));
}

/**
 * An upstream HTTP error reaches the client with its status. An OpenAI-shaped
 * body passes as it is; anything else is wrapped in that shape.
 */
async function relayUpstreamError(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<void> {
  const { res, ex, signal } = call;
  const status = answer.statusCode;
  const reason: UpstreamErrorReason | undefined = status >= 500 ? 'http_5xx' : status === 429 ? 'http_429' : undefined;
  if (reason !== undefined) target.meter.errors[reason].inc();
  const clientKeyForwarded = !call.services.ownsAuthorization && target.upstream.config.apiKey === undefined;
  ex.fail(classifyFailure(status, clientKeyForwarded ? 'upstream-client-key' : 'upstream'));
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
  const snippet = buf === undefined ? '' : `: ${redactSecrets(buf.toString('utf8', 0, Math.min(buf.length, 200)).trim())}`;
  sendJson(
    res,
    status,
    {
      error: {
        message: `Upstream '${target.upstream.name}' answered HTTP ${status}${snippet}`,
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        param: null,
        code: 'upstream_error',
      },
    },
    extra,
  );
}

/**
 * The one place a request fails on the upstream's side once nothing else can
 * be tried: the reason counted on the target, the exchange failed (with the
 * tokens a stream had already sent), and the error sent, as a JSON error or,
 * mid-stream, as the stream's last event.
 */
function failUpstream(call: Call, target: RouteTarget, reason: UpstreamErrorReason, err: LlmwatchError, stream?: { readonly sent: TokenCount | undefined }): void {
  target.meter.errors[reason].inc();
  call.ex.fail('error_5xx', stream?.sent);
  if (stream === undefined) sendError(call.res, err);
  else endStreamWithError(call.res, err);
}

function upstreamError(reason: UpstreamErrorReason, target: RouteTarget, cause: unknown): LlmwatchError {
  const name = target.upstream.name;
  const detail = cause instanceof Error ? `: ${redactSecrets(cause.message)}` : '';
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
  return sm.textChars === 0 ? undefined : tokenCount(undefined, request, sm.text, sm.textChars);
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

function passHeaders(
  h: Dispatcher.ResponseData['headers'],
  contentType: string,
  length: number,
  safety: 'redacted' | undefined,
): Record<string, string | number> {
  const out: Record<string, string | number> = { 'content-type': contentType, 'content-length': length };
  for (const name of PASSED_HEADERS) {
    const v = h[name];
    if (typeof v === 'string') out[name] = v;
  }
  if (safety !== undefined) out['x-llmwatch-safety'] = safety;
  return out;
}
