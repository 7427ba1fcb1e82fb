import { pino } from 'pino';
import type { Logger } from 'pino';

/**
 * Fields whose values no log line ever carries, at the top level or one object
 * down (`{ headers: { authorization } }`): pino's redaction replaces them.
 */
export const REDACTED_PATHS: readonly string[] = ['authorization', 'token', 'apiKey', 'api_key', 'password', 'adminToken', 'secret'].flatMap((k) => [k, `*.${k}`]);

/** The levels a config or `LLMWATCH_LOG_LEVEL` may name. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const LEVELS = new Set<string>(LOG_LEVELS);

/**
 * The level: `LLMWATCH_LOG_LEVEL` (fatal, error, warn, info, debug, trace,
 * silent) when set to one of them, else the config's `logLevel`, else `info`:
 * the environment overrides the file for one run.
 */
export function logLevel(env: NodeJS.ProcessEnv = process.env, configured?: LogLevel): LogLevel {
  const level = env.LLMWATCH_LOG_LEVEL?.trim().toLowerCase();
  return level !== undefined && LEVELS.has(level) ? (level as LogLevel) : (configured ?? 'info');
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

/**
 * Applies a config file's `logLevel` (the gateway's, the responder's) to the
 * logger and every part's child; `LLMWATCH_LOG_LEVEL` still wins.
 */
export function setLogLevel(configured: LogLevel | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const level = logLevel(env, configured);
  root.level = level;
  for (const child of children.values()) child.level = level;
  return level;
}
