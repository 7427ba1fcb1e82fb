import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { parsePort, waitForSignal } from '../cli-helpers.ts';
import { PlaybooksSchema } from '../config/playbook-spec.ts';
import { ResponderConfigSchema } from '../config/responder-config.ts';
import type { ResponderConfig } from '../config/responder-config.ts';
import { loadConfigFile, validateConfig } from '../config/validate.ts';
import { SqliteAuditStore } from './audit-store.ts';
import { startResponder } from './server.ts';

/** The responder's config: its file, with the playbooks of the monitoring spec when one is there. */
export function responderConfig(opts: { config?: string; spec?: string; dryRun?: boolean; port?: number }): ResponderConfig {
  const base = opts.config === undefined ? validateConfig(ResponderConfigSchema, {}, 'default responder config') : loadConfigFile(ResponderConfigSchema, opts.config);
  let playbooks = base.playbooks;
  const specPath = opts.spec ?? (existsSync('llmwatch.yaml') ? 'llmwatch.yaml' : undefined);
  if (specPath !== undefined) {
    const spec = (parseYaml(readFileSync(specPath, 'utf8')) ?? {}) as { playbooks?: unknown };
    if (spec.playbooks !== undefined) playbooks = validateConfig(PlaybooksSchema, spec.playbooks, `playbooks of ${specPath}`);
  }
  return validateConfig(ResponderConfigSchema, { ...base, playbooks, dryRun: opts.dryRun === true ? true : base.dryRun }, 'responder config');
}

/**
 * The `scale` action when a Kubernetes API is configured; without one,
 * playbooks that scale record it as unavailable. The Kubernetes client takes
 * seconds to import, so it is loaded only when a playbook scales.
 */
async function scaleActions(config: ResponderConfig) {
  if (!Object.values(config.playbooks).some((p) => p.steps.some((s) => s.action === 'scale'))) return [];
  try {
    const [{ KubeConfig }, { createScaleAction }] = await Promise.all([import('@kubernetes/client-node'), import('./actions/scale.ts')]);
    const kc = new KubeConfig();
    if (config.kubernetes.kubeconfig !== undefined) kc.loadFromFile(config.kubernetes.kubeconfig);
    else kc.loadFromDefault();
    return [createScaleAction({ kubeConfig: kc })];
  } catch (err) {
    console.error(`llmwatch responder: no Kubernetes API (${(err as Error).message}); the scale action is off`);
    return [];
  }
}

/** `llmwatch responder` and `llmwatch responder log`. */
export function responderCommand(): Command {
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
      const config = responderConfig(opts);
      const r = await startResponder(config, { port: opts.port, actions: await scaleActions(config), insecure: opts.insecure === true });
      console.log(`llmwatch responder listening on ${r.url} (webhook: ${r.url}/alerts, audit log: ${config.auditPath}${config.dryRun ? ', DRY RUN' : ''})`);
      console.log(`  playbooks: ${Object.keys(config.playbooks).join(', ') || 'none'}`);
      await waitForSignal();
      await r.close();
      console.log('llmwatch responder stopped');
    });
  cmd
    .command('log')
    .description('show the audit log of actions, newest first')
    .option('--db <file>', 'the audit database', '.llmwatch/responder.db')
    .option('-n, --limit <n>', 'how many', (v) => Number(v), 50)
    .option('--alert <name>', 'only this alert')
    .option('--json', 'JSON lines instead of a table')
    .action(function showLog(opts: { db: string; limit: number; alert?: string; json?: boolean }) {
      const store = new SqliteAuditStore(opts.db);
      try {
        const rows = store.listActions({ limit: opts.limit, alertname: opts.alert });
        if (opts.json === true) {
          for (const r of rows) console.log(JSON.stringify(r));
          return;
        }
        if (rows.length === 0) return console.log('no actions recorded');
        for (const r of rows) {
          console.log(
            `${new Date(r.startedAt).toISOString()}  ${r.alertname.padEnd(24)} ${r.alertStatus.padEnd(8)} ${r.action.padEnd(20)} ${r.outcome.padEnd(8)} ${r.dryRun ? '(dry run) ' : ''}${r.detail}`,
          );
        }
      } finally {
        store.close();
      }
    });
  return cmd;
}
