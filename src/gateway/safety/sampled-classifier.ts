import { classifierFailureReason } from './classifier-scorer.ts';
import type { SafetyScorer } from './types.ts';
import { logger } from '../../core/log.ts';

/** Why a submitted output got no score: the bound was reached, the classifier timed out, or it failed otherwise. */
export type ClassifierFailure = 'dropped' | 'timeout' | 'error';

export interface SampledClassifierOptions {
  /** Share of submitted outputs sent to the classifier, 0..1; default 1. */
  readonly sampleRate?: number;
  /** Most outputs being scored at once; a submission beyond it is dropped, not queued. Default 4. */
  readonly maxInFlight?: number;
  /** A float in [0, 1) per submission, for the sampling draw; default Math.random. Inject one in tests. */
  readonly random?: () => number;
  /** Told of every sampled output that got no score, e.g. to count it in a metric. */
  readonly onFailure?: (reason: ClassifierFailure, err?: unknown) => void;
}

/** What became of one submission. */
export type Submission = 'sent' | 'sampled-out' | 'dropped';

let warned = false;

/** Runs a callback from the scoring chain; a throw is dropped with one warning, never left as an unhandled rejection. */
function notify<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
  if (fn === undefined) return;
  try {
    fn(...args);
  } catch (err) {
    if (!warned) {
      warned = true;
      logger('gateway').warn({ err: String(err) }, 'a safety score callback threw and was ignored');
    }
  }
}

/**
 * Runs a remote scorer off the request path: `submit` returns at once, a
 * sampled share of outputs is scored in the background, and at most
 * `maxInFlight` run at a time; the rest are dropped and counted, so a slow
 * classifier costs a bounded number of sockets and no memory growth.
 * @example
 * const sampled = new SampledClassifier(new ClassifierScorer({ baseURL }), { sampleRate: 0.1 });
 * sampled.submit(outputText, (score) => toxicity.add(score));
 */
export class SampledClassifier {
  readonly sampleRate: number;
  readonly maxInFlight: number;
  readonly #scorer: SafetyScorer;
  /** The sampling draw, or null when every output is sent (sampleRate 1). */
  readonly #sample: (() => boolean) | null;
  readonly #onFailure: SampledClassifierOptions['onFailure'];
  readonly #inFlight = new Set<Promise<void>>();
  #submitted = 0;
  #sampledOut = 0;
  #dropped = 0;
  #failed = 0;
  #scored = 0;

  constructor(scorer: SafetyScorer, options: SampledClassifierOptions = {}) {
    const sampleRate = options.sampleRate ?? 1;
    const maxInFlight = options.maxInFlight ?? 4;
    if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError(`SampledClassifier: sampleRate must be in [0, 1], got ${sampleRate}`);
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`SampledClassifier: maxInFlight must be an integer >= 1, got ${maxInFlight}`);
    this.sampleRate = sampleRate;
    this.maxInFlight = maxInFlight;
    this.#scorer = scorer;
    this.#onFailure = options.onFailure;
    const random = options.random ?? Math.random;
    this.#sample = sampleRate === 1 ? null : () => random() < sampleRate;
  }

  /**
   * Hands one output to the classifier and returns at once. `onScore` is
   * called later with its score, or never (sampled out, dropped, failed).
   */
  submit(text: string, onScore: (score: number) => void): Submission {
    this.#submitted++;
    if (this.#sample !== null && !this.#sample()) {
      this.#sampledOut++;
      return 'sampled-out';
    }
    if (this.#inFlight.size >= this.maxInFlight) {
      this.#dropped++;
      notify(this.#onFailure, 'dropped');
      return 'dropped';
    }
    const run: Promise<void> = Promise.resolve()
      .then(() => this.#scorer.score(text))
      .then(
        (score) => {
          this.#scored++;
          notify(onScore, score);
        },
        (err: unknown) => {
          this.#failed++;
          notify(this.#onFailure, classifierFailureReason(err), err);
        },
      )
      .finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
    return 'sent';
  }

  /** Submissions, sampled or not. */
  get submitted(): number {
    return this.#submitted;
  }
  /** Submissions the sampling draw left out. */
  get sampledOut(): number {
    return this.#sampledOut;
  }
  /** Sampled submissions refused because `maxInFlight` were already running. */
  get dropped(): number {
    return this.#dropped;
  }
  /** Sent submissions the scorer rejected. */
  get failed(): number {
    return this.#failed;
  }
  /** Sent submissions that got a score. */
  get scored(): number {
    return this.#scored;
  }
  /** Submissions being scored now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Resolves once nothing is being scored (including what was submitted while waiting). Never rejects. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /** Waits for the outputs being scored, then closes the scorer. */
  async close(): Promise<void> {
    await this.drain();
    await this.#scorer.close?.();
  }
}
