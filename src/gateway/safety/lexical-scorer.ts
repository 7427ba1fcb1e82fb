import {
  DataSet,
  RegExpMatcher,
  TextCensor,
  englishDataset,
  englishRecommendedTransformers,
  parseRawPattern,
  resolveConfusablesTransformer,
  toAsciiLowerCaseTransformer,
} from 'obscenity';
import type { MatchPayload } from 'obscenity';
import type { SafetyScorer } from './types.ts';

export interface LexicalScorerOptions {
  /**
   * Words or phrases to flag besides obscenity's English dataset (which has
   * slurs, sexual terms and strong profanity, but no mild insults such as
   * 'idiot' or 'stupid'). Matched as whole words, case-insensitively and
   * through look-alike Unicode letters ('ｉｄｉｏｔ').
   */
  readonly extraTerms?: readonly string[];
  /**
   * The share of flagged words at which the score reaches 1; default 0.5, so
   * an output with every other word abusive (the simulator's toxic outputs)
   * scores 1 and one flagged word in a 100-word answer scores 0.02.
   */
  readonly saturation?: number;
}

/** Words are runs of non-space characters, so `idiot!` and `don't` each count once. */
const WORD = /\S+/g;

// Only characters the pattern syntax gives a meaning can be escaped; every
// other one is a literal. https://github.com/jo3-l/obscenity/blob/main/docs/guide/patterns.md
const PATTERN_SPECIAL = /[\\[\]?|]/g;
/** What RegExp `\b` takes for a word character. */
const WORD_CHAR = /\w/;

// Same length as the span, in UTF-16 units, so offsets into a redacted text
// stay valid. Obscenity's asteriskCensorStrategy writes `matchLength` stars,
// which is the length after transformers ('fuuuck' gives 4) and ignores the
// part of an overlapping span already censored.
const sameLengthStars = (ctx: { startIndex: number; endIndex: number }) => '*'.repeat(ctx.endIndex - ctx.startIndex + 1);

/**
 * Scores an output by the share of its words that a profanity matcher flags:
 * `min(1, flaggedWords / totalWords / saturation)`, 0 for text without words.
 * Deterministic, synchronous and offline; both matchers are compiled once here.
 * @example
 * const scorer = new LexicalScorer({ extraTerms: [...TOXIC_LEXICON] });
 * scorer.score(' you idiot');   // 1 (one word in two)
 * scorer.redact('you idiot!');  // 'you *****!'
 */
export class LexicalScorer implements SafetyScorer {
  readonly kind = 'lexical' as const;
  readonly saturation: number;
  /** Obscenity's English dataset, with its recommended transformers (leetspeak, confusables, repeated letters). */
  readonly #dataset: RegExpMatcher;
  /** The operator's terms, or null when there are none. */
  readonly #extra: RegExpMatcher | null;
  /** False when the matcher cannot match (see {@link anyTermTest}); undefined where it cannot be built. */
  readonly #datasetAny: ((text: string) => boolean) | undefined;
  readonly #extraAny: ((text: string) => boolean) | undefined;
  readonly #censor = new TextCensor().setStrategy(sameLengthStars);
  // The last text matched and its matches: the 'redact' policy scores an
  // output and then redacts the same text, and matching is the costly part.
  #lastText = '';
  #lastMatches: MatchPayload[] = [];

  constructor(options: LexicalScorerOptions = {}) {
    const saturation = options.saturation ?? 0.5;
    if (!(saturation > 0 && saturation <= 1)) throw new RangeError(`LexicalScorer: saturation must be in (0, 1], got ${saturation}`);
    this.saturation = saturation;
    this.#dataset = new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });
    this.#extra = compileTerms(options.extraTerms ?? []);
    this.#datasetAny = anyTermTest(this.#dataset);
    this.#extraAny = this.#extra === null ? undefined : anyTermTest(this.#extra);
  }

  /** 0 (clean) to 1; see the class comment for the formula. */
  score(text: string): number {
    const { words, flagged } = this.tally(text);
    return this.scoreOf(words, flagged);
  }

  /**
   * The words and flagged words of a text. Additive over pieces of a text cut
   * between words, so a long text can be scored a piece at a time.
   */
  tally(text: string): { words: number; flagged: number } {
    const matches = this.#matches(text);
    let words = 0;
    let flagged = 0;
    let m = 0;
    WORD.lastIndex = 0;
    for (let w = WORD.exec(text); w !== null; w = WORD.exec(text)) {
      words++;
      if (matches.length === 0) continue;
      const start = w.index;
      const end = start + w[0].length; // exclusive; a match's endIndex is inclusive
      // Matches are sorted by start: skip those that ended before this word.
      while (m < matches.length && matches[m]!.endIndex < start) m++;
      if (m < matches.length && matches[m]!.startIndex < end) flagged++;
    }
    return { words, flagged };
  }

