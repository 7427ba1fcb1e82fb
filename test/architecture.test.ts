import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

// The dependency rules of .dependency-cruiser.cjs (docs/architecture.md): the base layer uses no
// part, parts never import each other, nothing imports the composition layer, no cycles.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

function depcruise(cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` });
    });
  });
}

test('the source tree keeps the dependency rules', async () => {
  const { code, out } = await depcruise(ROOT);
  assert.equal(code, 0, out);
  assert.match(out, /no dependency violations found/);
});

test('the rules refuse a planted cross-part import, a base module that uses a part, an import of the composition layer, and a cycle', async (t) => {
  // A copy of the real tree with four planted files: the same rule file must now fail, naming each.
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-arch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['src', 'tsconfig.json', '.dependency-cruiser.cjs', 'package.json']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'src/gateway/planted.ts'), "export { startSimulator } from '../simulator/server.ts';\n");
  writeFileSync(join(dir, 'src/core/planted.ts'), "export type { Router } from '../gateway/router.ts';\n");
  writeFileSync(join(dir, 'src/responder/planted.ts'), "export { startStack } from '../stack/stack.ts';\n");
  writeFileSync(join(dir, 'src/stack/planted-a.ts'), "import { b } from './planted-b.ts';\nexport const a = (): number => b() + 1;\n");
  writeFileSync(join(dir, 'src/stack/planted-b.ts'), "import { a } from './planted-a.ts';\nexport const b = (): number => a() - 1;\n");

  const { code, out } = await depcruise(dir);
  assert.notEqual(code, 0, out);
  assert.match(out, /parts-are-siblings: src\/gateway\/planted\.ts → src\/simulator\/server\.ts/);
  assert.match(out, /core-uses-no-part: src\/core\/planted\.ts → src\/gateway\/router\.ts/);
  assert.match(out, /parts-do-not-compose: src\/responder\/planted\.ts → src\/stack\/stack\.ts/);
  assert.match(out, /no-circular: src\/stack\/planted-a\.ts → /);
  // Exactly the planted ones (the cycle counts once): the rest of the tree is as clean as in the first test.
  assert.match(out, /x 4 dependency violations/);
});
