/**
 * `npm run bench -- --vs nginx`: the gateway against nginx `proxy_pass` and
 * against the simulator reached directly, all three in one run, on the same
 * simulator, so every figure has a same-run baseline.
 *
 * 1. Fixed rate (open loop, `--rate` req/s, non-streaming): p50/p99 and
 *    throughput per path, phases alternating direct, nginx, gateway so drift in
 *    the machine hits all three alike; the gateway's CPU per request and its
 *    event-loop lag over its own phases.
 * 2. Saturated (wrk, `--connections` connections, one thread): throughput and
 *    p50/p99 per path.
 * 3. Streaming: `--streams` concurrent streams (closed loop) of a model with a
 *    real time to first token; time to the first event per path, and what the
 *    gateway and nginx add to it.
 * 4. `/metrics` with `--models` models (a gateway registry built in this
 *    process): render time and size, series count.
 *
 *   npm run bench -- --vs nginx
 *   npm run bench -- --vs nginx --seconds 3 --rounds 2 --workers 2
 *   npm run bench -- --vs nginx --parts scaling   # saturated throughput with 1, 2 and one worker per core
 *   npm run bench -- --vs nginx --warmup 5        # seconds of the fixed rate per path before measuring (default 5)
 *
 * nginx runs as one worker process (`worker_processes 1`), as the gateway runs
 * one event loop; `--nginx-workers` changes that. The machine's load average
 * is printed before and after: on a shared machine only the ratios to the
 * same-run baselines mean anything.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { Registry } from 'prom-client';
import { GatewayMetrics } from '../src/core/metering/gateway-metrics.ts';
import { renderMetrics } from '../src/core/metering/exposition.ts';
import { openLoop, quantile } from './load.ts';
import type { PhaseResult } from './load.ts';

const run = promisify(execFile);

export interface CompareOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly streams: number;
  readonly models: number;
  readonly safety: string;
  readonly workers: number;
  readonly nginxWorkers: number;
  /** Which parts to run: fixed, saturated, stream, metrics. */
  readonly parts: ReadonlySet<string>;
  /** Seconds of the fixed rate sent to each path before anything is measured (JIT tiers, heap sizing). */
  readonly warmup: number;
}

const MODEL = 'llama-3.1-8b-instruct';
const STREAM_MODEL = 'stream-model';
const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;
const NGINX = '/usr/sbin/nginx';
/** prom-client's event-loop monitor samples every 10 ms and reports the whole interval: its values include these 10 ms. */
const LAG_RESOLUTION_MS = 10;

function startPart(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on('exit', (code) => reject(new Error(`${argv[0]} exited with ${code}: ${out}`)));
  });
}

/** A free port, for nginx (which cannot report a port 0 chose). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startNginx(dir: string, upstream: string, workers: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  const up = new URL(upstream);
  writeFileSync(
    conf,
    `worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream sim { server ${up.host}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    try {
      await fetch(`${url}/healthz`);
      return { url, child };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('nginx did not start');
}

/** `streams` clients each sending one stream after another for `seconds`; records the time to each stream's first body bytes. */
async function closedStreams(pool: Pool, body: string, streams: number, seconds: number): Promise<PhaseResult> {
  const ttft: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const sentAt = performance.now();
      try {
        const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body });
        let first = 0;
        let text = '';
        for await (const chunk of res.body) {
          if (first === 0) first = performance.now();
          text += (chunk as Buffer).toString();
        }
        if (res.statusCode === 200 && text.includes('[DONE]') && first > 0) ttft.push(first - sentAt);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: streams }, client));
  return { latencies: ttft, errors, wallSeconds: (performance.now() - start) / 1000 };
}

function cpuSeconds(pids: number[]): number {
  let s = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      s += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // gone
    }
  }
  return s;
}

/** The gateway's worker pids (with --workers, the primary's children), or the gateway itself. */
async function gatewayPids(pid: number): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-P', String(pid)]);
    const kids = stdout.split('\n').filter(Boolean).map(Number);
    return [pid, ...kids];
  } catch {
    return [pid];
  }
}

interface Summary {
  ok: number;
  errors: number;
  p50: number;
  p99: number;
  throughput: number;
}

function summarise(results: PhaseResult[]): Summary {
  const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const wall = results.reduce((a, r) => a + r.wallSeconds, 0);
  return { ok: all.length, errors: results.reduce((a, r) => a + r.errors, 0), p50: quantile(all, 0.5), p99: quantile(all, 0.99), throughput: all.length / wall };
}

