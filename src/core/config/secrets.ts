import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CFG_ERR_UNREADABLE } from './errors.ts';

/**
 * A file's text, read at start-up; a file that cannot be read stops start-up
 * naming what it is (`config file`, `auth.keysFile`) and why, in words.
 */
export function readTextFile(path: string, what: string, hint = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw CFG_ERR_UNREADABLE(`Cannot read ${what} ${path}: ${why}${hint}`, { cause: err });
  }
}

/** Reads a secret from a file at start-up (trailing newline removed); a missing file stops start-up naming the field. */
export function readSecretFile(path: string, field: string): string {
  return readTextFile(path, field).trim();
}

/**
 * A secret given inline or in a file (`token` / `tokenFile`): the inline one,
 * else the file's, else undefined. `field` names the file field in errors.
 */
export function secretOf(inline: string | undefined, file: string | undefined, field: string): string | undefined {
  return inline ?? (file === undefined ? undefined : readSecretFile(file, field));
}

/** A bearer token, inline (16 characters at least) or in a file; not both. Off when neither is given. */
export const TokenSchema = z
  .strictObject({
    /** The bearer token; use `tokenFile` to keep it out of the config. */
    token: z.string().min(16, 'at least 16 characters').optional(),
    /** A file holding the token (its trailing newline dropped), read at start-up. */
    tokenFile: z.string().min(1).optional(),
  })
  .refine((t) => t.token === undefined || t.tokenFile === undefined, { message: "give either 'token' or 'tokenFile', not both" });

/**
 * True when a URL names a user or a password before its host: an inline secret. False for a
 * string that is no URL at all (a refinement runs after a failed format check too, and must not
 * throw on it: the format check's own message is the one to show).
 */
export function hasUrlCredentials(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return u.username !== '' || u.password !== '';
}
