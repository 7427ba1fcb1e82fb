import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RefusalDetector } from '../src/gateway/behaviour/refusal-detector.ts';
import { labelledAnswers, refusalEvaluation } from './helpers/refusal-eval.ts';

test('refusals in the first sentences are caught; idioms, quotes and apologies followed by help are not', () => {
  const d = new RefusalDetector();
  assert.equal(d.isRefusal("I'm sorry, but I can't help with that."), true);
  assert.equal(d.isRefusal('I’m unable to provide that.'), true, 'curly apostrophe');
  assert.equal(d.isRefusal('**I cannot assist** with this request.'), true, 'Markdown emphasis');
  assert.equal(d.isRefusal("I can't help but notice the bug on line 3."), false);
  assert.equal(d.isRefusal('The knight said, "I cannot help you," and left.'), false, 'a quote is not the model refusing');
  assert.equal(d.isRefusal('Sorry for the confusion. Here is the fixed code.'), false);
  assert.equal(d.isRefusal(''), false);
});

test('only the first sentences are read: a refusal phrase in the third sentence, or past headChars, is not one', () => {
  const d = new RefusalDetector({ sentences: 2, headChars: 300 });
  assert.equal(d.isRefusal("Here is the plan. It has three steps. I can't help with the last one."), false);
  assert.equal(new RefusalDetector({ sentences: 3 }).isRefusal("Here is the plan. It has three steps. I can't help with the last one."), true);
  assert.equal(d.isRefusal(`${'word '.repeat(70)}I can't help with that.`), false);
});

test('extra phrases are matched literally, on word boundaries; bad options are refused with the option named', () => {
  const d = new RefusalDetector({ extraPhrases: ['no puedo ayudar', 'nope.'] });
  assert.equal(d.isRefusal('Lo siento, no puedo ayudar con eso.'), true);
  assert.equal(d.isRefusal('Nope. Not doing that.'), true);
  assert.equal(d.isRefusal('Nopes are fine.'), false);
  assert.throws(() => new RefusalDetector({ extraPhrases: ['  '] }), /extraPhrases\[0\]/);
  assert.throws(() => new RefusalDetector({ headChars: 5000 }), /headChars/);
  assert.throws(() => new RefusalDetector({ sentences: 0 }), /sentences/);
});

test('hostile answers cost what their head costs: a 1 MB answer, and a head built to make a regular expression backtrack, are judged by the same bounded work', () => {
  const d = new RefusalDetector();
  // Cut to headChars before anything else: the rest of the answer is never looked at.
  assert.equal(d.head(`${'a'.repeat(1024 * 1024)}`).length, 300);
  assert.equal(d.isRefusal(`i ${"can't ".repeat(200)}`), false);
  assert.equal(d.isRefusal(`${'sorry '.repeat(60)}`), false);
});

// The figures docs/drift.md quotes, recomputed: a change of the patterns or the labelled sets that
// moves them fails here until the docs say the new ones (`npm run eval:refusals`).
test("docs/drift.md quotes the detector's measured precision and recall on both labelled sets", () => {
  const docs = readFileSync(new URL('../docs/drift.md', import.meta.url), 'utf8');
  for (const set of ['tuning', 'holdout'] as const) {
    const f = refusalEvaluation(set).figures;
    const line = `| ${set} | ${f.answers} | ${f.refusals} | ${f.truePositives} | ${f.falsePositives} | ${f.falseNegatives} | ${f.precision.toFixed(3)} | ${f.recall.toFixed(3)} |`;
    assert.ok(docs.includes(line), `docs/drift.md lacks the row\n${line}`);
  }
});

test('the labelled sets are balanced enough to measure both errors, and share no answer (the holdout is held out)', () => {
  for (const set of ['tuning', 'holdout'] as const) {
    const f = refusalEvaluation(set).figures;
    assert.ok(f.refusals >= 20 && f.answers - f.refusals >= 15, `${set}: ${f.refusals} refusals of ${f.answers}`);
  }
  const texts = [...labelledAnswers('tuning'), ...labelledAnswers('holdout')].map((a) => a.text.toLowerCase());
  assert.equal(new Set(texts).size, texts.length);
});
