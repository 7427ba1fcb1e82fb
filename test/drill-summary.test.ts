import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS, answerSeconds, drillBounds, exitCodeOf, formatResults, gaugeResolveBound, scaleInBounds, summarise } from '../src/stack/drill.ts';
import { durationMs } from '../src/core/config/duration.ts';
import { compressedTimings, localPlaybooks, localTimings } from '../src/stack/timings.ts';
import type { DrillResult } from '../src/stack/drill.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { evaluationsToAlert } from '../src/monitoring/model.ts';
import type { StackInfo } from '../src/stack/stack-info.ts';

const base = { alert: 'A', fireBound: 10, actionBound: 20, resolveBound: 30, problems: [] as string[] };
const passed: DrillResult = { ...base, scenario: 'latency', fire: 5, resolve: 9, ok: true };
const failed: DrillResult = { ...base, scenario: 'errors', ok: false, problems: ['never fired'] };
// A skipped drill carries ok: true (nothing failed) but proved nothing.
const skipped: DrillResult = { ...base, scenario: 'gpu', skipped: 'no GPU exporter in this stack', ok: true };

test('a skipped drill is counted apart from the passed ones', () => {
  assert.equal(summarise([passed, skipped]), '1 passed, 0 failed, 1 skipped (not proven)');
  assert.equal(summarise([passed, failed, skipped, skipped]), '1 passed, 1 failed, 2 skipped (not proven)');
  assert.equal(summarise([passed, passed]), '2 passed, 0 failed');
});

test('the exit code never reads a skipped drill as a pass: 0 all passed, 2 some skipped, 1 any failed', () => {
  assert.equal(exitCodeOf([passed, passed]), 0);
  assert.equal(exitCodeOf([passed, skipped]), 2);
  assert.equal(exitCodeOf([skipped]), 2);
  assert.equal(exitCodeOf([passed, skipped, failed]), 1);
});

test('the drill table ends with the counts and names why a drill was skipped', () => {
  const out = formatResults([passed, failed, skipped]);
  assert.match(out, /^gpu .*skipped: no GPU exporter in this stack$/m);
  assert.match(out, /^errors .*FAILED: never fired$/m);
  assert.match(out, /\n\n1 passed, 1 failed, 1 skipped \(not proven\)$/);
  // Bounds to the tenth, as the times: a whole second read "2.1 s (<= 2 s) ok" for a bound of 2.3 s.
  const tight = formatResults([{ ...passed, resolve: 2.1, resolveBound: 2.26, actionBound: 20.04 }]);
  assert.match(tight, /^latency .*5\.0 s \(<= 10\.0 s\)  -  \(<= 20\.0 s\)\s+2\.1 s \(<= 2\.3 s\)\s+ok$/m);
});

test('drill bounds are the sum of named terms from the timings, the fault and the measured poll, nothing added by hand', () => {
  const t = localTimings(); // scrape and evaluation 2 s, `for` 10 s, window 30 s, group_wait 2 s, group_interval 5 s
  // The latency fault: 2.5 s to the first token, 16 tokens at 20 ms, no jitter.
  const answer = answerSeconds({ ttftMs: 2500, tpotMs: 20, jitter: 0, outputTokens: { max: 64 } });
  assert.equal(answer, 2.82);
  // Fewer tokens than the drill asks for: the profile's maximum counts; jitter stretches it.
  assert.equal(answerSeconds({ ttftMs: 100, tpotMs: 50, jitter: 0.5, outputTokens: { max: 4 } }), 0.45);
  const poll = 0.4;
  const b = drillBounds(t, {}, answer, poll);
  // fire: for 10 + 2 scrapes 4 + 3 evaluations 6 + the answer + a poll.
  assert.equal(b.fireBound, 10 + 4 + 6 + answer + poll);
  // action: fire, less the poll (the action's time is its audit row's), + one evaluation + the longer of group_wait and group_interval.
  assert.equal(b.actionBound, 10 + 4 + 6 + answer + 2 + 5);
  // resolve: the rate window + the same pipeline + the answers in flight + a poll.
  assert.equal(b.resolveBound, 30 + 4 + 6 + answer + poll);
  // An alert that waits for good traffic to leave its window: a window more to fire.
  assert.equal(drillBounds(t, { waitsForWindow: true }, answer, poll).fireBound, b.fireBound + 30);
  // The firing evaluation seen later than a poll after its own timestamp (measured from its ALERTS sample:
  // Prometheus ran it late): that in place of the poll, and the action runs from there.
  const late = drillBounds(t, {}, answer, poll, undefined, 0, 1.7);
  assert.equal(late.fireBound, 10 + 4 + 6 + answer + 1.7);
  assert.ok(Math.abs(late.actionBound - (10 + 4 + 6 + answer + 1.7 + 2 + 5)) < 1e-9, String(late.actionBound));
  assert.equal(late.resolveBound, b.resolveBound);
  // Seen within a poll: the poll stays in the fire bound, and the action bound grows by what was seen.
  const early = drillBounds(t, {}, answer, poll, undefined, 0, 0.1);
  assert.equal(early.fireBound, b.fireBound);
  assert.ok(Math.abs(early.actionBound - (b.actionBound + 0.1)) < 1e-9, String(early.actionBound));
  // The CI's compressed timings scale every term.
  const c = drillBounds(compressedTimings(), {}, 0, 0.25);
  assert.equal(c.fireBound, 2 + 2 + 3 + 0.25);
});

