import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { LlmwatchError } from '../core/errors.ts';
import { openAIErrorBody, sendError, sendJson } from '../core/http/send.ts';
import type { FailureClass, RouteMeter } from '../core/metering/gateway-metrics.ts';
import { parseAnswer, readAnswer } from '../core/metering/answer-usage.ts';
import { factsOfAnswer, factsOfTail } from '../core/metering/answer-facts.ts';
import type { AnswerFacts } from '../core/metering/answer-facts.ts';
import type { AnswerBehaviour } from './behaviour/answer-behaviour.ts';
import type { CachedAnswer } from './cache/types.ts';
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
import { generatedText, tokenCount } from '../core/metering/usage.ts';
import type { TokenCount } from '../core/metering/usage.ts';
import { redactSecrets } from '../core/http/redact.ts';
import { chunkWriter } from '../core/http/chunk-writer.ts';

/** The services the proxy core calls through narrow interfaces; each is optional. */
export interface ProxyServices {
  readonly cache: AnswerCache | undefined;
  readonly safety: OutputSafety | undefined;
  /** The behaviour signals (finish reasons, refusals, empty answers, tool calls) of delivered answers. */
  readonly behaviour: AnswerBehaviour;
  /** True when the gateway checks client keys: the client's Authorization is then never sent upstream. */
  readonly ownsAuthorization: boolean;
}

/** One request on its way through the proxy. */
interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly model: ModelRoute;
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

/**
 * What one attempt on a target came to. The proxy's lifecycle settles every
 * outcome in one place ({@link settle}): the reason counted on the target,
 * the exchange counted once, the client told.
 */
type Outcome =
  /** The answer went out and was metered by the delivery stages. */
  | { readonly kind: 'delivered' }
  /** The client went away; tokens a stream had already carried still count. */
  | { readonly kind: 'cancelled'; readonly tokens?: TokenCount }
  | Failure;

interface Failure {
  readonly kind: 'failed';
  /** Why the upstream failed, counted on the target; none when the gateway refused (queue full). */
  readonly reason: UpstreamErrorReason | undefined;
  readonly cls: FailureClass;
  /** Tokens a stream carried before it failed. */
  readonly sent?: TokenCount;
  /** With failover on and a next target, this attempt may be retried there (nothing reached the client). */
  readonly retryable: boolean;
  /** How the client hears of it. */
  readonly send: (res: ServerResponse) => void;
}

/**
 * The proxy core, one lifecycle per request: the cache stage may answer;
 * otherwise each target is tried in turn (the retry stage: with failover on,
 * a target that cannot be reached or answers 5xx before any byte went to the
 * client hands the request to the next), the answer passes through the
 * delivery stages (metering, cache capture, safety observation), and the
 * outcome is settled once. Every way out counts the request exactly once and
 * gives slots and gauges back.
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
    let lookup: CacheLookup | undefined;
    if (services.cache !== undefined && model.config.cache) {
      lookup = await services.cache.lookup(model, request, model.targets[model.active]!.id, tenant, req.headers['x-llmwatch-cache']);
      if (lookup.kind === 'hit') {
        const a = lookup.answer;
        res.writeHead(a.status, { 'content-type': a.contentType, 'content-length': a.body.length, 'x-llmwatch-cache': 'hit' });
        res.end(a.body);
        ex.served();
        return;
      }
    }
    const call: Call = { req, res, model, request, rawBody, ex, services, signal: ac.signal, cacheTenant: lookup?.kind === 'miss' ? tenant : undefined };
    const last = model.config.failover ? model.targets.length - 1 : model.active;
    for (let i = model.active; i <= last; i++) {
      const target = model.targets[i]!;
      const outcome = await attempt(call, target, i === last);
      if (outcome.kind === 'failed' && outcome.retryable && i < last) {
        target.meter.errors[outcome.reason!].inc();
        target.meter.failovers.inc();
        continue;
      }
      settle(call, target, outcome);
      return;
    }
  } finally {
    res.off('close', onClose);
    if (!ex.counted) ex.fail('error_5xx');
  }
}

/**
 * The one place an outcome is booked: the upstream's reason counted on the
 * target, the exchange counted by its SLI class (with the tokens a stream had
 * already sent), and the error sent, as a JSON error or, mid-stream, as the
 * stream's last event.
 */
function settle(call: Call, target: RouteTarget, o: Outcome): void {
  switch (o.kind) {
    case 'delivered':
      return;
    case 'cancelled':
      call.ex.cancel(o.tokens);
      return;
    case 'failed':
      if (o.reason !== undefined) target.meter.errors[o.reason].inc();
      call.ex.fail(o.cls, o.sent);
      o.send(call.res);
      return;
    default: {
      const never: never = o;
      throw new Error(`unhandled outcome ${String(never)}`);
    }
  }
}

