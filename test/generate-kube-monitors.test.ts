import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { CFG_ERR_INVALID } from '../src/core/config/errors.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';
import { generate, writeGenerated } from '../src/monitoring/generate.ts';

// Kubernetes scrapes what the rules alert on: every job a TargetAbsent rule
// selects has a ServiceMonitor that gives its targets that job, selecting a
// Service that exists; and the Alertmanager config installs in prometheus-operator.

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

const SPEC = {
  targets: {
    gpuExporter: { source: 'llmwatch', targets: ['gpu-node-1:9835'] },
    modelServers: [
      { name: 'vllm-a', kind: 'vllm', targets: ['vllm-a.default.svc:8000'] },
      { name: 'tgi', kind: 'tgi', targets: ['tgi:80'], kubernetes: { podSelector: { app: 'tgi', tier: 'inference' } } },
      { name: 'bento', kind: 'openllm', targets: ['bento:3000'], metricsPath: '/custom-metrics', kubernetes: { port: 3001 } },
    ],
  },
};

function kube(specData: Record<string, unknown>) {
  const files = generate(monitoringSpec(specData));
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const kustomization = parseYaml(byPath.get('k8s/kustomization.yaml')!) as { resources: string[]; namespace: string };
  const objects = kustomization.resources.map((file) => {
    const docs = parseAllDocuments(byPath.get(`k8s/${file}`)!);
    assert.equal(docs.length, 1, file);
    for (const d of docs) assert.deepEqual(d.errors, [], file);
    return docs[0]!.toJS() as K8sObject;
  });
  const all = (kind: string) => objects.filter((o) => o.kind === kind);
  return { files, byPath, kustomization, objects, all };
}

