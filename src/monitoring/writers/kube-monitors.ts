import type { MonitoringSpec } from '../../core/config/monitoring-spec.ts';
import { TARGET_LABEL } from '../../core/conventions/alerts.ts';
import { DEPLOY_PART, DEPLOY_SECRET, JOB, K8S, K8S_OBJECT, modelServerJob } from '../../core/conventions/deploy.ts';
import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml } from '../yaml.ts';
import { ALERTMANAGER_CONFIG_PATH, renderAlertmanager } from './alertmanager.ts';

const OPERATOR_API = 'monitoring.coreos.com/v1';
const APP_NAME = 'app.kubernetes.io/name';
const PART_OF = 'app.kubernetes.io/part-of';
const COMPONENT = 'app.kubernetes.io/component';
/** The named port of the generated scrape Services. */
const METRICS_PORT = 'metrics';

/**
 * The NVIDIA GPU operator's dcgm-exporter: its Service `nvidia-dcgm-exporter`, labelled
 * `app: nvidia-dcgm-exporter`, port `gpu-metrics` (9400), in the operator's namespace.
 * https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/
 */
export const DCGM_OPERATOR = { namespace: 'gpu-operator', selector: { app: 'nvidia-dcgm-exporter' }, port: 'gpu-metrics' } as const;
/** The pods of a llmwatch GPU exporter DaemonSet, unless the spec names others. */
export const LLMWATCH_GPU_POD_SELECTOR = { [APP_NAME]: 'llmwatch-gpu-exporter' } as const;

/** The namespace of kube-prometheus (and of the kube-prometheus-stack chart as usually installed): Prometheus and Alertmanager run there. */
export const MONITORING_NAMESPACE = 'monitoring';
/**
 * The Alertmanager config Secret: prometheus-operator reads the key `alertmanager.yaml` of the Secret
 * an Alertmanager names in `spec.configSecret`. https://prometheus-operator.dev/docs/developer/alerting/
 */
export const ALERTMANAGER_SECRET = { name: 'alertmanager-llmwatch', key: 'alertmanager.yaml' } as const;
/** Where prometheus-operator mounts a Secret listed in the Alertmanager's `spec.secrets`. */
const ALERTMANAGER_SECRETS_MOUNT = '/etc/alertmanager/secrets';

/** The folder applied to the monitoring namespace, apart from llmwatch's own (a kustomization sets one namespace for all it holds). */
export const K8S_ALERTMANAGER_DIR = 'k8s/alertmanager';
export const K8S_STACK_VALUES_PATH = 'k8s/kube-prometheus-stack-values.yaml';

/**
 * A Service and a ServiceMonitor for each model server of the spec, a
 * ServiceMonitor for the GPU exporter (with its Service when it is llmwatch's),
 * and for the operator's own Prometheus and Alertmanager (the meta alerts' jobs),
 * so everything the rules select by `job` (TargetDown, TargetAbsent, the model
 * server and GPU rules) is scraped in-cluster under that job. Returned as
 * manifests of the llmwatch kustomization, file name -> object.
 */
export function scrapeManifests(spec: Readonly<MonitoringSpec>, namespace: string): Array<{ file: string; object: Record<string, unknown> }> {
  const interval = spec.prometheus.scrapeInterval;
  const out: Array<{ file: string; object: Record<string, unknown> }> = [];
  for (const server of spec.targets.modelServers) {
    const job = modelServerJob(server.name);
    const port = server.kubernetes.port ?? Number(server.targets[0]!.slice(server.targets[0]!.lastIndexOf(':') + 1));
    const podSelector = server.kubernetes.podSelector ?? { [APP_NAME]: server.name };
    out.push(
      { file: `${job}-service.yaml`, object: scrapeService(namespace, job, 'model-server', podSelector, port) },
      {
        file: `${job}-servicemonitor.yaml`,
        object: serviceMonitor(namespace, job, {
          // The static config's `server` label, so the rules and dashboards read the same series in both.
          endpoint: { port: METRICS_PORT, path: server.metricsPath, interval, relabelings: [{ targetLabel: TARGET_LABEL.server, replacement: server.name, action: 'replace' }] },
        }),
      },
    );
  }
  const gpu = spec.targets.gpuExporter;
  if (gpu.targets.length > 0) {
    if (gpu.source === 'dcgm') {
      out.push({
        file: 'gpu-exporter-servicemonitor.yaml',
        object: serviceMonitor(namespace, JOB.gpu, {
          selector: DCGM_OPERATOR.selector,
          namespaces: [gpu.kubernetes.namespace ?? DCGM_OPERATOR.namespace],
          // Not our Service, so not our label: the job is set outright (appended after the operator's own relabelings).
          endpoint: { port: DCGM_OPERATOR.port, path: '/metrics', interval, relabelings: [{ targetLabel: TARGET_LABEL.job, replacement: JOB.gpu, action: 'replace' }] },
        }),
      });
    } else {
      out.push(
        { file: 'gpu-exporter-service.yaml', object: scrapeService(namespace, JOB.gpu, 'gpu-exporter', gpu.kubernetes.podSelector ?? LLMWATCH_GPU_POD_SELECTOR, DEPLOY_PART.gpuExporter.port) },
        { file: 'gpu-exporter-servicemonitor.yaml', object: serviceMonitor(namespace, JOB.gpu, { endpoint: { port: METRICS_PORT, path: '/metrics', interval } }) },
      );
    }
  }
  // The meta alerts' self-scrape jobs, through the Services prometheus-operator creates for every
  // Prometheus and Alertmanager (`prometheus-operated`, `alertmanager-operated`, port `web`).
  const operated = (job: string, file: string, label: string) => ({
    file,
    object: serviceMonitor(namespace, `${K8S.partOf}-${job}`, {
      selector: { [label]: 'true' },
      namespaces: [MONITORING_NAMESPACE],
      endpoint: { port: 'web', path: '/metrics', interval, relabelings: [{ targetLabel: TARGET_LABEL.job, replacement: job, action: 'replace' }] },
    }),
  });
  if (spec.targets.prometheus.length > 0) out.push(operated(JOB.prometheus, 'prometheus-servicemonitor.yaml', 'operated-prometheus'));
  out.push(operated(JOB.alertmanager, 'alertmanager-servicemonitor.yaml', 'operated-alertmanager'));
  return out;
}

