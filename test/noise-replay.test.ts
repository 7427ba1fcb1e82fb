import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { renderAlertmanager } from '../src/monitoring/writers/alertmanager.ts';
import { intervalContains, matchRoutes, parseMatcher, readAlertmanagerConfig } from '../src/stack/noise-alertmanager.ts';
import type { AlertHistory, AlertSeries } from '../src/stack/noise-history.ts';
import { analyseNoise, criticalReceivers, renderNoiseTable } from '../src/stack/noise.ts';
import { hasCode } from '../src/core/errors.ts';
import { STACK_ERR_NOISE_INPUT } from '../src/stack/errors.ts';

// The replay of `llmwatch noise` on hand-made histories: every figure counted as docs/noise.md
// says, against configs generated from specs. The same analysis on a real Prometheus's history:
// test/noise-prometheus.test.ts.

const STEP = 15_000;
/** Tuesday 2026-12-01 00:00 UTC. */
const T0 = Date.UTC(2026, 11, 1);
const MIN = 60_000;

function viewOf(specData: Record<string, unknown>) {
  return readAlertmanagerConfig(renderAlertmanager(buildModel(monitoringSpec(specData)))[0]!.content, 'test');
}

/** A series firing over [fromMin, toMin) minutes after T0, one sample per step, for each range. */
function series(labels: Record<string, string>, ...ranges: Array<[number, number]>): AlertSeries {
  const times: number[] = [];
  for (const [from, to] of ranges) for (let t = T0 + from * MIN; t < T0 + to * MIN; t += STEP) times.push(t);
  return { labels, times };
}

function history(list: AlertSeries[], minutes = 24 * 60): AlertHistory {
  return { startMs: T0, endMs: T0 + minutes * MIN, stepMs: STEP, series: list };
}

const PAGER_SPEC = { alertmanager: { receivers: { oncall: { webhook: [{ url: 'http://127.0.0.1:1/' }] } }, routes: { critical: ['oncall'] } } };
const crit = (alertname: string, model: string, extra: Record<string, string> = {}) => ({ alertname, model, severity: 'critical', service: 'openllm', ...extra });

test('fired, firing time and flaps: a resolve and re-fire within the window flaps, one after it does not', () => {
  const view = viewOf(PAGER_SPEC);
  const h = history([series(crit('HighErrorRate', 'm'), [0, 5], [12, 14], [40, 41])]);
  const at = (flapMinutes: number) => analyseNoise(h, view, { flapWindowMs: flapMinutes * MIN, pagers: new Set(['oncall']) }).alerts[0]!;
  const r = at(10);
  assert.equal(r.fired, 3);
  assert.equal(r.firingSeconds, 8 * 60);
  // Resolved at 5, fired again at 12 (7 min later): a flap within 10m; at 40 (26 min after 14): not.
  assert.equal(r.flaps, 1);
  assert.equal(at(5).flaps, 0);
  assert.equal(at(30).flaps, 2);
  // Each episode opens its own notification: three pages in one day.
  assert.equal(r.pages, 3);
  assert.equal(r.pagesPerDay, 3);
});

test('default pagers are the receivers a critical alert reaches that notify someone; warnings never page', () => {
  assert.deepEqual(criticalReceivers(viewOf(PAGER_SPEC)), ['oncall', 'llmwatch-responder']);
  assert.deepEqual(criticalReceivers(viewOf({})), ['llmwatch-responder']);
  const view = viewOf(PAGER_SPEC);
  const h = history([series({ ...crit('HighInferenceLatency', 'm'), severity: 'warning' }, [0, 10]), series(crit('HighErrorRate', 'm'), [0, 10])]);
  const r = analyseNoise(h, view, { flapWindowMs: 10 * MIN, pagers: new Set(criticalReceivers(view)) });
  // One incident although two pager receivers (oncall, the responder) were notified.
  assert.equal(r.alerts.find((a) => a.alertname === 'HighErrorRate')!.pages, 1);
  assert.equal(r.alerts.find((a) => a.alertname === 'HighInferenceLatency')!.pages, 0);
  assert.equal(r.totals.pages, 1);
});

