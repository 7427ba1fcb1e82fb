import type { MonitoringSpec } from '../../core/config/monitoring-spec.ts';
import { DEPLOY_PART, DEPLOY_SECRET, GATEWAY_REPLICAS, JOB, K8S, K8S_OBJECT } from '../../core/conventions/deploy.ts';
import { VERSION } from '../../core/version.ts';
import { GEN_ERR_INVALID_SPEC } from '../errors.ts';
import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml } from '../yaml.ts';
import { PROMETHEUS_RULE_PATH, SERVICE_MONITOR_PATH } from './kubernetes.ts';
import { renderOperatorAlertmanager, scrapeManifests } from './kube-monitors.ts';
import { K8S_HPA_EXAMPLE, gatewayHpaExample, replicaManifests } from './kube-replicas.ts';
import { deployedGatewayConfig, deployedPlaybooks, deployedResponderConfig } from './service-configs.ts';

/** The Kubernetes folder, relative to the output folder; `kubectl apply -k` takes it whole. */
export const K8S_DIR = 'k8s';
export const KUSTOMIZATION_PATH = `${K8S_DIR}/kustomization.yaml`;
/** The parts' configs, turned into ConfigMaps by the kustomization's `configMapGenerator`. */
export const K8S_GATEWAY_CONFIG_PATH = `${K8S_DIR}/config/gateway.yaml`;
export const K8S_RESPONDER_CONFIG_PATH = `${K8S_DIR}/config/responder.yaml`;

/**
 * The namespace of a `scale` step that names none: the action's own default
 * (`scaleParamsSchema` in src/responder/actions/scale.ts, held equal by a test).
 */
export const SCALE_DEFAULT_NAMESPACE = 'default';

/**
 * Where the responder's `if` conditions query Prometheus in-cluster: the Service
 * prometheus-operator creates for every Prometheus, in kube-prometheus' namespace.
 * https://prometheus-operator.dev/docs/platform/exposing-prometheus-and-alertmanager/
 */
export const IN_CLUSTER_PROMETHEUS_URL = 'http://prometheus-operated.monitoring.svc:9090';

/** The article's OpenLLM server, whose Deployment its playbook scales; BentoML serves on port 3000. */
export const IN_CLUSTER_UPSTREAM = { name: 'openllm', baseURL: 'http://openllm:3000/v1' } as const;

const APP_NAME = 'app.kubernetes.io/name';
const PART_OF = 'app.kubernetes.io/part-of';
const COMPONENT = 'app.kubernetes.io/component';
const VERSION_LABEL = 'app.kubernetes.io/version';
/** The named container and Service port of every llmwatch part, the one the ServiceMonitors scrape. */
const PORT = K8S.gatewayPort;
/** The `node` user of the node:20-slim image, which the Dockerfile runs as. */
const NODE_UID = 1000;
const CONFIG_MOUNT = '/etc/llmwatch';
const SECRET_MOUNT = '/run/secrets/llmwatch';
const AUDIT_MOUNT = '/var/lib/llmwatch';

/** One scale target of the playbooks: the Role covers exactly these. */
export interface ScaleTarget {
  readonly namespace: string;
  /** Undefined when the playbook names it from the alert's labels (`{{ $labels.x }}`): any Deployment of the namespace. */
  readonly deployment: string | undefined;
}

/**
 * The Deployments the deployed responder may scale, from {@link deployedPlaybooks}.
 * A templated namespace, or two namespaces, cannot be one Role: refused.
 */
export function scaleTargets(spec: Readonly<MonitoringSpec>): ScaleTarget[] {
  const targets: Array<ScaleTarget & { field: string }> = [];
  for (const [alert, playbook] of Object.entries(deployedPlaybooks(spec))) {
    playbook.steps.forEach((step, i) => {
      if (step.action !== 'scale') return;
      const field = `playbooks.${alert}.steps[${i}].params`;
      const namespace = step.params.namespace ?? SCALE_DEFAULT_NAMESPACE;
      const deployment = step.params.deployment;
      if (typeof namespace !== 'string' || namespace.includes('{{')) {
        throw GEN_ERR_INVALID_SPEC(`${field}.namespace must be a literal namespace: the generated Role that lets the responder scale lives in it`, { param: `${field}.namespace` });
      }
      const literal = typeof deployment === 'string' && !deployment.includes('{{') ? deployment : undefined;
      targets.push({ namespace, deployment: literal, field });
    });
  }
  const namespaces = [...new Set(targets.map((t) => t.namespace))];
  if (namespaces.length > 1) {
    throw GEN_ERR_INVALID_SPEC(
      `The playbooks scale Deployments in several namespaces (${targets.map((t) => `${t.field}: ${t.namespace}`).join(', ')}); the generated manifests deploy llmwatch into one namespace with one Role: scale in one namespace, or add Roles for the others yourself (docs/deploy.md)`,
    );
  }
  return targets.map(({ namespace, deployment }) => ({ namespace, deployment }));
}