test('the drift drill: its own window adds to firing, and resolving waits for it instead of the rate window', () => {
  const t = localTimings();
  const s = { timings: t, spec: { drift: { window: '1m' } } } as unknown as StackInfo;
  const drift = SCENARIOS.find((x) => x.name === 'drift')!;
  const plain = drillBounds(t, {}, 1, 0.25);
  const b = drillBounds(t, drift, 1, 0.25, s);
  assert.equal(b.fireBound, plain.fireBound + 60);
  assert.equal(b.resolveBound, plain.resolveBound - 30 + 60);
  // Its traffic sets no max_tokens: an answer may run to the profile's longest.
  assert.equal(answerSeconds({ ttftMs: 0, tpotMs: 10, jitter: 0, outputTokens: { max: 64 } }, null), 0.64);
});

test('the scale drill: right after queue in drill all, its bounds from the alert window, for and the stack timings', () => {
  const names = SCENARIOS.map((s) => s.name);
  assert.equal(names.indexOf('scale'), names.indexOf('queue') + 1);
  const t = localTimings(); // evaluation 2 s, scrape 2 s, group_wait 2 s, group_interval 5 s
  assert.deepEqual(t.alerts.SpareReplicas, { for: '10s', window: '30s', threshold: 4 });
  const b = scaleInBounds(t, { window: '30s', for: '10s' }, 0.3, 0.01, 0.05);
  // fire: the window + the evaluation that first sees it clear + for + the group's evaluation + a poll.
  assert.equal(b.fireBound, 30 + 2 + 10 + 0.05 + 0.3);
  // action: fire less the poll + one evaluation + the longer of group_wait and group_interval.
  assert.equal(b.actionBound, 30 + 2 + 10 + 0.05 + 2 + 5);
  // resolve: a scrape + its duration + an evaluation + the group's evaluation + a poll.
  assert.equal(b.resolveBound, 2 + 0.01 + 2 + 0.05 + 0.3);
  // A step's own firing evaluation measured: on Prometheus' clock the window, an evaluation, for and one
  // evaluation per iteration it skipped; then how long after that evaluation's timestamp the drill saw it
  // (in place of the group's evaluation and a poll); the action from there.
  const o = scaleInBounds(t, { window: '30s', for: '10s' }, 0.3, 0.01, 0.05, { seen: 1.4, missed: 1 });
  assert.equal(o.fireBound, 30 + 2 + 10 + 2 + 1.4);
  assert.equal(o.actionBound, 30 + 2 + 10 + 2 + 1.4 + 2 + 5);
  assert.equal(o.resolveBound, b.resolveBound);
  // A resolution measured: the gateway first scraped 1.6 s after the step (a scrape interval still
  // covers it), the resolving evaluation seen 0.9 s after its timestamp (longer than the group's
  // evaluation and a poll: Prometheus ran it late); then a scrape 3.1 s after (Prometheus scraped late).
  assert.equal(gaugeResolveBound(t, 0.01, 0.05, 0.3, { scrapeAfter: 1.6, seen: 0.9 }), 2 + 0.01 + 2 + 0.9);
  assert.equal(gaugeResolveBound(t, 0.01, 0.05, 0.3, { scrapeAfter: 3.1, seen: 0.1 }), 3.1 + 0.01 + 2 + 0.05 + 0.3);
  assert.equal(gaugeResolveBound(t, 0.01, 0.05, 0.3), b.resolveBound);
  // `for` counts whole evaluations: 3 s at 2 s evaluations fires at the second, 4 s after the first.
  assert.equal(scaleInBounds(t, { window: '30s', for: '3s' }, 0.3, 0, 0.05).fireBound, 30 + 2 + 4 + 0.05 + 0.3);
});

