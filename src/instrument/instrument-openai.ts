import type { Registry } from 'prom-client';
import { Exchange, classifyFailure } from '../core/metering/exchange.ts';
import { GeneratedText } from '../core/metering/generated-text.ts';
import { generatedText, reportedUsage, tokenCount } from '../core/metering/usage.ts';
import type { Endpoint } from '../core/openai/endpoints.ts';
import type { InferenceRequest } from '../core/openai/validate.ts';
import { VERSION } from '../core/version.ts';
import { DEFAULT_PREFIX } from '../core/conventions/metrics.ts';
import { GatewayMetrics } from '../core/metering/gateway-metrics.ts';
import type { RouteMeter, TargetMeter } from '../core/metering/gateway-metrics.ts';

/** The part of an `openai` SDK client this wraps. */
export interface OpenAILike {
  chat: { completions: { create: (...args: any[]) => any } };
  completions: { create: (...args: any[]) => any };
  embeddings: { create: (...args: any[]) => any };
}

export interface InstrumentOptions {
  /** Where the metrics go; pass the registry your app's /metrics serves. */
  readonly registry: Registry;
  /** The models the app uses: the only `model` label values; any other is counted as `other`. */
  readonly models: readonly string[];
  readonly prefix?: string;
  /** The `upstream` label of the queue and in-flight metrics. Default `direct`. */
  readonly upstream?: string;
  /**
   * A stream the caller stops reading for this long (never starts, or
   * abandons) is counted as cancelled and leaves the in-flight gauge.
   * Default 10 minutes.
   */
  readonly streamIdleTimeoutMs?: number;
}

/** The `model` label of requests for a model not in the list. */
export const OTHER_MODEL = 'other';

/**
 * Wraps an `openai` SDK client, in place, so every chat completion, completion
 * and embedding it makes is metered under the gateway's metric names (from
 * the same conventions module): for applications that call a model server
 * directly, without the gateway. Returns the same client.
 * @example
 * const registry = new Registry();
 * const client = instrumentOpenAI(new OpenAI({ baseURL: 'http://vllm:8000/v1' }), { registry, models: ['llama-3.1-8b'] });
 * await client.chat.completions.create({ model: 'llama-3.1-8b', messages }); // counted
 */
export function instrumentOpenAI<C extends OpenAILike>(client: C, opts: InstrumentOptions): C {
  const upstream = opts.upstream ?? 'direct';
  const models = [...new Set([...opts.models, OTHER_MODEL])];
  const metrics = new GatewayMetrics(opts.registry, {
    prefix: opts.prefix ?? DEFAULT_PREFIX,
    durationBuckets: [0.1, 0.3, 0.5, 1, 2, 3, 5, 10],
    processMetrics: false,
    version: VERSION,
    models: models.map((model) => ({ model, targets: [{ upstream, model }] })),
  });
  const known = new Set(models);
  const meters = (model: unknown, endpoint: Endpoint) => {
    const name = typeof model === 'string' && known.has(model) ? model : OTHER_MODEL;
    return { route: metrics.route(name, endpoint)!, target: metrics.targets(name)[0]! };
  };
  const idleMs = opts.streamIdleTimeoutMs ?? 10 * 60_000;
  wrap(client.chat.completions, 'chat_completions', meters, idleMs);
  wrap(client.completions, 'completions', meters, idleMs);
  wrap(client.embeddings, 'embeddings', meters, idleMs);
  return client;
}

type Meters = (model: unknown, endpoint: Endpoint) => { route: RouteMeter; target: TargetMeter };

