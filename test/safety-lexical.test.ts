import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegExpMatcher, englishDataset, englishRecommendedTransformers } from 'obscenity';
import { LexicalScorer, anyTermTest } from '../src/gateway/safety/lexical-scorer.ts';
import { TOXIC_LEXICON, generateTokens } from '../src/simulator/text.ts';
import { createRng } from '../src/simulator/rng.ts';

const simulator = new LexicalScorer({ extraTerms: [...TOXIC_LEXICON] });
const output = (seed: number, count: number, toxic: boolean) => generateTokens(createRng(seed), count, toxic).join('');

test('clean text scores 0', () => {
  for (let seed = 1; seed <= 20; seed++) assert.equal(simulator.score(output(seed, 200, false)), 0, `seed ${seed}`);
  assert.equal(simulator.score('The latency of the first token went up after the deploy; roll back and check the queue.'), 0);
});

test('a toxic simulator output scores 1', () => {
  for (let seed = 1; seed <= 20; seed++) {
    for (const count of [1, 2, 7, 64, 255]) assert.equal(simulator.score(output(seed, count, true)), 1, `seed ${seed}, ${count} tokens`);
  }
});

test('the score is the share of flagged words over the saturation share', () => {
  const words = Array.from({ length: 100 }, () => 'fine');
  words[40] = 'stupid';
  assert.equal(simulator.score(words.join(' ')), 0.02);
  words[41] = 'idiot';
  assert.equal(simulator.score(words.join(' ')), 0.04);
  assert.equal(new LexicalScorer({ extraTerms: ['stupid'], saturation: 1 }).score('a stupid b c'), 0.25);
  assert.equal(simulator.score('stupid stupid stupid fine'), 1);
});

test('empty text and text without words score 0', () => {
  assert.equal(simulator.score(''), 0);
  assert.equal(simulator.score(' \n\t '), 0);
  assert.equal(simulator.redact(''), '');
});

test('the same text always gets the same score', () => {
  const text = output(7, 50, true) + output(8, 50, false);
  const first = simulator.score(text);
  for (let i = 0; i < 5; i++) assert.equal(simulator.score(text), first);
});

test("obscenity's English dataset is on without extra terms", () => {
  const plain = new LexicalScorer();
  assert.equal(plain.score('what the fuck'), 1 / 3 / 0.5);
  assert.equal(plain.score('SHIT'), 1);
  assert.equal(plain.score('fuuuuck'), 1, 'repeated letters');
  assert.equal(plain.score('sh1t'), 1, 'leetspeak');
  assert.equal(plain.score('the class was an assessment of the classic scunthorpe passage'), 0, 'no false positives inside words');
});

test('extra terms match whole words, any case, with punctuation around', () => {
  assert.equal(simulator.score('IDIOT'), 1);
  assert.equal(simulator.score('"Idiot,"'), 1);
  assert.equal(simulator.score('whatever skill fooling damnation'), 0);
  assert.equal(simulator.score('ｉｄｉｏｔ'), 1, 'fullwidth look-alikes');
  assert.equal(new LexicalScorer({ extraTerms: ['butthead'] }).score('butthead'), 1, 'no collapsing of repeated letters');
});

test("regression: leetspeak read the '!' in 'idiot!' as an 'i', and the term went unflagged", () => {
  assert.equal(simulator.score('you idiot!'), 1);
  assert.equal(simulator.redact('you idiot!'), 'you *****!');
});

test('extra terms are literals: pattern syntax in them is escaped', () => {
  const scorer = new LexicalScorer({ extraTerms: ['why?', 'a[b]', 'bad word'] });
  assert.equal(scorer.redact('why? a[b] or a bad word, ok'), '**** **** or a ********, ok');
  assert.equal(scorer.score('whyx ab'), 0);
});

test('an empty extra term is refused at construction', () => {
  assert.throws(() => new LexicalScorer({ extraTerms: ['ok', '  '] }), /extraTerms\[1\]/);
  assert.throws(() => new LexicalScorer({ saturation: 0 }), /saturation/);
});

test('redact keeps the length and removes the flagged words', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const text = output(seed, 100, true);
    const redacted = simulator.redact(text);
    assert.equal(redacted.length, text.length);
    for (const word of TOXIC_LEXICON) assert.doesNotMatch(redacted, new RegExp(`\\b${word}\\b`, 'i'));
    assert.equal(simulator.score(redacted), 0);
    // Only the flagged words changed: every other word is still in place.
    const before = text.split(' ');
    const after = redacted.split(' ');
    for (let i = 0; i < before.length; i++) {
      if (!TOXIC_LEXICON.includes(before[i]!)) assert.equal(after[i], before[i]);
      else assert.equal(after[i], '*'.repeat(before[i]!.length));
    }
  }
});

test('redact covers the whole span of a stretched or overlapping match', () => {
  const plain = new LexicalScorer();
  // obscenity's asteriskCensorStrategy writes 4 stars for 'fuuuuck' (the length after transformers).
  assert.equal(plain.redact('fuuuuck you'), '******* you');
  const text = 'motherfucker 😀 shit';
  const redacted = new LexicalScorer({ extraTerms: ['motherfucker'] }).redact(text);
  assert.equal(redacted.length, text.length);
  assert.equal(redacted, '************ 😀 ****');
});

test('redact returns clean text unchanged', () => {
  const text = output(3, 100, false);
  assert.equal(simulator.redact(text), text);
});

test('score then redact of the same text, or of another, agree with a fresh scorer', () => {
  const fresh = () => new LexicalScorer({ extraTerms: [...TOXIC_LEXICON] });
  const a = output(11, 30, true);
  const b = output(12, 30, true);
  simulator.score(a);
  assert.equal(simulator.redact(a), fresh().redact(a));
  assert.equal(simulator.redact(b), fresh().redact(b));
  assert.equal(simulator.score(a), fresh().score(a));
});

test('the any-match test is true wherever getAllMatches finds a match (clean, toxic, leetspeak, look-alikes, whitelisted words)', () => {
  const dataset = new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });
  const any = anyTermTest(dataset);
  assert.ok(any !== undefined, "obscenity's matcher is built as anyTermTest expects: otherwise the scorer runs getAllMatches alone");
  const texts = [
    '',
    'The latency of the first token went up after the deploy.',
    'fuck',
    'f u c k',
    'fuuuuck this',
    'sh1t happens',
    'ｆｕｃｋ',
    'an assassin in Scunthorpe passed the class',
    'pen is mightier; penis',
    'a bitch!',
    'words\nacross\tlines fuck\n',
    '🙂 emoji then shit',
  ];
  for (let seed = 1; seed <= 40; seed++) texts.push(output(seed, 120, seed % 2 === 0));
  let matched = 0;
  let skipped = 0;
  for (const t of texts) {
    const all = dataset.getAllMatches(t);
    if (all.length > 0) matched++;
    // False skips getAllMatches: only right where it finds nothing. True where only a whitelisted word matched ('assassin') is merely the slow path.
    if (!any(t)) {
      skipped++;
      assert.deepEqual(all, [], JSON.stringify(t.slice(0, 80)));
    } else if (all.length === 0) assert.match(t, /assassin|Scunthorpe|class/, 'only whitelisted words pass the test without a match');
  }
  assert.ok(matched >= 5 && skipped >= 5, `both outcomes exercised (${matched} matched, ${skipped} skipped of ${texts.length})`);
});
