import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import { ENDPOINT_NAMES } from '../openai/endpoints.ts';
import type { Endpoint } from '../openai/endpoints.ts';
import {
  BUCKETS,
  ENDPOINT_NONE,
  LABEL,
  REJECT_REASON,
  TOKEN_KIND,
  TOKEN_SOURCE,
  UPSTREAM_ERROR_REASON,
  metricName,
} from './conventions.ts';
import type { CodeClass, RejectReason, TokenSource, UpstreamErrorReason } from './conventions.ts';

/** Status classes an error can carry. */
export type ErrorClass = Exclude<CodeClass, '2xx'>;

export interface GatewayMetricsOptions {
  readonly prefix: string;
  readonly durationBuckets: readonly number[];
  readonly processMetrics: boolean;
  readonly version: string;
  /** Every (model, upstream) pair the gateway routes: the only label values it will ever use. */
  readonly routes: ReadonlyArray<{ readonly model: string; readonly upstream: string }>;
}

interface ObserveChild {
  observe(v: number): void;
}
interface IncChild {
  inc(v?: number): void;
}
interface GaugeChild extends IncChild {
  dec(v?: number): void;
}

/**
 * The label-bound instruments of one (model, endpoint) route, resolved once at
 * start-up so the request path only calls `inc` and `observe`.
 */
export interface RouteMeter {
  readonly model: string;
  readonly endpoint: Endpoint;
  readonly upstream: string;
  readonly duration: ObserveChild;
  readonly ttft: ObserveChild;
  readonly tpot: ObserveChild;
  readonly promptSize: ObserveChild;
  readonly completionSize: ObserveChild;
  readonly queueLength: GaugeChild;
  readonly queueWait: ObserveChild;
  readonly inFlight: GaugeChild;
  readonly success: IncChild;
  readonly cancelled: IncChild;
  /** Errors by the status class sent; a stream cut after its 200 counts as 5xx. */
  readonly errorByClass: Readonly<Record<ErrorClass, IncChild>>;
  readonly tokens: Readonly<Record<TokenSource, { readonly prompt: IncChild; readonly completion: IncChild }>>;
  readonly upstreamErrors: Readonly<Record<UpstreamErrorReason, IncChild>>;
}

