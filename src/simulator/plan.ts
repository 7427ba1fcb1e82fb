import type { ErrorRates, Profile } from '../core/config/simulator-config.ts';
import type { Rng } from './rng.ts';
import { REFUSAL_TOKENS, generateTokens } from './text.ts';
import { jittered } from './timing.ts';

/** What happens to one request, drawn from the profile's fault rates. */
export type Fault = 'none' | 'http500' | 'http429' | 'reset' | 'hang' | 'http400';

/** Everything random about one chat or completion request, drawn before any byte is sent. */
export interface GenerationPlan {
  /** Random hex for the response id (`chatcmpl-…`, `cmpl-…`). */
  readonly id: string;
  readonly fault: Fault;
  /** The output, one o200k token per entry. */
  readonly tokens: readonly string[];
  readonly finishReason: 'stop' | 'length';
  /**
   * Milliseconds to wait before each output event: `delays[0]` is the time to
   * first token, then one time-per-output-token gap per further token. An empty
   * output still has `delays[0]`, spent before the final chunk.
   */
  readonly delays: readonly number[];
}

/**
 * Draws one request's fate. The order of draws is fixed, so the same seed gives
 * the same plan on every run; `maxTokens` (the client's cap) only shortens it.
 */
export function planGeneration(rng: Rng, profile: Profile, maxTokens: number | undefined): GenerationPlan {
  const id = hexId(rng);
  const fault = drawFault(rng.next(), profile.errors);
  const toxic = rng.next() < profile.toxicFraction;
  const drawn = rng.int(profile.outputTokens.min, profile.outputTokens.max);
  // Behaviour (docs/drift.md), drawn only when asked for: profiles without it draw as they always did.
  const refuse = profile.refusalFraction > 0 && rng.next() < profile.refusalFraction;
  const truncate = profile.truncateFraction > 0 && rng.next() < profile.truncateFraction;
  // A refusal says its sentence; a truncated answer wants more than it may say, so it runs to the limit.
  const wanted = refuse ? REFUSAL_TOKENS.length : truncate ? Number.POSITIVE_INFINITY : drawn;
  const limit = maxTokens ?? (truncate ? profile.outputTokens.max : Number.POSITIVE_INFINITY);
  const count = Math.min(wanted, limit);
  const delays = new Array<number>(Math.max(count, 1));
  delays[0] = jittered(profile.ttftMs, profile.jitter, rng);
  for (let i = 1; i < count; i++) delays[i] = jittered(profile.tpotMs, profile.jitter, rng);
  return {
    id,
    fault,
    tokens: refuse ? REFUSAL_TOKENS.slice(0, count) : generateTokens(rng, count, toxic),
    finishReason: count < wanted ? 'length' : 'stop',
    delays,
  };
}

/** One embeddings request: a fault and the time to answer (one forward pass, so only the TTFT). */
export function planEmbedding(rng: Rng, profile: Profile): { fault: Fault; delayMs: number } {
  const fault = drawFault(rng.next(), profile.errors);
  return { fault, delayMs: jittered(profile.ttftMs, profile.jitter, rng) };
}

/** Maps one uniform draw onto the exclusive fault rates (validated to sum to at most 1). */
function drawFault(u: number, rates: ErrorRates): Fault {
  let edge = rates.http500;
  if (u < edge) return 'http500';
  edge += rates.http429;
  if (u < edge) return 'http429';
  edge += rates.reset;
  if (u < edge) return 'reset';
  edge += rates.hang;
  if (u < edge) return 'hang';
  // Last, so that profiles without it draw exactly the faults they drew before it existed.
  edge += rates.http400;
  if (u < edge) return 'http400';
  return 'none';
}

function hexId(rng: Rng): string {
  let id = '';
  for (let i = 0; i < 3; i++) id += Math.floor(rng.next() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return id;
}
