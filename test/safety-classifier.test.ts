import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassifierScorer, classifierFailureReason, moderationScore } from '../src/gateway/safety/classifier-scorer.ts';
import { SampledClassifier } from '../src/gateway/safety/sampled-classifier.ts';
import type { ClassifierFailure } from '../src/gateway/safety/sampled-classifier.ts';
import { SAFETY_ERR_CLASSIFIER } from '../src/gateway/safety/errors.ts';
import { hasCode } from '../src/core/errors.ts';
import { freePort } from './helpers/processes.ts';
import { startModerationStandIn } from './fixtures/moderation-classifier.ts';
import type { ModerationStandIn } from './fixtures/moderation-classifier.ts';

// Every test ends on its own; the limit only turns a regression into a failure instead of a hang.
const LIMIT = { timeout: 10_000 };

async function setup(t: { after(fn: () => Promise<void>): void }, options: { timeoutMs?: number; apiKey?: string; model?: string } = {}) {
  const standIn = await startModerationStandIn();
  const scorer = new ClassifierScorer({ baseURL: standIn.baseURL, ...options });
  t.after(async () => {
    await scorer.close();
    await standIn.close();
  });
  return { standIn, scorer };
}

/** An llmwatch SAFETY_ERR_CLASSIFIER that carries its cause. */
const isClassifierError = (err: unknown) => hasCode(err, SAFETY_ERR_CLASSIFIER) && err.cause !== undefined;

test('scores an output with the moderation endpoint', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t, { apiKey: 'sk-test', model: 'llama-guard-3' });
  assert.equal(scorer.kind, 'classifier');
  assert.equal(await scorer.score('I hate this model'), 0.9);
  assert.equal(await scorer.score('a helpful answer'), 0.01);
  assert.equal(standIn.requests(), 2);
  assert.deepEqual(standIn.bodies()[0], { input: 'I hate this model', model: 'llama-guard-3' });
  assert.equal(standIn.lastAuthorization(), 'Bearer sk-test');
});

test('leaves model and authorization out when not configured', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t);
  await scorer.score('x');
  assert.deepEqual(standIn.bodies()[0], { input: 'x' });
  assert.equal(standIn.lastAuthorization(), undefined);
});

test('an HTTP 500 rejects with SAFETY_ERR_CLASSIFIER', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t);
  standIn.mode = 'http-500';
  await assert.rejects(scorer.score('x'), (err: unknown) => {
    assert.ok(hasCode(err, SAFETY_ERR_CLASSIFIER));
    assert.match(err.message, /HTTP 500/);
    assert.equal(classifierFailureReason(err), 'error');
    return true;
  });
});

test('a classifier that never answers rejects with SAFETY_ERR_CLASSIFIER once timeoutMs passes', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t, { timeoutMs: 200 });
  standIn.mode = 'hang';
  await assert.rejects(scorer.score('x'), (err: unknown) => {
    assert.ok(isClassifierError(err));
    assert.equal(classifierFailureReason(err), 'timeout');
    return true;
  });
  // The pool is still usable after a timed-out request.
  standIn.mode = 'ok';
  assert.equal(await scorer.score('hate'), 0.9);
});

test('a refused connection rejects with SAFETY_ERR_CLASSIFIER and the socket error as cause', LIMIT, async (t) => {
  const scorer = new ClassifierScorer({ baseURL: `http://127.0.0.1:${await freePort()}/v1` });
  t.after(() => scorer.close());
  await assert.rejects(scorer.score('x'), (err: unknown) => {
    assert.ok(isClassifierError(err));
    assert.equal(classifierFailureReason(err), 'error');
    return true;
  });
});

test('the score of a moderation answer', () => {
  const answer = (result: object) => ({ results: [result] });
  assert.equal(moderationScore(answer({ flagged: false, category_scores: { a: 0.2, b: 0.7, c: 0.1 } })), 0.7);
  assert.equal(moderationScore(answer({ flagged: true })), 1);
  assert.equal(moderationScore(answer({ flagged: true, category_scores: {} })), 1);
  assert.equal(moderationScore(answer({ flagged: false })), 0);
  assert.equal(moderationScore(answer({ category_scores: { a: 1.5 } })), 1, 'clamped to 1');
  for (const bad of [null, {}, { results: [] }, { results: 'x' }, answer({ category_scores: { a: 'high' } })]) {
    assert.throws(() => moderationScore(bad), (err: unknown) => hasCode(err, SAFETY_ERR_CLASSIFIER), JSON.stringify(bad));
  }
});

/** A random source that plays back `values`, for the sampling draw. */
const playback = (values: number[]) => () => {
  const v = values.shift();
  assert.ok(v !== undefined, 'random() called more often than expected');
  return v;
};

