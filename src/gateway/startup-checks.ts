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
    Object.entries(config.upstreams).map(async ([name, u]): Promise<string[]> => {
      const hint = missingV1Hint(u.baseURL);
      const out = hint === undefined ? [] : [`upstream '${name}' has baseURL ${redactUrl(u.baseURL)} without /v1; ${hint}`];
      const probe = await probeModels(u.baseURL, { apiKey: u.apiKey, timeoutMs: 3_000 });
      const at = `GET ${redactUrl(u.baseURL).replace(/\/+$/, '')}/models`;
      if (probe.kind === 'unreachable') {
        out.push(`upstream '${name}' is unreachable (${at}: ${probe.reason}); /readyz answers 503 until it is up: start the model server or fix upstreams.${name}.baseURL`);
      } else if (probe.kind === 'http' && probe.status === 404 && hint === undefined) {
        out.push(`upstream '${name}' answered 404 to ${at}; /readyz answers 503: check upstreams.${name}.baseURL`);
      } else if (probe.kind === 'http' && probe.status === 404) {
        out.push(`upstream '${name}' answered 404 to ${at}, so every request will fail; /readyz answers 503 until upstreams.${name}.baseURL is fixed`);
      }
      return out;
    }),
  );
  return warnings.flat();
}