/** The jobs the rules' TargetAbsent alerts select, from the PrometheusRule. */
function targetAbsentJobs(objects: K8sObject[]): string[] {
  const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
  const exprs = rule.spec.groups.flatMap((g: { rules: Array<{ alert?: string; expr: string }> }) => g.rules.filter((r) => r.alert === 'TargetAbsent').map((r) => r.expr));
  // One rule per severity: `absent(up{job="a"}) or absent(up{job="b"})`.
  return exprs.flatMap((e: string) => [...e.matchAll(/absent\(up\{job="([^"]+)"\}\)/g)].map((m) => m[1]!)).sort();
}

/**
 * The Services the operators create, which the generated monitors select outside llmwatch's
 * namespace (a list of their documented labels and ports, not a cluster).
 */
const OPERATOR_SERVICES: K8sObject[] = [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'prometheus-operated', namespace: 'monitoring', labels: { 'operated-prometheus': 'true' } }, spec: { ports: [{ name: 'web' }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'alertmanager-operated', namespace: 'monitoring', labels: { 'operated-alertmanager': 'true' } }, spec: { ports: [{ name: 'web' }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nvidia-dcgm-exporter', namespace: 'gpu-operator', labels: { app: 'nvidia-dcgm-exporter' } }, spec: { ports: [{ name: 'gpu-metrics' }] } },
];

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The job a ServiceMonitor gives its targets: a relabelled `job`, else the Service's label named by jobLabel. */
function monitorJob(monitor: K8sObject, service: K8sObject | undefined): string | undefined {
  const relabel = monitor.spec.endpoints[0].relabelings?.find((r: { targetLabel: string }) => r.targetLabel === 'job');
  if (relabel !== undefined) return relabel.replacement;
  return service?.metadata.labels?.[monitor.spec.jobLabel];
}

test('every job a TargetAbsent rule selects is scraped by a ServiceMonitor, through a generated Service whose labels it selects', () => {
  for (const spec of [SPEC, { targets: { ...SPEC.targets, gpuExporter: { source: 'dcgm', targets: ['10.0.0.5:9400'] } } }]) {
    const { objects, all, kustomization } = kube(spec);
    const jobs = targetAbsentJobs(objects);
    assert.deepEqual(jobs, ['alertmanager', 'llmwatch-gateway', 'llmwatch-gpu', 'llmwatch-responder', 'model-server-bento', 'model-server-tgi', 'model-server-vllm-a', 'node', 'prometheus']);
    const scraped = new Map<string, K8sObject>();
    for (const monitor of all('ServiceMonitor')) {
      const namespaces: string[] = monitor.spec.namespaceSelector?.matchNames ?? [kustomization.namespace];
      const services = [...all('Service').map((s): K8sObject => ({ ...s, metadata: { ...s.metadata, namespace: kustomization.namespace } })), ...OPERATOR_SERVICES].filter(
        (s) => namespaces.includes(s.metadata.namespace!) && matches(monitor.spec.selector.matchLabels, s.metadata.labels),
      );
      assert.equal(services.length, 1, `${monitor.metadata.name} selects exactly one Service`);
      const service = services[0]!;
      for (const e of monitor.spec.endpoints) assert.ok(service.spec.ports.some((p: { name: string }) => p.name === e.port), `${monitor.metadata.name}: port ${e.port}`);
      const job = monitorJob(monitor, service)!;
      assert.ok(jobs.includes(job), `${monitor.metadata.name} gives job ${job}, which no rule selects`);
      assert.ok(!scraped.has(job), `two monitors give job ${job}`);
      scraped.set(job, monitor);
    }
    // node-exporter comes with kube-prometheus under its own job (docs/deploy.md, "Known gaps").
    assert.deepEqual(jobs.filter((j) => !scraped.has(j)), ['node']);
  }
});

test('a model server: a headless Service on its pods (default app.kubernetes.io/name: <name>, the target\'s port), scraped at the kind\'s path with its server label', () => {
  const { all, byPath } = kube(SPEC);
  const service = (name: string) => all('Service').find((s) => s.metadata.name === name)!;
  const monitor = (name: string) => all('ServiceMonitor').find((s) => s.metadata.name === name)!;
  assert.equal(service('model-server-vllm-a').spec.clusterIP, 'None');
  assert.deepEqual(service('model-server-vllm-a').spec.selector, { 'app.kubernetes.io/name': 'vllm-a' });
  assert.deepEqual(service('model-server-vllm-a').spec.ports, [{ name: 'metrics', port: 8000, targetPort: 8000, protocol: 'TCP' }]);
  assert.deepEqual(service('model-server-tgi').spec.selector, { app: 'tgi', tier: 'inference' });
  assert.equal(service('model-server-tgi').spec.ports[0].port, 80);
  assert.equal(service('model-server-bento').spec.ports[0].targetPort, 3001);
  assert.equal(monitor('model-server-vllm-a').spec.endpoints[0].path, '/metrics');
  assert.equal(monitor('model-server-bento').spec.endpoints[0].path, '/custom-metrics');
  assert.deepEqual(monitor('model-server-tgi').spec.endpoints[0].relabelings, [{ targetLabel: 'server', replacement: 'tgi', action: 'replace' }]);
  // The same path as the static Prometheus config's job.
  const prom = parseYaml(byPath.get('prometheus/prometheus.yml')!) as { scrape_configs: Array<{ job_name: string; metrics_path: string }> };
  for (const name of ['vllm-a', 'tgi', 'bento']) {
    const job = prom.scrape_configs.find((j) => j.job_name === `model-server-${name}`)!;
    assert.equal(monitor(`model-server-${name}`).spec.endpoints[0].path, job.metrics_path);
  }
  // The GPU exporter's Service selects the exporter's pods on its port.
  assert.deepEqual(service('llmwatch-gpu').spec.selector, { 'app.kubernetes.io/name': 'llmwatch-gpu-exporter' });
  assert.equal(service('llmwatch-gpu').spec.ports[0].port, 9835);
});

test('dcgm-exporter: the GPU operator\'s Service in its namespace, relabelled to the job the GPU rules select', () => {
  const { all, objects } = kube({ targets: { gpuExporter: { source: 'dcgm', targets: ['10.0.0.5:9400'] } } });
  assert.equal(all('Service').some((s) => s.metadata.name === 'llmwatch-gpu'), false, 'no Service of ours for the operator\'s exporter');
  const monitor = all('ServiceMonitor').find((m) => m.metadata.name === 'llmwatch-gpu')!;
  assert.deepEqual(monitor.spec.selector.matchLabels, { app: 'nvidia-dcgm-exporter' });
  assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: ['gpu-operator'] });
  assert.equal(monitor.spec.endpoints[0].port, 'gpu-metrics');
  assert.equal(monitorJob(monitor, undefined), 'llmwatch-gpu');
  assert.ok(targetAbsentJobs(objects).includes('llmwatch-gpu'));
  const other = kube({ targets: { gpuExporter: { source: 'dcgm', targets: ['10.0.0.5:9400'], kubernetes: { namespace: 'nvidia' } } } });
  assert.deepEqual(other.all('ServiceMonitor').find((m) => m.metadata.name === 'llmwatch-gpu')!.spec.namespaceSelector, { matchNames: ['nvidia'] });
});

test('no model server and no GPU exporter: no scrape Service or monitor for them', () => {
  const { all } = kube({});
  assert.deepEqual(all('ServiceMonitor').map((m) => m.metadata.name).sort(), ['llmwatch-alertmanager', 'llmwatch-gateway', 'llmwatch-prometheus', 'llmwatch-responder']);
  assert.deepEqual(all('Service').map((m) => m.metadata.name).sort(), ['llmwatch-gateway', 'llmwatch-redis', 'llmwatch-responder']);
});

test('kind ollama serves no metrics: refused with the fix, unless a metricsPath names an exporter', () => {
  assert.throws(
    () => monitoringSpec({ targets: { modelServers: [{ name: 'o', kind: 'ollama', targets: ['ollama:11434'] }] } }),
    (err: unknown) => hasCode(err, CFG_ERR_INVALID) && /targets\.modelServers\.0\.kind: ollama serves no Prometheus metrics.*remove this server from targets\.modelServers/.test(err.message),
  );
  const spec = monitoringSpec({ targets: { modelServers: [{ name: 'o', kind: 'ollama', targets: ['ollama:11434'], metricsPath: '/exporter' }] } });
  assert.equal(spec.targets.modelServers[0]!.metricsPath, '/exporter');
});

test('kustomize builds both folders; the Alertmanager Secret is what prometheus-operator reads, and amtool accepts its config', (t) => {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  assert.equal(probe.error, undefined, 'kubectl is needed for this test (kustomize is built into it): apt-get install -y kubernetes-client');
  const out = mkdtempSync(join(tmpdir(), 'llmwatch-kube-monitors-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  writeGenerated(out, generate(monitoringSpec(SPEC)));

  const main = spawnSync('kubectl', ['kustomize', join(out, 'k8s')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(main.status, 0, main.stderr);
  const built = parseAllDocuments(main.stdout).map((d) => d.toJS() as K8sObject);
  for (const name of ['model-server-vllm-a', 'model-server-tgi', 'model-server-bento', 'llmwatch-gpu']) {
    assert.ok(built.some((o) => o.kind === 'ServiceMonitor' && o.metadata.name === name && o.metadata.namespace === 'default'), name);
    assert.ok(built.some((o) => o.kind === 'Service' && o.metadata.name === name), name);
  }

  const am = spawnSync('kubectl', ['kustomize', join(out, 'k8s/alertmanager')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(am.status, 0, am.stderr);
  const [secret, ...rest] = parseAllDocuments(am.stdout).map((d) => d.toJS() as K8sObject);
  assert.equal(rest.length, 0);
  assert.equal(secret!.kind, 'Secret');
  assert.equal(secret!.metadata.name, 'alertmanager-llmwatch');
  assert.equal(secret!.metadata.namespace, 'monitoring');
  assert.deepEqual(Object.keys(secret!.data), ['alertmanager.yaml']);
  const config = Buffer.from(secret!.data['alertmanager.yaml'], 'base64').toString('utf8');
  const file = join(out, 'am-from-secret.yaml');
  writeFileSync(file, config);
  const check = spawnSync('amtool', ['check-config', file], { encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  const parsed = parseYaml(config) as { receivers: Array<{ name: string; webhook_configs?: Array<{ url: string; http_config?: { authorization?: { credentials_file?: string } } }> }> };
  const responder = parsed.receivers.find((r) => r.name === 'llmwatch-responder')!.webhook_configs![0]!;
  assert.equal(responder.url, 'http://llmwatch-responder.default.svc:9095/alerts');
  assert.equal(responder.http_config?.authorization?.credentials_file, '/etc/alertmanager/secrets/llmwatch-tokens/responder-token');

  // The chart's values point its Alertmanager at this Secret and mount the tokens Secret the config reads.
  const values = parseYaml(generate(monitoringSpec(SPEC)).find((f) => f.path === 'k8s/kube-prometheus-stack-values.yaml')!.content);
  assert.equal(values.alertmanager.alertmanagerSpec.useExistingSecret, true);
  assert.equal(values.alertmanager.alertmanagerSpec.configSecret, secret!.metadata.name);
  assert.deepEqual(values.alertmanager.alertmanagerSpec.secrets, ['llmwatch-tokens']);
  assert.equal(values.prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues, false);
  assert.equal(values.prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues, false);
});
