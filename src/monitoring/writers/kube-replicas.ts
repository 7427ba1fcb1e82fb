import { DEPLOY_PART, GATEWAY_REPLICAS, K8S_OBJECT } from '../../core/conventions/deploy.ts';

/**
 * What several gateway replicas need in Kubernetes besides their Deployment:
 * the Redis their routes live in (a Deployment, a Service, and a
 * NetworkPolicy that lets only the gateway pods reach it), a
 * PodDisruptionBudget that keeps one replica through a node drain, and an
 * HorizontalPodAutoscaler as an example, outside the kustomization.
 */

/**
 * The Redis image: the newest release tag of the official image listed on
 * 2026-12-03 (https://raw.githubusercontent.com/docker-library/official-images/master/library/redis).
 * The gateway uses only GET/GETRANGE/SET/PUBLISH/SUBSCRIBE, which every Redis since 2.8 has.
 */
export const REDIS_IMAGE = 'redis:8.10.2-alpine';

/** The official image's `redis` user and group on Alpine (its Dockerfile: `adduser -u 999`, `addgroup -g 1000`). */
const REDIS_UID = 999;
const REDIS_GID = 1000;

/** Where the HPA example goes, relative to the Kubernetes folder; not listed in the kustomization. */
export const K8S_HPA_EXAMPLE = 'examples/gateway-hpa.yaml';

/**
 * Redis' arguments: no snapshots (a Redis restarted empty is seeded back by
 * the replicas from the routes they hold; the append-only file is off by
 * default), and a small memory cap with no eviction: the routes are a few
 * keys. Other pods may connect because the official image builds Redis with
 * protected mode off (its Dockerfile); the NetworkPolicy admits only the
 * gateway pods. No `yes`/`no` values: YAML 1.1 readers (docker-compose 1.x,
 * sigs.k8s.io/yaml) would read them as booleans.
 */
export const REDIS_ARGS = ['redis-server', '--save', '', '--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] as const;

export interface ReplicaLabels {
  /** Labels of the Redis objects and pods. */
  readonly redisLabels: Record<string, string>;
  readonly redisSelector: Record<string, string>;
  /** Labels of the gateway's objects, and the selector of its pods. */
  readonly gatewayLabels: Record<string, string>;
  readonly gatewaySelector: Record<string, string>;
}

/** The manifests applied with the kustomization, one object per file. */
export function replicaManifests(namespace: string, l: ReplicaLabels): Array<{ file: string; object: Record<string, unknown> }> {
  const port = DEPLOY_PART.redis.port;
  return [
    {
      file: 'redis-deployment.yaml',
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: K8S_OBJECT.redis, namespace, labels: l.redisLabels },
        spec: {
          replicas: 1,
          strategy: { type: 'Recreate' },
          selector: { matchLabels: l.redisSelector },
          template: {
            metadata: { labels: l.redisLabels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: REDIS_UID, runAsGroup: REDIS_GID, fsGroup: REDIS_GID, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'redis',
                  image: REDIS_IMAGE,
                  imagePullPolicy: 'IfNotPresent',
                  args: [...REDIS_ARGS],
                  ports: [{ name: 'redis', containerPort: port, protocol: 'TCP' }],
                  readinessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                  livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
              volumes: [{ name: 'data', emptyDir: {} }],
            },
          },
        },
      },
    },
    {
      file: 'redis-service.yaml',
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: K8S_OBJECT.redis, namespace, labels: l.redisLabels },
        spec: { selector: l.redisSelector, ports: [{ name: 'redis', port, targetPort: 'redis', protocol: 'TCP' }] },
      },
    },
    {
      // Whoever can write to this Redis moves traffic between a model's targets: only the gateway may.
      file: 'redis-networkpolicy.yaml',
      object: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: K8S_OBJECT.redis, namespace, labels: l.redisLabels },
        spec: {
          podSelector: { matchLabels: l.redisSelector },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: l.gatewaySelector } }], ports: [{ protocol: 'TCP', port }] }],
        },
      },
    },
    {
      // A drain or an upgrade evicts at most one replica at a time while another serves.
      file: 'gateway-pdb.yaml',
      object: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: K8S_OBJECT.gateway, namespace, labels: l.gatewayLabels },
        spec: { minAvailable: 1, selector: { matchLabels: l.gatewaySelector } },
      },
    },
  ];
}

/**
 * An HorizontalPodAutoscaler for the gateway (autoscaling/v2, on CPU: the
 * gateway's work is proportional to the bytes it proxies and meters). Not in
 * the kustomization: it needs metrics-server, and the Deployment's fixed
 * `replicas` must be removed when it is used (docs/deploy.md).
 */
export function gatewayHpaExample(namespace: string, l: ReplicaLabels): Record<string, unknown> {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: K8S_OBJECT.gateway, namespace, labels: l.gatewayLabels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: K8S_OBJECT.gateway },
      minReplicas: GATEWAY_REPLICAS.kubernetes,
      maxReplicas: GATEWAY_REPLICAS.autoscaleMax,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      // Streams hold a replica for minutes: scale in slowly, one pod at a time.
      behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    },
  };
}
