import type { MonitoringSpec } from '../../core/config/monitoring-spec.ts';
import { GatewayConfigSchema } from '../../core/config/gateway-config.ts';
import { PlaybooksSchema, articlePlaybooks } from '../../core/config/playbook-spec.ts';
import type { Playbook } from '../../core/config/playbook-spec.ts';
import { ResponderConfigSchema } from '../../core/config/responder-config.ts';
import { DEFAULT_SIMULATOR_CONFIG } from '../../core/config/simulator-config.ts';
import { CFG_ERR_INVALID } from '../../core/config/errors.ts';
import { validateConfig } from '../../core/config/validate.ts';
import { hasCode } from '../../core/errors.ts';
import { DEPLOY_PART } from '../../core/conventions/deploy.ts';
import { GEN_ERR_INVALID_SPEC } from '../errors.ts';

/**
 * The configs of the gateway and the responder as deployed by the compose file
 * and the Kubernetes manifests: only wiring (addresses, secret files, the audit
 * volume) plus what the spec decides (metric prefix and buckets, playbooks).
 * Each is checked against the part's own schema at generation time, so a
 * deployment never starts with a config its part refuses.
 */

/** Where a deployed part finds the others and its secrets. */
export interface GatewayWiring {
  /** Upstream name -> OpenAI base URL (`/v1` included). */
  readonly upstreams: Readonly<Record<string, string>>;
  /** The upstream the demo models are routed to. */
  readonly modelUpstream: string;
  readonly adminTokenFile: string;
  /** The Redis the replicas share their routes through (`routes.store: redis`). */
  readonly redisURL: string;
}

export interface ResponderWiring {
  readonly prometheusURL: string;
  readonly gatewayURL: string;
  readonly adminTokenFile: string;
  readonly responderTokenFile: string;
  readonly auditPath: string;
}

/**
 * The playbooks the deployed responder runs: the spec's, or the source
 * article's when the spec has none (what `llmwatch responder` itself falls back to).
 * The Kubernetes RBAC is derived from the same list.
 */
export function deployedPlaybooks(spec: Readonly<MonitoringSpec>): Readonly<Record<string, Playbook>> {
  if (Object.keys(spec.playbooks).length > 0) return spec.playbooks;
  return PlaybooksSchema.parse(articlePlaybooks(spec.metricsPrefix));
}

/**
 * The gateway's config: listening on every interface of its container, the
 * spec's metric prefix and latency buckets (the rules read them), the admin
 * token from a file, and the simulator's models routed to `modelUpstream`, the
 * first with the second as its fallback so the article's switch-model step has
 * somewhere to go, and the routes shared by every replica through Redis. Replace the upstreams with your model servers' (docs/deploy.md).
 */
export function deployedGatewayConfig(spec: Readonly<MonitoringSpec>, wiring: GatewayWiring): Record<string, unknown> {
  const [primary, ...others] = Object.keys(DEFAULT_SIMULATOR_CONFIG.models);
  const upstream = wiring.modelUpstream;
  const models: Record<string, unknown> = {};
  if (primary !== undefined) {
    models[primary] = others.length > 0 ? { targets: [{ upstream }, { upstream, model: others[0] }] } : { upstream };
  }
  for (const m of others) models[m] = { upstream };
  const config = {
    host: '0.0.0.0',
    port: DEPLOY_PART.gateway.port,
    metrics: { prefix: spec.metricsPrefix, durationBuckets: [...spec.latencyBuckets] },
    upstreams: Object.fromEntries(Object.entries(wiring.upstreams).map(([name, baseURL]) => [name, { baseURL }])),
    models,
    admin: { tokenFile: wiring.adminTokenFile },
    // Several replicas: a switch-model through any of them must hold on all (docs/gateway.md#gateway-replicas-shared-routes).
    routes: { store: 'redis', redisURL: wiring.redisURL },
  };
  check(GatewayConfigSchema, config, 'gateway');
  return config;
}

/**
 * The responder's config: the webhook behind a bearer token from a file, the
 * audit log on a volume, Prometheus and the gateway by their deployed names,
 * and {@link deployedPlaybooks}. Kubernetes access is the in-cluster service
 * account where there is one; elsewhere the `scale` action is off.
 */
export function deployedResponderConfig(spec: Readonly<MonitoringSpec>, wiring: ResponderWiring): Record<string, unknown> {
  const config = {
    host: '0.0.0.0',
    port: DEPLOY_PART.responder.port,
    auth: { tokenFile: wiring.responderTokenFile },
    // /admin/* (kill switch, breaker) takes the deployment's admin token, never Alertmanager's.
    adminAuth: { tokenFile: wiring.adminTokenFile },
    auditPath: wiring.auditPath,
    prometheusURL: wiring.prometheusURL,
    gateway: { url: wiring.gatewayURL, adminTokenFile: wiring.adminTokenFile },
    playbooks: deployedPlaybooks(spec),
  };
  check(ResponderConfigSchema, config, 'responder');
  return config;
}

function check(schema: typeof GatewayConfigSchema | typeof ResponderConfigSchema, config: unknown, part: string): void {
  try {
    validateConfig(schema, config, `${part} config generated from the spec`);
  } catch (err) {
    if (!hasCode(err, CFG_ERR_INVALID)) throw err;
    // A playbook the deployed responder cannot run (an `exec` step: its commands are host-specific).
    throw GEN_ERR_INVALID_SPEC(`${err.message}\nFix the spec's playbooks, or run the ${part} with a config of your own (docs/deploy.md).`, { cause: err });
  }
}
