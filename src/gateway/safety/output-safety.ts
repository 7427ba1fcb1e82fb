import type { LlmwatchError } from '../../core/errors.ts';
import { GW_ERR_CONTENT_BLOCKED } from '../errors.ts';
import type { ModelConfig } from '../../core/config/gateway-config.ts';
import type { ModelMeter } from '../../core/metering/gateway-metrics.ts';
import { RollingMean } from './rolling-mean.ts';
import { logger } from '../../core/log.ts';

/** A scorer that answers at once (the lexical one), with masking for the `redact` policy. */
export interface InlineScorer {
  /** Words and flagged words; additive over pieces of a text cut between words. */
  tally(text: string): { words: number; flagged: number };
  scoreOf(words: number, flagged: number): number;
  redact(text: string): string;
}

/**
 * Text scored in one go, between two turns of the event loop. The lexical
 * matcher costs about 1 µs a character: a 1 MB answer scored at once held
 * every other client for most of a second (issue 12).
 */
export const SCORE_PIECE_CHARS = 4096;
/** The start of an answer that `observe` scores; `redact` and `block` score all of a (non-streamed) answer. */
export const OBSERVED_CHARS = 16 * 1024;
/** Time spent scoring queued answers in one turn of the event loop (at least one answer is scored). */
const SCORE_TURN_MS = 0.1;
/** Answers waiting to be observed; past this, an answer goes unscored (observe is a sample). */
const OBSERVE_BACKLOG = 64;

/** A scorer run off the request path (the external classifier, sampled and bounded). */
export interface BackgroundScorer {
  submit(text: string, onScore: (score: number) => void): unknown;
}

/** What safety scoring needs of a model: its name, its safety policy and threshold, and its safety meters (not the whole route). */
export interface SafetySubject {
  readonly name: string;
  readonly config: { readonly safety: ModelConfig['safety'] };
  readonly meter: Pick<ModelMeter, 'toxicity' | 'safetyScore' | 'flagged'>;
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
  readonly #queue: Array<{ readonly model: SafetySubject; readonly text: string | (() => string) }> = [];
  #draining = false;

  constructor(inline: InlineScorer | undefined, background: BackgroundScorer | undefined, window: number) {
    this.#inline = inline;
    this.#background = background;
    this.#window = window;
  }

