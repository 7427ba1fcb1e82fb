import { ApiException, AppsV1Api, IsomorphicFetchHttpLibrary } from '@kubernetes/client-node';
import type { HttpLibrary, KubeConfig, V1Scale } from '@kubernetes/client-node';
import type { z } from 'zod';
import type { Action, ActionContext, ActionResult } from '../types.ts';
import { scaleParamsSchema } from '../../core/config/action-specs.ts';
import { scaleAborted, scaleTo, startScale } from './scale-driver.ts';
import type { ScaleFailureReason, ScaleRun } from './scale-driver.ts';

export { scaleParamsSchema };

export type ScaleParams = z.output<typeof scaleParamsSchema>;

export type { ScaleFailureReason };

export interface ScaleActionOptions {
  /** Where the Deployments live and how to authenticate (in-cluster, a kubeconfig file, ...). */
  readonly kubeConfig: KubeConfig;
  /** `fieldManager` recorded by the API server for the write. Default `llmwatch-responder`. */
  readonly fieldManager?: string;
}

/**
 * The `scale` action: moves a Deployment's replicas one `step` out (or in)
 * through its `scale` subresource, never past `[min, max]`. The write carries
 * the resourceVersion read, so a concurrent writer (an HPA, a person with
 * kubectl) makes it fail with 409 Conflict instead of being overwritten; the
 * action then re-reads and retries once, recomputing from the new count.
 * It never throws: every failure is a result naming the API's status.
 * Throws at construction when the kubeconfig has no current cluster.
 * @example
 * const kc = new KubeConfig(); kc.loadFromDefault();
 * const scale = createScaleAction({ kubeConfig: kc });
 * await scale.run({ alert, params: { deployment: 'openllm', namespace: 'llm' }, dryRun: false, signal });
 * // { outcome: 'success', detail: 'scaled llm/openllm from 1 to 2', data: { from: 1, to: 2, ... } }
 */
export function createScaleAction(opts: ScaleActionOptions): Action {
  const api = opts.kubeConfig.makeApiClient(AppsV1Api);
  const server = opts.kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API';
  const fieldManager = opts.fieldManager ?? 'llmwatch-responder';
  const transport = new IsomorphicFetchHttpLibrary();

  return {
    id: 'scale',
    async run(ctx: ActionContext): Promise<ActionResult> {
      const run = startScale(ctx);
      if ('outcome' in run) return run;
      const { p, ids, target } = run;
      // Per call, so the engine's timeout and shutdown abort the HTTP request itself.
      const httpApi: HttpLibrary = {
        send(request) {
          request.setSignal(ctx.signal);
          return transport.send(request);
        },
      };
      try {
        for (let attempt = 1; ; attempt++) {
          if (ctx.signal.aborted) return scaleAborted(ctx.signal, run);
          const scale = await api.readNamespacedDeploymentScale({ name: p.deployment, namespace: p.namespace }, { httpApi });
          const from = scale.spec?.replicas ?? 0;
          const to = scaleTo(run, from, ctx.dryRun, '');
          if (typeof to !== 'number') return to;
          const body: V1Scale = {
            apiVersion: 'autoscaling/v1',
            kind: 'Scale',
            metadata: { name: p.deployment, namespace: p.namespace, resourceVersion: scale.metadata?.resourceVersion },
            spec: { replicas: to },
          };
          // Committed before the write: a crash from here on is finished by writing this count, not another step.
          ctx.checkpoint?.({ from, to });
          try {
            await api.replaceNamespacedDeploymentScale({ name: p.deployment, namespace: p.namespace, body, fieldManager }, { httpApi });
            return { outcome: 'success', detail: `scaled ${target} from ${from} to ${to}`, data: { from, to, ...ids, attempts: attempt } };
          } catch (err) {
            if (!(err instanceof ApiException && err.code === 409)) throw err;
            if (attempt >= 2) {
              return run.fail('conflict', `conflict: deployment ${target} was changed by another writer during both attempts (409 Conflict: ${statusOf(err).message})`, {
                status: 409,
                attempts: attempt,
              });
            }
          }
        }
      } catch (err) {
        return failureOf(err, ctx.signal, run, server);
      }
    },
  };
}

function failureOf(err: unknown, signal: AbortSignal, run: ScaleRun, server: string): ActionResult {
  if (signal.aborted) return scaleAborted(signal, run);
  const { target, fail } = run;
  if (err instanceof ApiException) {
    const code = err.code;
    const s = statusOf(err);
    const text = s.message === s.reason || s.message === '' ? `${code} ${s.reason}` : `${code} ${s.reason}: ${s.message}`;
    const extra = { status: code, apiReason: s.reason };
    switch (code) {
      case 401:
        return fail('unauthorized', `the Kubernetes API refused the credentials (${text})`, extra);
      case 403:
        return fail('forbidden', `not allowed to scale deployment ${target} (${text})`, extra);
      case 404:
        return fail('not-found', `deployment ${target} not found (${text})`, extra);
      default:
        return fail('api-error', `the Kubernetes API answered ${text} for deployment ${target}`, extra);
    }
  }
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return fail('unreachable', `cannot reach the Kubernetes API at ${server}: ${message}`, typeof e?.code === 'string' ? { errno: e.code } : {});
}

/** The reason and message of the API's `Status` body, or the HTTP status text when the body is not one. */
function statusOf(err: ApiException<unknown>): { reason: string; message: string } {
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // Not JSON (a proxy's error page): fall back to the text itself below.
    }
  }
  if (body !== null && typeof body === 'object' && (body as { kind?: unknown }).kind === 'Status') {
    const s = body as { reason?: unknown; message?: unknown };
    return { reason: typeof s.reason === 'string' ? s.reason : 'Unknown', message: typeof s.message === 'string' ? s.message : '' };
  }
  const fallback = HTTP_REASONS[err.code] ?? 'Error';
  return { reason: fallback, message: typeof body === 'string' && body.length > 0 ? body.slice(0, 200) : fallback };
}

const HTTP_REASONS: Readonly<Record<number, string>> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' };
