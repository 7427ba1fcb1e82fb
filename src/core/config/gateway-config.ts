import { z } from 'zod';
import { BUCKETS, DEFAULT_GENAI_PROVIDER, DEFAULT_PREFIX, METRICS_NAMING } from '../conventions/metrics.ts';
import { LOG_LEVELS } from '../log.ts';
import { TokenSchema, hasUrlCredentials } from './secrets.ts';
import { NATIVE_APIS } from '../native/endpoints.ts';
import { ENDPOINT_NAMES } from '../openai/endpoints.ts';
import type { Endpoint } from '../openai/endpoints.ts';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'letters, digits and . _ : / - only, at most 128 characters');

/**
 * Credentials in a base URL (`http://user:pass@host/v1`) are refused: the gateway connects to the
 * origin alone and would never send them, and a URL is logged and shown (redacted, but the server
 * would still answer 401 for a reason nobody sees). The upstream's key goes in `apiKey`.
 */
export const URL_CREDENTIALS_MESSAGE =
  "holds credentials (user:password@ before the host), which the gateway never sends: put the upstream's key in apiKey (sent as Authorization: Bearer)";

const baseURL = () =>
  z
    .url({ protocol: /^https?$/, error: 'an http:// or https:// URL such as http://127.0.0.1:3000/v1' })
    .refine((u) => !hasUrlCredentials(u), URL_CREDENTIALS_MESSAGE);

/** The most endpoints one upstream may have: each is a connection pool and a few metric series. */
export const MAX_ENDPOINTS = 256;

const UpstreamSchema = z
  .object({
    /** OpenAI-compatible base URL, including `/v1` (as the `openai` SDK's `baseURL`). */
    baseURL: baseURL().optional(),
    /**
     * Several base URLs of one model server (replicas serving the same models), instead of `baseURL` (give one
     * of the two): each request goes to the admitted endpoint with the fewest requests in flight.
     */
    endpoints: z.array(baseURL()).min(1).max(MAX_ENDPOINTS).optional(),
    /** The most endpoints this upstream may have, those added through the admin API included. */
    maxEndpoints: z.int().min(1).max(MAX_ENDPOINTS).default(16),
    /**
     * Passive health checking of the endpoints: after `consecutiveFailures` connection failures or 5xx answers
     * in a row, an endpoint gets no requests for `baseMs`, doubled on each ejection in a row up to `maxMs`.
     * The last admitted endpoint is never ejected.
     */
    ejection: z
      .strictObject({
        /** Connection failures or 5xx answers in a row that eject an endpoint. */
        consecutiveFailures: z.int().min(1).max(1000).default(5),
        /** The first ejection's length. */
        baseMs: z.int().min(100).max(3_600_000).default(5_000),
        /** The longest ejection. */
        maxMs: z.int().min(100).max(3_600_000).default(60_000),
      })
      .prefault({}),
    /** Sent as `Authorization: Bearer`; when absent, the client's own header passes through. */
    apiKey: z.string().min(1).optional(),
    /** Requests sent to this upstream at once (to each endpoint, with `endpoints`); more wait in the queue. */
    maxConcurrency: z.int().min(1).max(100_000).default(64),
    /** Requests that may wait for a slot; one more gets 429. */
    maxQueue: z.int().min(0).max(1_000_000).default(1024),
    /** Longest wait for a slot before a 503. */
    queueTimeoutMs: z.int().min(1).default(30_000),
    connectTimeoutMs: z.int().min(1).default(5_000),
    /** Longest wait for response headers: a prompt's prefill must fit in it. */
    headersTimeoutMs: z.int().min(1).default(120_000),
    /** Longest silence between two chunks of a response body. */
    idleTimeoutMs: z.int().min(1).default(60_000),
    /** A non-streaming answer larger than this is refused as malformed. */
    maxResponseBytes: z.int().min(1024).default(32 * 1024 * 1024),
    /** A stream event still unfinished past this many bytes ends the stream with a malformed error. */
    maxEventBytes: z.int().min(1024).default(4 * 1024 * 1024),
    /**
     * Native APIs this upstream serves besides OpenAI's chat, completions and embeddings, metered
     * under their own `endpoint` values (docs/gateway.md, "Native APIs"): `responses` (`/v1/responses`),
     * `ollama` (`/api/chat`, `/api/generate`, `/api/embed`), `tgi` (`/generate`, `/generate_stream`).
     * Paths are sent under the upstream's root: its base URL without a trailing `/v1`.
     */
    apis: z.array(z.enum(NATIVE_APIS)).default([]),
    /**
     * Path prefixes under the upstream's root that the gateway passes through byte for byte (metered as
     * `endpoint="other"`) when it does not serve them itself; `[]` turns passthrough off for this upstream.
     */
    passthrough: z.array(z.string().regex(/^\/[\x21-\x7e]*$/, 'a path prefix starting with /')).default(['/']),
  })
  .strict()
  .superRefine((u, ctx) => {
    if ((u.baseURL === undefined) === (u.endpoints === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['baseURL'], message: "give either 'baseURL' (one server) or 'endpoints' (replicas of one server), not both nor neither" });
    }
    const urls = u.endpoints ?? [];
    const seen = new Map<string, string>();
    urls.forEach((url, i) => {
      const key = endpointKey(url);
      const label = endpointLabel(url);
      const other = seen.get(label);
      if (other === key) ctx.addIssue({ code: 'custom', path: ['endpoints', i], message: `${url} is listed twice` });
      else if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['endpoints', i], message: `${url} ${ENDPOINT_CLASH_MESSAGE}` });
      seen.set(label, key);
    });
    if (urls.length > u.maxEndpoints) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: `${urls.length} endpoints, more than maxEndpoints (${u.maxEndpoints})` });
    if (u.ejection.maxMs < u.ejection.baseMs) ctx.addIssue({ code: 'custom', path: ['ejection', 'maxMs'], message: `must be at least baseMs (${u.ejection.baseMs})` });
  });

