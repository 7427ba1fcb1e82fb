/**
 * A small lexical refusal detector: does an answer open by declining? It reads
 * the answer's first sentences only (a refusal leads with it; a helpful answer
 * that later says "I can't guarantee" is not one), lower-cased, with curly
 * apostrophes made straight, and looks for refusal phrasing: a first person
 * that cannot or will not do something ("I can't help with", "I'm unable to
 * provide", "I must decline"), a policy ("against my guidelines"), "as an AI
 * language model, I", or a polite "I'd rather not". What it catches and
 * misses, with its precision and recall on the checked-in labelled set
 * (test/fixtures/refusals.json), is in docs/drift.md.
 *
 * Cost: the head is cut to `headChars` (default 300) before anything else, and
 * one regular expression compiled at start-up runs over it: bounded linear
 * time whatever the answer's length.
 */

export interface RefusalDetectorOptions {
  /** The most of the answer's start read; default 300 characters. */
  readonly headChars?: number;
  /** Sentences read from the start; default 2. */
  readonly sentences?: number;
  /** More phrases that mark a refusal (matched literally, case-insensitively, on word boundaries). */
  readonly extraPhrases?: readonly string[];
}

export const REFUSAL_DEFAULTS = { headChars: 300, sentences: 2 } as const;

/** Most characters `headChars` may be set to: the text the gateway keeps of an answer for its behaviour signals. */
export const MAX_HEAD_CHARS = 1024;

// The verbs a refusal declines with ("I can't help", "I won't write"), after a first-person negation.
const VERBS = [
  'help',
  'assist',
  'provide',
  'comply',
  'fulfil',
  'fulfill',
  'do',
  'create',
  'write',
  'generate',
  'produce',
  'share',
  'give',
  'support',
  'engage',
  'answer',
  'offer',
  'discuss',
  'continue',
  'complete',
  'participate',
  'take part',
  'go along',
  'make',
  'recommend',
  'explain',
  'describe',
  'reveal',
  'disclose',
].join('|');

// "I" and a negated ability or will: can't / cannot / won't / am unable to / am not able to / ...
const NEGATED = [
  "can't and won't",
  'cannot and will not',
  "can't",
  'cannot',
  'can not',
  "won't",
  'will not',
  "won't be able to",
  'will not be able to',
  "am unable to",
  "'m unable to",
  'am not able to',
  "'m not able to",
  'am not going to',
  "'m not going to",
  'am not allowed to',
  "'m not allowed to",
  'am not permitted to',
  "'m not permitted to",
  "don't feel comfortable",
  'do not feel comfortable',
  'must decline to',
  'have to decline to',
  'must refuse to',
  'have to refuse to',
  "shouldn't",
  'should not',
]
  .map(escape)
  .join('|');

/**
 * The built-in refusal patterns, each a regular expression source over the
 * normalised head. Listed for docs/drift.md; compiled together once.
 */
export const REFUSAL_PATTERNS: readonly string[] = [
  // "I can't help with that", "I'm unable to provide", "I won't write", "I must decline to answer".
  // "can't help but" ("I can't help but notice") is not a refusal.
  `\\bi ?(?:${NEGATED}) (?:(?:really|fully|directly|currently|safely|in good conscience) )?(?:${VERBS})\\b(?! but\\b)`,
  // "I must decline", "I'll have to decline", "I respectfully decline".
  `\\bi(?: must|'ll have to| have to| need to| will have to| respectfully|'m going to have to)? (?:respectfully )?decline\\b`,
  // "That's not something I can help with", "this isn't something I'm able to do".
  `\\b(?:not|isn't) something (?:i can|i could|i will|i'm able|i am able|i feel comfortable)\\b`,
  // A policy: "against my guidelines", "violates our usage policies".
  `\\b(?:against|violates?|violating|goes against|outside) (?:my|our|the|openai's) (?:guidelines|policies|policy|usage policies|content policy|principles|programming)\\b`,
  // "As an AI language model, I cannot ...", "as an AI, I don't ...".
  `\\bas an ai(?: language model| assistant| model)?,? i\\b`,
  // A polite refusal: "I'd rather not", "I would prefer not to".
  `\\bi(?:'d| would) (?:rather|prefer) not\\b`,
  // "I'm not comfortable (helping|providing|writing)", "I don't feel comfortable helping".
  `\\bi(?:'m| am) not comfortable\\b`,
  `\\bi (?:don't|do not) feel comfortable\\b`,
  // A refusal without its subject, at the very start: "Can't help with that", "Sorry, cannot assist".
  `^(?:sorry[,.!]? )?(?:can't|cannot) (?:help|assist|do that)\\b`,
];

