import { zodProblems } from '../../core/config/validate.ts';
import { spawn } from 'node:child_process';
import type { Action, ActionResult } from '../types.ts';
import { execParamsSchema } from '../../core/config/action-specs.ts';

/** Bytes of a command's stdout and stderr kept for the audit log; the rest is counted and dropped. */
export const EXEC_OUTPUT_LIMIT = 4096;

export interface ExecCommand {
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  /** The command dedupes on `LLMWATCH_ACTION_KEY`, so the responder may run it again after a crash interrupted it. */
  readonly idempotent?: boolean;
}

/**
 * `exec`: runs a configured command, argv only and never through a shell,
 * with the alert's labels passed as environment variables
 * (`LLMWATCH_LABEL_MODEL=...`, plus `LLMWATCH_ALERTNAME`, `LLMWATCH_STATUS`,
 * and `LLMWATCH_ACTION_KEY`, the same on every attempt of one step).
 * Label values never reach the command line, so no value, however hostile,
 * can be interpreted by a shell. The command runs in its own process group:
 * its timeout (or the engine's) kills the whole group, and the action ends
 * when the command exits, even if a background child it left holds its output.
 */
export function createExecAction(commands: Readonly<Record<string, ExecCommand>>): Action {
  return {
    id: 'exec',
    idempotent: (params) => commands[String(params.command)]?.idempotent === true,
    async run(ctx): Promise<ActionResult> {
      const p = execParamsSchema.safeParse(ctx.params);
      if (!p.success) return { outcome: 'failure', detail: `bad params: ${zodProblems(p.error).join('; ')}` };
      const name = p.data.command;
      const cmd = commands[name];
      if (cmd === undefined) return { outcome: 'failure', detail: `no command '${name}' in the responder config` };
      if (ctx.dryRun) return { outcome: 'dry-run', detail: `would run ${name}: ${cmd.argv.join(' ')}` };
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LLMWATCH_ALERTNAME: ctx.alert.labels.alertname ?? '',
        LLMWATCH_STATUS: ctx.alert.status,
        LLMWATCH_FINGERPRINT: ctx.alert.fingerprint,
        LLMWATCH_ACTION_KEY: ctx.key ?? '',
      };
      for (const [k, v] of Object.entries(ctx.alert.labels)) env[`LLMWATCH_LABEL_${k.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = v;
      if (ctx.signal.aborted) return { outcome: 'failure', detail: `${name} not started: ${String(ctx.signal.reason)}` };
      return new Promise((resolve) => {
        const [file, ...args] = cmd.argv;
        // detached: a new process group, so a kill reaches the children it forked too.
        const child = spawn(file!, args, { env, shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        const chunks: Buffer[] = [];
        let kept = 0;
        let dropped = 0;
        const keep = (b: Buffer) => {
          const room = EXEC_OUTPUT_LIMIT - kept;
          if (room > 0) {
            chunks.push(b.length <= room ? b : b.subarray(0, room));
            kept += Math.min(room, b.length);
          }
          dropped += Math.max(0, b.length - Math.max(0, room));
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        let killedFor: string | undefined;
        const killGroup = (why: string) => {
          killedFor ??= why;
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // The group is gone already.
          }
        };
        const timer = setTimeout(() => killGroup(`timed out after ${cmd.timeoutMs} ms`), cmd.timeoutMs);
        const onAbort = () => killGroup(ctx.signal.reason instanceof Error && ctx.signal.reason.name === 'TimeoutError' ? 'timed out (action timeout)' : 'aborted');
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        const done = (r: ActionResult) => {
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          // A background child may still hold the pipes: stop reading them, the action is over.
          child.stdout.destroy();
          child.stderr.destroy();
          resolve(r);
        };
        child.on('error', (err) => done({ outcome: 'failure', detail: `${name} could not run: ${err.message}` }));
        child.on('exit', (code, signal) => {
          // 'exit' (not 'close'): the pipes may stay open in a background child. Give buffered output one turn to arrive.
          setImmediate(() => {
            const output = Buffer.concat(chunks).toString('utf8');
            const data = { output, ...(dropped > 0 && { outputDroppedBytes: dropped }) };
            if (killedFor !== undefined) done({ outcome: 'failure', detail: `${name} ${killedFor}: its process group was killed`, data });
            else if (code === 0) done({ outcome: 'success', detail: `${name} exited 0`, data });
            else done({ outcome: 'failure', detail: `${name} ${signal !== null ? `was killed (${signal})` : `exited ${code}`}`, data });
          });
        });
      });
    },
  };
}
