/**
 * The responder under bursts of alerts, against baselines in the same run.
 *
 * 1. Webhook-to-action latency: a burst of N alerts (a no-op playbook, the cap
 *    out of the way), one per webhook, `--concurrency` at a time; baseline: a
 *    plain `GET /healthz` round trip at the same concurrency.
 * 2. Isolation: the same burst with one slow `exec` action (`--slow-ms`) on one
 *    target sent first: the other targets' actions p99 beside (1)'s, and
 *    `/healthz` p99 sampled during the burst.
 * 3. Event loop: a burst of `--big` alerts in webhooks of 100 (as Alertmanager
 *    batches); `/healthz` p99 sampled every 5 ms until every action is done.
 *    The responder shares this process with the bench's own client work here.
 * 4. The same burst against a responder in a process of its own
 *    (bench/responder-child.ts), as deployed: only the responder's work is on
 *    its event loop. Baseline: `/healthz` sampled the same way before the burst.
 *    Also the responder's own event-loop delay (`monitorEventLoopDelay`).
 *    `BENCH_CHILD_CPU=1` with the bench under `taskset -c 0` gives the
 *    responder a core of its own (on 2 cores the bench's client otherwise
 *    competes with it for the CPU).
 *
 *   npm run bench:responder                 # 1000 alerts, 50 at a time, 10000 in the big burst
 *   npm run bench:responder -- --alerts 200 --concurrency 20 --big 2000
 *   npm run bench:responder -- --parts 4        # part 4 only
 *   BENCH_CHILD_STALLS=/tmp/stalls BENCH_CHILD_WRAP='strace -f -tt -T -o /tmp/trace' ...  # stalls over 20 ms and the syscalls, to line up
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';

const { values: args } = parseArgs({
  options: { alerts: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '50' }, big: { type: 'string', default: '10000' }, 'slow-ms': { type: 'string', default: '3000' }, parts: { type: 'string', default: '1,2,3,4' } },
});
const N = Number(args.alerts);
const CONCURRENCY = Number(args.concurrency);
const BIG = Number(args.big);
const SLOW_MS = Number(args['slow-ms']);
const PARTS = new Set(args.parts.split(',').map((p) => p.trim()));
const TOKEN = 'bench-responder-token-0123456789';
const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
const ms = (v: number) => `${v.toFixed(1)} ms`;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

async function pool(n: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

function payload(alerts: Array<{ alertname: string; fingerprint: string; n: number }>, startsAt: string): string {
  return JSON.stringify({
    version: '4',
    groupKey: 'bench',
    status: 'firing',
    receiver: 'llmwatch-responder',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: alerts.map((a) => ({
      status: 'firing',
      labels: { alertname: a.alertname, severity: 'critical', n: String(a.n) },
      annotations: {},
      startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: a.fingerprint,
    })),
  });
}

/** Samples `GET /healthz` every `everyMs` until `stop()` is called; the round trips, in ms. */
function probeHealth(r: { readonly url: string }, everyMs: number): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await (await fetch(`${r.url}/healthz`)).arrayBuffer();
      samples.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'llmwatch-bench-rsp-'));
const config = (auditPath: string) => ({
  port: 0,
  auth: { token: TOKEN },
  auditPath,
  limits: { maxActionsPerHour: 1_000_000, actionTimeoutMs: SLOW_MS * 4 },
  commands: { slow: { argv: ['/bin/sleep', String(SLOW_MS / 1000)], timeoutMs: SLOW_MS * 4 } },
  playbooks: { BenchAlert: { cooldown: '1s', steps: [{ action: 'noop' }] }, SlowAlert: { cooldown: '1s', steps: [{ action: 'exec', params: { command: 'slow' } }] } },
});
const r = await startResponder(validateConfig(ResponderConfigSchema, config(join(dir, 'audit.db'))), { port: 0 });

