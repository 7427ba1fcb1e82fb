import { zodProblems } from '../../core/config/validate.ts';
import { switchModelParamsSchema } from '../../core/config/action-specs.ts';
import type { Action, ActionContext, ActionResult } from '../types.ts';

const Params = switchModelParamsSchema;

export interface SwitchModelOptions {
  readonly gatewayURL: string;
  readonly adminToken: string | undefined;
}

/**
 * `switch-model`: asks the gateway's admin API to route a model to another
 * target (its lighter fallback by default), or back to its primary when
 * `revert` is set (the alert resolved).
 */
export function createSwitchModelAction(opts: SwitchModelOptions): Action & { revert(ctx: ActionContext): Promise<ActionResult> } {
  const call = async (ctx: ActionContext, revert: boolean): Promise<ActionResult> => {
    const p = Params.safeParse(ctx.params);
    if (!p.success) return { outcome: 'failure', detail: `bad params: ${zodProblems(p.error).join('; ')}` };
    const { model } = p.data;
    const target = revert ? 'primary' : p.data.target;
    const what = `route model ${model} to ${String(target)}`;
    if (ctx.dryRun) return { outcome: 'dry-run', detail: `would ${what}`, data: { model, target } };
    if (opts.adminToken === undefined) return { outcome: 'failure', detail: 'no gateway admin token configured (gateway.adminToken or adminTokenFile)' };
    try {
      const res = await fetch(`${opts.gatewayURL.replace(/\/+$/, '')}/admin/routes/${encodeURIComponent(model)}`, {
        method: revert ? 'DELETE' : 'PUT',
        headers: { authorization: `Bearer ${opts.adminToken}`, 'content-type': 'application/json', 'x-llmwatch-actor': 'responder' },
        body: revert ? undefined : JSON.stringify({ target }),
        signal: ctx.signal,
      });
      const body = (await res.json().catch(() => ({}))) as { activeTarget?: string; changed?: boolean; error?: { message?: string } };
      if (!res.ok) return { outcome: 'failure', detail: `gateway answered ${res.status}: ${body.error?.message ?? 'no message'}` };
      return {
        outcome: 'success',
        detail: body.changed === false ? `model ${model} was already on ${body.activeTarget}` : `routed model ${model} to ${body.activeTarget}`,
        data: { model, activeTarget: body.activeTarget, changed: body.changed },
      };
    } catch (err) {
      return { outcome: 'failure', detail: `gateway unreachable: ${(err as Error).message}` };
    }
  };
  return { id: 'switch-model', run: (ctx) => call(ctx, false), revert: (ctx) => call(ctx, true) };
}
