import { posix } from 'node:path';
import { Document } from 'yaml';
import type { MonitoringSpec } from '../../core/config/monitoring-spec.ts';
import { COMPOSE_PROFILE, DEPLOY_PART, DEPLOY_SECRET, GATEWAY_REPLICAS } from '../../core/conventions/deploy.ts';
import { REDIS_ARGS, REDIS_IMAGE } from './kube-replicas.ts';
import { VERSION } from '../../core/version.ts';
import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml } from '../yaml.ts';
import { renderAlertmanager } from './alertmanager.ts';
import { GRAFANA_CONTAINER_PATH, GRAFANA_DASHBOARDS_DIR, GRAFANA_DATASOURCES_PATH } from './grafana.ts';
import { renderPrometheusConfig } from './prometheus-config.ts';
import { deployedGatewayConfig, deployedResponderConfig } from './service-configs.ts';

/** Where the compose stack goes, relative to the output folder. */
export const COMPOSE_DIR = 'compose';
export const COMPOSE_FILE_PATH = `${COMPOSE_DIR}/docker-compose.yml`;
export const COMPOSE_PROMETHEUS_PATH = `${COMPOSE_DIR}/prometheus.yml`;
export const COMPOSE_ALERTMANAGER_PATH = `${COMPOSE_DIR}/alertmanager.yml`;
export const COMPOSE_GATEWAY_CONFIG_PATH = `${COMPOSE_DIR}/gateway.yaml`;
export const COMPOSE_RESPONDER_CONFIG_PATH = `${COMPOSE_DIR}/responder.yaml`;
/**
 * The env file Grafana's admin password comes from, which the user writes. Its
 * example, `.env.example`, is committed by hand and not generated: a copy of a
 * generated file would carry the generated mark, and the next `llmwatch generate`
 * would delete the user's `.env` as a stale generated file.
 */
export const COMPOSE_ENV_FILE = '.env';

/**
 * Pinned images, checked on 2026-12-02 against the newest release tags this project could read
 * (the repositories' tags as of August 2026; docs/deploy.md says what was newer and why it is not used):
 * - Prometheus v2.53.5, the last patch of the 2.53 LTS line. Not 3.x (v3.14.0 is the newest seen):
 *   Prometheus 3 normalizes `le` label values on ingestion (`le="2"` becomes `le="2.0"`); the
 *   generated SLO rules match both forms (`le=~"2|2\\.0"`, a promtool test feeds `le="2.0"`), but the
 *   rest of the stack has not been run against 3.x here.
 *   https://github.com/prometheus/prometheus/releases/tag/v2.53.5,
 *   https://github.com/prometheus/prometheus/blob/main/docs/migration.md
 * - Alertmanager v0.34.0, the newest (its config changes since 0.27 do not touch what we generate).
 *   https://github.com/prometheus/alertmanager/releases/tag/v0.34.0
 * - node-exporter v1.12.1, the newest (`--collector.filesystem.mount-points-exclude` unchanged).
 *   https://github.com/prometheus/node_exporter/releases/tag/v1.12.1
 * - Grafana 12.4.0: the dashboards are Grafana's v1 JSON from the foundation SDK; Grafana 13 is out
 *   and not adopted, as no Grafana runs here to check the dashboards against it.
 *   https://github.com/grafana/grafana/releases/tag/v12.4.0
 */
export const COMPOSE_IMAGES = {
  prometheus: 'prom/prometheus:v2.53.5',
  alertmanager: 'prom/alertmanager:v0.34.0',
  nodeExporter: 'prom/node-exporter:v1.12.1',
  grafana: 'grafana/grafana:12.4.0',
  /** The gateway replicas' shared routes; the Kubernetes manifests run the same (kube-replicas.ts says why this one). */
  redis: REDIS_IMAGE,
  /** llmwatch's own image, built from the repository's Dockerfile. */
  llmwatch: `llmwatch:${VERSION}`,
} as const;

/** Prometheus' retention, the source article's 15 days, with the current flag (`--storage.tsdb.retention` is deprecated). */
export const RETENTION = '15d';

/**
 * Grafana's provisioning and dashboards as the Grafana writer lays them out,
 * relative to the compose folder, and where that writer's provisioning tells
 * Grafana to look for them.
 */
