/**
 * Webhook-to-action latency of the responder under a burst of alerts.
 *
 * A responder with a no-op playbook (the cap raised out of the way) takes a
 * burst of N alerts, one per webhook, sent concurrently; each alert's latency
 * runs from the moment its webhook is sent to the moment its action was
 * recorded in the audit log. The baseline, in the same run, is the round trip
 * of a plain `GET /healthz` to the same process at the same concurrency.
 *
 *   npm run bench:responder                # 1000 alerts, 50 at a time
 *   npm run bench:responder -- --alerts 200 --concurrency 20
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ResponderConfigSchema } from '../src/config/responder-config.ts';
import { validateConfig } from '../src/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';

const { values: args } = parseArgs({ options: { alerts: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '50' } } });
const N = Number(args.alerts);
const CONCURRENCY = Number(args.concurrency);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function pool(n: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

const TOKEN = 'bench-responder-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'llmwatch-bench-rsp-'));
const r = await startResponder(
  validateConfig(ResponderConfigSchema, {
    port: 0,
    auth: { token: TOKEN },
    auditPath: join(dir, 'audit.db'),
    limits: { maxActionsPerHour: 1_000_000 },
    playbooks: { BenchAlert: { cooldown: '1s', steps: [{ action: 'noop' }] } },
  }),
  { port: 0 },
);
try {
  // Warm-up: JIT, SQLite statements, sockets.
  await pool(200, async () => void (await (await fetch(`${r.url}/healthz`)).arrayBuffer()));

  const baseline: number[] = [];
  await pool(N, async () => {
    const t0 = performance.now();
    await (await fetch(`${r.url}/healthz`)).arrayBuffer();
    baseline.push(performance.now() - t0);
  });

  const sentAt = new Map<string, number>();
  const t0 = Date.now();
  await pool(N, async (i) => {
    const fingerprint = `bench${i.toString(16).padStart(6, '0')}`;
    const body = JSON.stringify({
      version: '4',
      groupKey: 'bench',
      status: 'firing',
      receiver: 'llmwatch-responder',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://127.0.0.1:9093',
      alerts: [
        { status: 'firing', labels: { alertname: 'BenchAlert', severity: 'critical', n: String(i) }, annotations: {}, startsAt: new Date(t0).toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint },
      ],
    });
    sentAt.set(fingerprint, Date.now());
    const res = await fetch(`${r.url}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body });
    await res.arrayBuffer();
  });
  await r.engine.idle();
  const done = Date.now();
  const rows = r.store.listActions({ limit: N * 2, alertname: 'BenchAlert' });
  const latencies = rows.map((a) => a.startedAt + a.durationMs - sentAt.get(a.fingerprint)!).sort((a, b) => a - b);
  baseline.sort((a, b) => a - b);
  console.log(`${N} alerts, one per webhook, ${CONCURRENCY} at a time; action: noop; audit log: SQLite (WAL)`);
  console.log(`actions recorded: ${rows.length}; burst handled in ${((done - t0) / 1000).toFixed(2)} s (${(rows.length / ((done - t0) / 1000)).toFixed(0)} actions/s)`);
  console.log(`webhook -> action done: p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
  console.log(`baseline GET /healthz round trip: p50 ${quantile(baseline, 0.5).toFixed(2)} ms, p99 ${quantile(baseline, 0.99).toFixed(2)} ms`);
  console.log(`ratio (p50 webhook->action / p50 baseline): ${(quantile(latencies, 0.5) / quantile(baseline, 0.5)).toFixed(1)}x`);
} finally {
  await r.close();
  rmSync(dir, { recursive: true, force: true });
}
