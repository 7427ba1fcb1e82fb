import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GEN_ERR_CHECK_FAILED, GEN_ERR_NO_OUTPUT, GEN_ERR_TOOL_MISSING } from './errors.ts';

/** One tool run of `llmwatch check`. */
export interface CheckStep {
  readonly title: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/** The checks of a generated folder: promtool over the config, rules and tests; amtool over Alertmanager's config. */
export function checkSteps(dir: string): CheckStep[] {
  if (!existsSync(join(dir, 'prometheus/prometheus.yml'))) {
    throw GEN_ERR_NO_OUTPUT(`${dir}/ holds no generated output (no prometheus/prometheus.yml); run 'llmwatch generate --out ${dir}' first, or name the folder with --out`);
  }
  const rules = readdirSync(join(dir, 'prometheus/rules')).filter((f) => f.endsWith('.yml')).sort();
  const testDir = join(dir, 'prometheus/tests');
  // A spec with a short rate window (the local stack's) has no unit tests to run.
  const tests = existsSync(testDir) ? readdirSync(testDir).filter((f) => f.endsWith('.yml')).sort() : [];
  return [
    { title: 'Prometheus config', command: 'promtool', args: ['check', 'config', 'prometheus.yml'], cwd: join(dir, 'prometheus') },
    { title: 'rules', command: 'promtool', args: ['check', 'rules', ...rules.map((f) => `rules/${f}`)], cwd: join(dir, 'prometheus') },
    ...(tests.length > 0 ? [{ title: 'rule unit tests', command: 'promtool', args: ['test', 'rules', ...tests], cwd: testDir }] : []),
    { title: 'Alertmanager config', command: 'amtool', args: ['check-config', 'alertmanager.yml'], cwd: join(dir, 'alertmanager') },
  ];
}

const INSTALL_HINT: Record<string, string> = {
  promtool: 'apt-get install -y prometheus (Debian/Ubuntu), or the promtool binary from a Prometheus release',
  amtool: 'apt-get install -y prometheus-alertmanager (Debian/Ubuntu), or the amtool binary from an Alertmanager release',
};

/**
 * Runs every check step with the real tools; stops at the first failure with
 * the tool's own output. A missing tool is a clear message naming what to install.
 */
export function runChecks(dir: string, log: (line: string) => void = () => {}): void {
  for (const step of checkSteps(dir)) {
    const r = spawnSync(step.command, [...step.args], { cwd: step.cwd, encoding: 'utf8' });
    if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw GEN_ERR_TOOL_MISSING(`${step.command} is not installed; it checks the ${step.title}. Install it: ${INSTALL_HINT[step.command]}`);
    }
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (r.status !== 0) {
      throw GEN_ERR_CHECK_FAILED(`${step.command} ${step.args.join(' ')} failed for the ${step.title}:\n${output}`);
    }
    log(`ok  ${step.title}: ${step.command} ${step.args.slice(0, 2).join(' ')}`);
  }
}
