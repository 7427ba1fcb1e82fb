import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import { ENDPOINT_NAMES } from '../openai/endpoints.ts';
import { boundCounter, boundGauge, boundHistogram } from './exposition.ts';
import type { GaugeChild, IncChild, ObserveChild } from './exposition.ts';
import { ENDPOINT_OTHER, MODEL_NONE, isEmbeddingEndpoint } from '../native/endpoints.ts';
import type { Endpoint } from '../openai/endpoints.ts';
import type { EndpointLabel } from '../native/endpoints.ts';
import { BUCKETS, CACHE_OP, CACHE_RESULT, ROUTE_STORE_OP, CLASSIFIER_FAILURE, DEFAULT_GENAI_PROVIDER, ENDPOINT_NONE, FINISH_REASON, FINISH_REASON_PRECREATED, FLAG_ACTION, GENAI_BUCKETS, GENAI_ERROR_TYPE, GENAI_LABEL, GENAI_METRIC, GENAI_OPERATION, LABEL, REJECT_REASON, TOKEN_KIND, TOKEN_SOURCE, UPSTREAM_ERROR_REASON, metricName } from '../conventions/metrics.ts';
import type { CacheOp, CacheResult, RouteStoreOp, ClassifierFailure, CodeClass, FinishReason, FlagAction, GenAiErrorType, MetricsNaming, RejectReason, TokenSource, UpstreamErrorReason } from '../conventions/metrics.ts';

/** Status classes an error can carry. */
export type ErrorClass = Exclude<CodeClass, '2xx'>;

/**
 * A failed request's SLI class and the status class its client saw: a
 * server-side failure (`status="error"`) with a 5xx, or with a 4xx (429:
 * overloaded), or a client error (`status="client_error"`, always a 4xx).
 */
export type FailureClass = 'error_5xx' | 'error_4xx' | 'client_error_4xx';

export interface GatewayMetricsOptions {
  readonly prefix: string;
  readonly durationBuckets: readonly number[];
  readonly processMetrics: boolean;
  readonly version: string;
  /** Every model and its targets: the only label values the gateway will ever use. */
  readonly models: ReadonlyArray<{
    readonly model: string;
    readonly targets: ReadonlyArray<{ readonly upstream: string; readonly model: string }>;
    /** OpenAI endpoints whose series exist at zero from the start; the others' appear with their first request. All three when absent. */
    readonly endpoints?: readonly Endpoint[];
    /** Endpoints beyond OpenAI's three that this model is served on (native APIs of its upstreams, `other` for passthrough). */
    readonly extraEndpoints?: readonly EndpointLabel[];
  }>;
  /** Passed-through requests that name no model are counted under `model="_none"`, `endpoint="other"`. */
  readonly passthroughWithoutModel?: boolean;
  /** Client key names, when client keys are configured. */
  readonly keys?: readonly string[];
  /** Store kinds whose errors are counted. */
  readonly cacheStore?: 'memory' | 'redis';
  /** Which names the request histograms go under (default `openllm`); see {@link MetricsNaming}. */
  readonly naming?: MetricsNaming;
  /** `gen_ai_provider_name` of the OpenTelemetry families (default `openai`). */
  readonly providerName?: string;
  /** Set when the routes are shared through a store: its health is exported. */
  readonly routeStore?: 'redis';
}

/** The instruments of the shared route store (`routes.store: redis`). */
export interface RouteStoreMeter {
  /** 1 while the store answers, 0 while the routes are the last known ones. */
  readonly up: GaugeChild;
  readonly errors: Readonly<Record<RouteStoreOp, IncChild>>;
  /** Counts a value naming no configured target of `model` (a configured model). */
  invalid(model: string): void;
}

/** The label-bound instruments of one model, whatever the endpoint. */
export interface ModelMeter {
  readonly model: string;
  readonly tokens: Readonly<Record<TokenSource, { readonly prompt: IncChild; readonly completion: IncChild }>>;
  readonly cache: Readonly<Record<CacheResult, IncChild>>;
  readonly toxicity: GaugeChild;
  readonly safetyScore: ObserveChild;
  readonly flagged: Readonly<Record<FlagAction, IncChild>>;
  readonly routeSwitches: IncChild;
  readonly behaviour: BehaviourMeter;
}