/** wrk's saturated throughput and latency percentiles. */
async function wrk(url: string, luaFile: string, connections: number, seconds: number): Promise<Summary> {
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', luaFile, `${url}/v1/chat/completions`], { maxBuffer: 1 << 20 });
  const ms = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(stdout);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const total = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errs = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { ok: total - non2xx, errors: errs, p50: pct('50'), p99: pct('99'), throughput: rps };
}

const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function table(title: string, rows: Array<[string, Summary]>, base: Summary, nginx: Summary): void {
  console.log(`\n${title}`);
  console.log('| path | ok | errors | p50 ms | p99 ms | req/s | req/s vs direct | req/s vs nginx | p99 - direct p99 ms |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, s] of rows) {
    console.log(
      `| ${name} | ${s.ok} | ${s.errors} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${s.throughput.toFixed(0)} | ${fmt(s.throughput / base.throughput, 2)} | ${fmt(s.throughput / nginx.throughput, 2)} | ${fmt(s.p99 - base.p99)} |`,
    );
  }
}

/** Scrapes the gateway's /metrics (which resets prom-client's event-loop histogram) and returns the lag p99 since the last scrape, resolution removed. */
async function lagP99(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const gauge = (name: string) => {
    // With --workers the aggregated gauge carries one value per worker (or an average): take the largest.
    const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
    return values.length === 0 ? NaN : Math.max(...values);
  };
  return { p99: gauge('nodejs_eventloop_lag_p99_seconds') * 1000 - LAG_RESOLUTION_MS, max: gauge('nodejs_eventloop_lag_max_seconds') * 1000 - LAG_RESOLUTION_MS };
}

/** `/metrics` of a gateway with `models` models (one upstream each, the config's defaults): render time and size. */
async function metricsRender(models: number): Promise<void> {
  const registry = new Registry();
  new GatewayMetrics(registry, {
    prefix: 'openllm',
    durationBuckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    processMetrics: true,
    version: 'bench',
    models: Array.from({ length: models }, (_, i) => ({ model: `model-${i}`, targets: [{ upstream: 'vllm', model: `model-${i}` }] })),
  });
  // As the gateway's /metrics renders it (renderMetrics), and prom-client's registry.metrics() for comparison.
  const time = async (render: () => Promise<string>) => {
    let text = '';
    for (let i = 0; i < 5; i++) text = await render();
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      text = await render();
      const c = process.cpuUsage(c0);
      times.push(performance.now() - t0);
      cpu.push((c.user + c.system) / 1000);
      await new Promise((r) => setImmediate(r));
    }
    times.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    // CPU time too: on a shared machine the wall time is mostly waiting for a core.
    return { text, p50: quantile(times, 0.5), p99: quantile(times, 0.99), cpu50: quantile(cpu, 0.5) };
  };
  const ours = await time(() => renderMetrics(registry));
  const theirs = await time(() => registry.metrics());
  const text = ours.text;
  const series = text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#')).length;
  const perModel = text.split('\n').filter((l) => l.includes('model="model-0"')).length;
  console.log(`\n/metrics with ${models} models (load ${load()})`);
  console.log('| models | bytes | series | series per model | render p50 ms | render p99 ms | render CPU p50 ms | prom-client registry.metrics() p50 / p99 / CPU p50 ms |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${models} | ${Buffer.byteLength(text)} | ${series} | ${perModel} | ${fmt(ours.p50, 1)} | ${fmt(ours.p99, 1)} | ${fmt(ours.cpu50, 1)} | ${fmt(theirs.p50, 1)} / ${fmt(theirs.p99, 1)} / ${fmt(theirs.cpu50, 1)} |`,
  );
}

