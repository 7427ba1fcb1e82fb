import type { LlmwatchError } from '../../errors.ts';
import { GW_ERR_CONTENT_BLOCKED } from '../errors.ts';
import type { ModelRoute } from '../router.ts';
import { RollingMean } from './rolling-mean.ts';

/** A scorer that answers at once (the lexical one), with masking for the `redact` policy. */
export interface InlineScorer {
  score(text: string): number;
  redact(text: string): string;
}

/** A scorer run off the request path (the external classifier, sampled and bounded). */
export interface BackgroundScorer {
  submit(text: string, onScore: (score: number) => void): unknown;
}

export type Verdict = { readonly action: 'pass' } | { readonly action: 'redact' } | { readonly action: 'block'; readonly error: LlmwatchError };

const PASS: Verdict = { action: 'pass' };
const REDACT: Verdict = { action: 'redact' };

/**
 * Output safety as the proxy core uses it: scores what a model said, keeps
 * the per-model rolling mean the article's alert reads
 * (`openllm_output_toxicity_score`), and applies the model's policy:
 * `observe` only counts, `redact` masks flagged words, `block` refuses the
 * answer. Streams are scored once they have reached the client (observe only);
 * a background classifier cannot redact or block (the config refuses that).
 */
export class OutputSafety {
  readonly #inline: InlineScorer | undefined;
  readonly #background: BackgroundScorer | undefined;
  readonly #means = new Map<string, RollingMean>();
  readonly #window: number;

  constructor(inline: InlineScorer | undefined, background: BackgroundScorer | undefined, window: number) {
    this.#inline = inline;
    this.#background = background;
    this.#window = window;
  }

  /** Scores a whole (non-streamed) answer and says what to do with it. */
  judge(model: ModelRoute, text: string): Verdict {
    if (this.#inline === undefined) {
      this.observe(model, text);
      return PASS;
    }
    const score = this.#inline.score(text);
    if (!this.#record(model, score)) return PASS;
    switch (model.config.safety.policy) {
      case 'observe':
        model.meter.flagged.observed.inc();
        return PASS;
      case 'redact':
        model.meter.flagged.redacted.inc();
        return REDACT;
      case 'block':
        model.meter.flagged.blocked.inc();
        return {
          action: 'block',
          error: GW_ERR_CONTENT_BLOCKED(
            `The answer of model '${model.name}' was withheld by the gateway's content policy (toxicity score ${score.toFixed(2)}, threshold ${model.config.safety.threshold})`,
          ),
        };
      default: {
        const never: never = model.config.safety.policy;
        throw new Error(`unhandled policy ${String(never)}`);
      }
    }
  }

  /** Scores an answer that was already delivered (a stream): counts and exports, changes nothing. */
  observe(model: ModelRoute, text: string): void {
    if (text.length === 0) return;
    const inline = this.#inline;
    if (inline !== undefined) {
      // After the answer's bytes have gone out: a response is corked until the end of its tick.
      setImmediate(() => {
        if (this.#record(model, inline.score(text))) model.meter.flagged.observed.inc();
      });
      return;
    }
    // Failures are counted by the classifier's own handler, for every model at once.
    this.#background?.submit(text, (score) => {
      if (this.#record(model, score)) model.meter.flagged.observed.inc();
    });
  }

  /** A copy of a chat or completions answer with every flagged word masked. */
  redactAnswer(answer: Record<string, unknown>): Record<string, unknown> {
    const inline = this.#inline!;
    const choices = Array.isArray(answer.choices) ? answer.choices : [];
    return {
      ...answer,
      choices: choices.map((c: unknown) => {
        if (c === null || typeof c !== 'object') return c;
        const choice = { ...(c as Record<string, unknown>) };
        if (typeof choice.text === 'string') choice.text = inline.redact(choice.text);
        const message = choice.message as Record<string, unknown> | undefined;
        if (message !== null && typeof message === 'object' && typeof message.content === 'string') {
          choice.message = { ...message, content: inline.redact(message.content) };
        }
        return choice;
      }),
    };
  }

  /** Records one score; true when it reaches the model's threshold. */
  #record(model: ModelRoute, score: number): boolean {
    let mean = this.#means.get(model.name);
    if (mean === undefined) {
      mean = new RollingMean({ window: this.#window });
      this.#means.set(model.name, mean);
    }
    mean.add(score);
    model.meter.toxicity.set(mean.value);
    model.meter.safetyScore.observe(score);
    return score >= model.config.safety.threshold;
  }
}