/** The behaviour signals of one model's answers (docs/drift.md). */
export interface BehaviourMeter {
  readonly finish: Readonly<Record<FinishReason, IncChild>>;
  readonly refusals: IncChild;
  readonly empty: IncChild;
  readonly toolCalls: IncChild;
}

/**
 * The label-bound instruments of one (model, endpoint), resolved once at
 * start-up so the request path only calls `inc` and `observe`.
 */
export interface RouteMeter {
  readonly model: string;
  readonly endpoint: EndpointLabel;
  readonly perModel: ModelMeter;
  readonly duration: ObserveChild;
  readonly ttft: ObserveChild;
  readonly tpot: ObserveChild;
  readonly promptSize: ObserveChild;
  readonly completionSize: ObserveChild;
  /** Ollama's `load_duration`, on Ollama endpoints only. */
  readonly modelLoad: ObserveChild;
  readonly success: IncChild;
  readonly cancelled: IncChild;
  /**
   * Durations of operations that ended in an error, by `error_type`: the OpenTelemetry
   * operation duration counts every operation; llmwatch's own duration only successes,
   * so under `openllm` these record nothing.
   */
  readonly failedDuration: Readonly<Record<GenAiErrorType, ObserveChild>>;
  /** Failures by SLI class and the status class sent; a stream cut after its 200 counts as a server-side 5xx. */
  readonly failures: Readonly<Record<FailureClass, IncChild>>;
}

/** The instruments of one target of a model (an upstream, and the model's name there). */
export interface TargetMeter {
  readonly upstream: string;
  readonly upstreamModel: string;
  readonly queueLength: GaugeChild;
  readonly queueWait: ObserveChild;
  readonly inFlight: GaugeChild;
  readonly requests: IncChild;
  readonly errors: Readonly<Record<UpstreamErrorReason, IncChild>>;
  readonly failovers: IncChild;
  readonly active: GaugeChild;
}

