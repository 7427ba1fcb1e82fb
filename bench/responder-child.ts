/**
 * The responder alone in its own process, for bench/responder-burst.ts part 4:
 * the config (JSON) comes as the first argument; `pid <pid>` and the URL go to
 * stdout as lines; SIGTERM closes it. Nothing of the bench's own work (building
 * and sending webhooks, sampling /healthz) runs on this process's event loop.
 *
 * SIGUSR2 prints, since the last SIGUSR2, and starts anew:
 *   `delay <p50> <p99> <max> <cpu> <runq>`: the event-loop delay in ms (`monitorEventLoopDelay`),
 *   then the main thread's time on a CPU and waiting for one (runnable, but another process or
 *   thread ran: the scheduler's, not the responder's), in ms, from /proc/self/task/<pid>/schedstat
 *   (Linux; -1 elsewhere);
 *   `stalls <n> <ms> <cpu> <runq> <own>` with BENCH_CHILD_STALLS set: the gaps over 20 ms between
 *   two 1 ms ticks, their length in all, how much of it the main thread ran and waited for a CPU,
 *   and the longest stall less its wait for a CPU (the responder's own: running, or asleep in the
 *   kernel in an fsync or a lock).
 *   (The last line of the report is the delay line.)
 * BENCH_CHILD_STALLS=<file> also writes each stall at exit as `<CLOCK_MONOTONIC s at its start> <ms>`,
 * to line up with `perf sched record -k CLOCK_MONOTONIC` (`perf sched timehist`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';

const r = await startResponder(validateConfig(ResponderConfigSchema, JSON.parse(process.argv[2]!)), { port: 0 });

/** The main thread's [on a CPU, waiting for a CPU] in ns since it started; undefined where /proc has no schedstat. */
function schedstat(): [number, number] | undefined {
  try {
    const [cpu, runq] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return [Number(cpu), Number(runq)];
  } catch {
    return undefined;
  }
}

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let sched0 = schedstat();
const stallsFile = process.env.BENCH_CHILD_STALLS;
const stallLines: string[] = [];
const stalls = { n: 0, ms: 0, cpu: 0, runq: 0, ownMax: 0 };
if (stallsFile !== undefined) {
  let last = process.hrtime.bigint();
  let lastSched = schedstat();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const s = schedstat();
    const gap = Number(now - last) / 1e6;
    if (gap > 20) {
      stalls.n++;
      stalls.ms += gap;
      if (s !== undefined && lastSched !== undefined) {
        const runq = (s[1] - lastSched[1]) / 1e6;
        stalls.cpu += (s[0] - lastSched[0]) / 1e6;
        stalls.runq += runq;
        // The stall less the scheduler's share: the responder's own (running, or asleep in a syscall).
        stalls.ownMax = Math.max(stalls.ownMax, gap - runq);
      }
      // CLOCK_MONOTONIC seconds, as `perf record -k CLOCK_MONOTONIC` stamps events.
      stallLines.push(`${(Number(last) / 1e9).toFixed(6)} ${gap.toFixed(1)}`);
    }
    last = now;
    lastSched = s;
  }, 1).unref();
  if (stallsFile !== '' && stallsFile !== '1') process.on('exit', () => writeFileSync(stallsFile, stallLines.join('\n') + '\n'));
}
process.on('SIGUSR2', () => {
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  const s = schedstat();
  const [cpu, runq] = s !== undefined && sched0 !== undefined ? [ms(s[0] - sched0[0]), ms(s[1] - sched0[1])] : ['-1', '-1'];
  // The stalls line first: the bench takes the delay line as the end of the report.
  if (stallsFile !== undefined) process.stdout.write(`stalls ${stalls.n} ${stalls.ms.toFixed(1)} ${stalls.cpu.toFixed(1)} ${stalls.runq.toFixed(1)} ${stalls.ownMax.toFixed(1)}\n`);
  process.stdout.write(`delay ${ms(delay.percentile(50))} ${ms(delay.percentile(99))} ${ms(delay.max)} ${cpu} ${runq}\n`);
  delay.reset();
  sched0 = s;
  Object.assign(stalls, { n: 0, ms: 0, cpu: 0, runq: 0, ownMax: 0 });
});
process.stdout.write(`pid ${process.pid}\n${r.url}\n`);
process.once('SIGTERM', () => {
  void r.close().then(() => process.exit(0));
});
