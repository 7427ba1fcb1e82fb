import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { monitoringSpec } from '../../src/core/config/monitoring-spec.ts';
import type { MonitoringSpec } from '../../src/core/config/monitoring-spec.ts';
import { generate, writeGenerated } from '../../src/monitoring/generate.ts';

/** Runs a tool and returns its exit status and output. */
export function run(command: string, args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Generates a spec into a fresh temporary folder; `cleanup` removes it. */
export function generateInto(spec: Readonly<MonitoringSpec>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-gen-'));
  writeGenerated(dir, generate(spec));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The promtool test files of a generated folder (`<dir>/prometheus/tests`), split in two:
 * `same`, those that are byte for byte the default spec's (`monitoringSpec({})`), the test file and
 * every rule file it loads alike, and `own`, the rest. test/generate-rules.test.ts ('default spec:
 * check config, check rules, and every unit test') runs every test file of the default spec with the
 * real promtool, and promtool's verdict on the same bytes is the same (the drift files fix their group
 * order), so a test of another spec need run only its `own` files: the default's drift cases alone
 * are a week of evaluations each, and ran once per spec before.
 */
export function testFilesBeyondDefault(dir: string): { own: string[]; same: string[] } {
  const reference = new Map(generate(monitoringSpec({})).map((f) => [f.path, f.content]));
  const tests = join(dir, 'prometheus/tests');
  const own: string[] = [];
  const same: string[] = [];
  for (const file of readdirSync(tests).sort()) {
    const path = `prometheus/tests/${file}`;
    const content = readFileSync(join(dir, path), 'utf8');
    const rules = ((parse(content) as { rule_files?: string[] }).rule_files ?? []).map((r) => posix.join('prometheus/tests', r));
    const identical = reference.get(path) === content && rules.every((r) => reference.get(r) !== undefined && reference.get(r) === readFileSync(join(dir, r), 'utf8'));
    (identical ? same : own).push(file);
  }
  return { own, same };
}
