/**
 * Secrets never printed: every URL llmwatch logs or puts in an error goes
 * through {@link redactUrl}, and every message that may quote a peer (an
 * upstream's error page, a network error) through {@link redactSecrets}.
 */

/** Query parameters that carry credentials by convention. */
const SECRET_PARAMS = /^(?:api[-_]?key|key|token|access[-_]?token|auth|password|secret|sig|signature)$/i;

/**
 * A URL with its user, password and credential-like query parameters replaced
 * by `***`. A string that is not a URL is returned through {@link redactSecrets}.
 * @example
 * redactUrl('http://bob:s3cret@10.0.0.5:8000/v1?api_key=abc'); // 'http://***:***@10.0.0.5:8000/v1?api_key=***'
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactSecrets(url);
  }
  const secretParams = [...u.searchParams.keys()].filter((name) => SECRET_PARAMS.test(name));
  // Unchanged when there is nothing to hide (`URL` would add a trailing slash).
  if (u.username === '' && u.password === '' && secretParams.length === 0) return url;
  if (u.username !== '') u.username = '***';
  if (u.password !== '') u.password = '***';
  for (const name of secretParams) u.searchParams.set(name, '***');
  // `URL` percent-encodes the stars it was given back.
  return u.toString().replace(/%2A%2A%2A/g, '***');
}

/**
 * Free text with credentials masked: user:password in URLs, bearer and basic
 * tokens, OpenAI-style `sk-` keys, and `key=value` pairs named like secrets.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi, '$1***:***@')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 ***')
    .replace(/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-***')
    .replace(/\b(api[-_]?key|access[-_]?token|token|password|secret)=([^\s&"']+)/gi, '$1=***');
}
