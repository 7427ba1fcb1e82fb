import assert from 'node:assert/strict';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { runChecks } from '../src/monitoring/check.ts';
import { GEN_ERR_CHECK_FAILED, GEN_ERR_TOOL_MISSING } from '../src/monitoring/errors.ts';
import { startChild } from './helpers/processes.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/llmwatch.js');

test('`llmwatch check` passes promtool (config, rules, unit tests) and amtool over the committed deploy/', async () => {
  const check = startChild(process.execPath, [BIN, 'check', '--out', join(ROOT, 'deploy')]);
  const [code] = await once(check.process, 'exit');
  assert.equal(code, 0, check.output());
  for (const step of ['Prometheus config', 'rules', 'rule unit tests', 'Alertmanager config']) assert.match(check.output(), new RegExp(`ok  ${step}`));
});

test('`llmwatch generate --check` fails, naming the file, when deploy/ was edited by hand', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'deploy'), dir, { recursive: true });
  const file = join(dir, 'prometheus/rules/performance-alerts.yml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('> 2', '> 3'));
  const gen = startChild(process.execPath, [BIN, 'generate', '--check', '--out', dir, '--spec', join(ROOT, 'llmwatch.yaml')]);
  const [code] = await once(gen.process, 'exit');
  assert.equal(code, 2);
  assert.match(gen.output(), /prometheus\/rules\/performance-alerts\.yml/);
});

test('a broken rule is reported with promtool\'s own words', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-broken-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'deploy'), dir, { recursive: true });
  writeFileSync(join(dir, 'prometheus/rules/broken.yml'), 'groups:\n  - name: broken\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m]) > \n');
  assert.throws(() => runChecks(dir), (err: unknown) => hasCode(err, GEN_ERR_CHECK_FAILED) && /broken\.yml/.test(err.message));
});

test('a missing promtool is a clear message naming the package to install', (t) => {
  const path = process.env.PATH;
  t.after(() => {
    process.env.PATH = path;
  });
  process.env.PATH = '/nonexistent';
  assert.throws(() => runChecks(join(ROOT, 'deploy')), (err: unknown) => hasCode(err, GEN_ERR_TOOL_MISSING) && /apt-get install -y prometheus/.test(err.message));
});
