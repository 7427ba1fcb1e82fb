/**
 * Output safety scoring, as the gateway sees it: a scorer turns generated
 * text into a toxicity score from 0 (clean) to 1 (certainly toxic).
 */
export interface SafetyScorer {
  /** `lexical` or `classifier`: the `scorer` label of the safety metrics. */
  readonly kind: 'lexical' | 'classifier';
  /**
   * Scores one output. The lexical scorer answers synchronously and never
   * fails; the classifier is remote and may reject (timeout, HTTP error).
   */
  score(text: string): number | Promise<number>;
  close?(): Promise<void>;
}

/** What the gateway does with an output whose score reaches the model's threshold. */
export type SafetyPolicy = 'observe' | 'redact' | 'block';
