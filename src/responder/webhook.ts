import { zodProblems } from '../core/config/validate.ts';
import { z } from 'zod';
import type { Alert } from './types.ts';

const Labels = z.record(z.string(), z.string());

/**
 * Alertmanager's webhook payload, version 4
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
 * Unknown fields are allowed: newer Alertmanagers add some.
 */
export const WebhookSchema = z.object({
  version: z.literal('4', { error: "'version' must be \"4\" (Alertmanager's webhook format)" }),
  groupKey: z.string(),
  truncatedAlerts: z.int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: Labels,
  commonLabels: Labels,
  commonAnnotations: Labels,
  externalURL: z.string(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: Labels.refine((l) => typeof l.alertname === 'string' && l.alertname.length > 0, "every alert needs an 'alertname' label"),
        annotations: Labels,
        startsAt: z.iso.datetime({ offset: true }),
        endsAt: z.string(),
        generatorURL: z.string(),
        fingerprint: z.string().min(1),
      }),
    )
    .max(10_000),
});

export type Webhook = z.output<typeof WebhookSchema>;

/** Validates a parsed body; the error lists each field at fault (`alerts.0.startsAt: ...`). */
export function parseWebhook(body: unknown): { ok: true; webhook: Webhook; alerts: Alert[] } | { ok: false; reason: string } {
  const r = WebhookSchema.safeParse(body);
  if (!r.success) {
    return { ok: false, reason: zodProblems(r.error).join('; ') };
  }
  return { ok: true, webhook: r.data, alerts: r.data.alerts };
}
