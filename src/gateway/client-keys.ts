import { CFG_ERR_INVALID } from '../core/config/errors.ts';
import { readTextFile } from '../core/config/secrets.ts';
import { bearer, sha256Hex } from '../core/http/auth.ts';

/**
 * Client API keys, held only as SHA-256 digests. A request's bearer token is
 * hashed and looked up; the name found labels the request in the metrics.
 */
export class ClientKeys {
  readonly #byDigest = new Map<string, string>();

  constructor(keys: ReadonlyArray<{ name: string; sha256: string }>) {
    for (const k of keys) this.#byDigest.set(k.sha256, k.name);
  }

  get size(): number {
    return this.#byDigest.size;
  }

  get names(): string[] {
    return [...new Set(this.#byDigest.values())].sort();
  }

  /** The key's name, or undefined for a missing or unknown key. */
  identify(authorization: string | undefined): string | undefined {
    const token = bearer(authorization);
    return token === undefined ? undefined : this.#byDigest.get(sha256Hex(token));
  }
}

/** Reads a keys file: `name:sha256` per line; `#` comments and blank lines skipped. */
export function readKeysFile(path: string): Array<{ name: string; sha256: string }> {
  const text = readTextFile(path, 'auth.keysFile');
  const keys: Array<{ name: string; sha256: string }> = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([a-zA-Z0-9_.-]{1,64}):([0-9a-f]{64})$/.exec(line);
    if (m === null) throw CFG_ERR_INVALID(`auth.keysFile ${path}, line ${i + 1}: expected name:sha256hex (64 lower-case hex digits)`);
    keys.push({ name: m[1]!, sha256: m[2]! });
  });
  return keys;
}
