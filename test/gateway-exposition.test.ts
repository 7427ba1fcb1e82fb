import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { boundCounter } from '../src/core/metering/exposition.ts';
import { renderMetrics } from '../src/core/metering/exposition.ts';
import { GatewayMetrics } from '../src/core/metering/gateway-metrics.ts';

function gatewayRegistry(): { registry: Registry; metrics: GatewayMetrics } {
  const registry = new Registry();
  const metrics = new GatewayMetrics(registry, {
    prefix: 'openllm',
    durationBuckets: [0.1, 0.3, 0.5, 1, 2, 3, 5, 10],
    processMetrics: false,
    version: '1.2.3',
    models: [
      { model: 'llama', targets: [{ upstream: 'vllm', model: 'llama' }, { upstream: 'small', model: 'llama-small' }] },
      { model: 'odd "name" \\ with\nnewline', targets: [{ upstream: 'vllm', model: 'odd' }] },
    ],
    keys: ['team-a'],
    cacheStore: 'redis',
  });
  return { registry, metrics };
}

test("the gateway's /metrics text is prom-client's own, byte for byte, before and after traffic", async () => {
  const { registry, metrics } = gatewayRegistry();
  assert.equal(await renderMetrics(registry), await registry.metrics());
  const r = metrics.route('llama', 'chat_completions')!;
  r.success.inc();
  r.duration.observe(0.2);
  r.duration.observe(42);
  r.ttft.observe(0.0001);
  r.promptSize.observe(12);
  r.perModel.tokens.usage.prompt.inc(12);
  r.perModel.toxicity.set(0.25);
  r.perModel.safetyScore.observe(1);
  metrics.targets('llama')[0]!.inFlight.inc();
  metrics.targets('llama')[0]!.queueLength.inc();
  metrics.targets('llama')[0]!.queueLength.dec();
  metrics.route('odd "name" \\ with\nnewline', 'embeddings')!.failures.error_5xx.inc();
  metrics.rejected('none', 'not_found');
  metrics.client('team-a');
  metrics.cacheError('get');
  metrics.classifierFailure('timeout');
  assert.equal(await renderMetrics(registry), await registry.metrics());
});

test('bound children keep counting through a registry reset', async () => {
  const registry = new Registry();
  const c = new Counter({ name: 'c_total', help: 'h', labelNames: ['a'], registers: [registry] });
  const child = boundCounter(c, { a: 'x' });
  child.inc(2);
  assert.equal((await c.get()).values[0]!.value, 2);
  registry.resetMetrics();
  child.inc(3);
  assert.deepEqual((await c.get()).values.map((v) => v.value), [3]);
  // The bound entry is the one prom-client's own inc reaches.
  c.inc({ a: 'x' }, 1);
  child.inc();
  assert.deepEqual((await c.get()).values.map((v) => v.value), [5]);
  assert.equal(await renderMetrics(registry), await registry.metrics());
});
