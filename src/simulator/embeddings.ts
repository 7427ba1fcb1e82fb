import type { ServerResponse } from 'node:http';
import type { Profile } from '../core/config/simulator-config.ts';
import { sendJson } from '../core/http/send.ts';
import { OAI_ERR_INVALID_PARAM } from '../core/openai/errors.ts';
import { estimatePromptTokens } from '../core/openai/tokens.ts';
import type { InferenceRequest } from '../core/openai/validate.ts';
import { resetConnection, throwInjectedError } from './faults.ts';
import { planEmbedding } from './plan.ts';
import type { Rng } from './rng.ts';
import { createRng, hash32 } from './rng.ts';
import { sleep } from './timing.ts';

/** `encoding_format` of an embeddings request; the openai SDK asks for base64 unless told otherwise. */
export type EmbeddingFormat = 'float' | 'base64';

/** Reads `encoding_format`, before any random draw, so a bad request does not shift the seeded sequence. */
export function embeddingFormat(body: Record<string, unknown>): EmbeddingFormat {
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw OAI_ERR_INVALID_PARAM("'encoding_format' must be 'float' or 'base64'", { param: 'encoding_format' });
  }
  return format;
}

/**
 * Answers an embeddings request after the profile's TTFT (one forward pass)
 * or with the drawn fault. Vectors depend only on the seed, the model and the
 * input, so equal inputs embed equally, as with a real model.
 */
export async function serveEmbeddings(
  res: ServerResponse,
  request: InferenceRequest,
  format: EmbeddingFormat,
  profile: Profile,
  rng: Rng,
  seed: number,
  signal: AbortSignal,
): Promise<void> {
  const plan = planEmbedding(rng, profile);
  throwInjectedError(plan.fault, profile);
  if (plan.fault === 'hang') return;
  if (plan.delayMs > 0 && !(await sleep(plan.delayMs, signal))) return;
  if (plan.fault === 'reset') {
    resetConnection(res);
    return;
  }
  const modelSeed = hash32(request.model, seed);
  const data = inputKeys(request.body.input).map((key, index) => {
    const vector = embed(key, profile.embeddingDimensions, modelSeed);
    return { object: 'embedding', index, embedding: format === 'float' ? Array.from(vector) : base64(vector) };
  });
  const promptTokens = estimatePromptTokens('embeddings', request.body);
  sendJson(res, 200, { object: 'list', data, model: request.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
}

/**
 * A deterministic unit vector. Float32 throughout, so the `float` and
 * `base64` encodings of one input decode to the same numbers.
 */
export function embed(key: string, dimensions: number, seed: number): Float32Array {
  const rng = createRng(hash32(key, seed));
  const vector = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const x = 2 * rng.next() - 1;
    vector[i] = x;
    norm += x * x;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) vector[i] = vector[i]! * scale;
  return vector;
}

/** One key per input: a string, or a token array as JSON (validated before this runs). */
function inputKeys(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  const items = input as unknown[];
  if (typeof items[0] === 'number') return [JSON.stringify(items)];
  return items.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
}

/** OpenAI's base64 embedding: the float32 values, little-endian, whatever this machine's byte order. */
function base64(vector: Float32Array): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}
