/**
 * The responder alone in its own process, for bench/responder-burst.ts part 4:
 * the config (JSON) comes as the first argument; the URL goes to stdout as one
 * line; SIGTERM closes it. Nothing of the bench's own work (building and
 * sending webhooks, sampling /healthz) runs on this process's event loop.
 */
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';

const r = await startResponder(validateConfig(ResponderConfigSchema, JSON.parse(process.argv[2]!)), { port: 0 });
process.stdout.write(`${r.url}\n`);
process.once('SIGTERM', () => {
  void r.close().then(() => process.exit(0));
});
