import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { STACK_ERR_NOT_READY } from './errors.ts';

/** A child process of the local stack, its output in a log file. */
export interface StackChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** Starts a binary with its stdout and stderr appended to `logFile`. */
export function startLogged(name: string, command: string, args: readonly string[], logFile: string): StackChild {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, [...args], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return {
    name,
    process: child,
    logFile,
    stop: () => stopChild(child, 10_000),
  };
}

/** Sends SIGTERM, then SIGKILL after `graceMs`, and resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls `url` until it answers 2xx; throws naming the part and its log when it does not within `ms`. */
export async function waitHealthy(name: string, url: string, child: StackChild | undefined, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (child !== undefined && child.process.exitCode !== null) throw STACK_ERR_NOT_READY(`${name} exited with code ${child.process.exitCode}; see ${child.logFile}`);
    if (Date.now() > deadline) throw STACK_ERR_NOT_READY(`${name} was not ready at ${url} within ${ms / 1000} s${child ? `; see ${child.logFile}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
