import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/**
 * The package as a user gets it: `npm pack` (which builds dist/ in `prepare`),
 * the tarball unpacked into an empty folder's node_modules with its production
 * dependencies taken from this checkout's node_modules (no registry, no
 * native rebuild), then plain Node, no tsx anywhere the package can reach.
 */
test('npm pack gives a package that plain Node runs: import("llmwatch") and npx llmwatch --version', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-pkg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  execFileSync('npm', ['pack', '--pack-destination', dir, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  assert.deepEqual(tarballs, [`llmwatch-${pkg.version}.tgz`]);
  const tarball = join(dir, tarballs[0]!);

  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const f of ['package/package.json', 'package/bin/llmwatch.js', 'package/dist/cli.js', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/console/assets/index.html']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(
    files.filter((f) => /^package\/(src|test|bench|scripts|deploy|docs)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')),
    [],
    'no sources, tests or TypeScript in the package',
  );

  // Install: the tarball as node_modules/llmwatch, its bin linked as npm links it.
  const app = join(dir, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  renameSync(join(dir, 'package'), join(modules, 'llmwatch'));
  symlinkSync('../llmwatch/bin/llmwatch.js', join(modules, '.bin', 'llmwatch'));
  // Production dependencies (the lock file's non-dev packages) from this checkout.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  let linked = 0;
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!/^node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(path) || entry.dev === true || entry.devOptional === true) continue;
    if (!existsSync(join(ROOT, path))) continue; // an optional dependency for another platform
    mkdirSync(dirname(join(app, path)), { recursive: true });
    symlinkSync(join(ROOT, path), join(app, path));
    linked++;
  }
  assert.ok(linked > 10, `production dependencies linked: ${linked}`);
  assert.ok(!existsSync(join(modules, 'tsx')) && !existsSync(join(modules, 'typescript')), 'dev dependencies stay out');

  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    return { status: r.status, out: r.stdout.trim(), err: r.stderr };
  };

  // tsx is out of the package's reach: what runs below is the built JavaScript.
  const tsx = run(process.execPath, ['--input-type=module', '-e', "await import('tsx').then(() => console.log('found'), (e) => console.log(e.code))"]);
  assert.equal(tsx.out, 'ERR_MODULE_NOT_FOUND', tsx.err);

  const lib = run(process.execPath, ['--input-type=module', '-e', "const m = await import('llmwatch'); console.log(typeof m.instrumentOpenAI, m.metricName('requests'))"]);
  assert.equal(lib.status, 0, lib.err);
  assert.match(lib.out, /^function \w+requests_total$/);

  // `--`: the flag is llmwatch's, not npx's own --version.
  const version = run('npx', ['--no', '--', 'llmwatch', '--version']);
  assert.equal(version.status, 0, version.err);
  assert.equal(version.out, pkg.version);

  const help = run(join(modules, '.bin', 'llmwatch'), ['--help']);
  assert.equal(help.status, 0, help.err);
  assert.match(help.out, /Usage: llmwatch/);
});
