import { missingV1Hint } from '../core/openai/list-models.ts';
import type { Upstream } from './upstream.ts';
import { redactSecrets, redactUrl } from '../core/http/redact.ts';

const PROBE_TIMEOUT_MS = 2_000;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly upstreams: Record<string, { ok: boolean; status?: number; error?: string }>;
}

/**
 * Asks each upstream for `GET {baseURL}/models`. Any HTTP answer below 500
 * (401 included) proves it is up, except 404: every OpenAI-compatible server
 * serves `/models`, so a 404 means the base URL is wrong (most often it lacks
 * `/v1`) and every request would fail the same way. The gateway is ready when
 * all of them are.
 */
export async function probeUpstreams(upstreams: Iterable<Upstream>): Promise<ReadinessReport> {
  const entries = await Promise.all(
    [...upstreams].map(async (u) => {
      try {
        const answer = await u.request('/models', undefined, undefined, AbortSignal.timeout(PROBE_TIMEOUT_MS), 'GET');
        await answer.body.dump();
        if (answer.statusCode === 404) {
          return [u.name, { ok: false, status: 404, error: `GET ${redactUrl(u.config.baseURL).replace(/\/+$/, '')}/models answered 404: ${missingV1Hint(u.config.baseURL) ?? 'check the base URL'}` }] as const;
        }
        return [u.name, { ok: answer.statusCode < 500, status: answer.statusCode }] as const;
      } catch (err) {
        return [u.name, { ok: false, error: redactSecrets((err as Error).message) }] as const;
      }
    }),
  );
  return { ready: entries.every(([, e]) => e.ok), upstreams: Object.fromEntries(entries) };
}
