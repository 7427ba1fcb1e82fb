import { CONSOLE_ERR_UPSTREAM } from './errors.ts';

/** What a peer answered: its status and parsed JSON body. */
export interface UpstreamReply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * GETs `url` with a timeout and parses the JSON body. Any non-JSON answer,
 * refusal or timeout becomes `CONSOLE_ERR_UPSTREAM` naming `what`, so the page
 * can show it in its banner; an HTTP error with a JSON body is returned as is
 * (a PromQL error is the panel's to show, not a 502).
 */
export async function getJson(what: string, url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<UpstreamReply> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json', ...headers } });
  } catch (err) {
    throw CONSOLE_ERR_UPSTREAM(`${what} at ${new URL(url).origin} is unreachable: ${reason(err)}`, { cause: err });
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch (err) {
    throw CONSOLE_ERR_UPSTREAM(`${what} at ${new URL(url).origin} answered HTTP ${res.status} without JSON: ${text.slice(0, 200)}`, { cause: err });
  }
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
