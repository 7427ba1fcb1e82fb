import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/production.md'), 'utf8');

interface Block {
  readonly info: string;
  readonly body: string;
}

function blocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ info: m[1]!.trim(), body: m[2]! }));
}

test('docs/production.md: every shell block is run here or says why not', () => {
  const shell = blocks(DOC).filter((b) => b.info.startsWith('sh'));
  assert.ok(shell.length >= 5);
  for (const b of shell) {
    assert.ok(b.info === 'sh runnable' || b.body.startsWith('# not run here: '), `a block neither runnable nor marked:\n${b.body}`);
  }
});

/**
 * Issue 20 point 6: the walkthrough's commands, as written, in a fresh folder: its spec, generation,
 * `llmwatch check`, `kubectl kustomize`, `amtool config routes test`, and the responder in dry-run
 * answering a real webhook. Only the responder's port is changed, to a free one.
 */
test('docs/production.md: the runnable blocks run, in order, and succeed', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-production-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const b of blocks(DOC)) {
    const file = /^yaml file=(\S+)$/.exec(b.info)?.[1];
    if (file !== undefined) writeFileSync(join(dir, file), b.body);
  }
  // `llmwatch` on the PATH, as `npm install -g` or `npx` would give it.
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'llmwatch'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/llmwatch.js')}" "$@"\n`);
  chmodSync(join(bin, 'llmwatch'), 0o755);
  const port = String(await freePort());
  const script = [
    'set -euo pipefail',
    // Background processes a block starts (the responder) end with the script.
    'trap \'kill $(jobs -p) 2>/dev/null || true\' EXIT',
    ...blocks(DOC)
      .filter((b) => b.info === 'sh runnable')
      .map((b) => b.body.replaceAll('9095', port)),
  ].join('\n');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  delete env.LLMWATCH_HOME;
  const child = spawn('bash', ['-c', script], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const responderOut = (() => {
    try {
      return readFileSync(join(dir, 'responder.out'), 'utf8');
    } catch {
      return '';
    }
  })();
  assert.equal(code, 0, `${out}\n--- responder ---\n${responderOut}`);
  // What the walkthrough says the reader will see.
  assert.match(out, /wrote \d+ files to deploy/);
  assert.match(out, /HighTimeToFirstToken\s+firing\s+decision\s+act/);
  assert.match(out, /switch-model\s+dry-run/);
});
