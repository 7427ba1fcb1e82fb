import { missingV1Hint } from '../core/openai/list-models.ts';
import type { Upstream } from './upstream.ts';
import { redactSecrets, redactUrl } from '../core/http/redact.ts';

const PROBE_TIMEOUT_MS = 2_000;

export interface ProbeResult {
  ok: boolean;
  status?: number;
  error?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Per upstream; one with several endpoints lists each, and is ok when one of them is. */
  readonly upstreams: Record<string, ProbeResult & { endpoints?: Array<ProbeResult & { url: string }> }>;
}

/**
 * Asks each endpoint of each upstream for `GET {baseURL}/models`. Any HTTP
 * answer below 500 (401 included) proves it is up, except 404: every
 * OpenAI-compatible server serves `/models`, so a 404 means the base URL is
 * wrong (most often it lacks `/v1`) and every request would fail the same
 * way. An upstream is ready when one of its endpoints is (the others are
 * ejected and probed again), the gateway when all upstreams are.
 */
export async function probeUpstreams(upstreams: Iterable<Upstream>): Promise<ReadinessReport> {
  const entries = await Promise.all(
    [...upstreams].map(async (u) => {
      const results = (await u.probe(PROBE_TIMEOUT_MS)).map((r) => ({ url: redactUrl(r.url), ...verdict(r) }));
      if (results.length === 1) {
        const { url: _url, ...only } = results[0]!;
        return [u.name, only] as const;
      }
      return [u.name, { ok: results.some((r) => r.ok), endpoints: results }] as const;
    }),
  );
  return { ready: entries.every(([, e]) => e.ok), upstreams: Object.fromEntries(entries) };
}

function verdict(r: { url: string; status?: number; error?: unknown }): ProbeResult {
  if (r.status === undefined) return { ok: false, error: redactSecrets((r.error as Error).message) };
  if (r.status === 404) {
    return { ok: false, status: 404, error: `GET ${redactUrl(r.url).replace(/\/+$/, '')}/models answered 404: ${missingV1Hint(r.url) ?? 'check the base URL'}` };
  }
  return { ok: r.status < 500, status: r.status };
}