/** The gateway's instruments, registered in the registry given (never the global one). */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly #routes = new Map<string, RouteMeter>();
  readonly #rejected: Counter<string>;

  constructor(registry: Registry, opts: GatewayMetricsOptions) {
    this.registry = registry;
    const p = opts.prefix;
    const reg = { registers: [registry] };
    const { model, endpoint, upstream, status, code, kind, source, reason } = LABEL;

    const duration = new Histogram({
      name: metricName('inferenceDuration', p),
      help: 'Time from a request reaching the gateway to the end of a successful answer, queue wait included.',
      labelNames: [model, endpoint],
      buckets: [...opts.durationBuckets],
      ...reg,
    });
    const ttft = new Histogram({
      name: metricName('timeToFirstToken', p),
      help: 'Time from a streamed request reaching the gateway to its first content token.',
      labelNames: [model, endpoint],
      buckets: [...BUCKETS.timeToFirstToken],
      ...reg,
    });
    const tpot = new Histogram({
      name: metricName('timePerOutputToken', p),
      help: 'Mean time between output tokens after the first, per streamed request.',
      labelNames: [model, endpoint],
      buckets: [...BUCKETS.timePerOutputToken],
      ...reg,
    });
    const promptSize = new Histogram({
      name: metricName('promptTokens', p),
      help: 'Prompt size of successful requests, in tokens.',
      labelNames: [model, endpoint],
      buckets: [...BUCKETS.tokens],
      ...reg,
    });
    const completionSize = new Histogram({
      name: metricName('completionTokens', p),
      help: 'Completion size of successful requests, in tokens.',
      labelNames: [model, endpoint],
      buckets: [...BUCKETS.tokens],
      ...reg,
    });
    const requests = new Counter({
      name: metricName('requests', p),
      help: 'Requests routed to a model, by outcome and the HTTP status class the client saw.',
      labelNames: [model, endpoint, status, code],
      ...reg,
    });
    const tokens = new Counter({
      name: metricName('tokensProcessed', p),
      help: 'Tokens processed; source="usage" as reported by the server, source="estimate" counted by the gateway.',
      labelNames: [model, kind, source],
      ...reg,
    });
    const queueLength = new Gauge({
      name: metricName('queueLength', p),
      help: 'Requests waiting for a free upstream slot.',
      labelNames: [model, upstream],
      ...reg,
    });
    const queueWait = new Histogram({
      name: metricName('queueWait', p),
      help: 'Time requests waited for an upstream slot.',
      labelNames: [model, upstream],
      buckets: [...BUCKETS.queueWait],
      ...reg,
    });
    const inFlight = new Gauge({
      name: metricName('requestsInFlight', p),
      help: 'Requests holding an upstream slot (sent and not yet finished).',
      labelNames: [model, upstream],
      ...reg,
    });
    const upstreamErrors = new Counter({
      name: metricName('upstreamErrors', p),
      help: 'Failed exchanges with an upstream, by reason.',
      labelNames: [model, upstream, reason],
      ...reg,
    });
    this.#rejected = new Counter({
      name: metricName('rejectedRequests', p),
      help: 'Requests refused before reaching a model (bad JSON, oversized, invalid, unknown model or path).',
      labelNames: [endpoint, reason],
      ...reg,
    });
    const buildInfo = new Gauge({
      name: metricName('buildInfo', p),
      help: 'Always 1; labels say which llmwatch and Node.js run.',
      labelNames: [LABEL.version, LABEL.nodeVersion],
      ...reg,
    });
    buildInfo.set({ [LABEL.version]: opts.version, [LABEL.nodeVersion]: process.version }, 1);
    if (opts.processMetrics) collectDefaultMetrics({ register: registry });

    for (const e of [...ENDPOINT_NAMES, ENDPOINT_NONE]) {
      for (const r of REJECT_REASON) this.#rejected.inc({ [endpoint]: e, [reason]: r }, 0);
    }

    // Every series exists from the first scrape, at zero, so rate() and
    // increase() see the first event and absent() means "not scraped".
    for (const r of opts.routes) {
      const mu = { [model]: r.model, [upstream]: r.upstream };
      queueLength.set(mu, 0);
      inFlight.set(mu, 0);
      const errs = Object.fromEntries(
        UPSTREAM_ERROR_REASON.map((why) => {
          const l = { ...mu, [reason]: why };
          upstreamErrors.inc(l, 0);
          return [why, upstreamErrors.labels(l)];
        }),
      ) as Record<UpstreamErrorReason, IncChild>;
      const tok = Object.fromEntries(
        TOKEN_SOURCE.map((s) => {
          const pair = Object.fromEntries(
            TOKEN_KIND.map((k) => {
              const l = { [model]: r.model, [kind]: k, [source]: s };
              tokens.inc(l, 0);
              return [k, tokens.labels(l)];
            }),
          );
          return [s, pair];
        }),
      ) as RouteMeter['tokens'];
      queueWait.zero(mu);
      const qLen = queueLength.labels(mu);
      const qWait = queueWait.labels(mu);
      const flight = inFlight.labels(mu);
      for (const e of ENDPOINT_NAMES) {
        const me = { [model]: r.model, [endpoint]: e };
        // Embeddings generate no tokens: their TTFT, TPOT and completion series would stay empty.
        for (const h of e === 'embeddings' ? [duration, promptSize] : [duration, ttft, tpot, promptSize, completionSize]) h.zero(me);
        const req = (s: string, c: CodeClass) => {
          const l = { ...me, [status]: s, [code]: c };
          requests.inc(l, 0);
          return requests.labels(l);
        };
        this.#routes.set(routeKey(r.model, e), {
          model: r.model,
          endpoint: e,
          upstream: r.upstream,
          duration: duration.labels(me),
          ttft: ttft.labels(me),
          tpot: tpot.labels(me),
          promptSize: promptSize.labels(me),
          completionSize: completionSize.labels(me),
          queueLength: qLen,
          queueWait: qWait,
          inFlight: flight,
          success: req('success', '2xx'),
          // A client that went away is nginx's 499: a 4xx, never a success.
          cancelled: req('cancelled', '4xx'),
          errorByClass: { '4xx': req('error', '4xx'), '5xx': req('error', '5xx') },
          tokens: tok,
          upstreamErrors: errs,
        });
      }
    }
  }

  /** The meter of a configured (model, endpoint); undefined for anything else. */
  route(model: string, endpoint: Endpoint): RouteMeter | undefined {
    return this.#routes.get(routeKey(model, endpoint));
  }

  /** Counts a request refused before a model was chosen. */
  rejected(endpoint: Endpoint | typeof ENDPOINT_NONE, why: RejectReason): void {
    this.#rejected.inc({ [LABEL.endpoint]: endpoint, [LABEL.reason]: why });
  }
}

function routeKey(model: string, endpoint: Endpoint): string {
  return `${model}\u0000${endpoint}`;
}