export const GRAFANA_MOUNTS = [
  { from: `../${posix.dirname(posix.dirname(GRAFANA_DATASOURCES_PATH))}`, to: GRAFANA_CONTAINER_PATH.provisioning },
  { from: `../${GRAFANA_DASHBOARDS_DIR}`, to: GRAFANA_CONTAINER_PATH.dashboards },
] as const;

/**
 * node-exporter publishes on the host's network, so that its network series are
 * the host's and not a container's; Prometheus reaches it through Docker's host gateway.
 */
export const HOST_GATEWAY = 'host.docker.internal';

/** The repository root, the build context of llmwatch's image, relative to the compose folder. */
const BUILD_CONTEXT = '../..';
const SECRETS_DIR = '/run/secrets';
const CONFIG_DIR = '/etc/llmwatch';
const AUDIT_DIR = '/var/lib/llmwatch';

/**
 * The spec as the compose stack runs it: every target is a compose service
 * (a model server named N in the spec is scraped at service N on its port),
 * the GPU exporter of the `gpu` profile is always scraped, and Alertmanager
 * reaches the responder by its service name with the token from a secret.
 */
export function composeSpec(spec: Readonly<MonitoringSpec>): Readonly<MonitoringSpec> {
  const at = (part: { service: string; port: number }) => `${part.service}:${part.port}`;
  const modelServers = spec.targets.modelServers.map((s) => ({
    ...s,
    targets: [...new Set(s.targets.map((t) => `${s.name}:${t.slice(t.lastIndexOf(':') + 1)}`))],
  }));
  return {
    ...spec,
    targets: {
      ...spec.targets,
      gateways: [at(DEPLOY_PART.gateway)],
      nodeExporter: [`${HOST_GATEWAY}:${DEPLOY_PART.nodeExporter.port}`],
      gpuExporter: { ...spec.targets.gpuExporter, targets: [at(DEPLOY_PART.gpuExporter)] },
      responder: [at(DEPLOY_PART.responder)],
      alertmanagers: [at(DEPLOY_PART.alertmanager)],
      prometheus: [at(DEPLOY_PART.prometheus)],
      modelServers,
    },
    alertmanager: {
      ...spec.alertmanager,
      responderURL: `http://${at(DEPLOY_PART.responder)}/alerts`,
      responderTokenFile: `${SECRETS_DIR}/${DEPLOY_SECRET.responderToken}`,
    },
  };
}

/**
 * Renders the compose stack (`compose/`): the source article's docker-compose
 * file, corrected, with llmwatch's own parts, and the Prometheus, Alertmanager,
 * gateway and responder configs it mounts. The rules and their tests are the
 * ones in `prometheus/`, mounted as they are, so the stack can never miss one.
 */
export function renderCompose(model: MonitoringModel): GeneratedFile[] {
  const spec = composeSpec(model.spec);
  const composeModel: MonitoringModel = { ...model, spec };
  // Every gateway replica is scraped: the service's name resolves to each of its containers.
  const [prometheusConfig] = renderPrometheusConfig(composeModel, { gatewayDns: DEPLOY_PART.gateway });
  const [alertmanagerConfig] = renderAlertmanager(composeModel);
  const secret = (name: string) => `${SECRETS_DIR}/${name}`;
  const gateway = deployedGatewayConfig(spec, {
    upstreams: { [DEPLOY_PART.simulator.service]: `http://${DEPLOY_PART.simulator.service}:${DEPLOY_PART.simulator.port}/v1` },
    modelUpstream: DEPLOY_PART.simulator.service,
    adminTokenFile: secret(DEPLOY_SECRET.adminToken),
    redisURL: `redis://${DEPLOY_PART.redis.service}:${DEPLOY_PART.redis.port}`,
  });
  const responder = deployedResponderConfig(spec, {
    prometheusURL: `http://${DEPLOY_PART.prometheus.service}:${DEPLOY_PART.prometheus.port}`,
    gatewayURL: `http://${DEPLOY_PART.gateway.service}:${DEPLOY_PART.gateway.port}`,
    adminTokenFile: secret(DEPLOY_SECRET.adminToken),
    responderTokenFile: secret(DEPLOY_SECRET.responderToken),
    auditPath: `${AUDIT_DIR}/responder.db`,
  });
  return [
    { path: COMPOSE_FILE_PATH, content: composeFile(model) },
    { path: COMPOSE_PROMETHEUS_PATH, content: prometheusConfig!.content },
    { path: COMPOSE_ALERTMANAGER_PATH, content: alertmanagerConfig!.content },
    { path: COMPOSE_GATEWAY_CONFIG_PATH, content: `${GATEWAY_NOTE}${dumpYaml(gateway)}` },
    { path: COMPOSE_RESPONDER_CONFIG_PATH, content: dumpYaml(responder) },
  ];
}

