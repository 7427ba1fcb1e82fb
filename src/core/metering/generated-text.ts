/**
 * The generated text a meter keeps, at most: enough for a token estimate's
 * sample and for scoring; the length past it is still counted, so an estimate
 * extrapolates over the whole answer.
 */
export const KEPT_TEXT_CHARS = 256 * 1024;

/**
 * The generated text of a streamed answer as its pieces arrive: when the first
 * and the last token came (time to first token; time per output token over the
 * tokens between them), the start of the text up to {@link KEPT_TEXT_CHARS},
 * and the length of the whole. The gateway's stream meters and the in-app
 * instrumentation all time and keep the text this one way.
 */
export class GeneratedText {
  /** `performance.now()` at the first non-empty piece; 0 before it. */
  firstTokenAt = 0;
  /** `performance.now()` at the last non-empty piece; 0 before the first. */
  lastTokenAt = 0;
  /** The generated text, up to {@link KEPT_TEXT_CHARS}. */
  text = '';
  /** The length of the whole generated text, kept or not. */
  textChars = 0;

  /** Notes the next piece of generated text; an empty piece is no token and changes nothing. */
  token(piece: string): void {
    if (piece.length === 0) return;
    const now = performance.now();
    if (this.firstTokenAt === 0) this.firstTokenAt = now;
    this.lastTokenAt = now;
    if (this.text.length < KEPT_TEXT_CHARS) this.text += piece.length <= KEPT_TEXT_CHARS - this.text.length ? piece : piece.slice(0, KEPT_TEXT_CHARS - this.text.length);
    this.textChars += piece.length;
  }
}