test('the cause inhibitions: an outage pages once with them, three times without', () => {
  const outage = history([
    series({ ...crit('ModelServerUnreachable', 'm'), upstream: 'vllm' }, [0, 10]),
    series(crit('HighErrorRate', 'm'), [0, 10]),
    series(crit('ModelUnavailable', 'm'), [1, 10]),
    series({ ...crit('HighInferenceLatency', 'm'), severity: 'warning' }, [2, 9]),
  ]);
  const options = { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) };
  const withRules = analyseNoise(outage, viewOf(PAGER_SPEC), options);
  assert.equal(withRules.totals.pages, 1);
  assert.equal(withRules.totals.inhibited, 3);
  assert.equal(withRules.alerts[0]!.alertname, 'ModelServerUnreachable');
  // The same history through the config without the cause rules (the three it had before).
  const yaml = renderAlertmanager(buildModel(monitoringSpec(PAGER_SPEC)))[0]!.content;
  const before = readAlertmanagerConfig(yaml.replace(/  - source_matchers:\n      - alertname="Model[\s\S]*?(?=receivers:)/, ''), 'without');
  assert.equal(before.inhibitRules.length, 3);
  const without = analyseNoise(outage, before, options);
  assert.equal(without.totals.pages, 3);
  assert.equal(without.totals.inhibited, 0);
});

test('an alert inhibited only at first notifies when its cause resolves', () => {
  const h = history([series({ ...crit('ModelServerUnreachable', 'm'), upstream: 'vllm' }, [0, 5]), series(crit('HighErrorRate', 'm'), [0, 10])]);
  const r = analyseNoise(h, viewOf(PAGER_SPEC), { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) });
  const errors = r.alerts.find((a) => a.alertname === 'HighErrorRate')!;
  assert.equal(errors.inhibited, 0);
  assert.equal(errors.pages, 1);
});

test('groupBy model: alerts of one model that fire together are one page, the others grouped', () => {
  const h = history([series(crit('HighErrorRate', 'n'), [0, 5]), series(crit('HighTimeToFirstToken', 'n'), [0, 5]), series(crit('HighTimeToFirstToken', 'o'), [0, 5])]);
  const options = { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) };
  assert.equal(analyseNoise(h, viewOf(PAGER_SPEC), options).totals.pages, 3);
  const perModel = analyseNoise(h, viewOf({ alertmanager: { ...PAGER_SPEC.alertmanager, groupBy: 'model' } }), options);
  assert.equal(perModel.totals.pages, 2);
  // Owed to the alert first by start, then by name.
  assert.equal(perModel.alerts.find((a) => a.alertname === 'HighErrorRate')!.pages, 1);
  assert.equal(perModel.alerts.find((a) => a.alertname === 'HighTimeToFirstToken')!.grouped, 1);
  assert.equal(perModel.totals.grouped, 1);
  // A gap closes the group: the same pair an hour later pages again.
  const again = history([series(crit('HighErrorRate', 'n'), [0, 5], [60, 61]), series(crit('HighTimeToFirstToken', 'n'), [0, 5], [60, 61])]);
  assert.equal(analyseNoise(again, viewOf({ alertmanager: { ...PAGER_SPEC.alertmanager, groupBy: 'model' } }), options).totals.pages, 2);
});

test('maintenance windows mute pages while open, in their time zone', () => {
  const spec = {
    alertmanager: {
      ...PAGER_SPEC.alertmanager,
      // Tuesdays 01:00-02:00 in Berlin: 00:00-01:00 UTC in December (CET, UTC+1).
      maintenance: { deploy: [{ weekdays: ['tuesday'], times: [{ start: '01:00', end: '02:00' }], location: 'Europe/Berlin' }] },
    },
  };
  const h = history([series(crit('HighErrorRate', 'm'), [10, 20], [70, 80])]);
  const r = analyseNoise(h, viewOf(spec), { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) });
  const a = r.alerts[0]!;
  assert.equal(a.fired, 2);
  assert.equal(a.muted, 1);
  assert.equal(a.pages, 1);
  // An alert firing into the end of the window notifies when it closes.
  const across = analyseNoise(history([series(crit('HighErrorRate', 'm'), [50, 70])]), viewOf(spec), { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) });
  assert.equal(across.alerts[0]!.muted, 0);
  assert.equal(across.alerts[0]!.pages, 1);
  // The Watchdog is never muted, and never pages (info).
  const dog = analyseNoise(history([series({ alertname: 'Watchdog', severity: 'info', service: 'openllm' }, [0, 60])]), viewOf(spec), { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) });
  assert.deepEqual([dog.alerts[0]!.muted, dog.alerts[0]!.pages], [0, 0]);
});

test('time intervals: ranges, negative days of the month, months by name and number, years', () => {
  const view = viewOf({
    alertmanager: { maintenance: { eom: [{ daysOfMonth: ['-1'], months: ['december'] }], q1: [{ months: ['1:3'], years: ['2027'] }], wk: [{ weekdays: ['monday:friday'] }] } },
  });
  const at = (name: string, iso: string) => view.timeIntervals.get(name)!.some((i) => intervalContains(i, Date.parse(iso) / 1000));
  assert.equal(at('eom', '2026-12-31T12:00:00Z'), true);
  assert.equal(at('eom', '2026-12-30T12:00:00Z'), false);
  assert.equal(at('eom', '2026-11-30T12:00:00Z'), false);
  assert.equal(at('q1', '2027-02-15T00:00:00Z'), true);
  assert.equal(at('q1', '2026-02-15T00:00:00Z'), false);
  assert.equal(at('q1', '2027-04-01T00:00:00Z'), false);
  assert.equal(at('wk', '2026-12-04T08:00:00Z'), true, 'a Friday');
  assert.equal(at('wk', '2026-12-05T08:00:00Z'), false, 'a Saturday');
  assert.equal(at('wk', '2026-12-07T08:00:00Z'), true, 'a Monday');
});

