import { pino } from 'pino';
import type { Logger } from 'pino';

/**
 * Fields whose values no log line ever carries, at the top level or one object
 * down (`{ headers: { authorization } }`): pino's redaction replaces them.
 */
export const REDACTED_PATHS: readonly string[] = ['authorization', 'token', 'apiKey', 'api_key', 'password', 'adminToken', 'secret'].flatMap((k) => [k, `*.${k}`]);

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The level: `LLMWATCH_LOG_LEVEL` (fatal, error, warn, info, debug, trace, silent), else `info`. */
export function logLevel(env: NodeJS.ProcessEnv = process.env): string {
  const level = env.LLMWATCH_LOG_LEVEL?.trim().toLowerCase();
  return level !== undefined && LEVELS.has(level) ? level : 'info';
}

/**
 * llmwatch's one logger: JSON lines on stderr (stdout stays the commands'
 * own output), ISO timestamps, secrets redacted. Each part logs through its
 * child, `logger('gateway')`, so every line says where it comes from.
 */
const root: Logger = pino(
  {
    level: logLevel(),
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  },
  // Through process.stderr, not a raw fd: lines keep their order with the rest of stderr.
  process.stderr,
);

const children = new Map<string, Logger>();

/** The logger of one part (`gateway`, `responder`, `http`, ...). */
export function logger(part: string): Logger {
  let child = children.get(part);
  if (child === undefined) {
    child = root.child({ part });
    children.set(part, child);
  }
  return child;
}
