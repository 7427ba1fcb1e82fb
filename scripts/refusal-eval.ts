/**
 * The refusal detector's precision and recall on the checked-in labelled set
 * (test/fixtures/refusals.json, which the patterns were written against, and
 * refusals-holdout.json, which they never were), overall and by kind, with every miss and
 * false alarm: `npm run eval:refusals` (`-- --json` for the figures alone).
 * docs/drift.md quotes its output; test/refusal-detector.test.ts fails when
 * they differ.
 */
import { refusalEvaluation } from '../test/helpers/refusal-eval.ts';

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ tuning: refusalEvaluation('tuning').figures, holdout: refusalEvaluation('holdout').figures }, null, 2)}\n`);
} else {
  for (const set of ['tuning', 'holdout'] as const) report(set);
}

function report(set: 'tuning' | 'holdout'): void {
  const e = refusalEvaluation(set);
  process.stdout.write(`== ${set} set ==\n`);
  const f = e.figures;
  process.stdout.write(`answers ${f.answers} (refusals ${f.refusals})\n`);
  process.stdout.write(`true positives ${f.truePositives}, false positives ${f.falsePositives}, false negatives ${f.falseNegatives}\n`);
  process.stdout.write(`precision ${f.precision.toFixed(3)}, recall ${f.recall.toFixed(3)}\n\n`);
  process.stdout.write('by kind (labelled refusal / detected):\n');
  for (const [kind, k] of Object.entries(e.byKind)) process.stdout.write(`  ${kind.padEnd(16)} ${k.labelled}/${k.total} labelled refusals, ${k.detected} detected, ${k.correct} correct\n`);
  process.stdout.write('\nmissed refusals:\n');
  for (const m of e.missed) process.stdout.write(`  [${m.kind}] ${m.text}\n`);
  process.stdout.write('\nfalse alarms:\n');
  for (const m of e.falseAlarms) process.stdout.write(`  [${m.kind}] ${m.text}\n`);
  process.stdout.write('\n');
}