const GATEWAY_NOTE = [
  '# The demo routes to the simulator (`--profile demo`). For your model servers, mount a',
  '# gateway config of your own over this one in docker-compose.override.yml (docs/deploy.md).',
  '',
].join('\n');

/**
 * `deploy:` with resource limits, so the monitoring never starves the model
 * server (the source article's section 7.1 gives Prometheus 1 CPU and 1 GiB).
 */
function limits(cpus: string, memory: string, reservations?: Record<string, unknown>): Record<string, unknown> {
  return { resources: { limits: { cpus, memory }, ...(reservations === undefined ? {} : { reservations }) } };
}

/** llmwatch's image, built from the repository's Dockerfile; every llmwatch service names the same tag. */
function llmwatch(args: readonly string[]): Record<string, unknown> {
  return { image: COMPOSE_IMAGES.llmwatch, build: { context: BUILD_CONTEXT }, command: [...args] };
}

function composeFile(model: MonitoringModel): string {
  const p = DEPLOY_PART;
  const published = (part: { port: number }, local: boolean) => [`${local ? '127.0.0.1:' : ''}${part.port}:${part.port}`];
  const restart = 'unless-stopped';
  // Rule tests exist only for the standard rate window; a mount of a missing folder would create it.
  const tests = model.tests.length > 0 ? ['../prometheus/tests:/etc/prometheus/tests:ro'] : [];
  const services = {
    [p.prometheus.service]: {
      image: COMPOSE_IMAGES.prometheus,
      command: [
        '--config.file=/etc/prometheus/prometheus.yml',
        '--storage.tsdb.path=/prometheus',
        `--storage.tsdb.retention.time=${RETENTION}`,
        // POST /-/reload after `llmwatch generate`, without a restart.
        '--web.enable-lifecycle',
      ],
      volumes: [
        './prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        // prometheus.yml's rule_files (`rules/*.yml`) resolve against its own folder.
        '../prometheus/rules:/etc/prometheus/rules:ro',
        ...tests,
        'prometheus-data:/prometheus',
      ],
      // Prometheus has no authentication: published on the host's loopback only.
      ports: published(p.prometheus, true),
      extra_hosts: [`${HOST_GATEWAY}:host-gateway`],
      restart,
      deploy: limits('1', '1G'),
    },
    [p.alertmanager.service]: {
      image: COMPOSE_IMAGES.alertmanager,
      command: [
        '--config.file=/etc/alertmanager/alertmanager.yml',
        '--storage.path=/alertmanager',
        // One instance: no gossip cluster to join (DESIGN.md).
        '--cluster.listen-address=',
      ],
      volumes: ['./alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro', 'alertmanager-data:/alertmanager'],
      secrets: [DEPLOY_SECRET.responderToken],
      ports: published(p.alertmanager, true),
      restart,
      deploy: limits('0.5', '256M'),
    },
    [p.grafana.service]: {
      image: COMPOSE_IMAGES.grafana,
      // GF_SECURITY_ADMIN_PASSWORD, from the file the user writes; never in this one.
      env_file: [COMPOSE_ENV_FILE],
      environment: { GF_USERS_ALLOW_SIGN_UP: 'false' },
      volumes: [...GRAFANA_MOUNTS.map((m) => `${m.from}:${m.to}:ro`), 'grafana-data:/var/lib/grafana'],
      ports: published(p.grafana, false),
      depends_on: [p.prometheus.service],
      restart,
      deploy: limits('1', '512M'),
    },
    [p.nodeExporter.service]: {
      image: COMPOSE_IMAGES.nodeExporter,
      // The host's network namespace, or node_network_* would count this container's traffic.
      network_mode: 'host',
      command: [
        '--path.procfs=/host/proc',
        '--path.sysfs=/host/sys',
        '--path.rootfs=/rootfs',
        // The article's pattern under the current flag (ignored-mount-points is deprecated); `$$` is compose's `$`.
        '--collector.filesystem.mount-points-exclude=^/(sys|proc|dev|host|etc)($$|/)',
      ],
      volumes: ['/proc:/host/proc:ro', '/sys:/host/sys:ro', '/:/rootfs:ro,rslave'],
      restart,
      deploy: limits('0.25', '128M'),
    },
    [p.gpuExporter.service]: {
      ...llmwatch(['exporter', '--host', '0.0.0.0', '--port', String(p.gpuExporter.port)]),
      profiles: [COMPOSE_PROFILE.gpu],
      restart,
      // The NVIDIA Container Toolkit mounts the GPUs and nvidia-smi (the `utility` capability) into the container.
      deploy: limits('0.25', '128M', { devices: [{ driver: 'nvidia', count: 'all', capabilities: ['gpu', 'utility'] }] }),
    },
    [p.gateway.service]: {
      ...llmwatch(['gateway', '--config', `${CONFIG_DIR}/gateway.yaml`]),
      volumes: [`./gateway.yaml:${CONFIG_DIR}/gateway.yaml:ro`],
      secrets: [DEPLOY_SECRET.adminToken],
      // One host port per replica, from the first: `docker compose up --scale gateway=N` up to the
      // range's size. Inside the network `gateway:8000` reaches every replica in turn (Docker's DNS).
      ports: [`${p.gateway.port}-${p.gateway.port + GATEWAY_REPLICAS.autoscaleMax - 1}:${p.gateway.port}`],
      depends_on: [p.redis.service],
      restart,
      deploy: { replicas: GATEWAY_REPLICAS.compose, ...limits('1', '1G') },
    },
    [p.redis.service]: {
      image: COMPOSE_IMAGES.redis,
      // The gateway replicas' routes; nothing on disk (a Redis restarted empty is seeded back by the replicas); not published.
      command: [...REDIS_ARGS],
      restart,
      deploy: limits('0.25', '128M'),
    },
    [p.responder.service]: {
      ...llmwatch(['responder', '--config', `${CONFIG_DIR}/responder.yaml`]),
      volumes: [`./responder.yaml:${CONFIG_DIR}/responder.yaml:ro`, `responder-data:${AUDIT_DIR}`],
      secrets: [DEPLOY_SECRET.adminToken, DEPLOY_SECRET.responderToken],
      ports: published(p.responder, true),
      restart,
      deploy: limits('0.5', '512M'),
    },
    [p.simulator.service]: {
      ...llmwatch(['simulate', '--host', '0.0.0.0', '--port', String(p.simulator.port)]),
      profiles: [COMPOSE_PROFILE.demo],
      restart,
      deploy: limits('1', '512M'),
    },
  };
  const doc = new Document(
    {
      services,
      volumes: { 'prometheus-data': {}, 'alertmanager-data': {}, 'grafana-data': {}, 'responder-data': {} },
      // Files the user creates (docs/deploy.md); compose mounts them at /run/secrets/<name>.
      secrets: Object.fromEntries(Object.values(DEPLOY_SECRET).map((name) => [name, { file: `./secrets/${name}` }])),
    },
    { aliasDuplicateObjects: false },
  );
  // The upstream: a comment, since it needs a GPU, a model download and its own choices.
  (doc.get('services', true) as { comment?: string }).comment = VLLM_EXAMPLE;
  return doc.toString({ lineWidth: 0, minContentWidth: 0 });
}

/** A commented service for vLLM, the usual upstream; uncommented, it is the gateway's model server. */
const VLLM_EXAMPLE = [
  ' A real model server: uncomment, and in your gateway config route the models to http://vllm:8000/v1.',
  ' To scrape its own /metrics too, list it in the spec: a model server named vllm is scraped here at vllm:<its port>.',
  ' vllm:',
  '   image: vllm/vllm-openai:v0.6.3',
  '   command: [--model, meta-llama/Llama-3.1-8B-Instruct, --served-model-name, llama-3.1-8b-instruct, --port, "8000"]',
  '   environment: [HUGGING_FACE_HUB_TOKEN]   # passed from your shell, never written here',
  '   volumes: [~/.cache/huggingface:/root/.cache/huggingface]',
  '   ipc: host',
  '   restart: unless-stopped',
  '   deploy:',
  '     resources:',
  '       reservations:',
  '         devices: [{ driver: nvidia, count: all, capabilities: [gpu] }]',
].join('\n');
