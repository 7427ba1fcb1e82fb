/**
 * What an OpenAI-compatible server answers to `GET {baseURL}/models`, the
 * cheapest request every such server serves (vLLM, TGI, Ollama, OpenLLM,
 * LiteLLM). Used at start-up to catch the two common mistakes before the
 * first request does: a server that is not running, and a base URL without
 * its `/v1`.
 */
export type ModelsProbe =
  | { readonly kind: 'ok'; readonly models: readonly string[] }
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'unreachable'; readonly reason: string };

/** Asks `GET {baseURL}/models` once, within `timeoutMs`; never throws. */
export async function probeModels(baseURL: string, opts: { apiKey?: string; timeoutMs?: number } = {}): Promise<ModelsProbe> {
  const url = `${baseURL.replace(/\/+$/, '')}/models`;
  try {
    const res = await fetch(url, {
      headers: opts.apiKey === undefined ? {} : { authorization: `Bearer ${opts.apiKey}` },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 3_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { kind: 'http', status: res.status };
    }
    const data = safeJson(await readAtMost(res, MAX_LIST_BYTES)) as { data?: Array<{ id?: unknown }> } | undefined;
    const models = Array.isArray(data?.data) ? data.data.map((m) => m.id).filter((id): id is string => typeof id === 'string') : [];
    return { kind: 'ok', models };
  } catch (err) {
    return { kind: 'unreachable', reason: rootCause(err) };
  }
}

/** What a base URL that answers 404 to `/models` probably misses, when its path has no `/v1`. */
export function missingV1Hint(baseURL: string): string | undefined {
  let path: string;
  try {
    path = new URL(baseURL).pathname;
  } catch {
    return undefined;
  }
  if (/\/v1(\/|$)/.test(path)) return undefined;
  return `OpenAI-compatible servers (vLLM, TGI, Ollama, OpenLLM) serve the API under /v1: use ${baseURL.replace(/\/+$/, '')}/v1`;
}

/** A model list is small; a server answering something huge is not one, so the read is bounded. */
const MAX_LIST_BYTES = 1_000_000;

async function readAtMost(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > max) {
      await res.body.cancel().catch(() => {});
      return '';
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The innermost message: fetch wraps `connect ECONNREFUSED 127.0.0.1:1` in a bare "fetch failed". */
function rootCause(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error && e.cause instanceof Error; depth++) e = e.cause;
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer within the timeout';
  return e instanceof Error ? e.message : String(e);
}
