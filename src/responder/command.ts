import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parsePort, waitForSignal } from '../core/cli-helpers.ts';
import { durationMs, isDuration } from '../core/config/duration.ts';
import { PlaybooksSchema } from '../core/config/playbook-spec.ts';
import { ResponderConfigSchema } from '../core/config/responder-config.ts';
import type { ResponderConfig } from '../core/config/responder-config.ts';
import { findSpec } from '../core/config/monitoring-spec.ts';
import { loadConfigFile, readYamlFile, validateConfig } from '../core/config/validate.ts';
import { defaultAuditPath, defaultStackDir, STATE_HOME_ENV, auditCandidates, firstExisting } from '../core/state.ts';
import { SqliteAuditStore, TIMELINE_OUTCOMES } from './audit-store.ts';
import { RSP_ERR_NO_AUDIT_DB, RSP_ERR_PLAYBOOK } from './errors.ts';
import { playbookAlertErrors } from '../core/config/playbook-check.ts';
import type { Action } from './types.ts';
import { startResponder } from './server.ts';
import { logger, setLogLevel } from '../core/log.ts';

/** The responder's config: its file, with the playbooks of the monitoring spec when one is there. */
export function responderConfig(
  opts: { config?: string; spec?: string; dryRun?: boolean; port?: number },
  alertNamesOfSpec: (specPath: string) => ReadonlySet<string>,
): ResponderConfig {
  const base = opts.config === undefined ? validateConfig(ResponderConfigSchema, {}, 'default responder config') : loadConfigFile(ResponderConfigSchema, opts.config);
  let playbooks = base.playbooks;
  const specPath = findSpec(opts.spec);
  if (specPath !== undefined) {
    const raw = readYamlFile(specPath) as { playbooks?: unknown };
    if (raw.playbooks !== undefined) {
      playbooks = validateConfig(PlaybooksSchema, raw.playbooks, `playbooks of ${specPath}`);
      // Each playbook must answer an alert the spec's rules can fire: a typo would wait for 3 a.m. to show.
      const errors = playbookAlertErrors(playbooks, alertNamesOfSpec(specPath));
      if (errors.length > 0) throw RSP_ERR_PLAYBOOK(`Playbooks of ${specPath}:\n${errors.map((e) => `  ${e}`).join('\n')}`);
    }
  }
  // Without an auditPath of its own, the database lives in the state folder ($LLMWATCH_HOME, else .llmwatch).
  const ownAuditPath = opts.config !== undefined && (readYamlFile(opts.config) as { auditPath?: unknown } | null)?.auditPath !== undefined;
  const auditPath = ownAuditPath ? base.auditPath : defaultAuditPath();
  return validateConfig(ResponderConfigSchema, { ...base, auditPath, playbooks, dryRun: opts.dryRun === true ? true : base.dryRun }, 'responder config');
}

/**
 * The `scale` action when a Kubernetes API is configured; without one,
 * playbooks that scale record it as unavailable. The Kubernetes client takes
 * seconds to import, so it is loaded only when a playbook scales.
 */