/**
 * A headless Service that only names pods for scraping: labelled with the job
 * as its app name, which the ServiceMonitor turns into `job`.
 */
function scrapeService(namespace: string, job: string, component: string, podSelector: Record<string, string>, port: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: job, namespace, labels: { [APP_NAME]: job, [PART_OF]: K8S.partOf, [COMPONENT]: component } },
    spec: {
      clusterIP: 'None',
      selector: { ...podSelector },
      ports: [{ name: METRICS_PORT, port, targetPort: port, protocol: 'TCP' }],
    },
  };
}

function serviceMonitor(
  namespace: string,
  job: string,
  o: { selector?: Record<string, string>; namespaces?: string[]; endpoint: Record<string, unknown> },
): Record<string, unknown> {
  return {
    apiVersion: OPERATOR_API,
    kind: 'ServiceMonitor',
    metadata: { name: job, namespace, labels: { [PART_OF]: K8S.partOf } },
    spec: {
      // Our Service's app name becomes `job`: the job the rules select. (A foreign Service's job is relabelled instead.)
      ...(o.selector === undefined ? { jobLabel: APP_NAME } : {}),
      selector: { matchLabels: { ...(o.selector ?? { [APP_NAME]: job }) } },
      ...(o.namespaces === undefined ? {} : { namespaceSelector: { matchNames: o.namespaces } }),
      endpoints: [o.endpoint],
    },
  };
}

/**
 * The Alertmanager config as prometheus-operator installs it: a kustomization
 * for the monitoring namespace whose `secretGenerator` makes the Secret
 * `alertmanager-llmwatch` with the key `alertmanager.yaml`, the config itself
 * wired to the responder's in-cluster Service and to the token file the
 * operator mounts from the `llmwatch-tokens` Secret; and values for the
 * kube-prometheus-stack chart that use this Secret and select llmwatch's
 * ServiceMonitors and PrometheusRule.
 */
export function renderOperatorAlertmanager(model: MonitoringModel, namespace: string): GeneratedFile[] {
  const spec = model.spec;
  const tokenFile = `${ALERTMANAGER_SECRETS_MOUNT}/${K8S_OBJECT.tokens}/${DEPLOY_SECRET.responderToken}`;
  const inCluster: MonitoringModel = {
    ...model,
    spec: {
      ...spec,
      alertmanager: {
        ...spec.alertmanager,
        responderURL: `http://${K8S_OBJECT.responder}.${namespace}.svc:${DEPLOY_PART.responder.port}/alerts`,
        responderTokenFile: tokenFile,
      },
    },
  };
  const config = renderAlertmanager(inCluster).find((f) => f.path === ALERTMANAGER_CONFIG_PATH)!;
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: MONITORING_NAMESPACE,
    secretGenerator: [
      {
        name: ALERTMANAGER_SECRET.name,
        files: [`${ALERTMANAGER_SECRET.key}=alertmanager.yaml`],
        // The Alertmanager resource names this Secret: its name must not change with its content.
        options: { disableNameSuffixHash: true, labels: { [PART_OF]: K8S.partOf } },
      },
    ],
  };
  const values = {
    prometheus: {
      prometheusSpec: {
        // Otherwise the chart's Prometheus selects only ServiceMonitors and rules labelled with its release.
        serviceMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelectorNilUsesHelmValues: false,
        ruleSelectorNilUsesHelmValues: false,
      },
    },
    alertmanager: {
      alertmanagerSpec: {
        useExistingSecret: true,
        configSecret: ALERTMANAGER_SECRET.name,
        // Mounted at /etc/alertmanager/secrets/llmwatch-tokens/: the responder's token file.
        secrets: [K8S_OBJECT.tokens],
      },
    },
  };
  return [
    { path: `${K8S_ALERTMANAGER_DIR}/alertmanager.yaml`, content: config.content },
    { path: `${K8S_ALERTMANAGER_DIR}/kustomization.yaml`, content: dumpYaml(kustomization) },
    { path: K8S_STACK_VALUES_PATH, content: dumpYaml(values) },
  ];
}