/** Sends `count` BenchAlert alerts in webhooks of 100, CONCURRENCY webhooks at a time. */
async function bigBurst(url: string, count: number): Promise<number> {
  const startsAt = new Date().toISOString();
  const batches = Math.ceil(count / 100);
  await pool(batches, async (b) => {
    const alerts = Array.from({ length: Math.min(100, count - b * 100) }, (_, k) => ({ alertname: 'BenchAlert', fingerprint: `big${(serial++).toString(16)}`, n: b * 100 + k }));
    const res = await fetch(`${url}/alerts`, { method: 'POST', headers: HEADERS, body: payload(alerts, startsAt) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`webhook refused: ${res.status}`);
  });
  return batches;
}

/** Part 4: the big burst against a responder in its own process; done once its audit log holds every action. */
async function separateProcess(count: number): Promise<{ base: number[]; health: number[]; seconds: number; done: number; idleDelay: string; burstDelay: string }> {
  const auditPath = join(dir, 'child.db');
  const argv = [process.execPath, ...(process.env.BENCH_CHILD_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', join(import.meta.dirname, 'responder-child.ts'), JSON.stringify(config(auditPath))];
  // BENCH_CHILD_CPU=1 (with the bench under `taskset -c 0`): the responder gets a core of its own, so its figures are not the scheduler's.
  const cpu = process.env.BENCH_CHILD_CPU;
  // BENCH_CHILD_WRAP="strace -f -tt -T -o /tmp/trace": a command the child runs under.
  const wrapped = [...(process.env.BENCH_CHILD_WRAP?.split(' ').filter(Boolean) ?? []), ...argv];
  const full = cpu === undefined ? wrapped : ['taskset', '-c', cpu, ...wrapped];
  const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  /** The responder's own pid (the child may be a wrapper: taskset execs, strace does not). */
  let pid: number | undefined;
  try {
    const lines = createInterface({ input: child.stdout! });
    let onDelay: ((l: string) => void) | undefined;
    let stallLine: string | undefined;
    const line = await new Promise<string>((resolve, reject) => {
      // The URL line, then `delay` lines; anything else the child prints (--trace-gc through BENCH_CHILD_ARGS) goes to stderr.
      lines.on('line', (l) =>
        l.startsWith('http') ? resolve(l) : l.startsWith('delay ') ? onDelay?.(l) : l.startsWith('stalls ') ? (stallLine = l) : l.startsWith('pid ') ? (pid = Number(l.slice(4))) : process.stderr.write(`${l}\n`),
      );
      child.once('exit', (code) => reject(new Error(`responder child exited (${code})`)));
    });
    /**
     * The child's event-loop delay since the last call, "p50 / p99 / max ms", with its main
     * thread's time on a CPU and waiting for one, and (BENCH_CHILD_STALLS) its stalls over 20 ms.
     */
    const loopDelay = () =>
      new Promise<string>((resolve) => {
        stallLine = undefined;
        onDelay = (l) => {
          const [p50, p99, max, cpu, runq] = l.split(' ').slice(1);
          const [n, total, sCpu, sRunq, own] = stallLine?.split(' ').slice(1) ?? [];
          const stalled =
            stallLine === undefined ? '' : `; ${n} stalls over 20 ms, ${total} ms in all: ${sCpu} ms running, ${sRunq} ms waiting for a CPU; the longest less its wait for a CPU: ${own} ms`;
          resolve(`${p50} / ${p99} / ${max} ms (main thread ${cpu} ms on a CPU, ${runq} ms waiting for one${stalled})`);
        };
        process.kill(pid ?? child.pid!, 'SIGUSR2');
      });
    const child0 = { url: line.trim() };
    await pool(200, async () => void (await (await fetch(`${child0.url}/healthz`)).arrayBuffer()));
    await loopDelay();
    const idle = probeHealth(child0, 5);
    await new Promise((res) => setTimeout(res, 1000));
    const base = sorted(await idle.stop());
    const idleDelay = await loopDelay();
    const db = new Database(auditPath, { readonly: true, fileMustExist: true });
    const count0 = db.prepare("SELECT count(*) AS n FROM actions WHERE outcome = 'success'");
    const probe = probeHealth(child0, 5);
    const t0 = Date.now();
    await bigBurst(child0.url, count);
    // Bounded: at most 120 s of polling.
    let done = 0;
    for (let i = 0; i < 1200 && (done = (count0.get() as { n: number }).n) < count; i++) await new Promise((res) => setTimeout(res, 100));
    const seconds = (Date.now() - t0) / 1000;
    const health = sorted(await probe.stop());
    const burstDelay = await loopDelay();
    db.close();
    return { base, health, seconds, done, idleDelay, burstDelay };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((res) => child.once('exit', res));
      try {
        process.kill(pid ?? child.pid!, 'SIGTERM');
      } catch {
        /* gone already */
      }
      await Promise.race([exited, new Promise((res) => setTimeout(res, 10_000).unref())]);
    }
  }
}
let serial = 0;

/** One burst of `n` BenchAlert alerts, one per webhook; each alert's webhook-sent to action-done latency. */
async function burst(n: number, withSlow: boolean): Promise<{ latencies: number[]; health: number[]; seconds: number; slowDone: number | undefined }> {
  const startsAt = new Date().toISOString();
  const sentAt = new Map<string, number>();
  const probe = probeHealth(r, 10);
  const t0 = Date.now();
  let slowFp: string | undefined;
  if (withSlow) {
    slowFp = `slow${serial++}`;
    await (await fetch(`${r.url}/alerts`, { method: 'POST', headers: HEADERS, body: payload([{ alertname: 'SlowAlert', fingerprint: slowFp, n: -1 }], startsAt) })).arrayBuffer();
  }
  await pool(n, async (i) => {
    const fingerprint = `bench${(serial++).toString(16).padStart(8, '0')}`;
    sentAt.set(fingerprint, Date.now());
    await (await fetch(`${r.url}/alerts`, { method: 'POST', headers: HEADERS, body: payload([{ alertname: 'BenchAlert', fingerprint, n: i }], startsAt) })).arrayBuffer();
  });
  const fastDone = Date.now();
  await r.engine.idle();
  const health = await probe.stop();
  const rows = r.store.listActions({ limit: n * 2 + 10, since: t0 - 1 });
  const latencies = rows.filter((a) => sentAt.has(a.fingerprint)).map((a) => a.startedAt + a.durationMs - sentAt.get(a.fingerprint)!);
  const slow = rows.find((a) => a.fingerprint === slowFp);
  return { latencies: sorted(latencies), health: sorted(health), seconds: (fastDone - t0) / 1000, slowDone: slow === undefined ? undefined : slow.durationMs };
}

try {
  console.log(`responder burst bench (node ${process.version}); action: noop; audit log: SQLite (WAL); per-target queues (p-queue)`);
  if (PARTS.has('1') || PARTS.has('2') || PARTS.has('3')) {
    // Warm-up: JIT, SQLite statements, sockets.
    await pool(200, async () => void (await (await fetch(`${r.url}/healthz`)).arrayBuffer()));
    await burst(100, false);

    const baseline: number[] = [];
    await pool(N, async () => {
      const t0 = performance.now();
      await (await fetch(`${r.url}/healthz`)).arrayBuffer();
      baseline.push(performance.now() - t0);
    });
    const base = sorted(baseline);

    const plain = await burst(N, false);
    const isolated = await burst(N, true);
    console.log(`baseline GET /healthz round trip at ${CONCURRENCY} concurrent: p50 ${ms(quantile(base, 0.5))}, p99 ${ms(quantile(base, 0.99))}`);
    console.log(`1. ${N} alerts, one per webhook: ${plain.latencies.length} actions; webhook -> action done p50 ${ms(quantile(plain.latencies, 0.5))}, p99 ${ms(quantile(plain.latencies, 0.99))}; /healthz during p99 ${ms(quantile(plain.health, 0.99))}`);
    console.log(
      `2. the same with one ${SLOW_MS} ms exec on another target (sent first, took ${isolated.slowDone} ms): ${isolated.latencies.length} actions; other targets p50 ${ms(quantile(isolated.latencies, 0.5))}, p99 ${ms(quantile(isolated.latencies, 0.99))} (${(quantile(isolated.latencies, 0.99) / quantile(plain.latencies, 0.99)).toFixed(2)}x of 1.); /healthz during p99 ${ms(quantile(isolated.health, 0.99))}`,
    );

    // 3. The big burst, in webhooks of 100 alerts.
    const probe = probeHealth(r, 5);
    const t0 = Date.now();
    const batches = await bigBurst(r.url, BIG);
    await r.engine.idle();
    const health = sorted(await probe.stop());
    const seconds = (Date.now() - t0) / 1000;
    const done = r.store.listActions({ limit: BIG + 10, since: t0 - 1 }).length;
    console.log(
      `3. ${BIG} alerts in ${batches} webhooks: ${done} actions in ${seconds.toFixed(2)} s (${(done / seconds).toFixed(0)} actions/s); /healthz sampled ${health.length} times during it: p50 ${ms(quantile(health, 0.5))}, p99 ${ms(quantile(health, 0.99))}, max ${ms(health.at(-1)!)}`,
    );
  }

  if (PARTS.has('4')) {
    const own = await separateProcess(BIG);
    console.log(
      `4. the same ${BIG} alerts against a responder in its own process: ${own.done} actions in ${own.seconds.toFixed(2)} s; /healthz p50 ${ms(quantile(own.health, 0.5))}, p99 ${ms(quantile(own.health, 0.99))}, max ${ms(own.health.at(-1)!)} (${own.health.length} samples); idle baseline p99 ${ms(quantile(own.base, 0.99))} (${own.base.length} samples); the responder's own event-loop delay p50 / p99 / max: ${own.burstDelay} during the burst, ${own.idleDelay} idle`,
    );
  }
} finally {
  await r.close();
  rmSync(dir, { recursive: true, force: true });
}