/** An upstream failure sent as a JSON error (nothing went out yet) or as a stream's last event. */
function upstreamFailure(reason: UpstreamErrorReason, err: LlmwatchError, opts: { retryable?: boolean; sent?: TokenCount | undefined; midStream?: boolean } = {}): Failure {
  return {
    kind: 'failed',
    reason,
    cls: 'error_5xx',
    sent: opts.sent,
    retryable: opts.retryable === true,
    send: opts.midStream === true ? (res) => endStreamWithError(res, err) : (res) => sendError(res, err),
  };
}

const CANCELLED: Outcome = { kind: 'cancelled' };
const DELIVERED: Outcome = { kind: 'delivered' };

async function attempt(call: Call, target: RouteTarget, last: boolean): Promise<Outcome> {
  const { signal } = call;
  const { limiter } = target.upstream;
  if (limiter.tryAcquire()) {
    target.meter.queueWait.observe(0);
  } else {
    try {
      await limiter.acquire(target.queue, signal);
    } catch (err) {
      if (signal.aborted) return CANCELLED;
      // Queue full (429) and queue timeout (503): the gateway is overloaded, a server-side failure.
      return { kind: 'failed', reason: undefined, cls: classifyFailure((err as LlmwatchError).status, 'gateway'), retryable: false, send: (res) => sendError(res, err) };
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

async function exchange(call: Call, target: RouteTarget, last: boolean): Promise<Outcome> {
  const { req, request, rawBody, signal, services } = call;
  // The client's bytes go upstream untouched unless the model must be renamed.
  const body = target.rename ? JSON.stringify({ ...request.body, model: target.upstreamModel }) : rawBody;
  const clientAuth = services.ownsAuthorization ? undefined : req.headers.authorization;
  let answer: Dispatcher.ResponseData;
  try {
    answer = await target.upstream.request(UPSTREAM_PATHS[request.endpoint], body, clientAuth, signal);
  } catch (err) {
    if (signal.aborted) return CANCELLED;
    const reason = classifyUpstreamError(err);
    return upstreamFailure(reason, upstreamError(reason, target, err), { retryable: true });
  }
  if (answer.statusCode >= 500 && !last) {
    await answer.body.dump().catch(() => {});
    return upstreamFailure('http_5xx', GW_ERR_UPSTREAM_RESET(`Upstream '${target.upstream.name}' answered HTTP ${answer.statusCode}`), { retryable: true });
  }
  if (answer.statusCode >= 400) return relayUpstreamError(call, target, answer);
  if (request.stream && isEventStream(answer.headers['content-type'])) return relayStream(call, target, answer);
  if (request.stream) return refuseNotAStream(call, target, answer);
  return relayJson(call, target, answer);
}

/** Each endpoint's path under an upstream's base URL, made once. */
const UPSTREAM_PATHS = Object.fromEntries(Object.entries(ENDPOINTS).map(([e, p]) => [e, p.slice('/v1'.length)])) as Record<InferenceRequest['endpoint'], string>;

/**
 * The delivery stages of an answer that went out whole: metering (the
 * exchange's success, with its tokens and stream timing), cache capture (the
 * answer's bytes, when cacheable and under the entry limit) and safety
 * observation (scored later, in batches, off the request's critical path;
 * the text is only worked out then).
 */
function delivered(
  call: Call,
  target: RouteTarget,
  d: { tokens: TokenCount; timing: StreamMeter | undefined; cached: CachedAnswer | undefined; observe: (() => string) | string | undefined; facts: AnswerFacts | undefined },
): Outcome {
  call.ex.succeed(d.tokens, d.timing);
  if (d.facts !== undefined) call.services.behaviour.record(call.model, d.facts);
  if (d.observe !== undefined) call.services.safety!.observe(call.model, d.observe);
  if (d.cached !== undefined) call.services.cache!.save(call.request, target.id, call.cacheTenant!, d.cached);
  return DELIVERED;
}

async function relayJson(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<Outcome> {
  const { res, request, signal, model, services } = call;
  let buf: Buffer;
  try {
    buf = await readAll(answer.body, target.upstream.config.maxResponseBytes);
  } catch (err) {
    if (signal.aborted) return CANCELLED;
    const reason = err instanceof LlmwatchError ? 'malformed' : classifyUpstreamError(err);
    return upstreamFailure(reason, err instanceof LlmwatchError ? err : upstreamError(reason, target, err));
  }
  // Metering needs only `usage`: a large answer is not parsed whole for it (src/core/metering/answer-usage.ts).
  let read = readAnswer(buf);
  if (read === undefined) {
    return upstreamFailure('malformed', GW_ERR_UPSTREAM_MALFORMED(`Upstream '${target.upstream.name}' answered HTTP ${answer.statusCode} with a body that is not a JSON object`));
  }
  const scored = services.safety !== undefined && request.endpoint !== 'embeddings';
  const judged = scored && model.config.safety.policy !== 'observe';
  // The answer's text is read before it leaves only when needed: no usage to count, or a redact/block policy.
  if ((read.usage === undefined || judged) && read.parsed === undefined) read = { parsed: parseAnswer(buf)!, usage: read.usage };
  const parsed = read.parsed;
  // Behaviour signals: from the parsed answer, or (a large answer whose usage was in its tail) from its last bytes.
  const facts = request.endpoint === 'embeddings' ? undefined : parsed !== undefined ? factsOfAnswer(parsed) : factsOfTail(buf);
  const text = read.usage === undefined || judged ? generatedText(parsed!, 'message') : '';
  const tokens = tokenCount(read.usage, request, text);
  if (judged) {
    const verdict = await services.safety!.judge(model, text);
    // A long answer is scored over several turns of the event loop: the client may have gone.
    if (signal.aborted) return { kind: 'cancelled', tokens };
    if (verdict.action === 'block') {
      // The model did the work: its tokens count, and the request is a client error (content_filter), never a page.
      return { kind: 'failed', reason: undefined, cls: classifyFailure(verdict.error.status, 'gateway'), sent: tokens, retryable: false, send: (r) => sendError(r, verdict.error) };
    }
    if (verdict.action === 'redact') {
      const body = Buffer.from(JSON.stringify(await services.safety!.redactAnswer(parsed!)));
      res.writeHead(answer.statusCode, passHeaders(answer.headers, 'application/json', body.length, 'redacted'));
      res.end(body);
      return delivered(call, target, { tokens, timing: undefined, cached: undefined, observe: undefined, facts });
    }
  }
  res.writeHead(answer.statusCode, passHeaders(answer.headers, 'application/json', buf.length, undefined));
  res.end(buf);
  const observe = scored && !judged ? (text !== '' ? text : () => answerText(parsed, buf)) : undefined;
  const cached =
    call.cacheTenant !== undefined && answer.statusCode === 200
      ? { status: 200, contentType: 'application/json', body: buf, stream: false, promptTokens: tokens.prompt, completionTokens: tokens.completion }
      : undefined;
  return delivered(call, target, { tokens, timing: undefined, cached, observe, facts });
}

/** The generated text of an answer, parsed now if it was not before. */
function answerText(parsed: Record<string, unknown> | undefined, buf: Buffer): string {
  const obj = parsed ?? parseAnswer(buf);
  return obj === undefined ? '' : generatedText(obj, 'message');
}

async function relayStream(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<Outcome> {
  const { res, request, signal, services } = call;
  res.writeHead(answer.statusCode, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Tells nginx in front of the gateway not to buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const sm = new StreamMeter(target.upstream.config.maxEventBytes);
  // The cache capture stage: a copy, kept only while the stream stays under the cache's entry limit.
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
    await pump(answer.body, res, signal, (chunk) => {
      // Only whole, checked events are written: a broken one never reaches the client.
      const ready = sm.push(chunk);
      if (ready.length > 0) keep(ready);
      return ready;
    }, () => sm.fault !== undefined);
    if (sm.fault === undefined) {
      const rest = sm.end();
      if (rest.length > 0) {
        keep(rest);
        res.write(rest);
      }
    }
  } catch (err) {
    if (signal.aborted) return { kind: 'cancelled', tokens: streamedSoFar(sm, request) };
    const reason = classifyUpstreamError(err);
    return upstreamFailure(reason, upstreamError(reason, target, err), { sent: streamedSoFar(sm, request), midStream: true });
  }
  if (sm.fault !== undefined) {
    const make = sm.fault.kind === 'malformed' ? GW_ERR_UPSTREAM_MALFORMED : GW_ERR_UPSTREAM_STREAM;
    return upstreamFailure(sm.fault.kind, make(sm.fault.message), { sent: streamedSoFar(sm, request), midStream: true });
  }
  if (!sm.done) {
    return upstreamFailure('reset', GW_ERR_UPSTREAM_RESET(`Upstream '${target.upstream.name}' ended the stream before [DONE]`), { sent: streamedSoFar(sm, request), midStream: true });
  }
  res.end();
  const tokens = tokenCount(sm.usage, request, sm.text, sm.textChars);
  // Scored once the client has it all: a stream is never held back for scoring.
  const cached =
    copy === undefined
      ? undefined
      : { status: 200, contentType: 'text/event-stream; charset=utf-8', body: Buffer.concat(copy, copied), stream: true, promptTokens: tokens.prompt, completionTokens: tokens.completion };
  return delivered(call, target, { tokens, timing: sm, cached, observe: services.safety === undefined ? undefined : sm.text, facts: sm.facts.facts() });
}

const ignore = () => {};

/**
 * Passes an upstream body to the client through `transform` (the bytes to
 * write for each chunk) until the body ends or `stop()` says so, with
 * back-pressure: the body pauses while the client's socket drains. Event
 * listeners, not an async iterator: no promise per chunk. Rejects with the
 * body's error, or the signal's reason when the client goes away.
 */
export function pump(body: Dispatcher.ResponseData['body'], res: ServerResponse, signal: AbortSignal, transform: (chunk: Buffer) => Buffer, stop: () => boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const resume = () => body.resume();
    const out = chunkWriter(res);
    const done = (err?: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      // The body may still fail after this (undici destroys it when the signal aborts): not a crash.
      body.on('error', ignore);
      out.drainer.off('drain', resume);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      const bytes = transform(chunk);
      if (bytes.length > 0 && !out.write(bytes)) {
        body.pause();
        out.drainer.once('drain', resume);
      }
      if (stop()) {
        done();
        body.destroy();
      }
    };
    const onEnd = () => done();
    const onError = (err: unknown) => done(err);
    const onAbort = () => done(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

/**
 * A success that is not an event stream, to a stream request: the client's
 * SDK would read it as an empty stream, a silent 200. Nothing has gone out
 * yet, so it is a 502 `upstream_malformed_response`, counted as malformed.
 */
async function refuseNotAStream(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<Outcome> {
  await answer.body.dump().catch(() => {});
  const type = String(answer.headers['content-type'] ?? 'no content type').slice(0, 60);
  return upstreamFailure('malformed', GW_ERR_UPSTREAM_MALFORMED(`Upstream '${target.upstream.name}' answered a stream request with ${type}, not text/event-stream`));
}

/**
 * An upstream HTTP error reaches the client with its status. An OpenAI-shaped
 * body passes as it is; anything else is wrapped in that shape.
 */
async function relayUpstreamError(call: Call, target: RouteTarget, answer: Dispatcher.ResponseData): Promise<Outcome> {
  const { signal } = call;
  const status = answer.statusCode;
  const reason: UpstreamErrorReason | undefined = status >= 500 ? 'http_5xx' : status === 429 ? 'http_429' : undefined;
  const clientKeyForwarded = !call.services.ownsAuthorization && target.upstream.config.apiKey === undefined;
  const cls = classifyFailure(status, clientKeyForwarded ? 'upstream-client-key' : 'upstream');
  let buf: Buffer | undefined;
  try {
    buf = await readAll(answer.body, UPSTREAM_ERROR_BODY_LIMIT);
  } catch {
    // The upstream's answer was an error whatever the client did meanwhile: counted as one, nothing to send.
    if (signal.aborted) return { kind: 'failed', reason, cls, retryable: false, send: () => {} };
    buf = undefined;
  }
  const retryAfter = answer.headers['retry-after'];
  const extra: Record<string, string> = { 'x-llmwatch-error': 'GW_ERR_UPSTREAM_HTTP' };
  if (typeof retryAfter === 'string') extra['retry-after'] = retryAfter;
  if (buf !== undefined && isOpenAIError(buf)) {
    const body = buf;
    return {
      kind: 'failed',
      reason,
      cls,
      retryable: false,
      send: (res) => {
        res.writeHead(status, { ...extra, 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      },
    };
  }
  const snippet = buf === undefined ? '' : `: ${redactSecrets(buf.toString('utf8', 0, Math.min(buf.length, 200)).trim())}`;
  const error = {
    error: {
      message: `Upstream '${target.upstream.name}' answered HTTP ${status}${snippet}`,
      type: status >= 500 ? 'server_error' : 'invalid_request_error',
      param: null,
      code: 'upstream_error',
    },
  };
  return { kind: 'failed', reason, cls, retryable: false, send: (res) => sendJson(res, status, error, extra) };
}

export function upstreamError(reason: UpstreamErrorReason, target: RouteTarget, cause: unknown): LlmwatchError {
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

export async function readAll(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
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
