import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logLevel, logger } from '../src/core/log.ts';

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
