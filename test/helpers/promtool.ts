import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
