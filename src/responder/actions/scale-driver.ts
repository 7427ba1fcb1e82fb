import { zodProblems } from '../../core/config/validate.ts';
import { scaleParamsSchema } from '../../core/config/action-specs.ts';
import type { z } from 'zod';
import type { Action, ActionContext, ActionResult } from '../types.ts';

type ScaleParams = z.output<typeof scaleParamsSchema>;

/** What a deployment has now: its replica count and a version that changes with every write. */
export interface ReplicaState {
  readonly replicas: number;
  readonly version: string;
}

/** Why a driver refused a write; the action reports it as the failure's reason. */
export class ReplicaDriverError extends Error {
  readonly reason: 'not-found' | 'forbidden' | 'conflict' | 'api-error';
  constructor(reason: ReplicaDriverError['reason'], message: string) {
    super(message);
    this.name = 'ReplicaDriverError';
    this.reason = reason;
  }
}

/**
 * Something that runs replicas of a model server and can be asked to change
 * their number: the Kubernetes driver's `scale` subresource, or the local
 * stack's simulator replicas. `write` must refuse (`conflict`) when the
 * deployment is no longer at `version`, as the Kubernetes API does with a
 * stale resourceVersion, and may refuse counts beyond its own limits
 * (`forbidden`), whatever the playbook's `max` says.
 */
export interface ReplicaDriver {
  /** Where the replicas run, for messages (`the local stack`). */
  readonly where: string;
  read(target: { deployment: string; namespace: string }, signal: AbortSignal): Promise<ReplicaState>;
  write(target: { deployment: string; namespace: string }, replicas: number, version: string, signal: AbortSignal): Promise<void>;
}

/** The next replica count one step towards the bound, or undefined when already there (or beyond). */
export function nextReplicas(current: number, p: Pick<ScaleParams, 'direction' | 'step' | 'min' | 'max'>): number | undefined {
  // A step out never lowers the count and a step in never raises it, even when
  // someone put the Deployment outside [min, max]: that is theirs to undo.
  if (p.direction === 'out') {
    const to = Math.max(Math.min(current + p.step, p.max), p.min);
    return to > current ? to : undefined;
  }
  const to = Math.min(Math.max(current - p.step, p.min), p.max);
  return to < current ? to : undefined;
}

/**
 * Why a scale failed, for callers that branch on it (`data.reason` of a
 * failure); the detail carries the API's own status and message.
 */
export type ScaleFailureReason =
  | 'invalid-params'
  | 'not-found'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'api-error'
  | 'unreachable'
  | 'timeout'
  | 'aborted';

/** A scale run's parsed params and what both scale actions derive from them before reading the count. */
export interface ScaleRun {
  readonly p: ScaleParams;
  readonly ids: { readonly deployment: string; readonly namespace: string };
  /** `namespace/deployment`, for messages. */
  readonly target: string;
  /** The count an interrupted attempt had decided (its checkpoint), while within `[min, max]`: finished by writing it. */
  readonly resumeTo: number | undefined;
  /** A failure result carrying the reason, the deployment and `extra`. */
  readonly fail: (reason: ScaleFailureReason, detail: string, extra?: Record<string, unknown>) => ActionResult;
}

/** Starts a scale run from the step's params and checkpoint; invalid params are the failure result. */
export function startScale(ctx: ActionContext): ScaleRun | ActionResult {
  const parsed = scaleParamsSchema.safeParse(ctx.params);
  if (!parsed.success) {
    return { outcome: 'failure', detail: `invalid scale params: ${zodProblems(parsed.error).join('; ')}`, data: { reason: 'invalid-params' } };
  }
  const p = parsed.data;
  const ids = { deployment: p.deployment, namespace: p.namespace };
  return {
    p,
    ids,
    target: `${p.namespace}/${p.deployment}`,
    // An earlier attempt was cut short after deciding its count: finish it by setting that count.
    resumeTo: typeof ctx.resume?.to === 'number' && ctx.resume.to >= p.min && ctx.resume.to <= p.max ? ctx.resume.to : undefined,
    fail: (reason, detail, extra = {}) => ({ outcome: 'failure', detail, data: { reason, ...ids, ...extra } }),
  };
}

