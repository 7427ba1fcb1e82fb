import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { hasCode } from '../core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE } from '../core/http/listen.ts';
import { STACK_ERR_NOT_READY } from './errors.ts';
import { portOwner } from './port-owner.ts';

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

/**
 * Polls `url` until it answers 2xx; throws naming the part and its log when it
 * does not within `ms`. With `port`, the answer must come from `child` itself:
 * a port some other process already serves (the child then fails to bind it,
 * or binds another address) is `LISTEN_ERR_PORT_IN_USE` naming that process,
 * not a stack that reports ready while talking to a stranger.
 */
export async function waitHealthy(name: string, url: string, child: StackChild | undefined, opts: { readonly ms?: number; readonly port?: number } = {}): Promise<void> {
  const ms = opts.ms ?? 30_000;
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) {
        if (opts.port !== undefined && child?.process.pid !== undefined) assertServedBy(name, opts.port, child);
        return;
      }
    } catch (err) {
      if (hasCode(err, LISTEN_ERR_PORT_IN_USE)) throw err;
      // not up yet
    }
    if (child !== undefined && child.process.exitCode !== null) {
      if (opts.port !== undefined && /address already in use/i.test(logTail(child.logFile))) {
        throw LISTEN_ERR_PORT_IN_USE(`${name} could not bind port ${opts.port} on 127.0.0.1: it is already in use by another process; see ${child.logFile}`, { param: 'port' });
      }
      throw STACK_ERR_NOT_READY(`${name} exited with code ${child.process.exitCode}; see ${child.logFile}`);
    }
    if (Date.now() > deadline) throw STACK_ERR_NOT_READY(`${name} was not ready at ${url} within ${ms / 1000} s${child ? `; see ${child.logFile}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The last `bytes` of a log file ('' where it cannot be read). */
function logTail(file: string, bytes = 8_192): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    const n = readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Throws `LISTEN_ERR_PORT_IN_USE` unless `child` holds the listening socket on 127.0.0.1:`port` (Linux; elsewhere nothing is checked). */
export function assertServedBy(name: string, port: number, child: StackChild): void {
  const owner = portOwner(port, child.process.pid!);
  if (owner.kind !== 'other') return;
  const who = owner.holder === undefined ? 'another process' : `another process (pid ${owner.holder.pid}: ${owner.holder.command})`;
  throw LISTEN_ERR_PORT_IN_USE(`Port ${port} answered for ${name}, but it is served by ${who}, not by the ${name} this stack started; stop it, or start the stack with free ports; see ${child.logFile}`, { param: 'port' });
}
