import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CFG_ERR_INVALID } from '../src/core/config/errors.ts';
import { DEFAULT_SIMULATOR_CONFIG, loadSimulatorConfig, mergeProfile, simulatorConfig } from '../src/core/config/simulator-config.ts';
import { hasCode } from '../src/core/errors.ts';
import { simulateCommand } from '../src/simulator/command.ts';

const EXAMPLE = fileURLToPath(new URL('../config/simulator.example.yaml', import.meta.url));

describe('simulator config', () => {
  test('defaults: two Llama models, the 1B one faster, no faults', () => {
    const c = DEFAULT_SIMULATOR_CONFIG;
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 3000);
    assert.equal(c.seed, 42);
    assert.equal(c.maxBodyBytes, 4 * 1024 * 1024);
    assert.deepEqual(Object.keys(c.models), ['llama-3.1-8b-instruct', 'llama-3.2-1b-instruct']);
    const big = mergeProfile(c.defaults, c.models['llama-3.1-8b-instruct']!);
    const small = mergeProfile(c.defaults, c.models['llama-3.2-1b-instruct']!);
    assert.ok(small.ttftMs < big.ttftMs && small.tpotMs < big.tpotMs);
    assert.deepEqual(big.errors, { http500: 0, http429: 0, reset: 0, hang: 0, http400: 0 });
    assert.equal(big.embeddingDimensions, 16);
    assert.ok(Object.isFrozen(c.defaults));
  });

  test('config/simulator.example.yaml is valid', () => {
    const c = loadSimulatorConfig(EXAMPLE);
    assert.ok(Object.keys(c.models).length >= 2);
    assert.equal(c.models['llama-3.1-70b-instruct']?.errors?.http429, 0.03);
  });

  for (const [name, data, field] of [
    ['a negative delay', { defaults: { ttftMs: -1 } }, 'defaults.ttftMs'],
    ['jitter over 1', { defaults: { jitter: 1.5 } }, 'defaults.jitter'],
    ['a probability over 1', { models: { m: { errors: { hang: 2 } } } }, 'models.m.errors.hang'],
    ['fault rates summing over 1', { defaults: { errors: { http500: 0.5, reset: 0.6 } } }, 'defaults.errors: http500 + http429 + reset + hang'],
    ['fault rates over 1 only once merged', { defaults: { errors: { hang: 0.5 } }, models: { m: { errors: { http429: 0.6 } } } }, 'models.m.errors'],
    ['min over max', { models: { m: { outputTokens: { min: 10, max: 5 } } } }, 'models.m.outputTokens'],
    ['a misspelt key', { defaults: { ttft: 5 } }, 'ttft'],
    ['no models', { models: {} }, 'models: at least one model'],
    ['a port out of range', { port: 70_000 }, 'port'],
    ['a fractional seed', { seed: 1.5 }, 'seed'],
    ['zero embedding dimensions', { defaults: { embeddingDimensions: 0 } }, 'defaults.embeddingDimensions'],
  ] as const) {
    test(`bad config names the field: ${name}`, () => {
      assert.throws(
        () => simulatorConfig(data),
        (err: unknown) => hasCode(err, CFG_ERR_INVALID) && err.message.includes(field),
      );
    });
  }
});

describe('llmwatch simulate', () => {
  test('prints the URL, serves, and closes on SIGINT', async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'log', (line: string) => lines.push(line));
    const signalListeners = process.listenerCount('SIGINT');
    const running = simulateCommand().parseAsync(['--port', '0', '--seed', '9', '--config', EXAMPLE], { from: 'user' });
    const deadline = Date.now() + 5_000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(lines[0] ?? '')?.[1];
    assert.ok(url, lines.join('\n'));
    assert.match(lines[0]!, /seed 9/);
    const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(((await res.json()) as { data: unknown[] }).data.length, 3);
    process.emit('SIGINT', 'SIGINT');
    await running;
    assert.equal(process.listenerCount('SIGINT'), signalListeners, 'signal handlers removed');
    await assert.rejects(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) }));
  });

  test('a bad --port is refused', async () => {
    const cmd = simulateCommand().exitOverride().configureOutput({ writeErr: () => {} });
    await assert.rejects(cmd.parseAsync(['--port', '99999'], { from: 'user' }), /port must be an integer/);
  });
});
