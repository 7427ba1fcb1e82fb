/**
 * Where the gateway's time goes, per stage, at a fixed rate: the gateway runs
 * under `node --cpu-prof` while this process sends non-streaming chat
 * completions open loop; then each profile sample is given to the stage of the
 * innermost frame that names one (parse, validate, route, limiter, upstream,
 * response parse, metering, scoring, write, ...), and the gateway's own
 * event-loop delay histogram (`monitorEventLoopDelay`, 1 ms resolution,
 * preloaded from bench/eld-probe.mjs) is printed beside it.
 *
 *   npx tsx bench/gateway-profile.ts                 # 1000 req/s, 10 s
 *   npx tsx bench/gateway-profile.ts --rate 1000 --seconds 10 --safety none
 *   npx tsx bench/gateway-profile.ts --streams 200   # 200 concurrent streams (TTFT 50 ms, 16 tokens 20 ms apart), closed loop
 *   npx tsx bench/gateway-profile.ts --analyse file.cpuprofile
 *   npx tsx bench/gateway-profile.ts --alloc         # bytes allocated per request, by the innermost src/ frame (no CPU profile)
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    safety: { type: 'string', default: 'lexical' },
    analyse: { type: 'string' },
    top: { type: 'string', default: '25' },
    window: { type: 'string', default: '0' },
    streams: { type: 'string', default: '0' },
    alloc: { type: 'boolean', default: false },
  },
});
const MODEL = 'llama-3.1-8b-instruct';
const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/**
 * Stages, tried from the innermost frame outwards: the first rule that
 * matches a frame names the sample's stage. A builtin (JSON.parse, a
 * write) takes the stage of the code that called it.
 */
const RULES: Array<[stage: string, test: (fn: string, url: string) => boolean]> = [
  ['(gc)', (fn) => fn === '(garbage collector)'],
  ['(idle)', (fn) => fn === '(idle)'],
  ['(program)', (fn) => fn === '(program)'],
  ['scoring', (_fn, url) => url.includes('/gateway/safety/') || url.includes('obscenity')],
  ['response parse', (fn, url) => url.includes('/gateway/proxy.ts') && (fn === 'relayJson' || fn === 'readAll' || fn === 'usageOf')],
  ['response parse', (_fn, url) => url.includes('/metering/usage.ts') || url.includes('/metering/stream-meter.ts') || url.includes('/openai/sse.ts') || url.includes('/metering/answer-usage.ts')],
  ['metering', (_fn, url) => url.includes('/metering/') || url.includes('prom-client') || url.includes('/openai/tokens.ts') || url.includes('gpt-tokenizer')],
  ['limiter', (_fn, url) => url.includes('/gateway/limiter.ts')],
  ['route', (_fn, url) => url.includes('/gateway/router.ts') || url.includes('/openai/endpoints.ts') || url.includes('/gateway/client-keys.ts') || url.includes('/cache/')],
  ['validate', (_fn, url) => url.includes('/openai/validate.ts') || url.includes('/node_modules/zod/')],
  ['parse (request body)', (_fn, url) => url.includes('/http/read-body.ts')],
  ['upstream (undici)', (_fn, url) => url.includes('undici')],
  ['write (response)', (fn, url) => url.includes('/http/send.ts') || (url.includes('/gateway/') && /^(relay|passHeaders|writeHead|end)/.test(fn))],
  ['proxy (other)', (_fn, url) => url.includes('/gateway/proxy.ts') || url.includes('/gateway/upstream.ts')],
  ['server (handle, other)', (_fn, url) => url.includes('/gateway/server.ts')],
  ['http server (node)', (_fn, url) => url.startsWith('node:_http') || url.startsWith('node:http')],
  ['net/streams (node)', (_fn, url) => url.startsWith('node:net') || url.startsWith('node:internal/streams') || url.startsWith('node:stream')],
  ['timers, promises, events (node)', (_fn, url) => url.startsWith('node:internal/timers') || url.startsWith('node:internal/process/task_queues') || url.startsWith('node:events') || url.startsWith('node:internal/async_hooks')],
];

