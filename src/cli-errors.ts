import type { Command } from 'commander';
import { LlmwatchError, hasCode } from './core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE } from './core/http/listen.ts';
import { GEN_ERR_CHECK_FAILED, GEN_ERR_STALE } from './monitoring/errors.ts';

/** Results, not start-up failures: the tool's own output (or the list of files) stays below the first line. */
const KEEP_DETAIL = new Set([GEN_ERR_CHECK_FAILED.code, GEN_ERR_STALE.code]);

/**
 * How a command that failed to start ends: one `llmwatch:` line naming the
 * file, the port or the field, and the fix; the stack trace only with
 * `--debug`. The single place every command's start-up failure goes through
 * (`src/cli.ts`), so no command prints its own variant.
 */
export interface Failure {
  /** What to print on stderr: one line, unless `--debug` adds the stack. */
  readonly text: string;
  /** 2: the user can fix it (config, port, missing tool); 1: an unexpected error (a bug). */
  readonly exitCode: 1 | 2;
}

/**
 * Describes an error that ended a command. `command` is the (sub)command that
 * ran, so a port in use names the flag that command offers for it
 * (`--port`, or `--free-ports` for `up`).
 */
export function describeFailure(err: unknown, command: Command | undefined, debug: boolean): Failure {
  const stack = debug && err instanceof Error && err.stack !== undefined ? `\n${fullStack(err)}` : '';
  if (err instanceof LlmwatchError) {
    let line = KEEP_DETAIL.has(err.code) ? err.message : oneLine(err.message);
    if (hasCode(err, LISTEN_ERR_PORT_IN_USE)) line += `; stop what holds it, or ${portFlagHint(command)}`;
    return { text: `llmwatch: ${line}${stack}`, exitCode: 2 };
  }
  const fsError = fileError(err);
  if (fsError !== undefined) return { text: `llmwatch: ${fsError}${stack}`, exitCode: 2 };
  const message = err instanceof Error ? err.message : String(err);
  return {
    text: `llmwatch: unexpected error: ${oneLine(message)}${stack === '' ? ' (run again with --debug for the stack trace, and please report it)' : stack}`,
    exitCode: 1,
  };
}

/** A file-system error with its path (ENOENT, EACCES, ...): the path and what to do, not Node's wording. */
function fileError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.path !== 'string' || typeof e.code !== 'string') return undefined;
  switch (e.code) {
    case 'ENOENT':
      return `${e.path} does not exist; check the path (or the folder option of the command)`;
    case 'EACCES':
    case 'EPERM':
      return `${e.path}: permission denied; run as a user who may ${e.syscall === 'open' || e.syscall === 'scandir' ? 'read' : 'use'} it, or choose another path`;
    case 'ENOTDIR':
      return `${e.path}: a part of this path is a file, not a folder; check the path`;
    case 'EISDIR':
      return `${e.path} is a folder where a file was expected; check the path`;
    case 'ENOSPC':
      return `no space left on the device of ${e.path}; free some space`;
    default:
      return undefined;
  }
}

/** `--port`, or `--free-ports` where the command has that instead. */
function portFlagHint(command: Command | undefined): string {
  const flags = new Set(command?.options.map((o) => o.long) ?? []);
  if (flags.has('--free-ports')) return 'run with --free-ports to use any free ports';
  if (flags.has('--port')) return 'choose another with --port N (0 picks any free port)';
  return 'free the port';
}

/** Folds a multi-line message (an indented list) onto one line. */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim().replace(/^- /, ''))
    .filter((l) => l !== '')
    .join('; ')
    .replace(/:; /g, ': ');
}

function fullStack(err: Error): string {
  let out = err.stack ?? String(err);
  let cause: unknown = err.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++, cause = cause.cause) out += `\ncaused by: ${cause.stack ?? String(cause)}`;
  return out;
}
