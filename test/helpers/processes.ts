import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { stopChild } from '../../src/stack/children.ts';

export { freePort } from '../../src/stack/ports.ts';

/** A child process whose output is kept, for the message when a test fails. */
export interface Child {
  readonly process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startChild(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(String(err))));
  return {
    process: child,
    output: () => out,
    stop: () => stopChild(child, 5_000),
  };
}

/**
 * Polls `url` every 100 ms until it answers 2xx, for at most `ms` (60 s: a
 * multi-process start, `--workers 2` compiling through tsx, took 25 s on the
 * loaded 2-core machine); if the child exits or time runs out, runs `cleanup`
 * and throws with its output. A liveness bound, not a timing check: a child
 * that is ready answers at once.
 */
export async function waitReady(url: string, child: Child, what: string, cleanup: () => Promise<void>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (child.process.exitCode !== null || Date.now() > deadline) {
      await cleanup();
      throw new Error(`${what} did not become ready:\n${child.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