export async function scaleActions(config: ResponderConfig, env: NodeJS.ProcessEnv = process.env): Promise<{ actions: Action[]; unavailable: Map<string, string> }> {
  const unavailable = new Map<string, string>();
  if (!Object.values(config.playbooks).some((p) => p.steps.some((s) => s.action === 'scale'))) return { actions: [], unavailable };
  // Never the client's last resort (http://localhost:8080): only a configuration someone gave.
  const home = env.HOME === undefined ? undefined : join(env.HOME, '.kube/config');
  const source =
    config.kubernetes.kubeconfig !== undefined
      ? 'file'
      : env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBERNETES_SERVICE_PORT !== undefined
        ? 'cluster'
        : env.KUBECONFIG !== undefined && env.KUBECONFIG !== ''
          ? 'env'
          : home !== undefined && existsSync(home)
            ? 'home'
            : undefined;
  if (source === undefined) {
    unavailable.set('scale', 'no Kubernetes configuration (kubernetes.kubeconfig, an in-cluster service account, KUBECONFIG or ~/.kube/config)');
    return { actions: [], unavailable };
  }
  try {
    const [{ KubeConfig }, { createScaleAction }] = await Promise.all([import('@kubernetes/client-node'), import('./actions/scale.ts')]);
    const kc = new KubeConfig();
    if (source === 'file') kc.loadFromFile(config.kubernetes.kubeconfig!);
    else if (source === 'cluster') kc.loadFromCluster();
    else if (source === 'env') kc.loadFromFile(env.KUBECONFIG!.split(':')[0]!);
    else kc.loadFromFile(home!);
    if (kc.getCurrentCluster() === null) throw new Error(`the ${source === 'file' ? config.kubernetes.kubeconfig : source} configuration has no current cluster`);
    return { actions: [createScaleAction({ kubeConfig: kc })], unavailable };
  } catch (err) {
    unavailable.set('scale', `the Kubernetes configuration cannot be used: ${(err as Error).message}`);
    return { actions: [], unavailable };
  }
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 100_000) throw new InvalidArgumentError(`-n takes a whole number from 1 to 100000, not '${v}'`);
  return n;
}

function parseSince(v: string): number {
  if (isDuration(v)) return Date.now() - durationMs(v);
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) throw new InvalidArgumentError(`--since takes an ISO date (2026-11-29T04:00:00Z) or an age (30m, 2h, 7d), not '${v}'`);
  return t;
}

function parseOutcome(v: string): string {
  if (!(TIMELINE_OUTCOMES as readonly string[]).includes(v)) throw new InvalidArgumentError(`--outcome takes one of ${TIMELINE_OUTCOMES.join(', ')}, not '${v}'`);
  return v;
}

/**
 * `llmwatch responder` and `llmwatch responder log`. The alert names a spec's
 * rules define come from the generator, which the CLI passes in: the
 * responder does not import the monitoring part.
 */