function wrap(resource: { create: (...args: any[]) => any }, endpoint: Endpoint, meters: Meters, idleMs: number): void {
  const original = resource.create;
  resource.create = function instrumentedCreate(this: unknown, body: Record<string, unknown>, ...rest: unknown[]) {
    const { route, target } = meters(body?.model, endpoint);
    const ex = new Exchange(route, performance.now());
    const request = asRequest(endpoint, body);
    target.inFlight.inc();
    target.requests.inc();
    const promise = original.call(this, body, ...rest);
    // A side branch: the caller gets the SDK's own promise (withResponse() and all), untouched.
    Promise.resolve(promise).then(
      (result: unknown) => {
        if (request.stream && isAsyncIterable(result)) return observeStream(result, request, ex, target, idleMs);
        target.inFlight.dec();
        const answer = (result ?? {}) as Record<string, unknown>;
        const usage = reportedUsage(answer);
        ex.succeed(tokenCount(usage, request, usage === undefined ? generatedText(answer, 'message') : ''), undefined);
      },
      (err: unknown) => {
        target.inFlight.dec();
        settleError(ex, err);
      },
    );
    return promise;
  };
}

/**
 * Meters a stream as the caller reads it: first token, text, usage; an early
 * exit is a cancellation. A stream that is never iterated, or is left
 * half-read, must not hold the in-flight gauge for ever (issue 12): it ends
 * as cancelled when its controller aborts, or when the caller has not asked
 * for a chunk within `idleMs` (which also covers a stream dropped and
 * garbage-collected: the timer does not hold the stream).
 */
function observeStream(stream: AsyncIterable<unknown>, request: InferenceRequest, ex: Exchange, target: TargetMeter, idleMs: number): void {
  const iterate = stream[Symbol.asyncIterator].bind(stream);
  const generated = new GeneratedText();
  let usage: { prompt: number; completion: number } | undefined;
  let ended = false;
  let idle: NodeJS.Timeout | undefined;
  const end = () => {
    if (ended) return false;
    ended = true;
    clearTimeout(idle);
    target.inFlight.dec();
    return true;
  };
  const cancel = () => {
    if (end()) ex.cancel(generated.textChars === 0 ? undefined : tokenCount(undefined, request, generated.text, generated.textChars));
  };
  const watch = () => {
    clearTimeout(idle);
    // unref: a forgotten stream must not keep the process alive either.
    idle = setTimeout(cancel, idleMs).unref();
  };
  watch();
  const signal = (stream as { controller?: AbortController }).controller?.signal;
  signal?.addEventListener('abort', cancel, { once: true });
  (stream as { [Symbol.asyncIterator]: () => AsyncIterator<unknown> })[Symbol.asyncIterator] = function meteredIterator() {
    const it = iterate();
    return {
      async next() {
        clearTimeout(idle);
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (err) {
          if (end()) settleError(ex, err);
          throw err;
        }
        if (r.done) {
          if (end()) ex.succeed(tokenCount(usage, request, generated.text, generated.textChars), generated);
          return r;
        }
        if (!ended) watch();
        const chunk = (r.value ?? {}) as Record<string, unknown>;
        generated.token(generatedText(chunk, 'delta'));
        usage = reportedUsage(chunk) ?? usage;
        return r;
      },
      async return(value?: unknown) {
        cancel();
        return (await it.return?.(value)) ?? { done: true, value };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    } as AsyncIterator<unknown> & AsyncIterable<unknown>;
  };
}

function settleError(ex: Exchange, err: unknown): void {
  const e = err as { name?: string; status?: unknown };
  if (e?.name === 'APIUserAbortError' || e?.name === 'AbortError') return ex.cancel();
  const status = typeof e?.status === 'number' ? e.status : 502;
  ex.fail(classifyFailure(status, 'sdk'));
}

function asRequest(endpoint: Endpoint, body: Record<string, unknown>): InferenceRequest {
  const so = body?.stream_options as { include_usage?: unknown } | undefined;
  return {
    endpoint,
    model: String(body?.model),
    stream: body?.stream === true,
    includeUsage: so?.include_usage === true,
    maxTokens: undefined,
    temperature: undefined,
    // A body the SDK would reject anyway still gets a prompt estimate of what it has.
    body: { messages: [], prompt: '', input: '', ...body },
  };
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && Symbol.asyncIterator in v;
}
