import { z } from 'zod';
import { BUCKETS, DEFAULT_PREFIX } from '../metrics/conventions.ts';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'letters, digits and . _ : / - only, at most 128 characters');

const UpstreamSchema = z
  .object({
    /** OpenAI-compatible base URL, including `/v1` (as the `openai` SDK's `baseURL`). */
    baseURL: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL such as http://127.0.0.1:3000/v1' }),
    /** Sent as `Authorization: Bearer`; when absent, the client's own header passes through. */
    apiKey: z.string().min(1).optional(),
    /** Requests sent to this upstream at once; more wait in the queue. */
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
  })
  .strict();

const ModelSchema = z
  .object({
    /** Name of an entry in `upstreams`. */
    upstream: name,
    /** The model's name on the upstream, when it differs from the public name. */
    upstreamModel: z.string().min(1).optional(),
  })
  .strict();

const ascending = (v: readonly number[]) => v.every((b, i) => i === 0 || b > v[i - 1]!);

/** The gateway's config file: upstreams, the models routed to them, limits and metrics. */
export const GatewayConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.int().min(0).max(65535).default(8000),
    /** Largest request body accepted; larger gets 413. */
    maxBodyBytes: z.int().min(1024).default(4 * 1024 * 1024),
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
      })
      .strict()
      .prefault({}),
    upstreams: z.record(name, UpstreamSchema).refine((u) => Object.keys(u).length > 0, 'at least one upstream is required'),
    models: z.record(name, ModelSchema).refine((m) => Object.keys(m).length > 0, 'at least one model is required'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [model, m] of Object.entries(cfg.models)) {
      if (!(m.upstream in cfg.upstreams)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', model, 'upstream'],
          message: `unknown upstream '${m.upstream}'; define it under 'upstreams' (known: ${Object.keys(cfg.upstreams).join(', ')})`,
        });
      }
    }
  });

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
export type UpstreamConfig = z.output<typeof UpstreamSchema>;
export type ModelConfig = z.output<typeof ModelSchema>;
