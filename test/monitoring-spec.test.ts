import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CFG_ERR_INVALID } from '../src/core/config/errors.ts';
import { loadMonitoringSpec, monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';

function rejects(data: unknown, ...patterns: RegExp[]) {
  assert.throws(
    () => monitoringSpec(data),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && patterns.every((p) => p.test(err.message)),
  );
}

test('the defaults are the article thresholds', () => {
  const spec = monitoringSpec({});
  assert.deepEqual(spec.alerts, {});
  assert.equal(spec.slo.availability, 0.999);
  assert.deepEqual(spec.latencyBuckets, [0.1, 0.3, 0.5, 1, 2, 3, 5, 10]);
  assert.equal(spec.alertmanager.repeatInterval, '5m');
});

test('llmwatch.yaml is a valid spec', () => {
  const spec = loadMonitoringSpec(new URL('../llmwatch.yaml', import.meta.url).pathname);
  assert.equal(spec.models['llama-3.2-1b-instruct']?.alerts.HighInferenceLatency?.threshold, 1);
});

test('bad specs name the field and the fix', () => {
  rejects({ alerts: { HighLatency: {} } }, /alerts: HighLatency: no such alert; tunable alerts are HighInferenceLatency/);
  rejects({ models: { m: { alerts: { HighCpuUsage: { threshold: 90 } } } } }, /models\.m\.alerts: HighCpuUsage: not a model alert; .*tune host alerts under the top-level 'alerts'/);
  rejects({ alerts: { HighErrorRate: { for: '5 minutes' } } }, /alerts\.HighErrorRate\.for: a Prometheus duration with one unit/);
  rejects({ alerts: { HighErrorRate: { severity: 'page' } } }, /alerts\.HighErrorRate\.severity/);
  rejects({ targets: { gateways: ['localhost'] } }, /targets\.gateways\.0: host:port/);
  rejects({ slo: { latencyIndicator: 'e2e', latencyThreshold: 2.5 } }, /slo\.latencyThreshold: must be one of latencyBuckets/);
  rejects({ slo: { latencyThreshold: 2 } }, /slo\.latencyThreshold: must be one of the gateway's time-to-first-token buckets/);
  rejects({ latencyBuckets: [1, 0.5] }, /latencyBuckets: bounds must be strictly ascending/);
});
