import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 hex of a secret, as key files hold them. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** The token of an `Authorization: Bearer ...` header. */
export function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m === null ? undefined : m[1];
}

/** The user and password of an `Authorization: Basic ...` header (RFC 7617); undefined when it is not one. */
export function basicCredentials(authorization: string | undefined): { username: string; password: string } | undefined {
  if (authorization === undefined || !/^Basic\s+/i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  return sep === -1 ? undefined : { username: decoded.slice(0, sep), password: decoded.slice(sep + 1) };
}

/** Compares two secrets in constant time (through their digests, so lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