/**
 * The namespace llmwatch is deployed into: the one its playbooks scale in, so
 * one namespaced Role suffices (`default` for the source article's playbook).
 */
export function deployNamespace(spec: Readonly<MonitoringSpec>): string {
  return scaleTargets(spec)[0]?.namespace ?? SCALE_DEFAULT_NAMESPACE;
}

/**
 * The RBAC rules the responder needs for its `scale` action, exactly: the
 * action reads the `scale` subresource (GET: `get`) and writes it back with the
 * resourceVersion it read (PUT: `update`, optimistic concurrency). It never
 * patches, lists or watches, so it gets no such verb. Scoped by name to the
 * Deployments its playbooks scale, unless one is named from alert labels.
 */
export function scaleRules(targets: readonly ScaleTarget[]): Array<Record<string, unknown>> {
  if (targets.length === 0) return [];
  const names = targets.some((t) => t.deployment === undefined) ? [] : [...new Set(targets.map((t) => t.deployment!))].sort();
  return [
    {
      apiGroups: ['apps'],
      resources: ['deployments/scale'],
      ...(names.length > 0 ? { resourceNames: names } : {}),
      verbs: ['get', 'update'],
    },
  ];
}

/**
 * Renders the Kubernetes deployment of the gateway and the responder beside
 * the prometheus-operator manifests of `kubernetes.ts`: Deployments, Services,
 * the responder's ServiceAccount, Role and RoleBinding, its audit volume, a
 * ServiceMonitor for it, Services and ServiceMonitors for the model servers and
 * the GPU exporter, their configs, and a `kustomization.yaml` listing all of
 * it, so `kubectl apply -k k8s/` applies every file of the folder; beside it,
 * `k8s/alertmanager/` (the Alertmanager config Secret for prometheus-operator)
 * and the kube-prometheus-stack values.
 */