/**
 * An endpoint's `upstream_endpoint` label: `host:port/path`, the port always written (80 or 443 when
 * the URL leaves it out), without scheme, credentials, query or trailing slash. Two endpoints of an
 * upstream never share one: their series would merge, and removing one would delete the other's.
 */
export function endpointLabel(url: string): string {
  const u = new URL(url);
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
  return `${u.hostname}:${port}${u.pathname.replace(/\/+$/, '')}`;
}

/** Why an endpoint with another's host, port and path (only the scheme differs) is refused. */
export const ENDPOINT_CLASH_MESSAGE = 'has the host, port and path of another endpoint with another scheme: one port speaks http or https, not both, and the two would share one upstream_endpoint label';

/** An endpoint's identity: its URL without a trailing slash, so `.../v1` and `.../v1/` are one endpoint. */
export function endpointKey(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

const TargetSchema = z.strictObject({
  /** Name of an entry in `upstreams`. */
  upstream: name,
  /** The model's name on that upstream; the public name when absent. */
  model: z.string().min(1).optional(),
});

const SAFETY_POLICIES = ['observe', 'redact', 'block'] as const;

const ModelSchema = z
  .strictObject({
    /** Shorthand for a single target: `upstream` (and `upstreamModel`). */
    upstream: name.optional(),
    upstreamModel: z.string().min(1).optional(),
    /** Ordered targets: the first is the primary, the next the fallback (e.g. a lighter model). */
    targets: z.array(TargetSchema).min(1).optional(),
    /** Retry a request on the next target when the current one is unreachable, times out or answers 5xx, before any byte reached the client. */
    failover: z.boolean().default(false),
    /** Cache this model's deterministic answers (when the gateway's cache is on). */
    cache: z.boolean().default(true),
    /**
     * Accept `stream: true` requests. Must be false with a `redact` or `block`
     * policy: a stream is scored only once delivered, so those policies could
     * not hold it back.
     */
    streaming: z.boolean().default(true),
    /**
     * The OpenAI endpoints this model is expected on, whose metric series
     * (latency, TTFT, TPOT and token-size histograms, request counters) exist
     * at zero from the first scrape. Requests to the others are still served
     * and metered; their series appear with the first one. All three when
     * absent; `[chat_completions]` for a chat model cuts its series by about
     * 45% (docs/gateway.md, the series budget).
     */
    endpoints: z.array(z.enum(ENDPOINT_NAMES as [Endpoint, ...Endpoint[]])).min(1).optional(),
    safety: z
      .strictObject({
        /** `observe` scores and exports; `redact` masks flagged words; `block` refuses the answer. */
        policy: z.enum(SAFETY_POLICIES).default('observe'),
        /** Score at or above which an output is flagged (and redacted or blocked). */
        threshold: z.number().min(0).max(1).default(0.5),
      })
      .prefault({}),
  })
  .superRefine((m, ctx) => {
    const short = m.upstream !== undefined || m.upstreamModel !== undefined;
    if (short && m.targets !== undefined) ctx.addIssue({ code: 'custom', message: "give either 'upstream' (one target) or 'targets' (several), not both" });
    if (!short && m.targets === undefined) ctx.addIssue({ code: 'custom', path: ['upstream'], message: "required: the name of an entry in 'upstreams' (or give 'targets')" });
    if (m.upstreamModel !== undefined && m.upstream === undefined) ctx.addIssue({ code: 'custom', path: ['upstream'], message: "'upstreamModel' needs 'upstream'" });
  });

const ascending = (v: readonly number[]) => v.every((b, i) => i === 0 || b > v[i - 1]!);

/** The gateway's config file: upstreams, the models routed to them, limits and metrics. */
export const GatewayConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.int().min(0).max(65535).default(8000),
    /** Largest request body accepted (after gzip or deflate decoding); larger gets 413. */
    maxBodyBytes: z.int().min(1024).default(4 * 1024 * 1024),
    /** Limits on client connections: a slow or idle client cannot hold the gateway's sockets. */
    server: z
      .strictObject({
        /** Longest time to receive a request's headers; then 408 and the connection closes. */
        headersTimeoutMs: z.int().min(100).default(10_000),
        /** Longest time to receive a request's body once its headers are in; then 408. */
        bodyTimeoutMs: z.int().min(100).default(30_000),
        /** An idle keep-alive connection is closed after this long (above a load balancer's 60 s idle timeout). */
        keepAliveTimeoutMs: z.int().min(100).default(65_000),
        /** Connections open at once; more are dropped at accept (counted as rejected, reason connection_limit). */
        maxConnections: z.int().min(1).default(4096),
        /** Requests served on one keep-alive connection before it is closed; 0 is no limit. */
        maxRequestsPerSocket: z.int().min(0).default(0),
      })
      .prefault({}),
    /** Name the configured models in the 404 for an unknown model (off: a client learns nothing it was not given). */
    listModelsInErrors: z.boolean().default(false),
    /** The log level (fatal, error, warn, info, debug, trace, silent); `LLMWATCH_LOG_LEVEL` overrides it. Default info. */
    logLevel: z.enum(LOG_LEVELS).optional(),
    metrics: z
      .object({
        prefix: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*_$/, 'a Prometheus name prefix ending in _').default(DEFAULT_PREFIX),
        /** Bucket bounds of the inference duration histogram, in seconds. */
        durationBuckets: z
          .array(z.number().positive())
          .min(1)
          .refine(ascending, 'bounds must be strictly ascending')
          .default([...BUCKETS.inferenceDuration]),
        /** Also export Node.js process metrics (CPU, memory, event loop lag). */
        processMetrics: z.boolean().default(true),
        /**
         * Names of the request histograms: `openllm` (llmwatch's, the default), `otel` (the OpenTelemetry GenAI
         * semantic conventions v1.41.0 as Prometheus exposes them: `gen_ai_client_token_usage`,
         * `gen_ai_client_operation_duration_seconds`, `gen_ai_server_time_to_first_token_seconds`,
         * `gen_ai_server_time_per_output_token_seconds`), or `both`. Counters, gauges and the other metrics keep
         * their llmwatch names. The monitoring spec's `metricsNaming` says which family the recording rules read.
         */
        naming: z.enum(METRICS_NAMING).default('openllm'),
        /** `gen_ai_provider_name` of the OpenTelemetry families: a conventions' well-known value (`openai`, `azure.ai.openai`, ...) or your own. */
        providerName: z
          .string()
          .regex(/^[a-z][a-z0-9_.]{0,63}$/, 'lower-case letters, digits, _ and . (at most 64), like the conventions\' gen_ai.provider.name values')
          .default(DEFAULT_GENAI_PROVIDER),
      })
      .strict()
      .prefault({}),
    upstreams: z.record(name, UpstreamSchema).refine((u) => Object.keys(u).length > 0, 'at least one upstream is required'),
    models: z.record(name, ModelSchema).refine((m) => Object.keys(m).length > 0, 'at least one model is required'),
    /** The admin API (`/admin/*`): route switching. Off unless a token is set. */
    admin: TokenSchema.prefault({}),
    /** Client API keys. With none, the gateway is open (as most local model servers are). */
    auth: z
      .strictObject({
        /** Keys as SHA-256 hex digests (`printf %s "$KEY" | sha256sum`), never in clear. */
        keys: z.array(z.strictObject({ name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 digest, 64 lower-case hex digits') })).default([]),
        /** A file of `name:sha256` lines, read at start-up, added to `keys`. */
        keysFile: z.string().min(1).optional(),
      })
      .prefault({}),
    /** The response cache for deterministic requests (temperature 0, or `x-llmwatch-cache: force`). */
    cache: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** `memory`: per gateway process; `redis`: shared by every replica. */
        store: z.enum(['memory', 'redis']).default('memory'),
        maxBytes: z.int().min(1024).default(64 * 1024 * 1024),
        ttlSeconds: z.int().min(1).default(300),
        redisURL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
      })
      .prefault({}),
    /**
     * Where the active target of each model (what the admin API switches) lives. `local`: in this
     * process only, so a switch holds on the replica that took it. `redis`: shared by every replica
     * and worker (docs/gateway.md#gateway-replicas-shared-routes): a switch on one holds on all within a second, and a
     * restarted replica comes back on it.
     */
    routes: z
      .strictObject({
        store: z.enum(['local', 'redis']).default('local'),
        /** The Redis holding the routes; default `cache.redisURL`, so one Redis serves both. */
        redisURL: z.url({ protocol: /^rediss?$/ }).optional(),
        /** Prepended to the route keys and the change channel: gateways of different configs can share one Redis under different prefixes. */
        keyPrefix: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'letters, digits and : . _ - only, at most 64 characters').default('llmwatch:routes:'),
        /** How often each replica re-reads every route besides the change messages (which a reconnect can lose). */
        reconcileMs: z.int().min(100).max(60_000).default(1_000),
      })
      .prefault({}),
    /** Output safety scoring. */
    safety: z
      .strictObject({
        /** `lexical`: an embedded word-list scorer (fast, offline); `classifier`: an OpenAI-compatible /v1/moderations server; `none`. */
        scorer: z.enum(['lexical', 'classifier', 'none']).default('lexical'),
        /** Extra terms the lexical scorer flags, besides its dataset. */
        extraTerms: z.array(z.string().min(1)).default([]),
        /** Outputs in the rolling mean exported as `openllm_output_toxicity_score`. */
        window: z.int().min(1).max(100_000).default(100),
        classifier: z
          .strictObject({
            baseURL: z.url({ protocol: /^https?$/ }),
            apiKey: z.string().min(1).optional(),
            model: z.string().min(1).optional(),
            /** Share of outputs sent to the classifier (it runs off the request path). */
            sampleRate: z.number().min(0).max(1).default(1),
            timeoutMs: z.int().min(1).default(2_000),
            maxInFlight: z.int().min(1).default(4),
          })
          .optional(),
      })
      .prefault({}),
    /**
     * Behaviour signals of every chat and completions answer (docs/drift.md): finish reasons, tool
     * calls and empty answers are always counted; this says how refusals are told.
     */
    behaviour: z
      .strictObject({
        /** How refusals are told (`openllm_answer_refusals_total`). */
        refusal: z
          .strictObject({
            /**
             * `lexical`: refusal phrasing in the answer's first sentences (English; measured precision and
             * recall in docs/drift.md); `classifier`: an OpenAI-compatible /v1/moderations server that scores
             * refusals, off the request path; `none`.
             */
            detector: z.enum(['lexical', 'classifier', 'none']).default('lexical'),
            /** The most of the answer's start that is read, in characters. */
            headChars: z.int().min(16).max(1024).default(300),
            /** Sentences read from the start of the answer. */
            sentences: z.int().min(1).max(10).default(2),
            /** More phrases that mark a refusal (e.g. in another language), matched literally and case-insensitively in the head. */
            extraPhrases: z.array(z.string().min(1).max(200)).max(500).default([]),
            classifier: z
              .strictObject({
                /** The refusal classifier's OpenAI base URL, `/v1` included; it is sent `POST /moderations` with the answer's head, and its highest category score is the refusal score. */
                baseURL: z.url({ protocol: /^https?$/ }),
                /** Sent to the refusal classifier as `Authorization: Bearer`. */
                apiKey: z.string().min(1).optional(),
                /** The `model` of the moderation request; left out when not given. */
                model: z.string().min(1).optional(),
                /** Share of answers sent to the classifier; each refusal found then counts 1/sampleRate. */
                sampleRate: z.number().gt(0).max(1).default(1),
                /** The whole exchange with the classifier must end within this. */
                timeoutMs: z.int().min(1).default(2_000),
                /** Answers being classified at once; one more is dropped (counted in refusal_classifier_failures_total). */
                maxInFlight: z.int().min(1).default(4),
                /** Score at or above which an answer is a refusal. */
                threshold: z.number().min(0).max(1).default(0.5),
              })
              .optional(),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [model, m] of Object.entries(cfg.models)) {
      const refs = m.targets !== undefined ? m.targets.map((t, i) => ({ upstream: t.upstream, path: ['targets', i, 'upstream'] })) : m.upstream !== undefined ? [{ upstream: m.upstream, path: ['upstream'] }] : [];
      for (const r of refs) {
        if (!(r.upstream in cfg.upstreams)) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', model, ...r.path],
            message: `unknown upstream '${r.upstream}'; define it under 'upstreams' (known: ${Object.keys(cfg.upstreams).join(', ')})`,
          });
        }
      }
      if (m.safety.policy !== 'observe' && m.streaming) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', model, 'safety', 'policy'],
          message: `'${m.safety.policy}' cannot hold back a streamed answer (streams are scored once delivered): set models.${model}.streaming: false, so that stream requests get 400, or use policy observe`,
        });
      }
      if (m.safety.policy !== 'observe' && cfg.safety.scorer !== 'lexical') {
        ctx.addIssue({
          code: 'custom',
          path: ['models', model, 'safety', 'policy'],
          message: `'${m.safety.policy}' needs an answer scored before it is sent: set safety.scorer to lexical (the classifier runs in the background and can only observe)`,
        });
      }
    }
    if (cfg.behaviour.refusal.detector === 'classifier' && cfg.behaviour.refusal.classifier === undefined) {
      ctx.addIssue({ code: 'custom', path: ['behaviour', 'refusal', 'classifier'], message: "required when behaviour.refusal.detector is 'classifier': { baseURL: http://host:port/v1 }" });
    }
    if (cfg.safety.scorer === 'classifier' && cfg.safety.classifier === undefined) {
      ctx.addIssue({ code: 'custom', path: ['safety', 'classifier'], message: "required when safety.scorer is 'classifier': { baseURL: http://host:port/v1 }" });
    }
  });

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
export type UpstreamConfig = z.output<typeof UpstreamSchema>;

/** An upstream's base URLs: its `endpoints`, or its one `baseURL`. */
export function upstreamURLs(u: Pick<UpstreamConfig, 'baseURL' | 'endpoints'>): string[] {
  return u.endpoints ?? [u.baseURL!];
}
export type ModelConfig = z.output<typeof ModelSchema>;

/** One place a model can be served: an upstream and the model's name there. */
export interface Target {
  readonly upstream: string;
  readonly model: string;
}

/** A model's targets in order, from either config form. */
export function modelTargets(publicName: string, m: ModelConfig): Target[] {
  if (m.targets !== undefined) return m.targets.map((t) => ({ upstream: t.upstream, model: t.model ?? publicName }));
  return [{ upstream: m.upstream!, model: m.upstreamModel ?? publicName }];
}