  /** The score of a tally. */
  scoreOf(words: number, flagged: number): number {
    return flagged === 0 || words === 0 ? 0 : Math.min(1, flagged / words / this.saturation);
  }

  /** The text with every flagged span replaced by as many asterisks; the length is unchanged. */
  redact(text: string): string {
    const matches = this.#matches(text);
    return matches.length === 0 ? text : this.#censor.applyTo(text, matches);
  }

  /** Both matchers' matches, sorted by start index. Callers must not change the array. */
  #matches(text: string): MatchPayload[] {
    if (text.length === 0) return [];
    if (text === this.#lastText) return this.#lastMatches;
    // Most answers match nothing: one test says so, where getAllMatches runs every term's own search.
    const found = this.#datasetAny !== undefined && !this.#datasetAny(text) ? [] : this.#dataset.getAllMatches(text);
    if (this.#extra !== null && (this.#extraAny === undefined || this.#extraAny(text))) {
      const more = this.#extra.getAllMatches(text);
      for (const x of more) found.push(x);
    }
    if (found.length > 1) found.sort(byStart);
    this.#lastText = text;
    this.#lastMatches = found;
    return found;
  }
}

/** What of obscenity's RegExpMatcher (0.4) {@link anyTermTest} reads: its compiled terms and its transform. */
interface MatcherInternals {
  readonly blacklistedTerms?: ReadonlyArray<{ readonly regExp: RegExp }>;
  readonly blacklistMatcherTransformers?: unknown;
  readonly applyTransformers?: (input: string, transformers: unknown) => [number[], string];
}

/**
 * A test that is false only when `matcher.getAllMatches(text)` would return
 * nothing (true where it finds a match, and where only a whitelisted word
 * matched: getAllMatches then decides). One regular expression, the
 * alternation of every term's own (obscenity compiles each with flags `gs`
 * and no capture groups), over the text transformed as the matcher
 * transforms it. getAllMatches runs the whitelist's transform and a
 * `matchAll` per term (a copy of the term's RegExp each; 119 terms in the
 * English dataset) whether or not anything matches, and the whitelist only
 * removes matches. Undefined when the matcher is not built as expected
 * (another obscenity version): getAllMatches alone then.
 * test/safety-lexical.test.ts checks the test against getAllMatches.
 */
export function anyTermTest(matcher: RegExpMatcher): ((text: string) => boolean) | undefined {
  const m = matcher as unknown as MatcherInternals;
  const terms = m.blacklistedTerms;
  const transform = m.applyTransformers;
  if (!Array.isArray(terms) || terms.length === 0 || typeof transform !== 'function' || m.blacklistMatcherTransformers === undefined) return undefined;
  if (terms.some((t) => !(t.regExp instanceof RegExp) || t.regExp.flags !== 'gs')) return undefined;
  const any = new RegExp(terms.map((t) => `(?:${t.regExp.source})`).join('|'), 's');
  const transformers = m.blacklistMatcherTransformers;
  return (text) => any.test(transform.call(matcher, text, transformers)[1]);
}

function byStart(a: MatchPayload, b: MatchPayload): number {
  return a.startIndex - b.startIndex || a.endIndex - b.endIndex;
}

/**
 * One matcher for the operator's terms, each a whole-word literal. Its
 * transformers are lighter than the dataset's: no leetspeak, which reads the
 * '!' in 'idiot!' as an 'i' and so breaks the word boundary after 'idiot'; no
 * collapsing of repeated letters, which turns 'butthead' into 'buthead'.
 */
function compileTerms(terms: readonly string[]): RegExpMatcher | null {
  const patterns = terms.map((raw, i) => {
    const term = raw.trim().toLowerCase();
    if (term.length === 0) throw new RangeError(`LexicalScorer: extraTerms[${i}] is empty; remove it or give a word`);
    // Obscenity compiles a boundary to RegExp `\b`, which cannot hold next to a
    // non-word character at the end of the text ('why?'): assert one only
    // beside a word character.
    const start = WORD_CHAR.test(term[0]!) ? '|' : '';
    const end = WORD_CHAR.test(term.at(-1)!) ? '|' : '';
    return parseRawPattern(start + term.replace(PATTERN_SPECIAL, '\\$&') + end);
  });
  if (patterns.length === 0) return null;
  const dataset = new DataSet<undefined>();
  for (const p of patterns) dataset.addPhrase((phrase) => phrase.addPattern(p));
  return new RegExpMatcher({
    ...dataset.build(),
    blacklistMatcherTransformers: [resolveConfusablesTransformer(), toAsciiLowerCaseTransformer()],
  });
}
