import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { durationMs, isDuration } from '../core/config/duration.ts';
import { findSpec, loadSpecOrDefaults } from '../core/config/monitoring-spec.ts';
import { defaultStackDir, stackAuditPath } from '../core/state.ts';
import { generate } from '../monitoring/generate.ts';
import { ALERTMANAGER_CONFIG_PATH } from '../monitoring/writers/alertmanager.ts';
import { STACK_ERR_NOISE_ARGS, STACK_ERR_NOISE_INPUT } from './errors.ts';
import { readAlertmanagerConfig } from './noise-alertmanager.ts';
import type { AlertmanagerView, Route } from './noise-alertmanager.ts';
import { renderNoiseTable } from './noise.ts';
import { DEFAULT_FLAP_WINDOW_MS, noiseReport } from './noise-report.ts';
import { readStackInfo } from './stack-info.ts';

interface NoiseCommandOptions {
  dir: string;
  prometheus?: string;
  alertmanagerConfig?: string;
  spec?: string;
  audit?: string;
  since: number;
  start?: number;
  end?: number;
  step?: number;
  flapWindow: number;
  pager?: string[];
  json?: boolean;
}

/** A commander parser for a one-unit Prometheus duration (`30s`, `15m`, `7d`), in milliseconds. */
function durationOption(name: string): (value: string) => number {
  return function parseDuration(value) {
    if (!isDuration(value)) throw new InvalidArgumentError(`${name} must be a duration with one unit, such as 30s, 15m, 6h or 7d`);
    return durationMs(value);
  };
}

/** A time as RFC 3339 (`2026-12-02T17:00:00Z`) or unix seconds, in milliseconds. */
function parseTime(value: string): number {
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('a time must be RFC 3339 (2026-12-02T17:00:00Z) or unix seconds');
  return ms;
}

function parsePagers(value: string): string[] {
  const list = value.split(',').map((s) => s.trim());
  if (list.some((s) => s === '')) throw new InvalidArgumentError('give receiver names separated by commas, such as oncall,pagerduty');
  return list;
}

/**
 * The Alertmanager config to replay the history through: the file named, else the
 * one generated from the spec named, else the running stack's, else the one
 * generated from llmwatch.yaml (or the defaults).
 */
function alertmanagerView(opts: NoiseCommandOptions, stackDir: string | undefined): { view: AlertmanagerView; source: string } {
  const file = opts.alertmanagerConfig ?? (opts.spec === undefined && stackDir !== undefined ? join(stackDir, 'config', ALERTMANAGER_CONFIG_PATH) : undefined);
  if (file !== undefined) return { view: readAlertmanagerConfig(readFileSync(file, 'utf8'), file), source: file };
  const specPath = findSpec(opts.spec);
  const generated = generate(loadSpecOrDefaults(specPath)).find((f) => f.path === ALERTMANAGER_CONFIG_PATH)!;
  const source = `the Alertmanager config generated from ${specPath ?? 'the default spec'}`;
  return { view: readAlertmanagerConfig(generated.content, source), source };
}

function receiversOf(route: Route): Set<string> {
  return new Set([route.receiver, ...route.routes.flatMap((r) => [...receiversOf(r)])]);
}

/** `llmwatch noise`. */
export function noiseCommand(): Command {
  return new Command('noise')
    .description("report how noisy the alerts were: times fired, firing time, flaps, inhibited, muted, grouped, pages per day and the responder's actions, per alert")
    .option('-d, --dir <dir>', "a running stack's working folder (its stack.json gives Prometheus, the Alertmanager config and the audit)", defaultStackDir())
    .option('--prometheus <url>', 'Prometheus base URL to read ALERTS from (default: the stack\'s)')
    .option('--alertmanager-config <file>', "the alertmanager.yml to replay the history through (default: the stack's, else the one generated from the spec)")
    .option('-s, --spec <file>', 'monitoring spec whose generated Alertmanager config to use (default: llmwatch.yaml if present, else the defaults)')
    .option('--audit <file>', "the responder's audit database, read-only, for the actions taken (default: the stack's, if any)")
    .option('--since <duration>', 'how far back from --end to look', durationOption('--since'), durationMs('1d'))
    .option('--start <time>', 'start of the range, RFC 3339 or unix seconds (overrides --since)', parseTime)
    .option('--end <time>', 'end of the range, RFC 3339 or unix seconds (default: now)', parseTime)
    .option('--step <duration>', "the step to read ALERTS at (default: Prometheus' evaluation interval)", durationOption('--step'))
    .option('--flap-window <duration>', 'an alert that resolves and fires again within this long counts as a flap', durationOption('--flap-window'), DEFAULT_FLAP_WINDOW_MS)
    .option('--pager <receivers>', 'receivers whose notifications count as pages, comma-separated (default: those a critical alert reaches)', parsePagers)
    .option('--json', 'print the report as JSON')
    .action(async function runNoise(opts: NoiseCommandOptions) {
      const stack = existsSync(join(opts.dir, 'stack.json')) ? readStackInfo(opts.dir) : undefined;
      const endMs = opts.end ?? Date.now();
      const startMs = opts.start ?? endMs - opts.since;
      if (startMs >= endMs) throw STACK_ERR_NOISE_ARGS(`the range starts (${new Date(startMs).toISOString()}) at or after it ends (${new Date(endMs).toISOString()}); give --start before --end`);
      const prometheus = opts.prometheus ?? stack?.urls.prometheus;
      if (prometheus === undefined) {
        throw STACK_ERR_NOISE_INPUT(`No Prometheus to read: ${join(opts.dir, 'stack.json')} is missing. Start a stack with 'llmwatch up', or pass --prometheus URL.`);
      }
      const { view } = alertmanagerView(opts, stack?.dir);
      const routed = receiversOf(view.route);
      const unknown = (opts.pager ?? []).filter((r) => !routed.has(r));
      if (unknown.length > 0) throw STACK_ERR_NOISE_ARGS(`--pager ${unknown.join(',')}: no route of the Alertmanager config reaches ${unknown.length > 1 ? 'them' : 'it'} (routed receivers: ${[...routed].sort().join(', ')})`);
      const auditPath = opts.audit ?? (stack !== undefined && existsSync(stackAuditPath(stack.dir)) ? stackAuditPath(stack.dir) : undefined);
      const report = await noiseReport({ prometheus, view, auditPath, flapWindowMs: opts.flapWindow, pagers: opts.pager, stepMs: opts.step }, startMs, endMs);
      console.log(opts.json === true ? JSON.stringify(report, null, 2) : renderNoiseTable(report));
    });
}
