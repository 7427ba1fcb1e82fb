import { existsSync, readFileSync } from 'node:fs';
import { durationMs } from '../core/config/duration.ts';
import { STACK_ERR_NOISE_ARGS, STACK_ERR_NOISE_INPUT } from './errors.ts';
import { readAlertmanagerConfig } from './noise-alertmanager.ts';
import type { AlertmanagerView } from './noise-alertmanager.ts';
import { readActions } from './noise-audit.ts';
import { evaluationIntervalMs, readAlertHistory } from './noise-history.ts';
import { analyseNoise, criticalReceivers } from './noise.ts';
import type { NoiseReport } from './noise.ts';

/** `llmwatch noise --flap-window`'s default: a re-fire within 10 minutes is a flap. */
export const DEFAULT_FLAP_WINDOW_MS = durationMs('10m');

/** Where a noise report reads from, and how it counts: what `llmwatch noise` and the console's noise page share. */
export interface NoiseInputs {
  /** Prometheus base URL, to read `ALERTS` from. */
  readonly prometheus: string;
  /** The Alertmanager config the history is replayed through. */
  readonly view: AlertmanagerView;
  /** The responder's audit database, read-only, when there is one. */
  readonly auditPath?: string;
  readonly flapWindowMs: number;
  /** Receivers whose notifications count as pages; default: those a critical alert reaches. */
  readonly pagers?: readonly string[];
  /** The step to read `ALERTS` at; default: Prometheus' evaluation interval, read from it. */
  readonly stepMs?: number;
}

/**
 * The noise report over [startMs, endMs]: `ALERTS` read at the evaluation
 * step, replayed through the Alertmanager config, with the responder's actions.
 * Errors are `STACK_ERR_NOISE_ARGS` (the range or step) or
 * `STACK_ERR_NOISE_INPUT` (Prometheus or the audit unreadable), each naming the fix.
 */
export async function noiseReport(inputs: NoiseInputs, startMs: number, endMs: number): Promise<NoiseReport> {
  if (startMs >= endMs) throw STACK_ERR_NOISE_ARGS(`the range starts (${new Date(startMs).toISOString()}) at or after it ends (${new Date(endMs).toISOString()}); give --start before --end`);
  const pagers = new Set(inputs.pagers ?? criticalReceivers(inputs.view));
  const actions = inputs.auditPath === undefined ? undefined : readActions(inputs.auditPath, startMs, endMs);
  let stepMs = inputs.stepMs;
  if (stepMs === undefined) {
    try {
      stepMs = await evaluationIntervalMs(inputs.prometheus);
    } catch (err) {
      throw STACK_ERR_NOISE_INPUT(`cannot read Prometheus' evaluation interval at ${inputs.prometheus}: ${(err as Error).message}; check --prometheus, or give --step`, { cause: err });
    }
  }
  if (stepMs > endMs - startMs) throw STACK_ERR_NOISE_ARGS(`the step (${stepMs / 1000}s) is longer than the range (${(endMs - startMs) / 1000}s); widen the range or shorten --step`);
  const history = await readAlertHistory(inputs.prometheus, startMs, endMs, stepMs);
  return analyseNoise(history, inputs.view, { flapWindowMs: inputs.flapWindowMs, pagers }, actions);
}

/**
 * The console's noise page for a stack: its Prometheus, the Alertmanager
 * config it runs (read at each report: a regenerated config counts), its
 * responder's audit when there is one, a 10-minute flap window.
 */
export function stackNoiseSource(prometheus: string, alertmanagerConfigFile: string, auditPath: string | undefined): { report(startMs: number, endMs: number): Promise<NoiseReport> } {
  return {
    report: (startMs, endMs) => {
      const view = readAlertmanagerConfig(readFileSync(alertmanagerConfigFile, 'utf8'), alertmanagerConfigFile);
      const audit = auditPath !== undefined && existsSync(auditPath) ? auditPath : undefined;
      return noiseReport({ prometheus, view, auditPath: audit, flapWindowMs: DEFAULT_FLAP_WINDOW_MS }, startMs, endMs);
    },
  };
}