export function renderKubeDeploy(model: MonitoringModel): GeneratedFile[] {
  const spec = model.spec;
  const namespace = deployNamespace(spec);
  const targets = scaleTargets(spec);
  const scales = targets.length > 0;
  const gateway = component('gateway', K8S_OBJECT.gateway);
  const responder = component('responder', K8S_OBJECT.responder);
  const redis = component('redis', K8S_OBJECT.redis);
  const secret = (name: string) => `${SECRET_MOUNT}/${name}`;
  const inCluster = (name: string, port: number) => `http://${name}.${namespace}.svc:${port}`;

  const gatewayConfig = deployedGatewayConfig(spec, {
    upstreams: { [IN_CLUSTER_UPSTREAM.name]: IN_CLUSTER_UPSTREAM.baseURL },
    modelUpstream: IN_CLUSTER_UPSTREAM.name,
    adminTokenFile: secret(DEPLOY_SECRET.adminToken),
    redisURL: `redis://${K8S_OBJECT.redis}.${namespace}.svc:${DEPLOY_PART.redis.port}`,
  });
  const replicaLabels = { redisLabels: redis.labels, redisSelector: redis.selector, gatewayLabels: gateway.labels, gatewaySelector: gateway.selector };
  const responderConfig = deployedResponderConfig(spec, {
    prometheusURL: IN_CLUSTER_PROMETHEUS_URL,
    gatewayURL: inCluster(K8S_OBJECT.gateway, DEPLOY_PART.gateway.port),
    adminTokenFile: secret(DEPLOY_SECRET.adminToken),
    responderTokenFile: secret(DEPLOY_SECRET.responderToken),
    auditPath: `${AUDIT_MOUNT}/responder.db`,
  });

  const manifests: Array<{ file: string; object: Record<string, unknown> }> = [
    {
      file: 'gateway-deployment.yaml',
      object: deployment(namespace, gateway, {
        // Several replicas: a route switch (the responder's switch-model) reaches one pod through the
        // Service and holds on all of them through Redis (docs/gateway.md#gateway-replicas-shared-routes).
        replicas: GATEWAY_REPLICAS.kubernetes,
        // A new pod is ready before an old one goes: never fewer replicas than asked for.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        spread: true,
        args: ['gateway', '--config', `${CONFIG_MOUNT}/gateway.yaml`],
        port: DEPLOY_PART.gateway.port,
        resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
        secrets: [DEPLOY_SECRET.adminToken],
        serviceAccount: undefined,
        volumes: [],
      }),
    },
    { file: 'gateway-service.yaml', object: service(namespace, gateway, DEPLOY_PART.gateway.port) },
    {
      file: 'responder-deployment.yaml',
      object: deployment(namespace, responder, {
        // One writer of the SQLite audit log on a ReadWriteOnce volume: never two pods at once.
        replicas: 1,
        strategy: { type: 'Recreate' },
        spread: false,
        args: ['responder', '--config', `${CONFIG_MOUNT}/responder.yaml`],
        port: DEPLOY_PART.responder.port,
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
        secrets: [DEPLOY_SECRET.adminToken, DEPLOY_SECRET.responderToken],
        serviceAccount: { name: K8S_OBJECT.responderAccount, token: scales },
        volumes: [{ name: 'data', mountPath: AUDIT_MOUNT, source: { persistentVolumeClaim: { claimName: K8S_OBJECT.responderData } } }],
      }),
    },
    { file: 'responder-service.yaml', object: service(namespace, responder, DEPLOY_PART.responder.port) },
    ...replicaManifests(namespace, replicaLabels),
    {
      file: 'responder-pvc.yaml',
      object: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: K8S_OBJECT.responderData, namespace, labels: responder.labels },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    },
    {
      file: 'responder-servicemonitor.yaml',
      object: {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: K8S_OBJECT.responder, namespace, labels: { [PART_OF]: K8S.partOf } },
        spec: {
          // As for the gateway's: job="llmwatch-responder", the job the rules' TargetAbsent expects.
          jobLabel: APP_NAME,
          selector: { matchLabels: { [APP_NAME]: JOB.responder } },
          endpoints: [{ port: PORT, path: '/metrics', interval: spec.prometheus.scrapeInterval }],
        },
      },
    },
    {
      file: 'responder-serviceaccount.yaml',
      object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: K8S_OBJECT.responderAccount, namespace, labels: responder.labels } },
    },
  ];
  if (scales) {
    manifests.push(
      {
        file: 'responder-role.yaml',
        object: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: K8S_OBJECT.scaleRole, namespace, labels: responder.labels },
          rules: scaleRules(targets),
        },
      },
      {
        file: 'responder-rolebinding.yaml',
        object: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: K8S_OBJECT.scaleRole, namespace, labels: responder.labels },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: K8S_OBJECT.scaleRole },
          subjects: [{ kind: 'ServiceAccount', name: K8S_OBJECT.responderAccount, namespace }],
        },
      },
    );
  }

  // What the rules alert on is scraped: each model server and the GPU exporter under the job the rules select.
  manifests.push(...scrapeManifests(spec, namespace));

  const files: GeneratedFile[] = manifests.map((m) => ({ path: `${K8S_DIR}/${m.file}`, content: dumpYaml(m.object) }));
  files.push(
    { path: `${K8S_DIR}/${K8S_HPA_EXAMPLE}`, content: `${HPA_NOTE}${dumpYaml(gatewayHpaExample(namespace, replicaLabels))}` },
    { path: K8S_GATEWAY_CONFIG_PATH, content: dumpYaml(gatewayConfig) },
    { path: K8S_RESPONDER_CONFIG_PATH, content: dumpYaml(responderConfig) },
  );
  const local = (path: string) => path.slice(K8S_DIR.length + 1);
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace,
    resources: [...manifests.map((m) => m.file), local(PROMETHEUS_RULE_PATH), local(SERVICE_MONITOR_PATH)].sort(),
    // Generated ConfigMaps get a hash of their content in their name: a changed config rolls the pods.
    configMapGenerator: [
      { name: K8S_OBJECT.gateway, files: [local(K8S_GATEWAY_CONFIG_PATH)] },
      { name: K8S_OBJECT.responder, files: [local(K8S_RESPONDER_CONFIG_PATH)] },
    ],
  };
  files.push({ path: KUSTOMIZATION_PATH, content: dumpYaml(kustomization) }, ...renderOperatorAlertmanager(model, namespace));
  return files;
}

