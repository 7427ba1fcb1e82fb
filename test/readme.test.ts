import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

// Claims of the README that code can check, so they cannot drift.

const ROOT = new URL('..', import.meta.url).pathname;
const README = readFileSync(`${ROOT}README.md`, 'utf8');

test('the README lists exactly the Debian packages .ci/run installs for the tests', () => {
  const ci = readFileSync(`${ROOT}.ci/run`, 'utf8');
  const pairs = /for pair in ([\s\S]*?); do/.exec(ci)?.[1];
  assert.ok(pairs, '.ci/run has no `for pair in ...; do` list');
  const installed = [...new Set(pairs.split(/[\s\\]+/).filter((p) => p.includes(':')).map((p) => p.split(':')[1]!))].sort();
  const listed = /On Debian 12: `apt-get install -y ([^`]+)`/.exec(README)?.[1];
  assert.ok(listed, 'the README has no `On Debian 12: apt-get install -y ...` line');
  assert.deepEqual(listed.trim().split(/\s+/).sort(), installed);
});
