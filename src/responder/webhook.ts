import { zodProblems } from '../core/config/validate.ts';
import { z } from 'zod';
import type { Alert } from './types.ts';
import type { TimeSlice } from './queue-slice.ts';

const Labels = z.record(z.string(), z.string());


const AlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: Labels.refine((l) => typeof l.alertname === 'string' && l.alertname.length > 0, "every alert needs an 'alertname' label"),
  annotations: Labels,
  startsAt: z.iso.datetime({ offset: true }),
  endsAt: z.string(),
  generatorURL: z.string(),
  fingerprint: z.string().min(1),
});

/** The webhook without its alerts' contents: checked in one piece, the alerts a slice at a time. */
const EnvelopeSchema = z.object({
  version: z.literal('4', { error: "'version' must be \"4\" (Alertmanager's webhook format)" }),
  groupKey: z.string(),
  truncatedAlerts: z.int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: Labels,
  commonLabels: Labels,
  commonAnnotations: Labels,
  externalURL: z.string(),
  alerts: z.array(z.unknown()).max(10_000),
});

/**
 * Alertmanager's webhook payload, version 4
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):
 * the envelope above with its alerts checked by AlertSchema.
 * Unknown fields are allowed: newer Alertmanagers add some.
 */
export type Webhook = Omit<z.output<typeof EnvelopeSchema>, 'alerts'> & { alerts: Alert[] };

/** Alerts validated between two turns of the event loop. */
const VALIDATE_CHUNK = 20;

/**
 * Validates a parsed body; the error lists each field at fault (`alerts.0.startsAt: ...`).
 * The alerts are checked {@link VALIDATE_CHUNK} at a time, each chunk in room
 * left in the responder's time `slice`, so a webhook of 10,000 alerts never
 * holds the event loop in one piece.
 */
export async function parseWebhook(body: unknown, slice?: Pick<TimeSlice, 'over' | 'next'>): Promise<{ ok: true; webhook: Webhook; alerts: Alert[] } | { ok: false; reason: string }> {
  const envelope = EnvelopeSchema.safeParse(body);
  const problems = envelope.success ? [] : zodProblems(envelope.error);
  // A bad envelope still has its alerts checked (one answer names every fault), unless they are too many to take.
  const given = (body as { alerts?: unknown } | null)?.alerts;
  const raw = envelope.success ? envelope.data.alerts : Array.isArray(given) && given.length <= 10_000 ? given : [];
  const alerts: Alert[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (i > 0 && i % VALIDATE_CHUNK === 0) while (slice?.over === true) await slice.next;
    const a = AlertSchema.safeParse(raw[i]);
    if (a.success) alerts.push(a.data);
    else problems.push(...zodProblems(a.error).map((p) => (p.startsWith('(root)') ? `alerts.${i}${p.slice('(root)'.length)}` : `alerts.${i}.${p}`)));
  }
  if (!envelope.success || problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return { ok: true, webhook: { ...envelope.data, alerts }, alerts };
}