test("the local scale-in's cooldown: longer than the scale-out's, shorter than its alert's window and for (or each next step would be held)", () => {
  for (const t of [localTimings(), compressedTimings()]) {
    const books = localPlaybooks(t) as Record<string, { cooldown: string; steps: Array<{ action: string; params: Record<string, unknown> }> }>;
    const spare = t.alerts.SpareReplicas as { window: string; for: string };
    const cooldown = durationMs(books.SpareReplicas!.cooldown);
    assert.ok(cooldown > durationMs(books.QueueBacklog!.cooldown), `${books.SpareReplicas!.cooldown} vs ${books.QueueBacklog!.cooldown}`);
    assert.ok(cooldown < durationMs(spare.window) + durationMs(spare.for));
    assert.deepEqual(books.SpareReplicas!.steps[0]!.params, { deployment: 'openllm', namespace: 'default', direction: 'in', step: 1, min: 1, max: 3 });
  }
});

test('evaluations from a sample to an alert: one, and one more per recording rule on the way that is not fresh in the same evaluation', () => {
  const rec = (record: string, expr: string) => ({ record, expr });
  const alert = (name: string, expr: string) => ({ alert: name, expr, for: '0s', labels: {}, annotations: {} });
  const groups = [
    { name: 'rec', file: 'rec', rules: [rec('a:x:sum', 'sum(x)'), rec('a:x:ratio', 'a:x:sum / 2'), rec('a:late', 'a:later'), rec('a:later', 'sum(y)')] },
    {
      name: 'alerts',
      file: 'alerts',
      rules: [
        alert('Raw', 'x > 1'),
        alert('OneHop', 'a:x:sum > 1'),
        // a:x:ratio reads a:x:sum earlier in its own group: fresh in the same evaluation, no extra hop.
        alert('Fresh', 'a:x:ratio > 1'),
        // a:late reads a:later, later in its group: one evaluation behind it.
        alert('Behind', 'a:late > 1'),
        // A recorded name inside a string literal is not read.
        alert('Literal', 'x{job="a:x:sum"} > 1'),
        rec('b:own', 'sum(z)'),
        alert('SameGroupAfter', 'b:own > 1'),
      ],
    },
  ];
  assert.deepEqual(
    ['Raw', 'OneHop', 'Fresh', 'Behind', 'Literal', 'SameGroupAfter', 'Missing'].map((a) => evaluationsToAlert(groups, a)),
    [1, 2, 2, 3, 1, 1, 0],
  );
  // The generated rules: QueueBacklog reads the recorded queue sum (another group); SpareReplicas reads raw series.
  const model = buildModel(monitoringSpec({}));
  assert.equal(evaluationsToAlert(model.groups, 'QueueBacklog'), 2);
  assert.equal(evaluationsToAlert(model.groups, 'SpareReplicas'), 1);
  // Each more evaluation adds an interval and the group's longest evaluation to the gauge's resolve bound.
  const t = localTimings();
  assert.equal(gaugeResolveBound(t, 0.01, 0.05, 0.3, {}, 2), gaugeResolveBound(t, 0.01, 0.05, 0.3) + 2 + 0.05);
});
