import type { Alert } from '../../src/responder/types.ts';

/** An Alertmanager version 4 webhook payload with the given alerts. */
export function webhook(alerts: Alert[], status: 'firing' | 'resolved' = alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing') {
  return {
    version: '4',
    groupKey: '{}:{alertname="x"}',
    truncatedAlerts: 0,
    status,
    receiver: 'llmwatch-responder',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts,
  };
}

let n = 0;

/** One alert; every call gets a new fingerprint unless one is given. */
export function alert(labels: Record<string, string>, overrides: Partial<Alert> = {}): Alert {
  n++;
  return {
    status: 'firing',
    labels: { severity: 'critical', ...labels },
    annotations: { summary: `summary of ${labels.alertname}` },
    startsAt: new Date(Date.UTC(2026, 10, 29, 4, 0, n % 60)).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    fingerprint: `fp${n.toString(16).padStart(8, '0')}`,
    ...overrides,
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