test('SampledClassifier sends the sampled share and reports scores', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t);
  const sampled = new SampledClassifier(scorer, { sampleRate: 0.1, random: playback([0.05, 0.5, 0.0999, 0.1, 0.99]) });
  const scores: number[] = [];
  const outcomes = ['hate a', 'b', 'c', 'd', 'e'].map((text) => sampled.submit(text, (s) => scores.push(s)));
  assert.deepEqual(outcomes, ['sent', 'sampled-out', 'sent', 'sampled-out', 'sampled-out']);
  await sampled.drain();
  assert.deepEqual(scores.sort(), [0.01, 0.9]);
  assert.deepEqual(
    { submitted: sampled.submitted, sampledOut: sampled.sampledOut, dropped: sampled.dropped, failed: sampled.failed, scored: sampled.scored },
    { submitted: 5, sampledOut: 3, dropped: 0, failed: 0, scored: 2 },
  );
  assert.equal(standIn.requests(), 2);
});

test('SampledClassifier at sampleRate 0 sends nothing', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t);
  const sampled = new SampledClassifier(scorer, { sampleRate: 0 });
  for (let i = 0; i < 10; i++) assert.equal(sampled.submit('x', () => assert.fail('no score expected')), 'sampled-out');
  await sampled.drain();
  assert.equal(sampled.sampledOut, 10);
  assert.equal(standIn.requests(), 0);
});

test('SampledClassifier drops what is over maxInFlight instead of queueing it', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t);
  standIn.mode = 'hold';
  const failures: ClassifierFailure[] = [];
  const sampled = new SampledClassifier(scorer, { maxInFlight: 2, onFailure: (reason) => failures.push(reason) });
  const scores: number[] = [];
  const outcomes = ['a', 'b', 'c', 'd', 'e'].map((text) => sampled.submit(text, (s) => scores.push(s)));
  assert.deepEqual(outcomes, ['sent', 'sent', 'dropped', 'dropped', 'dropped']);
  assert.equal(sampled.inFlight, 2);
  assert.equal(sampled.dropped, 3);
  assert.deepEqual(failures, ['dropped', 'dropped', 'dropped']);
  standIn.release();
  await sampled.drain();
  assert.equal(sampled.inFlight, 0);
  assert.equal(sampled.scored, 2);
  assert.deepEqual(scores, [0.01, 0.01]);
  assert.equal(standIn.requests(), 2);
  // Room again once the first two are done.
  assert.equal(sampled.submit('f', (s) => scores.push(s)), 'sent');
  await sampled.drain();
  assert.equal(sampled.scored, 3);
});

test('SampledClassifier counts failures and tells why', LIMIT, async (t) => {
  const { standIn, scorer } = await setup(t, { timeoutMs: 200 });
  const failures: Array<[ClassifierFailure, boolean]> = [];
  const sampled = new SampledClassifier(scorer, { onFailure: (reason, err) => failures.push([reason, hasCode(err, SAFETY_ERR_CLASSIFIER)]) });
  standIn.mode = 'http-500';
  sampled.submit('a', () => assert.fail('no score expected'));
  await sampled.drain();
  standIn.mode = 'hang';
  sampled.submit('b', () => assert.fail('no score expected'));
  await sampled.drain();
  assert.equal(sampled.failed, 2);
  assert.equal(sampled.scored, 0);
  assert.deepEqual(failures, [
    ['error', true],
    ['timeout', true],
  ]);
});

test('drain waits for submissions made while draining, and resolves at once when idle', LIMIT, async (t) => {
  const { scorer } = await setup(t);
  const sampled = new SampledClassifier(scorer);
  await sampled.drain();
  let scored = 0;
  sampled.submit('a', () => {
    scored++;
    sampled.submit('b', () => scored++);
  });
  await sampled.drain();
  assert.equal(scored, 2);
});

test('a throwing score callback is not an unhandled rejection', LIMIT, async (t) => {
  const { scorer } = await setup(t);
  // The gateway's logger warns once, one JSON line on stderr.
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  t.after(() => void (process.stderr.write = write));
  const sampled = new SampledClassifier(scorer);
  sampled.submit('a', () => {
    throw new Error('metric exploded');
  });
  await sampled.drain();
  process.stderr.write = write;
  assert.equal(sampled.scored, 1);
  const warnings = lines.map((l) => JSON.parse(l) as { level: string; part: string; err: string });
  assert.ok(warnings.some((w) => w.level === 'warn' && w.part === 'gateway' && w.err.includes('metric exploded')), lines.join(''));
});

test('close drains, then closes the scorer', LIMIT, async (t) => {
  const standIn = await startModerationStandIn();
  t.after(() => standIn.close());
  const sampled = new SampledClassifier(new ClassifierScorer({ baseURL: standIn.baseURL }));
  let score: number | undefined;
  sampled.submit('hate', (s) => (score = s));
  await sampled.close();
  assert.equal(score, 0.9);
});

test('bad options are refused at construction', () => {
  const scorer = new ClassifierScorer({ baseURL: 'http://127.0.0.1:1/v1' });
  assert.throws(() => new SampledClassifier(scorer, { sampleRate: 1.5 }), /sampleRate/);
  assert.throws(() => new SampledClassifier(scorer, { maxInFlight: 0 }), /maxInFlight/);
  assert.throws(() => new ClassifierScorer({ baseURL: 'http://127.0.0.1:1/v1', timeoutMs: 0 }), /timeoutMs/);
  assert.throws(() => new ClassifierScorer({ baseURL: 'not a url' }));
  return scorer.close();
});