test('matchers and routing as Alertmanager reads them', () => {
  assert.equal(parseMatcher('severity=~"critical|warning"').test({ severity: 'warning' }), true);
  assert.equal(parseMatcher('severity=~"critical|warning"').test({ severity: 'critical2' }), false, 'regexes are anchored');
  assert.equal(parseMatcher('alertname!="Watchdog"').test({}), true, 'a missing label is the empty string');
  assert.equal(parseMatcher('job=node').test({ job: 'node' }), true);
  const view = viewOf(PAGER_SPEC);
  assert.deepEqual(matchRoutes(view.route, { alertname: 'X', severity: 'critical' }).map((r) => r.receiver), ['oncall', 'llmwatch-responder']);
  assert.deepEqual(matchRoutes(view.route, { alertname: 'Watchdog', severity: 'critical' }).map((r) => r.receiver), ['watchdog']);
  assert.deepEqual(matchRoutes(view.route, { alertname: 'X' }).map((r) => r.receiver), ['null']);
});

test('an unreadable Alertmanager config is a STACK_ERR_NOISE_INPUT naming it', () => {
  assert.throws(
    () => readAlertmanagerConfig('route: [', 'am.yml'),
    (err) => hasCode(err, STACK_ERR_NOISE_INPUT) && /am\.yml is not an Alertmanager config/.test((err as Error).message),
  );
  assert.throws(() => readAlertmanagerConfig('global: {}', 'am.yml'), /no route/);
});

test('the table: loudest first, a totals line, and what a page is', () => {
  const h = history([series(crit('HighErrorRate', 'm'), [0, 5], [7, 9]), series({ ...crit('QueueBacklog', 'm'), severity: 'warning' }, [0, 1])]);
  const text = renderNoiseTable(analyseNoise(h, viewOf(PAGER_SPEC), { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) }, new Map([['HighErrorRate', { success: 2, failure: 1, dryRun: 0, skipped: 4, other: 0 }]])));
  const lines = text.split('\n');
  assert.match(lines[0]!, /^alert noise 2026-12-01T00:00:00\.000Z \.\. 2026-12-02T00:00:00\.000Z \(1 days, step 15s, flap window 10m\)$/);
  assert.equal(lines[1], 'pages: notification groups opened on oncall');
  assert.match(lines[3]!, /^alert +severity +series +fired +firing +flaps +inhibited +muted +grouped +pages +pages\/day +actions$/);
  assert.match(lines[4]!, /^HighErrorRate +critical +1 +2 +7m +1 +0 +0 +0 +2 +2 +3 \(1 failed\)$/);
  assert.match(lines[5]!, /^QueueBacklog +warning +1 +1 +60s +0 +0 +0 +0 +0 +0 +0$/);
  assert.match(lines.at(-1)!, /^total +3 +8m +1 +0 +0 +0 +2 +2 +3 \(1 failed\)$/);
});

test('group_wait: a cause that fires within it spares the page of the symptom that fired first; one that fires after does not', () => {
  const options = { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) };
  const view = viewOf(PAGER_SPEC); // group_wait 30s: two steps of 15 s
  const errors = series(crit('HighErrorRate', 'm'), [0, 10]);
  const cause = (fromMin: number) => ({ labels: { ...crit('ModelServerUnreachable', 'm'), upstream: 'vllm' }, times: series({}, [fromMin, 10]).times });
  const within = analyseNoise(history([errors, cause(0.25)]), view, options);
  assert.equal(within.alerts.find((a) => a.alertname === 'HighErrorRate')!.pages, 0);
  assert.equal(within.totals.pages, 1);
  const after = analyseNoise(history([errors, cause(1)]), view, options);
  assert.equal(after.alerts.find((a) => a.alertname === 'HighErrorRate')!.pages, 1);
  assert.equal(after.totals.pages, 2);
});

test('an alert inhibited on and off within one firing pages once: its group lives while it fires', () => {
  const flicker = series({ ...crit('ModelUnavailable', 'm') }, [2, 3], [4, 5], [6, 7]);
  const r = analyseNoise(history([series(crit('HighErrorRate', 'm'), [0, 10]), flicker]), viewOf(PAGER_SPEC), { flapWindowMs: 10 * MIN, pagers: new Set(['oncall']) });
  assert.equal(r.alerts.find((a) => a.alertname === 'HighErrorRate')!.pages, 1);
  assert.equal(r.alerts.find((a) => a.alertname === 'ModelUnavailable')!.flaps, 2);
});
