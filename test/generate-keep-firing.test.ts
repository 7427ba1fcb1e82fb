import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { GEN_ERR_INVALID_SPEC } from '../src/monitoring/errors.ts';
import type { AlertingRule } from '../src/monitoring/model.ts';
import { generateInto, run } from './helpers/promtool.ts';

function rulesOf(name: string, spec = monitoringSpec({})): AlertingRule[] {
  return buildModel(spec).groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r && r.alert === name));
}

interface TestFile {
  tests: Array<{ name: string; promql_expr_test?: Array<{ expr: string; exp_samples: unknown[] }>; alert_rule_test: Array<{ exp_alerts: unknown[] }> }>;
}

describe('keep_firing_for', () => {
  test('HighGpuTemperature keeps firing 10m after the GPU cools, and the rule file says so', (t) => {
    assert.deepEqual(rulesOf('HighGpuTemperature').map((r) => r.keepFiringFor), ['10m']);
    const { dir, cleanup } = generateInto(monitoringSpec({}));
    t.after(cleanup);
    const rules = readFileSync(join(dir, 'prometheus/rules/resource-alerts.yml'), 'utf8');
    assert.match(rules, /alert: HighGpuTemperature\n\s+expr: .*\n\s+for: 5m\n\s+keep_firing_for: 10m\n/);
    const file = parse(readFileSync(join(dir, 'prometheus/tests/HighGpuTemperature.yml'), 'utf8')) as TestFile;
    const held = file.tests.find((x) => x.name.includes('held by keep_firing_for 10m'));
    // Firing while the expression itself returns nothing: keep_firing_for, not the signal, holds it.
    assert.ok(held !== undefined);
    assert.equal(held.alert_rule_test[0]!.exp_alerts.length, 1);
    assert.deepEqual(held.promql_expr_test?.[0]?.exp_samples, []);
    assert.ok(file.tests.some((x) => x.name.includes('resolves once keep_firing_for 10m has passed') && x.alert_rule_test[0]!.exp_alerts.length === 0));
  });

  test('the generated test fails when the rule loses keep_firing_for (real promtool)', (t) => {
    const { dir, cleanup } = generateInto(monitoringSpec({}));
    t.after(cleanup);
    const tests = join(dir, 'prometheus/tests');
    const ok = run('promtool', ['test', 'rules', 'HighGpuTemperature.yml'], tests);
    assert.equal(ok.status, 0, ok.output);
    const file = join(dir, 'prometheus/rules/resource-alerts.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n\s+keep_firing_for: 10m/, ''));
    const broken = run('promtool', ['test', 'rules', 'HighGpuTemperature.yml'], tests);
    assert.notEqual(broken.status, 0);
    assert.match(broken.output, /held by keep_firing_for 10m after the signal recovers/);
  });

  test('tunable from the spec: a longer hold, tested at its own times; 0s turns it off and the test says it resolves at once', (t) => {
    const longer = monitoringSpec({ alerts: { HighGpuTemperature: { keepFiringFor: '20m' } } });
    assert.deepEqual(rulesOf('HighGpuTemperature', longer).map((r) => r.keepFiringFor), ['20m']);
    const off = monitoringSpec({ alerts: { HighGpuTemperature: { keepFiringFor: '0s' } } });
    assert.deepEqual(rulesOf('HighGpuTemperature', off).map((r) => r.keepFiringFor), [undefined]);
    for (const spec of [longer, off]) {
      const { dir, cleanup } = generateInto(spec);
      t.after(cleanup);
      const tests = join(dir, 'prometheus/tests');
      const r = run('promtool', ['test', 'rules', 'HighGpuTemperature.yml'], tests);
      assert.equal(r.status, 0, r.output);
      const names = (parse(readFileSync(join(tests, 'HighGpuTemperature.yml'), 'utf8')) as TestFile).tests.map((x) => x.name);
      assert.ok(names.some((n) => (spec === off ? n.includes('resolves once the signal recovers') : n.includes('held by keep_firing_for 20m'))), names.join('\n'));
    }
  });

  test('an alert with no recovery case refuses keepFiringFor, naming the field', () => {
    assert.throws(
      () => buildModel(monitoringSpec({ alerts: { HighHostMemoryUsage: { keepFiringFor: '10m' } } })),
      (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /alerts\.HighHostMemoryUsage\.keepFiringFor/.test((err as Error).message),
    );
  });
});