const HPA_NOTE = [
  '# An example, not applied by the kustomization: it needs metrics-server, and the Deployment must',
  "# lose its fixed replicas (a kustomize patch; docs/deploy.md#gateway-replicas-pdb-and-autoscaling).",
  '',
].join('\n');

interface Component {
  /** The container's name and `app.kubernetes.io/component`. */
  readonly name: string;
  /** Deployment, Service and ConfigMap name; `app.kubernetes.io/name`. */
  readonly object: string;
  /** The pod template's labels; the selector is {@link selector}. */
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
}

function component(name: string, object: string): Component {
  const selector = { [APP_NAME]: object, [PART_OF]: K8S.partOf };
  return { name, object, selector, labels: { ...selector, [COMPONENT]: name, [VERSION_LABEL]: VERSION } };
}

interface DeploymentOptions {
  readonly replicas: number;
  readonly strategy: Record<string, unknown>;
  readonly args: readonly string[];
  readonly port: number;
  readonly resources: Record<string, unknown>;
  /** Spread the replicas over nodes when the scheduler can: one node going takes one replica. */
  readonly spread: boolean;
  /** Keys of the tokens Secret this container reads. */
  readonly secrets: readonly string[];
  /** The ServiceAccount, and whether its API token is mounted; undefined: the namespace's default, no token. */
  readonly serviceAccount: { name: string; token: boolean } | undefined;
  readonly volumes: ReadonlyArray<{ name: string; mountPath: string; source: Record<string, unknown> }>;
}

function deployment(namespace: string, c: Component, o: DeploymentOptions): Record<string, unknown> {
  const probe = (failureThreshold: number, periodSeconds: number) => ({
    // Readiness is /healthz too: /readyz fails while an upstream is down, and a gateway taken out
    // of its Service then could neither answer nor count the failing requests (docs/deploy.md).
    httpGet: { path: '/healthz', port: PORT },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  const volumes = [
    { name: 'config', configMap: { name: c.object } },
    { name: 'tokens', secret: { secretName: K8S_OBJECT.tokens, items: o.secrets.map((key) => ({ key, path: key })) } },
    // tsx caches compiled sources under the temp folder; the root filesystem is read-only.
    { name: 'tmp', emptyDir: {} },
    ...o.volumes.map((v) => ({ name: v.name, ...v.source })),
  ];
  const mounts = [
    { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
    { name: 'tokens', mountPath: SECRET_MOUNT, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
    ...o.volumes.map((v) => ({ name: v.name, mountPath: v.mountPath })),
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: c.object, namespace, labels: c.labels },
    spec: {
      replicas: o.replicas,
      strategy: o.strategy,
      selector: { matchLabels: c.selector },
      template: {
        metadata: { labels: c.labels },
        spec: {
          ...(o.serviceAccount === undefined ? {} : { serviceAccountName: o.serviceAccount.name }),
          ...(o.spread
            ? { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: c.selector } }] }
            : {}),
          automountServiceAccountToken: o.serviceAccount?.token ?? false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NODE_UID,
            runAsGroup: NODE_UID,
            // The audit volume is writable by the node user.
            fsGroup: NODE_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: c.name,
              image: `llmwatch:${VERSION}`,
              imagePullPolicy: 'IfNotPresent',
              args: [...o.args],
              ports: [{ name: PORT, containerPort: o.port, protocol: 'TCP' }],
              // tsx compiles the sources on the first start: up to a minute before /healthz answers.
              startupProbe: probe(30, 2),
              livenessProbe: probe(3, 10),
              readinessProbe: probe(2, 5),
              resources: o.resources,
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

function service(namespace: string, c: Component, port: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    // The ServiceMonitors select Services by app name and take `job` from it.
    metadata: { name: c.object, namespace, labels: c.labels },
    spec: {
      selector: c.selector,
      ports: [{ name: PORT, port, targetPort: PORT, protocol: 'TCP' }],
    },
  };
}
