import type { AnswerFacts } from '../../core/metering/answer-facts.ts';
import type { ModelMeter } from '../../core/metering/gateway-metrics.ts';
import type { RefusalDetector } from './refusal-detector.ts';

/** What the behaviour signals need of a model: its name and its behaviour meters (not the whole route). */
export interface BehaviourSubject {
  readonly name: string;
  readonly meter: Pick<ModelMeter, 'behaviour'>;
}

/** A refusal classifier run off the request path (sampled and bounded, as the safety classifier). */
export interface BackgroundJudge {
  readonly sampleRate: number;
  submit(text: string, onScore: (score: number) => void): unknown;
}

/** How refusals are told: the lexical detector, a classifier (score at or above `threshold`), or not at all. */
export type RefusalJudge =
  | { readonly kind: 'lexical'; readonly detector: RefusalDetector }
  | { readonly kind: 'classifier'; readonly classifier: BackgroundJudge; readonly threshold: number; readonly headChars: number }
  | { readonly kind: 'none' };

/**
 * The behaviour signals of delivered answers (docs/drift.md): each answer is
 * counted by its finish reason, and as a tool call, an empty answer or a
 * refusal. Called once an answer's bytes have gone out; costs a few counter
 * additions and, with the lexical detector, one match over the answer's first
 * sentences (bounded by `headChars`).
 */
export class AnswerBehaviour {
  readonly #refusal: RefusalJudge;
  /** What one classified refusal adds: 1 / sampleRate, so the refusal ratio stays an estimate of all answers. */
  readonly #weight: number;
  readonly #close: () => Promise<void> | undefined;

  constructor(refusal: RefusalJudge, close: () => Promise<void> | undefined = () => undefined) {
    this.#refusal = refusal;
    this.#close = close;
    this.#weight = refusal.kind === 'classifier' && refusal.classifier.sampleRate > 0 ? 1 / refusal.classifier.sampleRate : 1;
  }

  /** Waits for the answers being classified, then closes the classifier's connections. */
  async close(): Promise<void> {
    await this.#close();
  }

  record(model: BehaviourSubject, facts: AnswerFacts): void {
    const b = model.meter.behaviour;
    b.finish[facts.finishReason].inc();
    if (facts.toolCalls) b.toolCalls.inc();
    else if (!facts.hasText) b.empty.inc();
    if (facts.head.length === 0) return;
    const r = this.#refusal;
    switch (r.kind) {
      case 'lexical':
        if (r.detector.isRefusal(facts.head)) b.refusals.inc();
        return;
      case 'classifier': {
        const weight = this.#weight;
        r.classifier.submit(facts.head.length > r.headChars ? facts.head.slice(0, r.headChars) : facts.head, (score) => {
          if (score >= r.threshold) b.refusals.inc(weight);
        });
        return;
      }
      case 'none':
        return;
      default: {
        const never: never = r;
        throw new Error(`unhandled refusal judge ${String(never)}`);
      }
    }
  }
}
