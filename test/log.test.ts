import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { logLevel, logger, setLogLevel } from '../src/core/log.ts';
import type { LogLevel } from '../src/core/log.ts';

function captureStderr(fn: () => void): string[] {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return lines.join('').split('\n').filter(Boolean);
}

test('one JSON line per entry on stderr, with the level, the time and the part it comes from', () => {
  const [line, ...rest] = captureStderr(() => logger('gateway').info({ model: 'm' }, 'route switch'));
  assert.deepEqual(rest, []);
  const entry = JSON.parse(line!) as Record<string, unknown>;
  assert.deepEqual({ ...entry, time: undefined }, { level: 'info', time: undefined, part: 'gateway', model: 'm', msg: 'route switch' });
  assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('secrets are redacted by path, at the top level and one object down', () => {
  const [line] = captureStderr(() =>
    logger('responder').warn({ authorization: 'Bearer abc', headers: { authorization: 'Basic xyz' }, token: 't0k3n', config: { password: 'pw', apiKey: 'sk-1' }, model: 'kept' }, 'x'),
  );
  assert.doesNotMatch(line!, /abc|xyz|t0k3n|"pw"|sk-1/);
  const entry = JSON.parse(line!) as { headers: { authorization: string }; config: { password: string }; model: string };
  assert.equal(entry.headers.authorization, '[redacted]');
  assert.equal(entry.config.password, '[redacted]');
  assert.equal(entry.model, 'kept');
});

test('the level comes from LLMWATCH_LOG_LEVEL; anything else is info', () => {
  assert.equal(logLevel({ LLMWATCH_LOG_LEVEL: 'debug' }), 'debug');
  assert.equal(logLevel({ LLMWATCH_LOG_LEVEL: ' WARN ' }), 'warn');
  assert.equal(logLevel({ LLMWATCH_LOG_LEVEL: 'loud' }), 'info');
  assert.equal(logLevel({}), 'info');
  // At the default level, debug lines are not written.
  assert.deepEqual(captureStderr(() => logger('gateway').debug('not shown')), []);
});

test("a config's logLevel sets the level of the logger and of every part's child; LLMWATCH_LOG_LEVEL wins over it", () => {
  assert.equal(logLevel({}, 'warn'), 'warn');
  assert.equal(logLevel({ LLMWATCH_LOG_LEVEL: 'debug' }, 'warn'), 'debug');
  const before = logger('gateway').level;
  try {
    const existing = logger('gateway');
    assert.equal(setLogLevel('warn', {}), 'warn');
    assert.deepEqual(captureStderr(() => existing.info('hidden')), []);
    assert.equal(captureStderr(() => logger('a-new-part').warn('shown')).length, 1);
    assert.equal(setLogLevel('warn', { LLMWATCH_LOG_LEVEL: 'info' }), 'info');
    assert.equal(captureStderr(() => existing.info('shown')).length, 1);
  } finally {
    setLogLevel(before as LogLevel, {});
  }
});

test('the gateway and responder configs take logLevel, and refuse a level that does not exist', () => {
  assert.equal(GatewayConfigSchema.parse({ upstreams: { u: { baseURL: 'http://127.0.0.1:1/v1' } }, models: { m: { upstream: 'u' } }, logLevel: 'debug' }).logLevel, 'debug');
  assert.equal(ResponderConfigSchema.parse({ logLevel: 'error' }).logLevel, 'error');
  assert.equal(ResponderConfigSchema.safeParse({ logLevel: 'loud' }).success, false);
});
