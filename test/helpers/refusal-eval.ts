import { readFileSync } from 'node:fs';
import { RefusalDetector } from '../../src/gateway/behaviour/refusal-detector.ts';

export interface LabelledAnswer {
  readonly text: string;
  readonly refusal: boolean;
  readonly kind: string;
}

/** The labelled sets: `tuning` (test/fixtures/refusals.json, the patterns were written against it) and `holdout` (refusals-holdout.json, never used to tune them). */
export type LabelledSet = 'tuning' | 'holdout';

const FILES: Record<LabelledSet, string> = { tuning: '../fixtures/refusals.json', holdout: '../fixtures/refusals-holdout.json' };

export function labelledAnswers(set: LabelledSet): LabelledAnswer[] {
  const raw = JSON.parse(readFileSync(new URL(FILES[set], import.meta.url), 'utf8')) as { answers: LabelledAnswer[] };
  return raw.answers;
}

/** Precision, recall and the errors of the default detector on a labelled set. */
export function refusalEvaluation(set: LabelledSet, detector = new RefusalDetector()) {
  const answers = labelledAnswers(set);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const missed: LabelledAnswer[] = [];
  const falseAlarms: LabelledAnswer[] = [];
  const byKind: Record<string, { total: number; labelled: number; detected: number; correct: number }> = {};
  for (const a of answers) {
    const said = detector.isRefusal(a.text);
    const k = (byKind[a.kind] ??= { total: 0, labelled: 0, detected: 0, correct: 0 });
    k.total++;
    if (a.refusal) k.labelled++;
    if (said) k.detected++;
    if (said === a.refusal) k.correct++;
    if (said && a.refusal) tp++;
    else if (said) {
      fp++;
      falseAlarms.push(a);
    } else if (a.refusal) {
      fn++;
      missed.push(a);
    }
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    figures: {
      answers: answers.length,
      refusals: answers.filter((a) => a.refusal).length,
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      precision: round(tp / (tp + fp)),
      recall: round(tp / (tp + fn)),
    },
    byKind,
    missed,
    falseAlarms,
  };
}
