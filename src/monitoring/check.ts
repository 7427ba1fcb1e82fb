import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ALERT_LABEL, RECEIVER, TARGET_LABEL, WATCHDOG_ALERT } from '../core/conventions/alerts.ts';
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

/** What `routeProblems` sends through the real routing tree: one alert per route that must reach someone. */
const ROUTE_PROBES: ReadonlyArray<{ readonly route: string; readonly labels: Readonly<Record<string, string>> }> = [
  { route: `${ALERT_LABEL.severity}="critical"`, labels: { [TARGET_LABEL.alertname]: 'RouteProbe', [ALERT_LABEL.severity]: 'critical' } },
  { route: `${ALERT_LABEL.severity}="warning"`, labels: { [TARGET_LABEL.alertname]: 'RouteProbe', [ALERT_LABEL.severity]: 'warning' } },
  { route: `${TARGET_LABEL.alertname}="${WATCHDOG_ALERT}"`, labels: { [TARGET_LABEL.alertname]: WATCHDOG_ALERT, [ALERT_LABEL.severity]: 'info' } },
];

/**
 * The routes of a generated (or hand-edited) alertmanager.yml that tell no one:
 * each probe alert is routed by the real `amtool config routes test`, and a
 * route passes when one of its receivers, other than the llmwatch responder
 * (which acts, but tells no person), has an integration (`*_configs`).
 */
export function routeProblems(dir: string): string[] {
  const file = join(dir, 'alertmanager', 'alertmanager.yml');
  const config = parseYaml(readFileSync(file, 'utf8')) as { receivers?: Array<Record<string, unknown>> };
  const tells = new Set(
    (config.receivers ?? [])
      .filter((r) => Object.entries(r).some(([k, v]) => k.endsWith('_configs') && Array.isArray(v) && v.length > 0))
      .map((r) => String(r.name)),
  );
  const problems: string[] = [];
  for (const probe of ROUTE_PROBES) {
    const args = ['config', 'routes', 'test', `--config.file=${file}`, ...Object.entries(probe.labels).map(([k, v]) => `${k}=${v}`)];
    const r = spawnSync('amtool', args, { encoding: 'utf8' });
    if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw GEN_ERR_TOOL_MISSING(`amtool is not installed; it checks the Alertmanager routes. Install it: ${INSTALL_HINT.amtool}`);
    }
    if (r.status !== 0) throw GEN_ERR_CHECK_FAILED(`amtool ${args.join(' ')} failed:\n${`${r.stdout}${r.stderr}`.trim()}`);
    const receivers = r.stdout.trim().split(',').filter((x) => x.length > 0);
    if (!receivers.some((name) => name !== RECEIVER.responder && tells.has(name))) {
      problems.push(
        `route ${probe.route} reaches no receiver that tells anyone (it reaches ${receivers.join(', ')}: no integration there, and the llmwatch responder acts but tells no person); declare a receiver in the spec's alertmanager.receivers and route ${probe.route.startsWith(ALERT_LABEL.severity) ? 'the severity to it in alertmanager.routes' : 'the Watchdog to it in alertmanager.watchdog.receiver'}`,
      );
    }
  }
  return problems;
}
