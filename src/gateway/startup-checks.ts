import { upstreamURLs } from '../core/config/gateway-config.ts';
import type { GatewayConfig } from '../core/config/gateway-config.ts';
import { missingV1Hint, probeModels } from '../core/openai/list-models.ts';
import { redactUrl } from '../core/http/redact.ts';

/**
 * Start-up warnings about the configured upstreams, each one line naming the
 * upstream and the fix: a base URL without `/v1`, a server that does not
 * answer, one that answers 404 to `/models`. Warnings, not failures: on
 * Kubernetes the model server often starts after the gateway, and `/readyz`
 * stays 503 until it answers.
 */
export async function upstreamWarnings(config: GatewayConfig): Promise<string[]> {
  const warnings = await Promise.all(
    Object.entries(config.upstreams).flatMap(([name, u]) =>
      upstreamURLs(u).map(async (url): Promise<string[]> => {
        // One field names a single server; replicas are named by their URL in `endpoints`.
        const field = u.endpoints === undefined ? `upstreams.${name}.baseURL` : `upstreams.${name}.endpoints (${redactUrl(url)})`;
        const hint = missingV1Hint(url);
        const out = hint === undefined ? [] : [`upstream '${name}' has ${u.endpoints === undefined ? 'baseURL' : 'endpoint'} ${redactUrl(url)} without /v1; ${hint}`];
        const probe = await probeModels(url, { apiKey: u.apiKey, timeoutMs: 3_000 });
        const at = `GET ${redactUrl(url).replace(/\/+$/, '')}/models`;
        if (probe.kind === 'unreachable') {
          out.push(`upstream '${name}' is unreachable (${at}: ${probe.reason}); /readyz answers 503 until it is up: start the model server or fix ${field}`);
        } else if (probe.kind === 'http' && probe.status === 404 && hint === undefined) {
          out.push(`upstream '${name}' answered 404 to ${at}; /readyz answers 503: check ${field}`);
        } else if (probe.kind === 'http' && probe.status === 404) {
          out.push(`upstream '${name}' answered 404 to ${at}, so every request will fail; /readyz answers 503 until ${field} is fixed`);
        }
        return out;
      }),
    ),
  );
  return warnings.flat();
}