/** Samples from the last `windowSeconds` before the last 0.5 s of the profile (start-up, warm-up and shutdown left out); all when 0. */
export function analyse(profile: Profile, top: number, windowSeconds = 0): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const stage = (id: number): string => {
    const known = stageOf.get(id);
    if (known !== undefined) return known;
    let s = 'other';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      const hit = RULES.find(([, t]) => t(f.functionName, f.url));
      if (hit !== undefined) {
        s = hit[0];
        break;
      }
    }
    stageOf.set(id, s);
    return s;
  };
  const time = new Map<string, number>();
  const selfTime = new Map<string, number>();
  let total = 0;
  const at: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) at.push((t += d));
  const to = profile.endTime - 500_000;
  const from = windowSeconds > 0 ? to - windowSeconds * 1e6 : 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (at[i]! < from || at[i]! > to) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    total += dt;
    const s = stage(id);
    time.set(s, (time.get(s) ?? 0) + dt);
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/[^/]+|src)\//, '$1/')}:${f.lineNumber + 1}`;
    selfTime.set(key, (selfTime.get(key) ?? 0) + dt);
  }
  const busy = total - (time.get('(idle)') ?? 0);
  const lines = [`profile: ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(0)}% of one core)`, '', '| stage | ms | % of busy |', '|---|---|---|'];
  for (const [s, t] of [...time].sort((a, b) => b[1] - a[1])) {
    if (s === '(idle)') continue;
    lines.push(`| ${s} | ${(t / 1000).toFixed(0)} | ${((100 * t) / busy).toFixed(1)} |`);
  }
  lines.push('', `top ${top} functions by self time:`, '', '| function | ms | % of busy |', '|---|---|---|');
  for (const [k, t] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (k.startsWith('(idle)')) continue;
    lines.push(`| ${k} | ${(t / 1000).toFixed(0)} | ${((100 * t) / busy).toFixed(1)} |`);
  }
  return lines.join('\n');
}

interface AllocNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocNode[];
}
interface AllocProfile {
  head: AllocNode;
}

