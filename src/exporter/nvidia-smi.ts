import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EXP_ERR_EXIT_CODE, EXP_ERR_MISSING_BINARY, EXP_ERR_PARSE, EXP_ERR_TIMEOUT } from './errors.ts';
import { QUERY_ARGS } from './nvidia-smi-csv.ts';

/** One nvidia-smi process. */
export interface NvidiaSmiRun {
  /** Its stdout when it exits 0 in time; otherwise rejects with an `EXP_ERR_*` error. */
  readonly output: Promise<string>;
  /**
   * Resolves once the process is gone (at once if it never started). A killed
   * nvidia-smi stuck in the kernel on a hung driver can outlive `output` by far:
   * the collector starts no other run until this resolves.
   */
  readonly exited: Promise<void>;
}

/** nvidia-smi prints about 150 bytes per GPU; anything near this is not its CSV. */
export const MAX_STDOUT = 1024 * 1024;
const MAX_STDERR = 4096;

/**
 * Runs `path` with the exporter's query ({@link QUERY_ARGS}), never through a
 * shell. Past `timeoutMs` the process is sent SIGKILL (a hung nvidia-smi does
 * not answer SIGTERM) and `output` rejects with `EXP_ERR_TIMEOUT` at once,
 * whether or not the process has died yet. `signal` kills it on shutdown.
 */
export function runNvidiaSmi(path: string, timeoutMs: number, signal?: AbortSignal): NvidiaSmiRun {
  let child: ChildProcess;
  try {
    child = spawn(path, QUERY_ARGS, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  } catch (err) {
    // Only arguments spawn itself refuses (an empty path, a NUL byte) throw here.
    return { output: Promise.reject(missing(path, err)), exited: Promise.resolve() };
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.on('error', () => {
      if (child.pid === undefined) resolve();
    });
  });
  const output = new Promise<string>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      fn();
    };
    const kill = () => {
      child.kill('SIGKILL');
      // Whatever still holds the pipes open must not keep this run alive.
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    const abort = () => {
      settle(() => reject(EXP_ERR_TIMEOUT(`nvidia-smi (${path}) was stopped: the exporter is shutting down`)));
      kill();
    };
    const timer = setTimeout(() => {
      settle(() => reject(EXP_ERR_TIMEOUT(`nvidia-smi (${path}) did not finish within ${timeoutMs / 1000}s and was killed`)));
      kill();
    }, timeoutMs);
    signal?.addEventListener('abort', abort, { once: true });
    if (signal?.aborted) abort();

    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (stdout.length + chunk.length > MAX_STDOUT) {
        settle(() => reject(EXP_ERR_PARSE(`nvidia-smi (${path}) printed more than ${MAX_STDOUT} bytes: not the CSV it was asked for`)));
        kill();
        return;
      }
      stdout += chunk;
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.slice(0, MAX_STDERR - stderr.length);
    });
    // A pipe torn down by kill() may report an error of its own; the run's outcome is already settled.
    child.stdout!.on('error', () => {});
    child.stderr!.on('error', () => {});
    child.on('error', (err) => settle(() => reject(missing(path, err))));
    child.once('close', (code, sig) => {
      settle(() => {
        if (code === 0) return resolve(stdout);
        const said = firstLine(stdout) || firstLine(stderr);
        const how = code === null ? `was killed by ${sig ?? 'a signal'}` : `exited with code ${code}`;
        reject(EXP_ERR_EXIT_CODE(`nvidia-smi (${path}) ${how}${said === '' ? '' : `: ${said}`}`));
      });
    });
  });
  return { output, exited };
}

function missing(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? (path.includes('/') ? 'no such file' : 'not found on PATH') : code === 'EACCES' ? 'not executable' : String((err as Error).message);
  return EXP_ERR_MISSING_BINARY(`cannot run nvidia-smi (${path}): ${why}`, { cause: err });
}

/** The first non-empty line, cut to 200 characters: nvidia-smi's own error message, for the log. */
export function firstLine(s: string): string {
  const line = s.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
