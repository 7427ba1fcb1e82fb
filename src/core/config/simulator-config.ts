import { z } from 'zod';
import { TokenSchema } from './secrets.ts';
import { loadConfigFile, validateConfig } from './validate.ts';

// Delays are capped at one hour: setTimeout silently turns anything over 2^31-1 ms into 1 ms.
const Millis = z.number().min(0).max(3_600_000);
const Probability = z.number().min(0).max(1);
const TokenCount = z.number().int().min(0).max(131_072);
const RetryAfterSeconds = z.number().int().min(0).max(86_400);
const Dimensions = z.number().int().min(1).max(8192);
/** GPU memory in MiB, up to 1 TiB (the largest GPUs have 192 GB). */
const MiB = z.number().int().min(0).max(1 << 20);

/**
 * How likely each injected fault is, per request; they are exclusive, so they sum to at most 1.
 * `http400` is a client error (prompt longer than the context), the others server-side faults.
 */
const ErrorRatesSchema = z.strictObject({
  http500: Probability.default(0),
  http429: Probability.default(0),
  reset: Probability.default(0),
  hang: Probability.default(0),
  http400: Probability.default(0),
});

export type ErrorRates = z.output<typeof ErrorRatesSchema>;

const ProfileFields = z.strictObject({
  ttftMs: Millis.default(200),
  tpotMs: Millis.default(20),
  jitter: Probability.default(0.1),
  outputTokens: z.strictObject({ min: TokenCount.default(16), max: TokenCount.default(64) }).prefault({}),
  errors: ErrorRatesSchema.prefault({}),
  retryAfterSeconds: RetryAfterSeconds.default(1),
  toxicFraction: Probability.default(0),
  embeddingDimensions: Dimensions.default(16),
  /**
   * Prompt tokens the engine holds for each request beyond those of its text, as if clients sent long
   * documents: they fill the KV cache (and its simulated GPU's memory) without the bytes being sent.
   * They count in the answer's `usage.prompt_tokens`.
   */
  extraPromptTokens: TokenCount.default(0),
  /**
   * GPU memory the model holds with no request in flight (weights, CUDA context, activations): the floor
   * of its simulated GPUs' `memory.used`. By default an 8B model in bf16 (15,317 MiB of weights) plus 1.2 GB.
   */
  gpuMemoryMiB: MiB.default(16_517),
  /** Behaviour (docs/drift.md): the share of answers that decline ("I'm sorry, but I can't help with that."). */
  refusalFraction: Probability.default(0),
  /** Behaviour: the share of answers that run on to the client's `max_tokens` (or `outputTokens.max`) and end with `finish_reason: length`. */
  truncateFraction: Probability.default(0),
});

/** A fully resolved profile. */
export type Profile = z.output<typeof ProfileFields>;

/**
 * One model's behaviour: latency (time to first token, time per output token,
 * relative jitter), output length, fault rates, the share of toxic outputs,
 * and the shares of refusals and truncated answers.
 */
export const ProfileSchema = ProfileFields.superRefine((profile, ctx) => {
  for (const issue of profileIssues(profile)) ctx.addIssue({ code: 'custom', ...issue });
});

/** Any subset of a profile, `errors` and `outputTokens` included; merged over a base by {@link mergeProfile}. */
export const ProfilePatchSchema = z.strictObject({
  ttftMs: Millis.optional(),
  tpotMs: Millis.optional(),
  jitter: Probability.optional(),
  outputTokens: z.strictObject({ min: TokenCount.optional(), max: TokenCount.optional() }).optional(),
  errors: z
    .strictObject({
      http500: Probability.optional(),
      http429: Probability.optional(),
      reset: Probability.optional(),
      hang: Probability.optional(),
      http400: Probability.optional(),
    })
    .optional(),
  retryAfterSeconds: RetryAfterSeconds.optional(),
  toxicFraction: Probability.optional(),
  embeddingDimensions: Dimensions.optional(),
  extraPromptTokens: TokenCount.optional(),
  gpuMemoryMiB: MiB.optional(),
  refusalFraction: Probability.optional(),
  truncateFraction: Probability.optional(),
});

export type ProfilePatch = z.output<typeof ProfilePatchSchema>;

const DEFAULT_MODELS: Record<string, ProfilePatch> = {
  'llama-3.1-8b-instruct': {},
  // The 1B model answers sooner and streams faster, as it does on real hardware.
  // 1.24B parameters in bf16 (2,357 MiB) plus the same 1.2 GB of context and activations.
  'llama-3.2-1b-instruct': { ttftMs: 60, tpotMs: 8, gpuMemoryMiB: 3_557 },
};

/**
 * The engine model behind every model's answers (src/simulator/engine.ts), in vLLM's terms: each
 * model gets its own engine cores, whose `vllm:*` metrics `/metrics` exports.
 */
const EngineSchema = z
  .strictObject({
    /**
     * vLLM's `--max-num-seqs`: requests in one running batch. vLLM's default is 256 on most GPUs; 1024
     * here, so that benchmarks driving the simulator at hundreds of concurrent requests do not queue in it
     * unless told to.
     */
    maxNumSeqs: z.number().int().min(1).max(65_536).default(1024),
    /** KV-cache capacity in tokens (vLLM: `num_gpu_blocks` x `block_size`). */
    kvCacheTokens: z.number().int().min(1).max(1 << 30).default(1 << 20),
    /** vLLM's `--block-size`: tokens per KV-cache block. */
    blockSize: z.number().int().min(1).max(1024).default(16),
    /** vLLM's `--max-model-len`: the context length, which sets the token-count histograms' buckets. */
    maxModelLen: z.number().int().min(1).max(1 << 24).default(131_072),
    /** vLLM's `--data-parallel-size`: engine cores per model, told apart by the `engine` label. */
    dataParallelSize: z.number().int().min(1).max(64).default(1),
  })
  .refine((e) => e.kvCacheTokens >= e.blockSize, { message: 'kvCacheTokens must hold at least one block (blockSize tokens)', path: ['kvCacheTokens'] });