  /**
   * Scores a whole (non-streamed) answer and says what to do with it. Long
   * answers are scored a piece at a time, yielding between pieces: this
   * request waits, the others do not.
   */
  async judge(model: SafetySubject, text: string): Promise<Verdict> {
    if (this.#inline === undefined) {
      this.observe(model, text);
      return PASS;
    }
    const score = await scoreInPieces(this.#inline, text);
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

  /**
   * Scores an answer that was already delivered: counts and exports, changes
   * nothing. The text may be given as a function, called only when the
   * answer's turn comes (a JSON answer's text is then extracted off the
   * request's critical path).
   */
  observe(model: SafetySubject, whole: string | (() => string)): void {
    if (typeof whole === 'string' && whole.length === 0) return;
    const inline = this.#inline;
    if (inline !== undefined) {
      // Scored after the answer's bytes have gone out (a response is corked until the end of its
      // tick), from one queue: each turn of the event loop scores queued answers for up to
      // SCORE_TURN_MS, so answers finishing faster than they are scored cannot fill every turn.
      // Past OBSERVE_BACKLOG waiting, an answer goes unscored (observe is a sample).
      if (this.#queue.length >= OBSERVE_BACKLOG) return;
      this.#queue.push({ model, text: whole });
      if (!this.#draining) {
        this.#draining = true;
        setImmediate(() => this.#drain(inline).catch((err: unknown) => logger('safety').error({ err }, 'output scoring failed')));
      }
      return;
    }
    const text = observed(typeof whole === 'string' ? whole : whole());
    if (text.length === 0) return;
    // Failures are counted by the classifier's own handler, for every model at once.
    this.#background?.submit(text, (score) => {
      if (this.#record(model, score)) model.meter.flagged.observed.inc();
    });
  }

  async #drain(inline: InlineScorer): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // One turn: at least one answer, more while under SCORE_TURN_MS (a long one is scored in
        // pieces, a turn each). Under saturation that is about one answer a turn, so scoring samples
        // instead of taking the CPU from requests; when there is room, queued answers go together.
        const until = performance.now() + SCORE_TURN_MS;
        do {
          const next = this.#queue.shift()!;
          const text = observed(typeof next.text === 'string' ? next.text : next.text());
          if (text.length === 0) continue;
          const long = text.length > SCORE_PIECE_CHARS;
          const score = long ? await scoreInPieces(inline, text) : shortScore(inline, text);
          if (this.#record(next.model, score)) next.model.meter.flagged.observed.inc();
          if (long) break;
        } while (this.#queue.length > 0 && performance.now() < until);
        if (this.#queue.length > 0) await nextTurn();
      }
    } finally {
      this.#draining = false;
    }
  }

  /** A copy of a chat or completions answer with every flagged word masked (in pieces, as {@link judge} scores). */
  async redactAnswer(answer: Record<string, unknown>): Promise<Record<string, unknown>> {
    const inline = this.#inline!;
    const choices = Array.isArray(answer.choices) ? answer.choices : [];
    const out: unknown[] = [];
    for (const c of choices as unknown[]) {
      if (c === null || typeof c !== 'object') {
        out.push(c);
        continue;
      }
      const choice = { ...(c as Record<string, unknown>) };
      if (typeof choice.text === 'string') choice.text = await redactInPieces(inline, choice.text);
      const message = choice.message as Record<string, unknown> | undefined;
      if (message !== null && typeof message === 'object' && typeof message.content === 'string') {
        choice.message = { ...message, content: await redactInPieces(inline, message.content) };
      }
      out.push(choice);
    }
    return { ...answer, choices: out };
  }

  /** Records one score; true when it reaches the model's threshold. */
  #record(model: SafetySubject, score: number): boolean {
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

/** Observing only feeds a rolling mean: the start of a huge answer tells enough, at bounded cost. */
function observed(whole: string): string {
  return whole.length > OBSERVED_CHARS ? whole.slice(0, OBSERVED_CHARS) : whole;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Where the piece of `text` from `from` ends: at most {@link SCORE_PIECE_CHARS} on, moved back to a space within the last 256 characters. */
function pieceEnd(text: string, from: number): number {
  const limit = from + SCORE_PIECE_CHARS;
  if (limit >= text.length) return text.length;
  // A bounded look back: `lastIndexOf` would scan to the start of a text without spaces, on every piece.
  for (let i = limit; i > limit - 256; i--) if (text.charCodeAt(i) === 32) return i;
  return limit;
}

function shortScore(inline: InlineScorer, text: string): number {
  const t = inline.tally(text);
  return inline.scoreOf(t.words, t.flagged);
}

async function scoreInPieces(inline: InlineScorer, text: string): Promise<number> {
  if (text.length <= SCORE_PIECE_CHARS) {
    const t = inline.tally(text);
    return inline.scoreOf(t.words, t.flagged);
  }
  let words = 0;
  let flagged = 0;
  for (let from = 0; from < text.length; ) {
    const to = pieceEnd(text, from);
    const t = inline.tally(text.slice(from, to));
    words += t.words;
    flagged += t.flagged;
    from = to;
    if (from < text.length) await nextTurn();
  }
  return inline.scoreOf(words, flagged);
}

async function redactInPieces(inline: InlineScorer, text: string): Promise<string> {
  if (text.length <= SCORE_PIECE_CHARS) return inline.redact(text);
  const parts: string[] = [];
  for (let from = 0; from < text.length; ) {
    const to = pieceEnd(text, from);
    parts.push(inline.redact(text.slice(from, to)));
    from = to;
    if (from < text.length) await nextTurn();
  }
  return parts.join('');
}