export async function compare(o: CompareOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-bench-vs-'));
  const simConfig = join(dir, 'sim.yaml');
  writeFileSync(
    simConfig,
    `defaults:\n  ttftMs: 0\n  tpotMs: 0\n  jitter: 0\n  outputTokens: { min: 16, max: 16 }\nmodels:\n  ${MODEL}: {}\n  ${STREAM_MODEL}: { ttftMs: 50, tpotMs: 20 }\n`,
  );
  console.log(`load average before: ${load()}`);
  const sim = await startPart(['simulate', '--config', simConfig, '--port', '0']);
  const gwConfig = join(dir, 'gateway.json');
  writeFileSync(
    gwConfig,
    JSON.stringify({
      port: 0,
      safety: { scorer: o.safety },
      upstreams: { sim: { baseURL: `${sim.url}/v1`, maxConcurrency: 512, maxQueue: 4096 } },
      models: { [MODEL]: { upstream: 'sim' }, [STREAM_MODEL]: { upstream: 'sim' } },
    }),
  );
  const gw = await startPart(['gateway', '--config', gwConfig, ...(o.workers > 1 ? ['--workers', String(o.workers)] : [])]);
  const nginx = await startNginx(dir, sim.url, o.nginxWorkers);
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Summarise the state of the cluster in one line.' }] });
  const streamBody = JSON.stringify({
    model: STREAM_MODEL,
    messages: [{ role: 'user', content: 'Summarise the state of the cluster in one line.' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const paths: Array<[string, string]> = [
    ['direct', sim.url],
    ['nginx', nginx.url],
    [o.workers > 1 ? `gateway (${o.workers} workers)` : 'gateway', gw.url],
  ];
  const pools = paths.map(([, url]) => new Pool(url, { connections: Math.max(64, o.streams) }));
  const pids = await gatewayPids(gw.child.pid!);
  try {
    console.log(
      `simulator: zero delay, 16-token answers; gateway: one model, safety ${o.safety}${o.workers > 1 ? `, ${o.workers} workers` : ''}; nginx: ${o.nginxWorkers} worker(s), keepalive upstream, proxy_buffering off`,
    );
    // Warmed up at the fixed rate first: a gateway runs for days, and its first seconds (code still
    // being optimised, the young generation still growing) are not what it costs in service.
    for (const p of pools) await openLoop(p, '/v1/chat/completions', body, o.rate, Math.max(1, o.warmup));

    if (o.parts.has('fixed')) {
      const results: PhaseResult[][] = paths.map(() => []);
      let cpu = 0;
      const lags: number[] = [];
      const lagMax: number[] = [];
      const loadBefore = load();
      for (let r = 0; r < o.rounds; r++) {
        for (let i = 0; i < paths.length; i++) {
          const isGw = i === paths.length - 1;
          if (isGw) await lagP99(gw.url);
          const c0 = isGw ? cpuSeconds(pids) : 0;
          results[i]!.push(await openLoop(pools[i]!, '/v1/chat/completions', body, o.rate, o.seconds));
          if (isGw) {
            cpu += cpuSeconds(pids) - c0;
            const l = await lagP99(gw.url);
            lags.push(l.p99);
            lagMax.push(l.max);
          }
        }
      }
      const s = results.map(summarise);
      table(`fixed rate ${o.rate} req/s, non-streaming, open loop, ${o.rounds} x ${o.seconds} s per path (load ${loadBefore} -> ${load()})`, paths.map(([n], i) => [n, s[i]!]), s[0]!, s[1]!);
      const g = s[2]!;
      console.log(
        `gateway adds p50 ${fmt(g.p50 - s[0]!.p50)} ms, p99 ${fmt(g.p99 - s[0]!.p99)} ms (nginx adds p50 ${fmt(s[1]!.p50 - s[0]!.p50)}, p99 ${fmt(s[1]!.p99 - s[0]!.p99)}); ` +
          `gateway CPU ${((cpu * 1e6) / (g.ok + g.errors)).toFixed(0)} us per request; event-loop lag p99 per gateway phase ${lags.map((l) => fmt(l, 2)).join(', ')} ms (max ${lagMax.map((l) => fmt(l, 1)).join(', ')} ms)`,
      );
      console.log(`p99 per round, ms: ${paths.map(([n], i) => `${n} ${results[i]!.map((r) => fmt(summarise([r]).p99, 2)).join(', ')}`).join('; ')}`);
    }

    if (o.parts.has('saturated')) {
      const lua = join(dir, 'post.lua');
      writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
      const results: Summary[][] = paths.map(() => []);
      const loadBefore = load();
      for (let r = 0; r < o.rounds; r++) {
        for (let i = 0; i < paths.length; i++) results[i]!.push(await wrk(paths[i]![1], lua, o.connections, o.seconds));
      }
      // wrk reports each run's own percentiles: the mean over rounds.
      const mean = (xs: Summary[]): Summary => ({
        ok: xs.reduce((a, x) => a + x.ok, 0),
        errors: xs.reduce((a, x) => a + x.errors, 0),
        p50: xs.reduce((a, x) => a + x.p50, 0) / xs.length,
        p99: xs.reduce((a, x) => a + x.p99, 0) / xs.length,
        throughput: xs.reduce((a, x) => a + x.throughput, 0) / xs.length,
      });
      const s = results.map(mean);
      table(`saturated: wrk -t1 -c${o.connections}, ${o.rounds} x ${o.seconds} s per path, means over rounds (load ${loadBefore} -> ${load()})`, paths.map(([n], i) => [n, s[i]!]), s[0]!, s[1]!);
      console.log(`per round, gateway / nginx throughput: ${results[2]!.map((g, r) => fmt(g.throughput / results[1]![r]!.throughput, 2)).join(', ')}`);
    }

    if (o.parts.has('stream')) {
      for (const p of pools) await closedStreams(p, streamBody, 20, 1);
      const results: PhaseResult[][] = paths.map(() => []);
      const loadBefore = load();
      const lags: number[] = [];
      for (let r = 0; r < o.rounds; r++) {
        for (let i = 0; i < paths.length; i++) {
          const isGw = i === paths.length - 1;
          if (isGw) await lagP99(gw.url);
          results[i]!.push(await closedStreams(pools[i]!, streamBody, o.streams, o.seconds));
          if (isGw) lags.push((await lagP99(gw.url)).p99);
        }
      }
      const s = results.map(summarise);
      console.log(`\nstreaming: ${o.streams} concurrent streams (TTFT 50 ms, 16 tokens 20 ms apart), ${o.rounds} x ${o.seconds} s per path (load ${loadBefore} -> ${load()})`);
      console.log('| path | streams | errors | TTFT p50 ms | TTFT p99 ms | added TTFT p50 ms | added TTFT p99 ms |');
      console.log('|---|---|---|---|---|---|---|');
      for (let i = 0; i < paths.length; i++) {
        const x = s[i]!;
        console.log(`| ${paths[i]![0]} | ${x.ok} | ${x.errors} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.p50 - s[0]!.p50)} | ${fmt(x.p99 - s[0]!.p99)} |`);
      }
      console.log(`gateway event-loop lag p99 per streaming phase: ${lags.map((l) => fmt(l, 2)).join(', ')} ms`);
    }

    if (o.parts.has('scaling')) {
      // The scaling curve: gateways with 1 worker and with one per core, alternating with nginx in each round.
      const cores = availableParallelism();
      const counts = [...new Set([1, 2, cores])].filter((n) => n <= Math.max(2, cores));
      const lua = join(dir, 'post.lua');
      writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
      const extra = await Promise.all(counts.map((n) => startPart(['gateway', '--config', gwConfig, ...(n > 1 ? ['--workers', String(n)] : [])])));
      try {
        const rows: Array<{ name: string; rps: number[] }> = [{ name: 'nginx', rps: [] }, ...counts.map((n) => ({ name: `gateway, ${n} worker${n > 1 ? 's' : ''}`, rps: [] as number[] }))];
        const urls = [nginx.url, ...extra.map((e) => e.url)];
        const loadBefore = load();
        for (let r = 0; r < o.rounds; r++) for (let i = 0; i < urls.length; i++) rows[i]!.rps.push((await wrk(urls[i]!, lua, o.connections, o.seconds)).throughput);
        console.log(`\nscaling (saturated, wrk -t1 -c${o.connections}, ${o.rounds} x ${o.seconds} s, ${cores} cores; load ${loadBefore} -> ${load()})`);
        console.log('| path | req/s per round | mean req/s | vs nginx, per round |');
        console.log('|---|---|---|---|');
        for (const row of rows) {
          const mean = row.rps.reduce((a, b) => a + b, 0) / row.rps.length;
          console.log(`| ${row.name} | ${row.rps.map((x) => x.toFixed(0)).join(', ')} | ${mean.toFixed(0)} | ${row.rps.map((x, k) => fmt(x / rows[0]!.rps[k]!, 2)).join(', ')} |`);
        }
      } finally {
        for (const e of extra) e.child.kill('SIGTERM');
      }
    }

    if (o.parts.has('metrics')) await metricsRender(o.models);
    console.log(`\nload average after: ${load()}`);
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    gw.child.kill('SIGTERM');
    nginx.child.kill('SIGQUIT');
    sim.child.kill('SIGTERM');
  }
}
