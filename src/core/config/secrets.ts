import { readFileSync } from 'node:fs';
import { CFG_ERR_UNREADABLE } from './errors.ts';

/** Reads a secret from a file at start-up (trailing newline removed); a missing file stops start-up naming the field. */
export function readSecretFile(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw CFG_ERR_UNREADABLE(`Cannot read ${field} ${path}: ${(err as Error).message}`, { cause: err });
  }
}
