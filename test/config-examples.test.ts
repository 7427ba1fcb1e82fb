import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { loadConfigFile, validateConfig } from '../src/core/config/validate.ts';
import { hasCode } from '../src/core/errors.ts';
import { CFG_ERR_INVALID } from '../src/core/config/errors.ts';

test('config/gateway.example.yaml is a valid gateway config', () => {
  const c = loadConfigFile(GatewayConfigSchema, new URL('../config/gateway.example.yaml', import.meta.url).pathname);
  assert.equal(c.models['llama-3.1-8b-instruct']?.targets?.[0]?.model, 'meta-llama/Llama-3.1-8B-Instruct');
  assert.equal(c.models['llama-3.1-8b-instruct']?.failover, true);
  assert.ok(Object.isFrozen(c.upstreams));
});

test('a bad gateway config names each field at fault and how to fix it', () => {
  assert.throws(
    () =>
      validateConfig(GatewayConfigSchema, {
        upstreams: { a: { baseURL: 'http://127.0.0.1:1/v1', maxConcurrency: 0 } },
        models: { m: { upstream: 'a' } },
        metrics: { durationBuckets: [1, 0.5] },
      }),
    (err: unknown) =>
      hasCode(err, CFG_ERR_INVALID) && /upstreams\.a\.maxConcurrency/.test(err.message) && /metrics\.durationBuckets: bounds must be strictly ascending/.test(err.message),
  );
  assert.throws(
    () => validateConfig(GatewayConfigSchema, { upstreams: { a: { baseURL: 'http://127.0.0.1:1/v1' } }, models: { m: { upstream: 'b' } } }),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && /models\.m\.upstream: unknown upstream 'b'; define it under 'upstreams' \(known: a\)/.test(err.message),
  );
  assert.throws(
    () =>
      validateConfig(GatewayConfigSchema, {
        safety: { scorer: 'classifier', classifier: { baseURL: 'http://127.0.0.1:1/v1' } },
        upstreams: { a: { baseURL: 'http://127.0.0.1:1/v1' } },
        models: { m: { upstream: 'a', targets: [{ upstream: 'a' }], streaming: false, safety: { policy: 'block' } } },
      }),
    (err: unknown) =>
      hasCode(err, CFG_ERR_INVALID) &&
      /models\.m: give either 'upstream' \(one target\) or 'targets'/.test(err.message) &&
      /models\.m\.safety\.policy: 'block' needs an answer scored before it is sent/.test(err.message),
  );
  for (const policy of ['block', 'redact']) {
    assert.throws(
      () => validateConfig(GatewayConfigSchema, { upstreams: { a: { baseURL: 'http://127.0.0.1:1/v1' } }, models: { m: { upstream: 'a', safety: { policy } } } }),
      (err: unknown) =>
        hasCode(err, CFG_ERR_INVALID) && new RegExp(`models\\.m\\.safety\\.policy: '${policy}' cannot hold back a streamed answer.*set models\\.m\\.streaming: false`).test(err.message),
      `${policy} on a streaming model is refused, naming the field and the fix`,
    );
  }
  assert.throws(
    () => validateConfig(GatewayConfigSchema, { upstreams: {}, models: {}, colour: 'red' }),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && /colour/.test(err.message) && /at least one upstream/.test(err.message),
  );
});