/**
 * The count an attempt that read `from` replicas writes, or the result that
 * ends the run without a write: the interrupted attempt's count already there
 * (a no-op success), already at (or beyond) the bound, or a dry run. `where`
 * follows the deployment's name in messages (` in the local stack`, or empty).
 */
export function scaleTo(run: ScaleRun, from: number, dryRun: boolean, where: string): number | ActionResult {
  const { p, ids, target, resumeTo } = run;
  if (resumeTo !== undefined && from === resumeTo) {
    return { outcome: 'success', detail: `deployment ${target} already at ${from} replicas: the interrupted attempt had written them (no-op)`, data: { from, to: from, ...ids, resumed: true } };
  }
  const to = resumeTo ?? nextReplicas(from, p);
  if (to === undefined) {
    const bound = p.direction === 'out' ? `max ${p.max}` : `min ${p.min}`;
    const at = from === (p.direction === 'out' ? p.max : p.min) ? `already at ${bound}` : `${from} replicas, already beyond ${bound}`;
    return { outcome: 'skipped', detail: `${at} (deployment ${target}${where})`, data: { from, to: from, ...ids } };
  }
  if (dryRun) return { outcome: 'dry-run', detail: `would scale deployment ${target}${where} from ${from} to ${to}`, data: { from, to, ...ids } };
  return to;
}

/** The failure of a run its signal cut short: the engine's timeout, or an abort (shutdown). */
export function scaleAborted(signal: AbortSignal, run: ScaleRun): ActionResult {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return run.fail('timeout', `timed out scaling deployment ${run.target}`);
  return run.fail('aborted', `aborted scaling deployment ${run.target}: ${reason instanceof Error ? reason.message : String(reason)}`);
}

/**
 * The `scale` action over any {@link ReplicaDriver}, with the Kubernetes
 * action's safety rules: one `step` towards `[min, max]` and never past it,
 * a checkpoint of the count before the write (an interrupted attempt is
 * finished by writing that count, not by stepping again), dry runs that
 * change nothing, a write conditional on the version read (a concurrent
 * writer makes it a conflict; re-read and retried once), and the engine's
 * signal honoured. It never throws: every failure is a result with a reason.
 */
export function createDriverScaleAction(driver: ReplicaDriver): Action {
  const where = ` in ${driver.where}`;
  return {
    id: 'scale',
    async run(ctx: ActionContext): Promise<ActionResult> {
      const run = startScale(ctx);
      if ('outcome' in run) return run;
      const { ids, target } = run;
      try {
        for (let attempt = 1; ; attempt++) {
          if (ctx.signal.aborted) return scaleAborted(ctx.signal, run);
          const state = await driver.read(ids, ctx.signal);
          const from = state.replicas;
          const to = scaleTo(run, from, ctx.dryRun, where);
          if (typeof to !== 'number') return to;
          ctx.checkpoint?.({ from, to });
          try {
            await driver.write(ids, to, state.version, ctx.signal);
            return { outcome: 'success', detail: `scaled ${target}${where} from ${from} to ${to}`, data: { from, to, ...ids, attempts: attempt } };
          } catch (err) {
            if (!(err instanceof ReplicaDriverError && err.reason === 'conflict')) throw err;
            if (attempt >= 2) return run.fail('conflict', `conflict: deployment ${target} was changed by another writer during both attempts (${err.message})`, { attempts: attempt });
          }
        }
      } catch (err) {
        if (ctx.signal.aborted) return scaleAborted(ctx.signal, run);
        if (err instanceof ReplicaDriverError) return run.fail(err.reason, err.message);
        return run.fail('unreachable', `cannot scale deployment ${target}${where}: ${(err as Error).message}`);
      }
    },
  };
}
