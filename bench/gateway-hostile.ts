/**
 * What one hostile client costs every other client of the gateway: `/healthz`
 * latency, probed open loop (every 10 ms, whatever the answers do), while
 * hostile requests run back to back, against the same probe with the gateway
 * idle, in one run.
 *
 * The gateway and a hostile upstream (bench/hostile-upstream.ts) run as their
 * own processes; this one only sends and times. Phases:
 *
 * - `idle`: no hostile traffic (the baseline);
 * - `prompt-4MiB-one-char`: a 4 MiB prompt of one repeated character, streamed
 *   without `include_usage`, so the gateway estimates its tokens (the BPE
 *   tokenizer's quadratic case);
 * - `completion-1MB-stream` / `completion-1MB-json`: 1 MB of one character as
 *   the answer, no usage (the completion side of the same case);
 * - `unterminated-event-16MiB`: an SSE event that never ends;
 * - `slowloris-500`: 500 connections trickling request headers a byte a second.
 *
 *   npx tsx bench/gateway-hostile.ts                  # 5 s a phase
 *   npx tsx bench/gateway-hostile.ts --seconds 10 --workers 2
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    probeMs: { type: 'string', default: '10' },
    slowloris: { type: 'string', default: '500' },
  },
});
const SECONDS = Number(args.seconds);
const WORKERS = Number(args.workers);
const PROBE_MS = Number(args.probeMs);
const SLOWLORIS = Number(args.slowloris);
const GOAL_MS = 50;
const ROOT = new URL('..', import.meta.url).pathname;

/** Starts a process and resolves with the first URL it prints. */
function startPart(argv: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}: ${out}`)));
  });
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Probes /healthz every PROBE_MS until `stop` resolves; returns the latencies (ms) and failures. */
async function probe(pool: Pool, stop: Promise<void>): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let running = true;
  const pending = new Set<Promise<void>>();
  void stop.then(() => (running = false));
  const start = performance.now();
  let sent = 0;
  while (running) {
    const due = Math.floor((performance.now() - start) / PROBE_MS) + 1;
    for (; sent < due; sent++) {
      const sentAt = performance.now();
      const p = pool
        .request({ path: '/healthz', method: 'GET' })
        .then(async (res) => {
          await res.body.text();
          if (res.statusCode === 200) latencies.push(performance.now() - sentAt);
          else errors++;
        })
        .catch(() => {
          errors++;
        })
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  return { latencies, errors };
}

type Hostile = (gw: string, until: number) => Promise<number>;

/** Sends one request after another until `until`; returns how many completed. */
function loop(body: () => string, path = '/v1/chat/completions'): Hostile {
  return async (gw, until) => {
    let n = 0;
    const worker = async () => {
      while (performance.now() < until) {
        try {
          const res = await request(`${gw}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(), headersTimeout: 60_000, bodyTimeout: 60_000 });
          await res.body.dump({ limit: Number.POSITIVE_INFINITY });
        } catch {
          // A refused hostile request is the gateway doing its job.
        }
        n++;
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    return n;
  };
}

const ask = (model: string, extra: Record<string, unknown> = {}) => () =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: true, ...extra });
const bigPrompt = JSON.stringify({ model: 'normal', messages: [{ role: 'user', content: 'a'.repeat(4 * 1024 * 1024 - 100) }], stream: true });

const slowloris: Hostile = async (gw, until) => {
  const { hostname, port } = new URL(gw);
  const sockets: Socket[] = [];
  for (let i = 0; i < SLOWLORIS; i++) {
    const s = connect(Number(port), hostname);
    s.on('error', () => {});
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    sockets.push(s);
  }
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, 1000));
    for (const s of sockets) if (!s.destroyed) s.write('x');
  }
  const open = sockets.filter((s) => !s.destroyed).length;
  for (const s of sockets) s.destroy();
  return SLOWLORIS - open;
};

const PHASES: Array<{ name: string; hostile: Hostile | undefined; note: string }> = [
  { name: 'idle', hostile: undefined, note: '' },
  { name: 'prompt-4MiB-one-char', hostile: loop(() => bigPrompt), note: 'requests' },
  { name: 'completion-1MB-stream', hostile: loop(ask('degenerate-stream')), note: 'requests' },
  { name: 'completion-1MB-json', hostile: loop(ask('degenerate-json', { stream: false })), note: 'requests' },
  { name: 'unterminated-event-16MiB', hostile: loop(ask('huge-event')), note: 'requests' },
  { name: `slowloris-${SLOWLORIS}`, hostile: slowloris, note: 'closed by gateway' },
];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-hostile-'));
  const up = await startPart(['--import', 'tsx', 'bench/hostile-upstream.ts']);
  const config = join(dir, 'gateway.json');
  const models = ['normal', 'degenerate-stream', 'degenerate-json', 'huge-event'];
  writeFileSync(
    config,
    JSON.stringify({ port: 0, upstreams: { up: { baseURL: `${up.url}/v1` } }, models: Object.fromEntries(models.map((m) => [m, { upstream: 'up' }])) }),
  );
  const gw = await startPart(['bin/llmwatch.js', 'gateway', '--config', config]);
  const pool = new Pool(gw.url, { connections: 4 });
  try {
    // Warm up the JIT and load the tokenizer (a one-off ~0.3 s) before timing anything.
    await loop(ask('normal'))(gw.url, performance.now() + 500);
    await loop(() => JSON.stringify({ model: 'normal', messages: [{ role: 'user', content: 'a'.repeat(100_000) }], stream: true }))(gw.url, performance.now() + 500);
    console.log(`/healthz probed every ${PROBE_MS} ms for ${SECONDS} s a phase; ${WORKERS} hostile client(s) back to back; goal p99 < ${GOAL_MS} ms`);
    console.log(`${'phase'.padEnd(26)} ${'hostile'.padStart(8)} ${'probes'.padStart(7)} ${'failed'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}  p99 vs idle`);
    let idleP99 = NaN;
    for (const phase of PHASES) {
      const until = performance.now() + SECONDS * 1000;
      let done!: () => void;
      const stop = new Promise<void>((r) => (done = r));
      const probing = probe(pool, stop);
      const count = phase.hostile === undefined ? new Promise<number>((r) => setTimeout(() => r(0), SECONDS * 1000)) : phase.hostile(gw.url, until);
      const n = await count;
      done();
      const { latencies, errors } = await probing;
      latencies.sort((a, b) => a - b);
      const p99 = quantile(latencies, 0.99);
      if (phase.hostile === undefined) idleP99 = p99;
      console.log(
        `${phase.name.padEnd(26)} ${String(n).padStart(8)} ${String(latencies.length).padStart(7)} ${String(errors).padStart(6)} ${quantile(latencies, 0.5).toFixed(1).padStart(8)} ${p99.toFixed(1).padStart(8)} ${latencies.at(-1)!.toFixed(1).padStart(8)}  ${(p99 / idleP99).toFixed(1)}x ${p99 < GOAL_MS ? 'met' : 'MISSED'}${phase.note === '' ? '' : ` (${phase.note})`}`,
      );
    }
  } finally {
    await pool.close();
    gw.child.kill('SIGTERM');
    up.child.kill('SIGTERM');
  }
}

await main();
