import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { ALERT_TABLE_BEGIN, ALERT_TABLE_END, alertTable } from '../src/monitoring/writers/alert-table.ts';

const DOC = new URL('../docs/monitoring.md', import.meta.url);

test('the per-alert table in docs/monitoring.md is what the catalog generates (npm run docs:alerts)', () => {
  const text = readFileSync(DOC, 'utf8');
  const begin = text.indexOf(ALERT_TABLE_BEGIN);
  const end = text.indexOf(ALERT_TABLE_END);
  assert.ok(begin !== -1 && end > begin, 'the markers are in docs/monitoring.md');
  const have = text.slice(begin + ALERT_TABLE_BEGIN.length, end).trim();
  assert.equal(have, alertTable(buildModel(monitoringSpec({}))), 'stale: run npm run docs:alerts');
});

test('the table reads every alert, its for and keep_firing_for from the rules, and minimum events from the definitions', () => {
  const model = buildModel(monitoringSpec({ alerts: { HighGpuTemperature: { keepFiringFor: '20m' } } }));
  const rows = alertTable(model).split('\n').slice(2);
  assert.deepEqual(
    rows.map((r) => r.split(' | ')[0]!.slice(2)),
    model.alerts.map((a) => a.name),
  );
  const row = (name: string) => rows.find((r) => r.startsWith(`| ${name} |`))!.split(' | ');
  assert.deepEqual(row('HighGpuTemperature').slice(4, 6), ['warning: 5m', '20m']);
  assert.match(row('HighGpuTemperature')[6]!, /keep_firing_for: A GPU at its slowdown temperature/);
  assert.deepEqual(row('PrometheusRuleFailures').slice(2, 6), ['5m', '-', 'critical: 15m', '15m']);
  assert.equal(row('HighInferenceLatency')[3], '100');
  assert.equal(row('ErrorBudgetBurn')[2], '5m, 30m, 1h, 6h, 3d');
});
