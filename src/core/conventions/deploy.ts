/**
 * Names of what `llmwatch generate` deploys: scrape jobs, compose services,
 * profiles and ports, Kubernetes objects, Grafana uids, secret files.
 */

/** Scrape job names of the generated Prometheus config. */
export const JOB = {
  gateway: 'llmwatch-gateway',
  node: 'node',
  gpu: 'llmwatch-gpu',
  responder: 'llmwatch-responder',
  modelServer: 'model-server',
  /** Prometheus scraping itself: its self-alerts read these series. */
  prometheus: 'prometheus',
  /** Prometheus scraping the Alertmanagers it sends to. */
  alertmanager: 'alertmanager',
} as const;

/**
 * The scrape job of one model server: job names must be unique in a Prometheus
 * config, so each server gets its own, e.g. `model-server-vllm-a`.
 */
export function modelServerJob(server: string): string {
  return `${JOB.modelServer}-${server}`;
}

/** Names of the generated prometheus-operator manifests. */
export const K8S = {
  /** Value of `app.kubernetes.io/part-of` on everything llmwatch generates. */
  partOf: 'llmwatch',
  prometheusRule: 'llmwatch-rules',
  /** The named Service port the gateway's metrics are scraped on. */
  gatewayPort: 'http',
} as const;

/** Stable uids of the generated Grafana dashboards: links and bookmarks survive regeneration. */
export const DASHBOARD_UID = { overview: 'llmwatch-overview', hosts: 'llmwatch-hosts', alerts: 'llmwatch-alerts', engines: 'llmwatch-engines' } as const;

/** Tag on every generated dashboard; their cross-links list dashboards by it. */
export const DASHBOARD_TAG = 'llmwatch';

/** uid of the provisioned Prometheus datasource. */
export const GRAFANA_DATASOURCE_UID = 'prometheus';

/**
 * The deployed parts: their docker-compose service names and ports, read by the
 * compose file, the Kubernetes manifests and the Prometheus and Alertmanager
 * configs written for them, so a scrape target always names a service that exists.
 * Ports are each part's default (DESIGN.md).
 */
export const DEPLOY_PART = {
  gateway: { service: 'gateway', port: 8000 },
  responder: { service: 'responder', port: 9095 },
  gpuExporter: { service: 'gpu-exporter', port: 9835 },
  simulator: { service: 'simulator', port: 3000 },
  prometheus: { service: 'prometheus', port: 9090 },
  alertmanager: { service: 'alertmanager', port: 9093 },
  nodeExporter: { service: 'node-exporter', port: 9100 },
  grafana: { service: 'grafana', port: 3000 },
  /** The gateway replicas' shared routes (`routes.store: redis`). */
  redis: { service: 'redis', port: 6379 },
} as const;

/**
 * The gateway replicas the generated deployments run: two, so that one pod
 * going (a node drain, a rolling update) leaves one serving; the routes they
 * share live in Redis.
 */
export const GATEWAY_REPLICAS = { compose: 2, kubernetes: 2, autoscaleMax: 10 } as const;

/** docker-compose profiles: parts that start only when asked for. */
export const COMPOSE_PROFILE = { gpu: 'gpu', demo: 'demo' } as const;

/** Names of the secrets the deployed parts read from files: never in a generated file, created by the user. */
export const DEPLOY_SECRET = {
  /** Bearer token of the gateway's admin API; the responder's switch-model sends it. */
  adminToken: 'admin-token',
  /** Bearer token Alertmanager sends to the responder's webhook. */
  responderToken: 'responder-token',
} as const;

/**
 * Names of the Kubernetes objects `llmwatch generate` writes beside the
 * prometheus-operator manifests. Deployments and Services are named after the
 * scrape jobs, because the ServiceMonitors take `job` from `app.kubernetes.io/name`.
 */
export const K8S_OBJECT = {
  gateway: JOB.gateway,
  responder: JOB.responder,
  /** The responder's ServiceAccount, and the Role and RoleBinding that let it scale. */
  responderAccount: JOB.responder,
  scaleRole: `${JOB.responder}-scale`,
  /** The PersistentVolumeClaim of the responder's audit log. */
  responderData: `${JOB.responder}-data`,
  /** The Redis the gateway replicas share their routes through: Deployment, Service, NetworkPolicy. */
  redis: 'llmwatch-redis',
  /** The Secret holding {@link DEPLOY_SECRET}'s files, created with kubectl, never generated. */
  tokens: 'llmwatch-tokens',
} as const;
