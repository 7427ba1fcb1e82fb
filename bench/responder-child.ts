/**
 * The responder alone in its own process, for bench/responder-burst.ts part 4:
 * the config (JSON) comes as the first argument; the URL goes to stdout as one
 * line; SIGTERM closes it. Nothing of the bench's own work (building and
 * sending webhooks, sampling /healthz) runs on this process's event loop.
 * SIGUSR2 prints this process's event-loop delay since the last SIGUSR2
 * (`delay <p50> <p99> <max>` in ms, from `monitorEventLoopDelay`) and starts anew.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';

const r = await startResponder(validateConfig(ResponderConfigSchema, JSON.parse(process.argv[2]!)), { port: 0 });
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
process.on('SIGUSR2', () => {
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  process.stdout.write(`delay ${ms(delay.percentile(50))} ${ms(delay.percentile(99))} ${ms(delay.max)}\n`);
  delay.reset();
});
process.stdout.write(`${r.url}\n`);
process.once('SIGTERM', () => {
  void r.close().then(() => process.exit(0));
});
