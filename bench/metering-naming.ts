/**
 * What the gateway's `metrics.naming` costs on the request path: the metering
 * of one successful streamed chat answer (`Exchange.succeed`: a counter, the
 * duration, TTFT and TPOT histograms, two token-size histograms, two token
 * counters) under `openllm`, `otel` and `both`, in the same process, rounds
 * alternated so the machine's other load falls on all three alike.
 *
 *   npx tsx bench/metering-naming.ts                 # 7 rounds of 200,000 answers per naming
 *   npx tsx bench/metering-naming.ts --rounds 11 --n 500000
 *   npx tsx bench/metering-naming.ts --only both     # one naming alone in its process (no call site sees two shapes)
 */
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import type { MetricsNaming } from '../src/core/conventions/metrics.ts';
import { Exchange } from '../src/core/metering/exchange.ts';
import { GatewayMetrics } from '../src/core/metering/gateway-metrics.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, n: { type: 'string', default: '200000' }, only: { type: 'string' } } });
const rounds = Number(args.rounds);
const n = Number(args.n);

const NAMINGS: readonly MetricsNaming[] = args.only === undefined ? ['openllm', 'otel', 'both'] : [args.only as MetricsNaming];
const meters = Object.fromEntries(
  NAMINGS.map((naming) => {
    const metrics = new GatewayMetrics(new Registry(), {
      prefix: 'openllm_',
      durationBuckets: [0.1, 0.3, 0.5, 1, 2, 3, 5, 10],
      processMetrics: false,
      version: '0',
      models: [{ model: 'm', targets: [{ upstream: 'u', model: 'm' }] }],
      naming,
    });
    return [naming, metrics.route('m', 'chat_completions')!];
  }),
);

function run(naming: MetricsNaming): number {
  const meter = meters[naming]!;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    // Started 0.4 s ago; first token at 0.1 s; 100 tokens.
    const start = performance.now() - 400 - (i % 7);
    new Exchange(meter, start).succeed({ prompt: 20 + (i % 50), completion: 100, source: 'usage' }, { firstTokenAt: start + 100, lastTokenAt: start + 390 });
  }
  return ((performance.now() - t0) * 1e6) / n;
}

for (const naming of NAMINGS) run(naming); // warm-up: JIT and series creation
const ns: Record<string, number[]> = Object.fromEntries(NAMINGS.map((x) => [x, []]));
for (let r = 0; r < rounds; r++) {
  // Rotate the order each round.
  for (let k = 0; k < NAMINGS.length; k++) {
    const naming = NAMINGS[(r + k) % NAMINGS.length]!;
    ns[naming]!.push(run(naming));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(ns.openllm ?? ns[NAMINGS[0]!]!);
console.log(`naming    ns per answer (median of ${rounds} rounds of ${n})    vs openllm`);
for (const naming of NAMINGS) {
  const m = median(ns[naming]!);
  console.log(`${naming.padEnd(9)} ${m.toFixed(0).padStart(8)}                                   ${(m / base).toFixed(2)}x`);
}