export type EngineConfig = z.output<typeof EngineSchema>;

/**
 * The simulated GPUs the simulator reports at `GET /nvidia-smi` (src/simulator/gpu.ts), one per engine
 * core (vLLM runs each data-parallel rank on its own GPU). By default an NVIDIA L4, where an 8B model's
 * weights take most of the memory, as they do on the 24 GB cards many single-GPU deployments use.
 */
const GpuSchema = z
  .strictObject({
    /** The product name nvidia-smi reports. */
    name: z.string().min(1).max(96).regex(/^[^\n\r]+$/, 'one line').default('NVIDIA L4'),
    /** `memory.total` in MiB (an L4: 23,034). */
    memoryTotalMiB: MiB.min(1).default(23_034),
    /**
     * Memory the KV cache takes when every block is in use. Blocks are allocated as requests take them,
     * so `memory.used` is the model's `gpuMemoryMiB` plus this times the KV cache's usage. (vLLM instead
     * reserves `--gpu-memory-utilization` of the GPU at start-up; see docs/simulator.md.)
     */
    kvCacheMiB: MiB.default(6_144),
    /**
     * How long freed KV blocks stay in `memory.used`: a caching allocator (PyTorch's) keeps freed memory
     * reserved and returns it lazily, so the reading follows the highest KV usage of this last window and
     * a request that ends and is replaced a moment later does not dip it. 0: the KV usage of the moment.
     */
    memoryHoldMs: z.number().int().min(0).max(60_000).default(3_000),
  })
  .prefault({});

export type GpuConfig = z.output<typeof GpuSchema>;

/** The `llmwatch simulate` config: where to listen, the PRNG seed, and a profile per model. */
export const SimulatorConfigSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(3000),
    /** Same seed and same sequence of requests: same outputs and same faults. */
    seed: z.number().int().min(0).max(0xffff_ffff).default(42),
    maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
    /**
     * The admin API's writes (`PUT`/`DELETE /admin/profiles/{model}`, `POST /admin/reset`): with a token
     * they need `Authorization: Bearer <token>`; without one they are open on a loopback `host` and refused
     * (403 `admin_disabled`) on any other, so faults cannot be injected from the network by default.
     */
    admin: TokenSchema.prefault({}),
    defaults: ProfileSchema.prefault({}),
    /** Model name -> partial profile merged over `defaults`. */
    models: z
      .record(z.string().min(1), ProfilePatchSchema)
      .default(DEFAULT_MODELS)
      .refine((m) => Object.keys(m).length > 0, 'at least one model is required'),
    engine: EngineSchema.prefault({}),
    gpu: GpuSchema,
  })
  .superRefine((config, ctx) => {
    // A patch is valid alone but can break a rule once merged (e.g. fault rates summing over 1).
    // Bad defaults are reported once, under `defaults`, not again under every model.
    if (profileIssues(config.defaults).length > 0) return;
    for (const [name, patch] of Object.entries(config.models)) {
      for (const issue of profileIssues(mergeProfile(config.defaults, patch))) {
        ctx.addIssue({ code: 'custom', message: issue.message, path: ['models', name, ...issue.path] });
      }
    }
  });

export type SimulatorConfig = z.output<typeof SimulatorConfigSchema>;

/** The config used when no file is given: two Llama models, no faults. */
export const DEFAULT_SIMULATOR_CONFIG: Readonly<SimulatorConfig> = validateConfig(SimulatorConfigSchema, {}, 'default simulator config');

/** Validates plain data (e.g. from a test) as a simulator config; throws CFG_ERR_INVALID naming each field. */
export function simulatorConfig(data: unknown): Readonly<SimulatorConfig> {
  return validateConfig(SimulatorConfigSchema, data, 'simulator config');
}

/** Reads, validates and freezes a simulator config file (YAML or JSON). */
export function loadSimulatorConfig(path: string): Readonly<SimulatorConfig> {
  return loadConfigFile(SimulatorConfigSchema, path);
}

/** A patch over a profile; `errors` and `outputTokens` merge field by field. */
export function mergeProfile(base: Profile, patch: ProfilePatch): Profile {
  return {
    ...base,
    ...definedOnly(patch),
    outputTokens: { ...base.outputTokens, ...definedOnly(patch.outputTokens ?? {}) },
    errors: { ...base.errors, ...definedOnly(patch.errors ?? {}) },
  };
}

/** The rules between fields of a whole profile, each with the path of the field to fix. */
export function profileIssues(profile: Profile): Array<{ path: string[]; message: string }> {
  const issues: Array<{ path: string[]; message: string }> = [];
  const { http500, http429, reset, hang, http400 } = profile.errors;
  const sum = http500 + http429 + reset + hang + http400;
  // Tolerance: 0.1 + 0.2 + 0.3 + 0.4 is 1.0000000000000002 in binary floating point.
  if (sum > 1 + 1e-9) {
    issues.push({
      path: ['errors'],
      message: `http500 + http429 + reset + hang + http400 are exclusive per request and must sum to at most 1 (got ${sum}); lower one of them`,
    });
  }
  if (profile.outputTokens.min > profile.outputTokens.max) {
    issues.push({
      path: ['outputTokens'],
      message: `min (${profile.outputTokens.min}) must not exceed max (${profile.outputTokens.max})`,
    });
  }
  return issues;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