export function responderCommand(alertNamesOfSpec: (specPath: string) => ReadonlySet<string>): Command {
  const cmd = new Command('responder').description('receive Alertmanager webhooks and run tiered, safe remediation playbooks');
  cmd
    .command('run', { isDefault: true })
    .description('run the responder (default)')
    .option('-c, --config <file>', 'responder config (YAML or JSON); see config/responder.example.yaml')
    .option('-s, --spec <file>', 'monitoring spec whose playbooks to use (default: llmwatch.yaml if present)')
    .option('-p, --port <port>', 'port (default 9095)', parsePort)
    .option('--dry-run', 'decide and record everything, run nothing')
    .option('--insecure', 'serve without credentials (loopback addresses only): for a local trial, never in production')
    .action(async function runResponder(opts: { config?: string; spec?: string; port?: number; dryRun?: boolean; insecure?: boolean }) {
      const config = responderConfig(opts, alertNamesOfSpec);
      setLogLevel(config.logLevel);
      const scale = await scaleActions(config);
      for (const [action, why] of scale.unavailable) logger('responder').warn({ action }, `${action} is unavailable: ${why}; its steps are recorded as skipped`);
      const r = await startResponder(config, { port: opts.port, actions: scale.actions, unavailable: scale.unavailable, insecure: opts.insecure === true });
      console.log(`llmwatch responder listening on ${r.url} (webhook: ${r.url}/alerts, audit log: ${config.auditPath}${config.dryRun ? ', DRY RUN' : ''})`);
      console.log(`  playbooks: ${Object.keys(config.playbooks).join(', ') || 'none'}`);
      await waitForSignal();
      await r.close();
      console.log('llmwatch responder stopped');
    });
  cmd
    .command('log')
    .description('show the audit trail, newest first: decisions (act or skip, and why), actions, kill-switch and breaker operations, rejected deliveries')
    .option('--db <file>', `the audit database (default: the stack's, ${defaultStackDir()}/data/responder.db, else a standalone responder's, ${defaultAuditPath()}; $${STATE_HOME_ENV} moves both)`)
    .option('-c, --config <file>', "read the database of the responder run with this config (its auditPath)")
    .option('-d, --dir <dir>', "a stack folder of 'llmwatch up' whose database to read", defaultStackDir())
    .option('-n, --limit <n>', 'how many rows (1 to 100000)', parseLimit, 50)
    .option('--alert <name>', 'only this alert')
    .option('--since <when>', 'only rows at or after this time: an ISO date (2026-11-29T04:00:00Z) or an age (30m, 2h, 7d)', parseSince)
    .option('--outcome <outcome>', `only this outcome: ${TIMELINE_OUTCOMES.join(', ')}`, parseOutcome)
    .option('--create', 'create the database when it does not exist (else a missing database is an error)')
    .option('--json', 'JSON lines instead of a table')
    .action(function showLog(opts: { db?: string; config?: string; dir: string; limit: number; alert?: string; since?: number; outcome?: string; create?: boolean; json?: boolean }) {
      // A typo in --db must not quietly create an empty database and show "nothing".
      const db = auditDatabase(opts, alertNamesOfSpec);
      const store = new SqliteAuditStore(db);
      try {
        const rows = store.timeline({ limit: opts.limit, since: opts.since, alertname: opts.alert, outcome: opts.outcome });
        if (opts.json === true) {
          for (const r of rows) console.log(JSON.stringify(r));
          return;
        }
        if (rows.length === 0) return console.log('nothing recorded matches');
        for (const r of rows) {
          const what = r.kind === 'action' ? r.action! : r.kind;
          console.log(`${new Date(r.at).toISOString()}  ${(r.alertname ?? '-').padEnd(24)} ${(r.alertStatus ?? '').padEnd(8)} ${what.padEnd(20)} ${r.outcome.padEnd(11)} ${r.detail}`);
        }
      } finally {
        store.close();
      }
    });
  return cmd;
}

/**
 * The database `responder log` reads: `--db`, else the `auditPath` of
 * `--config`, else the first that exists of the stack's (what `llmwatch up`
 * writes) and a standalone responder's. Reading never creates one: a missing
 * database is an error naming the paths and how to create it, unless `--create`.
 */
export function auditDatabase(
  opts: { db?: string; config?: string; dir: string; create?: boolean },
  alertNamesOfSpec: (specPath: string) => ReadonlySet<string>,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const create = opts.create === true;
  if (opts.db !== undefined) {
    if (opts.db !== ':memory:' && !existsSync(opts.db) && !create) {
      throw RSP_ERR_NO_AUDIT_DB(`no audit database at ${opts.db} (give the responder's auditPath with --db, or --create to start an empty one)`);
    }
    return opts.db;
  }
  if (opts.config !== undefined) {
    const path = responderConfig({ config: opts.config }, alertNamesOfSpec).auditPath;
    if (!existsSync(path) && !create) {
      throw RSP_ERR_NO_AUDIT_DB(`no audit database at ${path} (the auditPath of ${opts.config}): the responder has not run with this config yet; start it with 'llmwatch responder --config ${opts.config}', or --create to start an empty one`);
    }
    return path;
  }
  const candidates = auditCandidates(opts.dir, env);
  const found = firstExisting(candidates);
  if (found !== undefined) {
    console.error(`reading ${found}`);
    return found;
  }
  if (create) return candidates[candidates.length - 1]!;
  throw RSP_ERR_NO_AUDIT_DB(
    `no audit database at ${candidates[0]} (written by 'llmwatch up') nor at ${candidates[1]} (written by 'llmwatch responder'); start one of them, or give the database with --db FILE or the responder's config with --config FILE`,
  );
}
