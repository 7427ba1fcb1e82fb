import { zodProblems } from '../../core/config/validate.ts';
import { notifyParamsSchema } from '../../core/config/action-specs.ts';
import type { Action, ActionResult } from '../types.ts';

const Params = notifyParamsSchema;

export interface NotifyOptions {
  readonly webhooks: Readonly<Record<string, string>>;
  readonly slack: Readonly<Record<string, string>>;
}

/**
 * `notify`: posts the alert and what the responder did about it to a generic
 * JSON webhook and/or a Slack-compatible incoming webhook.
 */
export function createNotifyAction(opts: NotifyOptions): Action {
  return {
    id: 'notify',
    async run(ctx): Promise<ActionResult> {
      const p = Params.safeParse(ctx.params);
      if (!p.success) return { outcome: 'failure', detail: `bad params: ${zodProblems(p.error).join('; ')}` };
      const { channel } = p.data;
      const hook = opts.webhooks[channel];
      const slack = opts.slack[channel];
      if (hook === undefined && slack === undefined) return { outcome: 'skipped', detail: `no webhook configured for channel '${channel}'` };
      const a = ctx.alert;
      const text = p.data.text ?? `[${a.status}] ${a.labels.alertname}${a.labels.model ? ` (${a.labels.model})` : ''}: ${a.annotations.summary ?? ''} — ${ctx.summary ?? 'no action taken'}`;
      if (ctx.dryRun) return { outcome: 'dry-run', detail: `would notify ${channel}: ${text}` };
      const posts: Array<Promise<string>> = [];
      if (hook !== undefined) posts.push(post(hook, { channel, text, alert: a }, ctx.signal));
      if (slack !== undefined) posts.push(post(slack, { text }, ctx.signal));
      const failures = (await Promise.all(posts)).filter((r) => r !== '');
      if (failures.length > 0) return { outcome: 'failure', detail: failures.join('; ') };
      return { outcome: 'success', detail: `notified ${channel}`, data: { channel, text } };
    },
  };
}

/** Posts JSON; '' on success, the failure in words otherwise. */
async function post(url: string, body: unknown, signal: AbortSignal): Promise<string> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    await res.arrayBuffer();
    return res.ok ? '' : `${new URL(url).host} answered ${res.status}`;
  } catch (err) {
    return `${new URL(url).host} unreachable: ${(err as Error).message}`;
  }
}
