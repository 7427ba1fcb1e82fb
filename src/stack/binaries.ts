import { spawnSync } from 'node:child_process';
import { STACK_ERR_MISSING } from './errors.ts';

/** A real component the local stack runs, and where Debian ships it. */
export interface Component {
  readonly name: string;
  /** Executable names to look for, in order (Debian's first, then upstream's). */
  readonly commands: readonly string[];
  readonly debianPackage: string;
}

export const COMPONENTS = {
  prometheus: { name: 'Prometheus', commands: ['prometheus'], debianPackage: 'prometheus' },
  alertmanager: { name: 'Alertmanager', commands: ['prometheus-alertmanager', 'alertmanager'], debianPackage: 'prometheus-alertmanager' },
  nodeExporter: { name: 'node-exporter', commands: ['prometheus-node-exporter', 'node_exporter'], debianPackage: 'prometheus-node-exporter' },
} as const satisfies Record<string, Component>;

/** The path of a component's executable, or undefined. */
export function locate(c: Component): string | undefined {
  for (const cmd of c.commands) {
    const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return undefined;
}

/**
 * Finds every component; installs missing ones with apt-get when this process
 * is root or has password-less sudo, and otherwise stops with the exact
 * command to run.
 */
export function ensureComponents(components: readonly Component[], log: (line: string) => void): Record<string, string> {
  const found: Record<string, string> = {};
  let missing = components.filter((c) => {
    const path = locate(c);
    if (path !== undefined) found[c.name] = path;
    return path === undefined;
  });
  if (missing.length === 0) return found;
  const packages = missing.map((c) => c.debianPackage);
  const install = `apt-get install -y ${packages.join(' ')}`;
  const prefix = process.getuid?.() === 0 ? [] : spawnSync('sudo', ['-n', 'true']).status === 0 ? ['sudo', '-n'] : undefined;
  if (prefix === undefined || spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) {
    throw STACK_ERR_MISSING(`Missing: ${missing.map((c) => c.name).join(', ')}. Install them, e.g. on Debian or Ubuntu: sudo ${install}`);
  }
  log(`installing ${packages.join(', ')} with apt-get (this takes a minute)`);
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
    const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
    const r = spawnSync(cmd!, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw STACK_ERR_MISSING(`apt-get ${args.join(' ')} failed; install them yourself: sudo ${install}`);
  }
  missing = missing.filter((c) => {
    const path = locate(c);
    if (path !== undefined) found[c.name] = path;
    return path === undefined;
  });
  if (missing.length > 0) throw STACK_ERR_MISSING(`Still missing after apt-get: ${missing.map((c) => c.name).join(', ')}`);
  return found;
}