/** The gateway's instruments, registered in the registry given (never the global one). */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly #routes = new Map<string, RouteMeter>();
  readonly #targets = new Map<string, TargetMeter[]>();
  readonly #rejected: Counter<string>;
  readonly #clients = new Map<string, IncChild>();
  readonly #cacheErrors: Record<CacheOp, IncChild> | undefined;
  readonly #classifierFailures: Record<ClassifierFailure, IncChild>;
  readonly #refusalClassifierFailures: Counter<string>;
  /** Set when the routes are shared through a store. */
  readonly routeStore: RouteStoreMeter | undefined;

  constructor(registry: Registry, opts: GatewayMetricsOptions) {
    this.registry = registry;
    const p = opts.prefix;
    const reg = { registers: [registry] };
    const { model, endpoint, upstream, status, code, kind, source, reason, result, upstreamModel, action } = LABEL;
    const histogram = (key: Parameters<typeof metricName>[0], help: string, labelNames: string[], buckets: readonly number[]) =>
      new Histogram({ name: metricName(key, p), help, labelNames, buckets: [...buckets], ...reg });
    const counter = (key: Parameters<typeof metricName>[0], help: string, labelNames: string[]) => new Counter({ name: metricName(key, p), help, labelNames, ...reg });
    // `aggregator` is how `--workers` combines the workers' values (prom-client's AggregatorRegistry); sum unless said.
    const gauge = (key: Parameters<typeof metricName>[0], help: string, labelNames: string[], aggregator: 'sum' | 'max' | 'min' | 'average' = 'sum') =>
      new Gauge({ name: metricName(key, p), help, labelNames, aggregator, ...reg });

    const naming = opts.naming ?? 'openllm';
    // llmwatch's request histograms, unless only the OpenTelemetry names are asked for.
    const own = naming === 'otel' ? undefined : {
      duration: histogram('inferenceDuration', 'Time from a request reaching the gateway to the end of a successful answer, queue wait included.', [model, endpoint], opts.durationBuckets),
      ttft: histogram('timeToFirstToken', 'Time from a streamed request reaching the gateway to its first content token.', [model, endpoint], BUCKETS.timeToFirstToken),
      tpot: histogram('timePerOutputToken', 'Mean time between output tokens after the first, per streamed request.', [model, endpoint], BUCKETS.timePerOutputToken),
      promptSize: histogram('promptTokens', 'Prompt size of successful requests, in tokens.', [model, endpoint], BUCKETS.tokens),
      completionSize: histogram('completionTokens', 'Completion size of successful requests, in tokens.', [model, endpoint], BUCKETS.tokens),
    };
    const otel = naming === 'openllm' ? undefined : genAiHistograms(registry);
    const provider = opts.providerName ?? DEFAULT_GENAI_PROVIDER;
    const requests = counter('requests', 'Requests routed to a model, by SLI class (success; error: server-side failure; client_error; cancelled) and the HTTP status class the client saw.', [model, endpoint, status, code]);
    const tokens = counter('tokensProcessed', 'Tokens processed; source="usage" as reported by the server, source="estimate" counted by the gateway.', [model, kind, source]);
    const queueLength = gauge('queueLength', 'Requests waiting for a free upstream slot.', [model, upstream]);
    const queueWait = histogram('queueWait', 'Time requests waited for an upstream slot.', [model, upstream], BUCKETS.queueWait);
    const inFlight = gauge('requestsInFlight', 'Requests holding an upstream slot (sent and not yet finished).', [model, upstream]);
    const upstreamErrors = counter('upstreamErrors', 'Failed exchanges with an upstream, by reason.', [model, upstream, reason]);
    const upstreamRequests = counter('upstreamRequests', 'Requests sent to each target of a model, failover attempts included.', [model, upstream, upstreamModel]);
    const routeActive = gauge('routeActive', '1 for the target a model is routed to now, 0 for its other targets.', [model, upstream, upstreamModel], 'max');
    const routePrimary = gauge('routePrimary', "1 for a model's primary target (first in the config), 0 for its fallbacks.", [model, upstream, upstreamModel], 'max');
    const routeSwitches = counter('routeSwitches', "Route changes made through this replica's admin API.", [model]);
    const failovers = counter('failovers', 'Requests retried on the next target after this one failed.', [model, upstream]);
    const cache = counter('cacheRequests', 'Response cache lookups: hit, miss, or bypass (not cacheable).', [model, result]);
    const toxicity = gauge('outputToxicity', 'Rolling mean toxicity score of recent outputs, 0 to 1.', [model], 'average');
    const safetyScore = histogram('outputSafetyScore', 'Toxicity scores of single outputs, 0 to 1.', [model], [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1]);
    const flagged = counter('outputFlagged', 'Outputs at or above the safety threshold, by what was done.', [model, action]);
    const classifierFailures = counter('safetyClassifierFailures', 'Outputs the external classifier could not score: error, timeout, or dropped when saturated.', [reason]);
    this.#classifierFailures = Object.fromEntries(
      CLASSIFIER_FAILURE.map((r) => [r, boundCounter(classifierFailures, { [reason]: r })]),
    ) as Record<ClassifierFailure, IncChild>;
    const answers = counter('answers', 'Answers of chat and completions requests delivered by a model (cache hits left out), by the finish_reason of their first choice.', [model, LABEL.finishReason]);
    const refusals = counter('answerRefusals', "Answers whose first sentences the refusal detector took for a refusal.", [model]);
    const empty = counter('answerEmpty', 'Answers with neither text nor a tool call.', [model]);
    const toolCalls = counter('answerToolCalls', 'Answers that call at least one tool.', [model]);
    // Counted only when a refusal classifier is configured; created with its first failure.
    this.#refusalClassifierFailures = counter('refusalClassifierFailures', 'Answers the refusal classifier could not judge: error, timeout, or dropped when saturated.', [reason]);
    this.#rejected = counter('rejectedRequests', 'Requests refused before reaching a model (bad JSON, oversized, invalid, unauthorized, unknown model or path).', [endpoint, reason]);
    const buildInfo = gauge('buildInfo', 'Always 1; labels say which llmwatch and Node.js run.', [LABEL.version, LABEL.nodeVersion], 'max');
    buildInfo.set({ [LABEL.version]: opts.version, [LABEL.nodeVersion]: process.version }, 1);
    if (opts.processMetrics) collectDefaultMetrics({ register: registry });

    const extra = [...new Set(opts.models.flatMap((m) => m.extraEndpoints ?? []))];
    if (opts.passthroughWithoutModel === true && !extra.includes(ENDPOINT_OTHER)) extra.push(ENDPOINT_OTHER);
    for (const e of [...ENDPOINT_NAMES, ...extra, ENDPOINT_NONE]) {
      for (const r of REJECT_REASON) this.#rejected.inc({ [endpoint]: e, [reason]: r }, 0);
    }
    const modelLoad = extra.some((e) => e.startsWith('ollama_'))
      ? histogram('modelLoadDuration', "Ollama's load_duration: time spent loading the model before answering, per answer that reported it.", [model], BUCKETS.modelLoad)
      : undefined;
    if (opts.keys !== undefined && opts.keys.length > 0) {
      const clients = counter('clientRequests', 'Requests by client key name.', [LABEL.key]);
      for (const k of opts.keys) this.#clients.set(k, boundCounter(clients, { [LABEL.key]: k }));
    }
    if (opts.cacheStore !== undefined) {
      const errors = counter('cacheErrors', 'Cache store failures; the request went on without the cache.', [LABEL.store, LABEL.op]);
      this.#cacheErrors = Object.fromEntries(
        CACHE_OP.map((op) => [op, boundCounter(errors, { [LABEL.store]: opts.cacheStore!, [LABEL.op]: op })]),
      ) as Record<CacheOp, IncChild>;
    }

    if (opts.routeStore !== undefined) {
      // min: with --workers, one worker cut off from the store is the whole gateway's problem.
      const up = gauge('routeStoreUp', 'Whether the shared route store answers (1) or this gateway keeps its last known routes (0).', [LABEL.store], 'min');
      const errors = counter('routeStoreErrors', 'Shared route store failures by operation; the routes in force stayed as they were.', [LABEL.store, LABEL.op]);
      const invalid = counter('routeStoreInvalid', 'Values in the shared route store naming no configured target of their model: ignored.', [model]);
      const st = { [LABEL.store]: opts.routeStore };
      const invalidByModel = new Map(opts.models.map((m) => [m.model, boundCounter(invalid, { [model]: m.model })]));
      this.routeStore = {
        up: boundGauge(up, st, 0),
        errors: Object.fromEntries(ROUTE_STORE_OP.map((op) => [op, boundCounter(errors, { ...st, [LABEL.op]: op })])) as RouteStoreMeter['errors'],
        invalid: (m) => invalidByModel.get(m)?.inc(),
      };
    } else {
      this.routeStore = undefined;
    }

    // Every series exists from the first scrape, at zero, so rate() and
    // increase() see the first event and absent() means "not scraped".
    // Each child is bound once, here: the request path only adds to a number.
    const zeroed = boundCounter;
    for (const m of opts.models) {
      const one = { [model]: m.model };
      const perModel: ModelMeter = {
        model: m.model,
        tokens: Object.fromEntries(
          TOKEN_SOURCE.map((s) => [s, Object.fromEntries(TOKEN_KIND.map((k) => [k, zeroed(tokens, { ...one, [kind]: k, [source]: s })]))]),
        ) as ModelMeter['tokens'],
        cache: Object.fromEntries(CACHE_RESULT.map((r) => [r, zeroed(cache, { ...one, [result]: r })])) as ModelMeter['cache'],
        toxicity: boundGauge(toxicity, one, 0),
        safetyScore: boundHistogram(safetyScore, { ...one }),
        flagged: Object.fromEntries(FLAG_ACTION.map((a) => [a, zeroed(flagged, { ...one, [action]: a })])) as ModelMeter['flagged'],
        routeSwitches: zeroed(routeSwitches, one),
        // Pre-created at zero only where a drift alert's ratio must see zero (FINISH_REASON_PRECREATED).
        behaviour: {
          finish: Object.fromEntries(
            FINISH_REASON.map((r) => [r, FINISH_REASON_PRECREATED.includes(r) ? zeroed(answers, { ...one, [LABEL.finishReason]: r }) : lazyCounter(answers, { ...one, [LABEL.finishReason]: r })]),
          ) as BehaviourMeter['finish'],
          refusals: zeroed(refusals, one),
          empty: zeroed(empty, one),
          toolCalls: zeroed(toolCalls, one),
        },
      };
      const shared = new Map<string, Pick<TargetMeter, 'queueLength' | 'queueWait' | 'inFlight' | 'errors' | 'failovers'>>();
      const targets = m.targets.map((t, i) => {
        let perUpstream = shared.get(t.upstream);
        if (perUpstream === undefined) {
          const mu = { [model]: m.model, [upstream]: t.upstream };
          perUpstream = {
            queueLength: boundGauge(queueLength, { ...mu }, 0),
            queueWait: boundHistogram(queueWait, { ...mu }),
            inFlight: boundGauge(inFlight, { ...mu }, 0),
            errors: Object.fromEntries(UPSTREAM_ERROR_REASON.map((why) => [why, zeroed(upstreamErrors, { ...mu, [reason]: why })])) as TargetMeter['errors'],
            failovers: zeroed(failovers, mu),
          };
          shared.set(t.upstream, perUpstream);
        }
        const mt = { [model]: m.model, [upstream]: t.upstream, [upstreamModel]: t.model };
        routePrimary.set({ ...mt }, i === 0 ? 1 : 0);
        return { upstream: t.upstream, upstreamModel: t.model, ...perUpstream, requests: zeroed(upstreamRequests, { ...mt }), active: boundGauge(routeActive, { ...mt }, i === 0 ? 1 : 0) };
      });
      this.#targets.set(m.model, targets);
      const load = modelLoad === undefined ? NO_SERIES : boundHistogram(modelLoad, { ...one });
      const eager = new Set<EndpointLabel>([...(m.endpoints ?? ENDPOINT_NAMES), ...(m.extraEndpoints ?? [])]);
      for (const e of [...ENDPOINT_NAMES, ...(m.extraEndpoints ?? [])]) this.#routes.set(routeKey(m.model, e), bindRoute(m.model, e, perModel, load, eager.has(e)));
    }
    if (opts.passthroughWithoutModel === true) {
      const none: ModelMeter = {
        model: MODEL_NONE,
        tokens: { usage: NO_PAIR, estimate: NO_PAIR },
        cache: { hit: NO_COUNT, miss: NO_COUNT, bypass: NO_COUNT },
        toxicity: NO_GAUGE,
        safetyScore: NO_SERIES,
        flagged: { observed: NO_COUNT, redacted: NO_COUNT, blocked: NO_COUNT },
        routeSwitches: NO_COUNT,
        behaviour: { finish: Object.fromEntries(FINISH_REASON.map((r) => [r, NO_COUNT])) as BehaviourMeter['finish'], refusals: NO_COUNT, empty: NO_COUNT, toolCalls: NO_COUNT },
      };
      // Created by its first request, not at start-up: a `_none` model at zero would show in every
      // per-model view (dashboards' model lists) of a gateway that never passes such a request.
      this.#routes.set(routeKey(MODEL_NONE, ENDPOINT_OTHER), bindRoute(MODEL_NONE, ENDPOINT_OTHER, none, NO_SERIES, false));
    }

    /**
     * The instruments of one (model, endpoint), bound once: at zero from the
     * first scrape when `eager`, else created by their first observation.
     */
    function bindRoute(m: string, e: EndpointLabel, perModel: ModelMeter, load: ObserveChild, eager: boolean): RouteMeter {
      const me = { [model]: m, [endpoint]: e };
      const operation = genAiOperation(e);
      const genAi = operation === undefined ? undefined : { [GENAI_LABEL.operation]: operation, [GENAI_LABEL.provider]: provider, [GENAI_LABEL.requestModel]: m };
      // One child per naming, picked here: under `both` one observe updates both families.
      const pick = (a: (() => ObserveChild) | undefined, b: (() => ObserveChild) | undefined): ObserveChild => both(a?.(), b?.());
      const hist = eager ? boundHistogram : lazyHistogram;
      const ownChild = (h: Histogram<string> | undefined) => (h === undefined ? undefined : () => hist(h, { ...me }));
      const otelChild = (h: Histogram<string> | undefined, extra: Record<string, string> = {}) => (h === undefined || genAi === undefined ? undefined : () => hist(h, { ...genAi, ...extra }));
      // Embeddings generate no tokens, and a passed-through request is not read: their TTFT, TPOT and size series would stay empty.
      const passed = e === ENDPOINT_OTHER;
      const tokenless = isEmbeddingEndpoint(e) || passed;
      const req = (s: string, c: CodeClass) => (eager ? zeroed : lazyCounter)(requests, { ...me, [status]: s, [code]: c });
      // A failed operation's duration series appears with its first failure (at most four per model and operation).
      const failed = (t: GenAiErrorType) => (otel === undefined || genAi === undefined ? NO_SERIES : lazyHistogram(otel.duration, { ...genAi, [GENAI_LABEL.errorType]: t }));
      return {
        model: m,
        endpoint: e,
        perModel,
        duration: pick(ownChild(own?.duration), otelChild(otel?.duration)),
        ttft: tokenless ? NO_SERIES : pick(ownChild(own?.ttft), otelChild(otel?.ttft)),
        tpot: tokenless ? NO_SERIES : pick(ownChild(own?.tpot), otelChild(otel?.tpot)),
        promptSize: passed ? NO_SERIES : pick(ownChild(own?.promptSize), otelChild(otel?.tokens, { [GENAI_LABEL.tokenType]: 'input' })),
        completionSize: tokenless ? NO_SERIES : pick(ownChild(own?.completionSize), otelChild(otel?.tokens, { [GENAI_LABEL.tokenType]: 'output' })),
        modelLoad: e.startsWith('ollama_') ? load : NO_SERIES,
        failedDuration: Object.fromEntries(GENAI_ERROR_TYPE.map((t) => [t, failed(t)])) as RouteMeter['failedDuration'],
        success: req('success', '2xx'),
        // A client that went away is nginx's 499: a 4xx, never a success.
        cancelled: req('cancelled', '4xx'),
        failures: { error_5xx: req('error', '5xx'), error_4xx: req('error', '4xx'), client_error_4xx: req('client_error', '4xx') },
      };
    }
  }

  /** The meter of a configured (model, endpoint); undefined for anything else. */
  route(model: string, endpoint: EndpointLabel): RouteMeter | undefined {
    return this.#routes.get(routeKey(model, endpoint));
  }

  /** The meters of a configured model's targets, in config order. */
  targets(model: string): readonly TargetMeter[] {
    return this.#targets.get(model) ?? [];
  }

  /** Counts a request refused before a model was chosen. */
  rejected(endpoint: EndpointLabel | typeof ENDPOINT_NONE, why: RejectReason): void {
    this.#rejected.inc({ [LABEL.endpoint]: endpoint, [LABEL.reason]: why });
  }

  /** Counts a request by its client key name. */
  client(name: string): void {
    this.#clients.get(name)?.inc();
  }

  /** Counts a cache store failure. */
  cacheError(op: CacheOp): void {
    this.#cacheErrors?.[op].inc();
  }

  /** Counts an answer the refusal classifier could not judge. */
  refusalClassifierFailure(why: ClassifierFailure): void {
    this.#refusalClassifierFailures.inc({ [LABEL.reason]: why });
  }

  /** Counts an output the external classifier could not score. */
  classifierFailure(why: ClassifierFailure): void {
    this.#classifierFailures[why].inc();
  }
}

