import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { parsePort, waitForSignal } from '../core/cli-helpers.ts';
import { findSpec, loadMonitoringSpec, loadSpecOrDefaults } from '../core/config/monitoring-spec.ts';
import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { runbookSource } from '../monitoring/writers/runbooks.ts';
import { buildModel } from '../monitoring/build.ts';
import { buildDashboards } from '../monitoring/dashboards/build.ts';
import { DRILLS_FILE, readStackInfo } from './stack-info.ts';
import { defaultStackDir, stackAuditPath } from '../core/state.ts';
import { ALERTMANAGER_CONFIG_PATH } from '../monitoring/writers/alertmanager.ts';
import { stackNoiseSource } from './noise-report.ts';
import { CONSOLE_ERR_NO_PROMETHEUS } from '../console/errors.ts';
import { startConsole } from '../console/server.ts';

interface ConsoleCommandOptions {
  dir: string;
  port: number;
  spec?: string;
  prometheus?: string;
  alertmanager?: string;
  responder?: string;
  responderTokenFile?: string;
}

/**
 * `llmwatch console`: the dashboards, live, on 127.0.0.1. Reads the running
 * stack's `stack.json` for its spec and URLs when there is one; `--spec` and
 * the URL options override it (or stand in for it against any Prometheus).
 */
export function consoleCommand(): Command {
  return new Command('console')
    .description('serve the dashboards live on 127.0.0.1: charts, alerts with runbooks, the responder\'s actions')
    .option('-d, --dir <dir>', "a running stack's working folder (its stack.json gives the spec and URLs)", defaultStackDir())
    .option('-p, --port <port>', 'port on 127.0.0.1 (0: any free one)', parsePort, 3100)
    .option('-s, --spec <file>', 'monitoring spec (default: the stack\'s, else llmwatch.yaml, else the defaults)')
    .option('--prometheus <url>', 'Prometheus base URL')
    .option('--alertmanager <url>', 'Alertmanager base URL')
    .option('--responder <url>', 'responder base URL (for its recent actions)')
    .option('--responder-token-file <file>', "a file with the responder's token (its audit log needs credentials; default: the stack's)")
    .action(async function runConsole(opts: ConsoleCommandOptions) {
      const stack = existsSync(join(opts.dir, 'stack.json')) ? readStackInfo(opts.dir) : undefined;
      const spec: Readonly<MonitoringSpec> =
        opts.spec !== undefined
          ? loadMonitoringSpec(opts.spec)
          : (stack?.spec ?? loadSpecOrDefaults(findSpec(undefined)));
      const model = buildModel(spec);
      const prometheus = opts.prometheus ?? stack?.urls.prometheus;
      if (prometheus === undefined) {
        throw CONSOLE_ERR_NO_PROMETHEUS(`No Prometheus to read: ${join(opts.dir, 'stack.json')} is missing. Start a stack with 'llmwatch up', or pass --prometheus URL.`);
      }
      const handle = await startConsole({
        prometheus,
        alertmanager: opts.alertmanager ?? stack?.urls.alertmanager,
        responder: opts.responder ?? stack?.urls.responder,
        responderToken: opts.responderTokenFile !== undefined ? readFileSync(opts.responderTokenFile, 'utf8').trim() : stack?.responderToken,
        dashboards: buildDashboards(model),
        runbooks: runbookSource(model),
        port: opts.port,
        drillsFile: stack === undefined ? undefined : join(stack.dir, DRILLS_FILE),
        // The noise page replays the stack's history through the Alertmanager config it runs.
        noise: stack === undefined ? undefined : stackNoiseSource(prometheus, join(stack.dir, 'config', ALERTMANAGER_CONFIG_PATH), stackAuditPath(stack.dir)),
      });
      console.log(`llmwatch console  ${handle.url}   (Prometheus ${prometheus})`);
      await waitForSignal();
      await handle.close();
    });
}