/** Sampled bytes allocated per request, by the innermost frame in src/ (or none), from bench/alloc-probe.mjs's profile. */
function allocations(profile: AllocProfile, requests: number, top: number): string {
  const by = new Map<string, number>();
  let total = 0;
  const walk = (n: AllocNode, ours: string) => {
    const f = n.callFrame;
    const here = f.url.includes('/src/') ? `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/src\//, 'src/')}` : ours;
    total += n.selfSize;
    if (n.selfSize > 0) by.set(here, (by.get(here) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, '(no src/ frame: node, undici, start-up)');
  const kb = (b: number) => (b / requests / 1024).toFixed(2);
  const lines = [`allocated: ${(total / 1e6).toFixed(0)} MB sampled, ${kb(total)} KiB per request (${requests} requests)`, '', '| innermost src/ frame | KiB per request |', '|---|---|'];
  for (const [k, b] of [...by].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${k} | ${kb(b)} |`);
  return lines.join('\n');
}

function startPart(argv: string[], nodeArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...argv], { stdio: ['ignore', 'pipe', 'inherit'], env });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, child, out: () => out });
    });
    child.on('exit', (code) => reject(new Error(`${argv[0]} exited with ${code}: ${out}`)));
  });
}

async function openLoop(pool: Pool, body: string, rate: number, seconds: number): Promise<number[]> {
  const total = Math.round(rate * seconds);
  const lat: number[] = [];
  let done = 0;
  const start = performance.now();
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const one = async () => {
    const t0 = performance.now();
    try {
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body.text();
      if (res.statusCode === 200) lat.push(performance.now() - t0);
    } catch {
      // counted as missing
    }
    if (++done === total) finish();
  };
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / (1000 / rate)) + 1);
      for (; sent < due; sent++) void one();
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await finished;
  return lat.sort((a, b) => a - b);
}

/** Events in one stream, counted on the first stream that ended (for the CPU per event). */
let eventsPerStream = 0;

/** `streams` concurrent streaming requests, each starting when the last ended, for `seconds`; time to the first byte of each. */
async function closedStreams(pool: Pool, body: string, streams: number, seconds: number): Promise<number[]> {
  const ttft: number[] = [];
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body });
          let first = true;
          let events = 0;
          for await (const chunk of res.body) {
            if (first && res.statusCode === 200) ttft.push(performance.now() - t0);
            first = false;
            if (eventsPerStream === 0) events += (chunk as Buffer).toString().split('data:').length - 1;
          }
          if (eventsPerStream === 0) eventsPerStream = events;
        } catch {
          // counted as missing
        }
      }
    }),
  );
  return ttft.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  if (args.analyse !== undefined) {
    console.log(analyse(JSON.parse(readFileSync(args.analyse, 'utf8')) as Profile, Number(args.top), Number(args.window)));
    return;
  }
  const rate = Number(args.rate);
  const seconds = Number(args.seconds);
  const streams = Number(args.streams);
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-profile-'));
  const simConfig = join(dir, 'sim.yaml');
  const timing = streams > 0 ? 'ttftMs: 50\n  tpotMs: 20' : 'ttftMs: 0\n  tpotMs: 0';
  writeFileSync(simConfig, `defaults:\n  ${timing}\n  jitter: 0\n  outputTokens: { min: 16, max: 16 }\nmodels:\n  ${MODEL}: {}\n`);
  const sim = await startPart(['simulate', '--config', simConfig, '--port', '0']);
  const gwConfig = join(dir, 'gateway.json');
  // The concurrency of bench/gateway-compare.ts: with the default 64, 200 streams wait in the limiter.
  writeFileSync(gwConfig, JSON.stringify({ port: 0, safety: { scorer: args.safety }, upstreams: { sim: { baseURL: `${sim.url}/v1`, maxConcurrency: 512, maxQueue: 4096 } }, models: { [MODEL]: { upstream: 'sim' } } }));
  const profDir = join(dir, 'prof');
  const allocOut = join(dir, 'alloc.json');
  const gw = await startPart(['gateway', '--config', gwConfig], args.alloc ? ['--import', new URL('./alloc-probe.mjs', import.meta.url).href] : ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '200', '--import', new URL('./eld-probe.mjs', import.meta.url).href], { ...process.env, ALLOC_OUT: allocOut });
  // Streams ask for usage, as bench/gateway-compare.ts's do (no token estimate).
  const body = JSON.stringify({ model: MODEL, stream: streams > 0, ...(streams > 0 ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content: 'Summarise the state of the cluster in one line.' }] });
  const pool = new Pool(gw.url, { connections: Math.max(64, streams) });
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (streams > 0) await closedStreams(pool, body, streams, 2);
  else await openLoop(pool, body, rate, 2);
  const lat = streams > 0 ? await closedStreams(pool, body, streams, seconds) : await openLoop(pool, body, rate, seconds);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(3);
  const what = streams > 0 ? `${streams} concurrent streams for ${seconds} s through the gateway: ${lat.length} streams, time to first byte` : `${rate} req/s for ${seconds} s through the gateway: ${lat.length} ok,`;
  console.log(`${what} p50 ${q(0.5)} ms, p99 ${q(0.99)} ms; load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await pool.close();
  const exited = new Promise((r) => gw.child.on('exit', r));
  gw.child.kill('SIGTERM');
  await exited;
  sim.child.kill('SIGTERM');
  if (args.alloc) {
    // Every request sent, the warm-up's included; start-up's allocations are in the total too.
    console.log(allocations(JSON.parse(readFileSync(allocOut, 'utf8')) as AllocProfile, lat.length + (streams > 0 ? 0 : rate * 2), Number(args.top)));
    return;
  }
  const eld = /event-loop delay: .*/.exec(gw.out());
  if (eld) console.log(`gateway ${eld[0]}`);
  // tsx's loader runs on a thread of its own, with a profile of its own: the main thread's is the largest.
  const file = readdirSync(profDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(profDir, b)).size - statSync(join(profDir, a)).size)[0]!;
  console.log(`profile: ${join(profDir, file)}\n`);
  // The measured phase only: the last `seconds` before shutdown.
  const report = analyse(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile, Number(args.top), seconds - 0.5);
  // The busy CPU of the window per request (per stream and per SSE event with --streams), for A/Bs.
  const busy = Number(/busy ([\d.]+) s/.exec(report)![1]) * 1e6;
  const n = (lat.length * (seconds - 0.5)) / seconds;
  console.log(streams > 0 ? `busy CPU: ${(busy / n).toFixed(0)} µs per stream, ${(busy / (n * eventsPerStream)).toFixed(1)} µs per event (${eventsPerStream} events a stream)\n` : `busy CPU: ${(busy / n).toFixed(0)} µs per request\n`);
  console.log(report);
}

await main();
