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
 * The `scale` action over any {@link ReplicaDriver}, with the Kubernetes
 * action's safety rules: one `step` towards `[min, max]` and never past it,
 * a checkpoint of the count before the write (an interrupted attempt is
 * finished by writing that count, not by stepping again), dry runs that
 * change nothing, a write conditional on the version read (a concurrent
 * writer makes it a conflict; re-read and retried once), and the engine's
 * signal honoured. It never throws: every failure is a result with a reason.
 */
export function createDriverScaleAction(driver: ReplicaDriver): Action {
  return {
    id: 'scale',
    async run(ctx: ActionContext): Promise<ActionResult> {
      const parsed = scaleParamsSchema.safeParse(ctx.params);
      if (!parsed.success) {
        return { outcome: 'failure', detail: `invalid scale params: ${zodProblems(parsed.error).join('; ')}`, data: { reason: 'invalid-params' } };
      }
      const p = parsed.data;
      const ids = { deployment: p.deployment, namespace: p.namespace };
      const target = `${p.namespace}/${p.deployment}`;
      const fail = (reason: string, detail: string, extra: Record<string, unknown> = {}): ActionResult => ({ outcome: 'failure', detail, data: { reason, ...ids, ...extra } });
      const resumeTo = typeof ctx.resume?.to === 'number' && ctx.resume.to >= p.min && ctx.resume.to <= p.max ? ctx.resume.to : undefined;
      try {
        for (let attempt = 1; ; attempt++) {
          if (ctx.signal.aborted) return aborted(ctx.signal, target, fail);
          const state = await driver.read(ids, ctx.signal);
          const from = state.replicas;
          if (resumeTo !== undefined && from === resumeTo) {
            return { outcome: 'success', detail: `deployment ${target} already at ${from} replicas: the interrupted attempt had written them (no-op)`, data: { from, to: from, ...ids, resumed: true } };
          }
          const to = resumeTo ?? nextReplicas(from, p);
          if (to === undefined) {
            const bound = p.direction === 'out' ? `max ${p.max}` : `min ${p.min}`;
            const where = from === (p.direction === 'out' ? p.max : p.min) ? `already at ${bound}` : `${from} replicas, already beyond ${bound}`;
            return { outcome: 'skipped', detail: `${where} (deployment ${target} in ${driver.where})`, data: { from, to: from, ...ids } };
          }
          if (ctx.dryRun) return { outcome: 'dry-run', detail: `would scale deployment ${target} in ${driver.where} from ${from} to ${to}`, data: { from, to, ...ids } };
          ctx.checkpoint?.({ from, to });
          try {
            await driver.write(ids, to, state.version, ctx.signal);
            return { outcome: 'success', detail: `scaled ${target} in ${driver.where} from ${from} to ${to}`, data: { from, to, ...ids, attempts: attempt } };
          } catch (err) {
            if (!(err instanceof ReplicaDriverError && err.reason === 'conflict')) throw err;
            if (attempt >= 2) return fail('conflict', `conflict: deployment ${target} was changed by another writer during both attempts (${err.message})`, { attempts: attempt });
          }
        }
      } catch (err) {
        if (ctx.signal.aborted) return aborted(ctx.signal, target, fail);
        if (err instanceof ReplicaDriverError) return fail(err.reason, err.message);
        return fail('unreachable', `cannot scale deployment ${target} in ${driver.where}: ${(err as Error).message}`);
      }
    },
  };
}

function aborted(signal: AbortSignal, target: string, fail: (reason: string, detail: string) => ActionResult): ActionResult {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return fail('timeout', `timed out scaling deployment ${target}`);
  return fail('aborted', `aborted scaling deployment ${target}: ${reason instanceof Error ? reason.message : String(reason)}`);
}
