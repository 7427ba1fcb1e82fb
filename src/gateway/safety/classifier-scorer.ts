import { Pool } from 'undici';
import { hasCode } from '../../core/errors.ts';
import type { LlmwatchError } from '../../core/errors.ts';
import { SAFETY_ERR_CLASSIFIER } from './errors.ts';
import type { SafetyScorer } from './types.ts';

export interface ClassifierScorerOptions {
  /** The moderation server's OpenAI base URL, `/v1` included: `http://127.0.0.1:8080/v1`. */
  readonly baseURL: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** The request's `model` (e.g. `meta-llama/Llama-Guard-3-8B`); left out when not given. */
  readonly model?: string;
  /** The whole exchange (connect, headers, body) must end within this; default 2000. */
  readonly timeoutMs?: number;
}

/**
 * Scores an output with a remote moderation model through the OpenAI
 * moderation API (`POST {baseURL}/moderations`), as a Llama Guard server
 * behind an OpenAI-compatible front end answers it. Every failure rejects
 * with SAFETY_ERR_CLASSIFIER; the score is {@link moderationScore} of the
 * answer. Keeps one keep-alive pool to the server; `close()` ends it.
 */
export class ClassifierScorer implements SafetyScorer {
  readonly kind = 'classifier' as const;
  readonly timeoutMs: number;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #url: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #model: string | undefined;

  constructor(options: ClassifierScorerOptions) {
    const url = new URL(options.baseURL);
    this.timeoutMs = options.timeoutMs ?? 2_000;
    if (!(this.timeoutMs > 0)) throw new RangeError(`ClassifierScorer: timeoutMs must be > 0, got ${this.timeoutMs}`);
    this.#path = url.pathname.replace(/\/+$/, '') + '/moderations';
    this.#url = url.origin + this.#path;
    this.#model = options.model;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;
    this.#headers = Object.freeze(headers);
    this.#pool = new Pool(url.origin, { keepAliveTimeout: 30_000 });
  }

  /** Resolves to 0..1; rejects with SAFETY_ERR_CLASSIFIER (cause attached) on any failure. */
  async score(text: string): Promise<number> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify({ input: text, model: this.#model }),
        signal,
      });
      if (res.statusCode < 200 || res.statusCode > 299) {
        const body = await res.body.text();
        throw SAFETY_ERR_CLASSIFIER(`moderation request to ${this.#url} answered HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
      }
      let answer: unknown;
      try {
        answer = await res.body.json();
      } catch (err) {
        if (signal.aborted) throw err;
        throw SAFETY_ERR_CLASSIFIER(`moderation answer from ${this.#url} is not JSON`, { cause: err });
      }
      return moderationScore(answer);
    } catch (err) {
      if (hasCode(err, SAFETY_ERR_CLASSIFIER)) throw err;
      if (signal.aborted) {
        // The signal's reason is a DOMException named TimeoutError, which classifierFailureReason looks for.
        throw SAFETY_ERR_CLASSIFIER(`moderation request to ${this.#url} timed out after ${this.timeoutMs} ms`, { cause: signal.reason });
      }
      throw SAFETY_ERR_CLASSIFIER(`moderation request to ${this.#url} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}

/**
 * The score of an OpenAI moderation answer: the largest of
 * `results[0].category_scores`; without scores, 1 when `flagged` is true and 0
 * otherwise. Throws SAFETY_ERR_CLASSIFIER when the answer is not in that shape.
 * https://platform.openai.com/docs/api-reference/moderations/object
 */
export function moderationScore(answer: unknown): number {
  const result = (answer as { results?: unknown } | null)?.results;
  const first: unknown = Array.isArray(result) ? result[0] : undefined;
  if (typeof first !== 'object' || first === null) {
    throw SAFETY_ERR_CLASSIFIER('moderation answer has no results[0]; expected OpenAI\'s { "results": [{ "flagged", "category_scores" }] }');
  }
  const { flagged, category_scores: scores } = first as { flagged?: unknown; category_scores?: unknown };
  let max: number | undefined;
  if (typeof scores === 'object' && scores !== null) {
    for (const [category, v] of Object.entries(scores)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw SAFETY_ERR_CLASSIFIER(`moderation answer's category_scores.${category} is ${JSON.stringify(v)}, not a number`);
      }
      if (max === undefined || v > max) max = v;
    }
  }
  if (max === undefined) return flagged === true ? 1 : 0;
  return Math.min(1, Math.max(0, max));
}

/** Why the classifier failed, for the `reason` of a failure metric: the timeout, or anything else. */
export function classifierFailureReason(err: unknown): 'timeout' | 'error' {
  const cause = (err as LlmwatchError | undefined)?.cause;
  return hasCode(err, SAFETY_ERR_CLASSIFIER) && cause instanceof Error && cause.name === 'TimeoutError' ? 'timeout' : 'error';
}