/** Regular-expression metacharacters, escaped so that an operator's phrase is matched literally. */
function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A space, a line break, or the end of the text at `i`. */
function gapAt(text: string, i: number): boolean {
  return i >= text.length || text.charCodeAt(i) === 32 || text.charCodeAt(i) === 10;
}

/**
 * The first `sentences` sentences of a normalised head: cut after the n-th line break, or `.`, `!`
 * or `?` followed by a space or the end (or by a closing quote or bracket and then one).
 */
function firstSentences(text: string, sentences: number): string {
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let end = -1;
    if (c === 10) end = i;
    else if (c === 46 || c === 33 || c === 63) {
      if (gapAt(text, i + 1)) end = i;
      else if ((text[i + 1] === '"' || text[i + 1] === "'" || text[i + 1] === ')') && gapAt(text, i + 2)) end = i + 1;
    }
    if (end >= 0 && ++seen >= sentences) return text.slice(0, end + 1);
  }
  return text;
}

/**
 * Text in double quotes, left out: a refusal quoted in an answer ("a template such as \"I can't help
 * with that\"", a character's line in a story) is not the model refusing. Bounded: a quote left open
 * at the end of the head is kept.
 */
function unquoted(text: string): string {
  return text.indexOf('"') < 0 ? text : text.replace(/"[^"\n]*"/g, '""');
}

/**
 * Lower case, straight apostrophes, runs of spaces and tabs as one space, and
 * Markdown emphasis (`*`, `_`, `#`, `>` at line starts) left out.
 */
export function normalise(head: string): string {
  return head
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc\u2032]/g, "'")
    .replace(/[\u201c\u201d\u201e]/g, '"')
    .replace(/[*_`#>]+/g, '')
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n[ \n]*/g, '\n')
    .trim();
}

/**
 * Decides whether an answer's text opens with a refusal.
 * @example
 * const d = new RefusalDetector();
 * d.isRefusal("I'm sorry, but I can't help with that."); // true
 * d.isRefusal("I can't help but notice the loop never ends: here is a fix."); // false
 */
export class RefusalDetector {
  readonly headChars: number;
  readonly sentences: number;
  readonly #pattern: RegExp;

  constructor(options: RefusalDetectorOptions = {}) {
    const headChars = options.headChars ?? REFUSAL_DEFAULTS.headChars;
    const sentences = options.sentences ?? REFUSAL_DEFAULTS.sentences;
    if (!Number.isInteger(headChars) || headChars < 16 || headChars > MAX_HEAD_CHARS) throw new RangeError(`RefusalDetector: headChars must be an integer in [16, ${MAX_HEAD_CHARS}], got ${headChars}`);
    if (!Number.isInteger(sentences) || sentences < 1) throw new RangeError(`RefusalDetector: sentences must be an integer >= 1, got ${sentences}`);
    this.headChars = headChars;
    this.sentences = sentences;
    const extra = (options.extraPhrases ?? []).map((raw, i) => {
      const phrase = normalise(raw);
      if (phrase.length === 0) throw new RangeError(`RefusalDetector: extraPhrases[${i}] is empty; remove it or give a phrase`);
      // Word boundaries only beside word characters: a phrase may end in punctuation.
      return `${/^\w/.test(phrase) ? '\\b' : ''}${escape(phrase)}${/\w$/.test(phrase) ? '\\b' : ''}`;
    });
    this.#pattern = new RegExp([...REFUSAL_PATTERNS, ...extra].map((p) => `(?:${p})`).join('|'));
  }

  /** The part of `text` the detector reads: its first sentences, within `headChars`, normalised. */
  head(text: string): string {
    return unquoted(firstSentences(normalise(text.length > this.headChars ? text.slice(0, this.headChars) : text), this.sentences));
  }

  /** True when the answer's first sentences read as a refusal. */
  isRefusal(text: string): boolean {
    if (text.length === 0) return false;
    return this.#pattern.test(this.head(text));
  }
}
