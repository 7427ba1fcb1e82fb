// Preloaded into a process under test (node --import): its event-loop delay at 1 ms resolution,
// printed when it exits. The histogram's values include the resolution (1 ms) itself.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
process.on('exit', () => {
  const ms = (ns) => (ns / 1e6 - 1).toFixed(2);
  process.stdout.write(`event-loop delay (1 ms resolution removed): p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, p99.9 ${ms(h.percentile(99.9))} ms, max ${ms(h.max)} ms\n`);
});