/** A counter child made on its first `inc`: the series appears with its first event, not at start-up. */
function lazyCounter(c: Counter<string>, labels: Record<string, string>): IncChild {
  let child: IncChild | undefined;
  return { inc: (v?: number) => (child ??= boundCounter(c, labels)).inc(v) };
}

/** Embeddings generate no tokens: their TTFT, TPOT and completion-size series would stay empty, so none exist. */
const NO_SERIES: ObserveChild = { observe: () => {} };
const NO_COUNT: IncChild = { inc: () => {} };
const NO_GAUGE: GaugeChild = { inc: () => {}, dec: () => {}, set: () => {} };
const NO_PAIR = { prompt: NO_COUNT, completion: NO_COUNT };

/**
 * `gen_ai.operation.name` of an endpoint: OpenAI's from the conventions; the native APIs' by what
 * they do (a chat, a text completion, embeddings); none for passed-through requests, whose operation
 * is unknown.
 */
function genAiOperation(e: EndpointLabel): string | undefined {
  switch (e) {
    case 'chat_completions':
    case 'completions':
    case 'embeddings':
      return GENAI_OPERATION[e];
    case 'responses':
    case 'ollama_chat':
      return GENAI_OPERATION.chat_completions;
    case 'ollama_generate':
    case 'tgi_generate':
    case 'tgi_generate_stream':
      return GENAI_OPERATION.completions;
    case 'ollama_embed':
      return GENAI_OPERATION.embeddings;
    case ENDPOINT_OTHER:
      return undefined;
    default: {
      const never: never = e;
      throw new Error(`unhandled endpoint ${String(never)}`);
    }
  }
}

