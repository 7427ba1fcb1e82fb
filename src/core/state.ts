import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where llmwatch keeps local state: one folder, `.llmwatch` in the working
 * directory, or `$LLMWATCH_HOME` when set. Every command resolves its default
 * paths here, so `llmwatch responder log` reads the database `llmwatch up`
 * writes without a flag:
 *
 *     <state>/stack/                  llmwatch up, drill, console (--dir)
 *       stack.json                    URLs, tokens, the spec of the running stack
 *       config/ logs/ secrets/
 *       data/responder.db             the stack's responder audit log
 *       data/prometheus/ data/alertmanager/
 *     <state>/responder.db            llmwatch responder run on its own (auditPath)
 *
 * Only `up` and the responder create anything here; readers (`responder
 * log`, `drill`, `console`) never create a file or folder.
 */
export const STATE_HOME_ENV = 'LLMWATCH_HOME';

/** The state folder: `$LLMWATCH_HOME`, else `.llmwatch` (relative to the working directory). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env[STATE_HOME_ENV];
  return home !== undefined && home !== '' ? home : '.llmwatch';
}

/** `llmwatch up`'s working folder by default: `<state>/stack`. */
export function defaultStackDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'stack');
}

/** The stack's responder audit database, relative to a stack folder. */
export const STACK_AUDIT_DB = 'data/responder.db';

/** The audit database of a stack folder. */
export function stackAuditPath(stackDir: string): string {
  return join(stackDir, STACK_AUDIT_DB);
}

/** A responder run on its own writes its audit database here unless its config sets `auditPath`. */
export function defaultAuditPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'responder.db');
}

/**
 * The audit databases `llmwatch responder log` looks for when given neither
 * `--db` nor `--config`, in order: the stack's (what `up` writes), then a
 * standalone responder's. The first that exists is read.
 */
export function auditCandidates(stackDir: string, env: NodeJS.ProcessEnv = process.env): readonly string[] {
  return [stackAuditPath(stackDir), defaultAuditPath(env)];
}

/** The first existing path of `paths`, or undefined. */
export function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}
