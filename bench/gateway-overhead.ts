/**
 * What the metering gateway adds to each request, measured against the same
 * simulator reached directly, in one run.
 *
 * The simulator (zero delay) and the gateway run as their own processes; this
 * process is an open-loop load generator: it sends at a fixed rate whatever
 * the answers do (a slow answer never delays the next request, so a stall is
 * not hidden), waking every millisecond to send what is due; it sleeps in
 * between rather than spin, so that it leaves the CPU to the two servers.
 * Direct and gateway phases alternate so that drift in the machine hits both
 * alike.
 *
 *   npm run bench                      # 1000 req/s, 4 x 5 s per path
 *   npm run bench -- --rate 500 --seconds 3 --rounds 2 --stream
 *   npm run bench -- --cache           # temperature 0, the memory cache on: the hit path
 *   npm run bench -- --safety none     # without output scoring (lexical by default)
 *   npm run bench -- --vs nginx        # direct, nginx proxy_pass and the gateway in one run (bench/gateway-compare.ts)
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { openLoop, quantile } from './load.ts';
import type { PhaseResult } from './load.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '64' },
    stream: { type: 'boolean', default: false },
    cache: { type: 'boolean', default: false },
    safety: { type: 'string', default: 'lexical' },
    vs: { type: 'string' },
    streams: { type: 'string', default: '200' },
    models: { type: 'string', default: '100' },
    workers: { type: 'string', default: '1' },
    'nginx-workers': { type: 'string', default: '1' },
    parts: { type: 'string', default: 'fixed,saturated,stream,metrics' },
    warmup: { type: 'string', default: '5' },
  },
});
if (args.vs !== undefined) {
  if (args.vs !== 'nginx') throw new Error(`--vs ${args.vs}: only nginx is known`);
  const { compare } = await import('./gateway-compare.ts');
  await compare({
    rate: Number(args.rate),
    seconds: Number(args.seconds),
    rounds: Number(args.rounds === '4' ? '3' : args.rounds),
    connections: Number(args.connections),
    streams: Number(args.streams),
    models: Number(args.models),
    safety: args.safety,
    workers: Number(args.workers),
    nginxWorkers: Number(args['nginx-workers']),
    parts: new Set(args.parts.split(',')),
    warmup: Number(args.warmup),
  });
  process.exit(0);
}
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const STREAM = args.stream === true;
const CACHE = args.cache === true;
const SAFETY = args.safety;
const MODEL = 'llama-3.1-8b-instruct';
const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

/** Starts an llmwatch command and resolves with the first URL it prints. */
function startPart(argv: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function summarise(results: PhaseResult[]) {
  const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const wall = results.reduce((a, r) => a + r.wallSeconds, 0);
  return {
    ok: all.length,
    errors: results.reduce((a, r) => a + r.errors, 0),
    p50: quantile(all, 0.5),
    p90: quantile(all, 0.9),
    p99: quantile(all, 0.99),
    throughput: all.length / wall,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-bench-'));
  const simConfig = join(dir, 'sim.yaml');
  writeFileSync(simConfig, `defaults:\n  ttftMs: 0\n  tpotMs: 0\n  jitter: 0\n  outputTokens: { min: 16, max: 16 }\nmodels:\n  ${MODEL}: {}\n`);
  const sim = await startPart(['simulate', '--config', simConfig, '--port', '0']);
  const gwConfig = join(dir, 'gateway.yaml');
  writeFileSync(
    gwConfig,
    JSON.stringify({
      port: 0,
      cache: { enabled: CACHE },
      safety: { scorer: SAFETY },
      upstreams: { sim: { baseURL: `${sim.url}/v1` } },
      models: { [MODEL]: { upstream: 'sim' } },
    }),
  );
  const gw = await startPart(['gateway', '--config', gwConfig]);
  const body = JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'Summarise the state of the cluster in one line.' }],
    ...(STREAM ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...(CACHE ? { temperature: 0 } : {}),
  });
  const direct = new Pool(sim.url, { connections: CONNECTIONS });
  const viaGateway = new Pool(gw.url, { connections: CONNECTIONS });
  try {
    console.log(
      `rate ${RATE} req/s, ${ROUNDS} x ${SECONDS} s per path, ${STREAM ? 'streaming' : 'non-streaming'}, ${CONNECTIONS} connections, cache ${CACHE ? 'on (hits)' : 'off'}, safety ${SAFETY}`,
    );
    // Warm up JIT, connection pools and the tokenizer on both paths.
    await openLoop(direct, '/v1/chat/completions', body, RATE, 1);
    await openLoop(viaGateway, '/v1/chat/completions', body, RATE, 1);
    const d: PhaseResult[] = [];
    const g: PhaseResult[] = [];
    let gatewayCpu = 0;
    for (let i = 0; i < ROUNDS; i++) {
      d.push(await openLoop(direct, '/v1/chat/completions', body, RATE, SECONDS));
      const cpu0 = cpuSeconds(gw.child.pid!);
      g.push(await openLoop(viaGateway, '/v1/chat/completions', body, RATE, SECONDS));
      gatewayCpu += cpuSeconds(gw.child.pid!) - cpu0;
    }
    const a = summarise(d);
    const b = summarise(g);
    const row = (name: string, s: ReturnType<typeof summarise>) =>
      `${name.padEnd(16)} ${String(s.ok).padStart(7)} ${String(s.errors).padStart(6)} ${s.p50.toFixed(3).padStart(9)} ${s.p90.toFixed(3).padStart(9)} ${s.p99.toFixed(3).padStart(9)} ${s.throughput.toFixed(0).padStart(9)}`;
    console.log(`${'path'.padEnd(16)} ${'ok'.padStart(7)} ${'errors'.padStart(6)} ${'p50 ms'.padStart(9)} ${'p90 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'req/s'.padStart(9)}`);
    console.log(row('direct', a));
    console.log(row('via gateway', b));
    const added = { p50: b.p50 - a.p50, p99: b.p99 - a.p99 };
    console.log(`added latency: p50 ${added.p50.toFixed(3)} ms, p99 ${added.p99.toFixed(3)} ms; p99 ratio ${(b.p99 / a.p99).toFixed(2)}x; throughput ratio ${(b.throughput / a.throughput).toFixed(3)}`);
    const own = await (await fetch(`${gw.url}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(own)?.[1]);
    console.log(
      `gateway process: event-loop lag p99 ${(gauge('nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(2)} ms, max ${(gauge('nodejs_eventloop_lag_max_seconds') * 1000).toFixed(2)} ms; ` +
        `resident memory ${(gauge('process_resident_memory_bytes') / 2 ** 20).toFixed(0)} MiB; CPU ${((gatewayCpu * 1e6) / (b.ok + b.errors)).toFixed(0)} us per request`,
    );
    console.log(`target (added p99 <= 1 ms at 1000 req/s, non-streaming): ${added.p99 <= 1 ? 'met' : 'missed'}`);
  } finally {
    await direct.close();
    await viaGateway.close();
    gw.child.kill('SIGTERM');
    sim.child.kill('SIGTERM');
  }
}

await main();
