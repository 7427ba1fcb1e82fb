import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { Action, ActionResult } from '../types.ts';

const Params = z.strictObject({
  /** A name from the responder config's `commands`. */
  command: z.string().min(1),
});

const OUTPUT_LIMIT = 4096;

/**
 * `exec`: runs a configured command, argv only and never through a shell,
 * with the alert's labels passed as environment variables
 * (`LLMWATCH_LABEL_MODEL=...`, plus `LLMWATCH_ALERTNAME`, `LLMWATCH_STATUS`).
 * Label values never reach the command line, so no value, however hostile,
 * can be interpreted by a shell.
 */
export function createExecAction(commands: Readonly<Record<string, { argv: readonly string[]; timeoutMs: number }>>): Action {
  return {
    id: 'exec',
    async run(ctx): Promise<ActionResult> {
      const p = Params.safeParse(ctx.params);
      if (!p.success) return { outcome: 'failure', detail: `bad params: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
      const cmd = commands[p.data.command];
      if (cmd === undefined) return { outcome: 'failure', detail: `no command '${p.data.command}' in the responder config` };
      if (ctx.dryRun) return { outcome: 'dry-run', detail: `would run ${p.data.command}: ${cmd.argv.join(' ')}` };
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LLMWATCH_ALERTNAME: ctx.alert.labels.alertname ?? '', LLMWATCH_STATUS: ctx.alert.status };
      for (const [k, v] of Object.entries(ctx.alert.labels)) {
        const name = k.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
        env[`LLMWATCH_LABEL_${name}`] = v;
      }
      return new Promise((resolve) => {
        const [file, ...args] = cmd.argv;
        const child = spawn(file!, args, { env, shell: false, stdio: ['ignore', 'pipe', 'pipe'], timeout: cmd.timeoutMs, signal: ctx.signal });
        let output = '';
        const keep = (b: Buffer) => {
          if (output.length < OUTPUT_LIMIT) output = (output + b.toString()).slice(0, OUTPUT_LIMIT);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.on('error', (err) => resolve({ outcome: 'failure', detail: `${p.data.command} could not run: ${err.message}` }));
        child.on('close', (code, signal) => {
          if (code === 0) resolve({ outcome: 'success', detail: `${p.data.command} exited 0`, data: { output } });
          else resolve({ outcome: 'failure', detail: `${p.data.command} ${signal !== null ? `was killed (${signal})` : `exited ${code}`}`, data: { output } });
        });
      });
    },
  };
}