/** One child, or one that updates two (the same value in both families), or none. */
function both(a: ObserveChild | undefined, b: ObserveChild | undefined): ObserveChild {
  if (a === undefined) return b ?? NO_SERIES;
  if (b === undefined) return a;
  return {
    observe(v) {
      a.observe(v);
      b.observe(v);
    },
  };
}

/** A histogram child whose series is created and bound at its first observation (failure series, not pre-zeroed). */
function lazyHistogram(h: Histogram<string>, labels: Record<string, string>): ObserveChild {
  let child: ObserveChild | undefined;
  return {
    observe(v) {
      child ??= boundHistogram(h, labels);
      child.observe(v);
    },
  };
}

/**
 * The OpenTelemetry GenAI histograms (semantic conventions v1.41.0, see GENAI_METRIC), with the
 * conventions' own bucket boundaries. Names carry no prefix: they are the conventions'.
 */
function genAiHistograms(registry: Registry) {
  const { operation, provider, requestModel, tokenType, errorType } = GENAI_LABEL;
  const common = [operation, provider, requestModel];
  const h = (name: string, help: string, labelNames: string[], buckets: readonly number[]) => new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
  return {
    tokens: h(GENAI_METRIC.tokenUsage, 'Number of input and output tokens used (gen_ai.client.token.usage), per successful operation.', [...common, tokenType], GENAI_BUCKETS.tokenUsage),
    duration: h(GENAI_METRIC.operationDuration, 'GenAI operation duration (gen_ai.client.operation.duration): arrival at the gateway to the end of the answer; failed operations carry error_type.', [...common, errorType], GENAI_BUCKETS.operationDuration),
    ttft: h(GENAI_METRIC.timeToFirstToken, 'Time to generate first token for successful responses (gen_ai.server.time_to_first_token), streamed answers, from arrival at the gateway.', common, GENAI_BUCKETS.timeToFirstToken),
    tpot: h(GENAI_METRIC.timePerOutputToken, 'Time per output token generated after the first token for successful responses (gen_ai.server.time_per_output_token), streamed answers.', common, GENAI_BUCKETS.timePerOutputToken),
  };
}

function routeKey(model: string, endpoint: EndpointLabel): string {
  return `${model}\u0000${endpoint}`;
}
