import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { loadMonitoringSpec, monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { hasCode } from '../src/core/errors.ts';
import { GEN_ERR_INVALID_SPEC } from '../src/monitoring/errors.ts';
import { diffGenerated, generate, writeGenerated } from '../src/monitoring/generate.ts';
import { K8S_GATEWAY_CONFIG_PATH, K8S_RESPONDER_CONFIG_PATH, KUSTOMIZATION_PATH, SCALE_DEFAULT_NAMESPACE } from '../src/monitoring/writers/kube-deploy.ts';
import { createScaleAction, scaleParamsSchema } from '../src/responder/actions/scale.ts';
import type { Alert } from '../src/responder/types.ts';
import { startKubernetesApiStandin } from './fixtures/kubernetes-api-standin.ts';
import type { StandinVerb } from './fixtures/kubernetes-api-standin.ts';

const ROOT = new URL('..', import.meta.url).pathname;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

/** The Kubernetes folder generated from `specData`: every manifest parsed, by file. */
function kube(specData: Record<string, unknown> = {}) {
  const files = generate(monitoringSpec(specData)).filter((f) => f.path.startsWith('k8s/'));
  const byPath = new Map(files.map((f) => [f.path.slice('k8s/'.length), f.content]));
  const kustomization = parseYaml(byPath.get('kustomization.yaml')!);
  const objects: Array<{ file: string; object: K8sObject }> = (kustomization.resources as string[]).map((file) => {
    const docs = parseAllDocuments(byPath.get(file)!);
    assert.equal(docs.length, 1, `${file}: one object per file`);
    return { file, object: docs[0]!.toJS() as K8sObject };
  });
  const find = (kind: string, name: string) => {
    const hit = objects.filter((o) => o.object.kind === kind && o.object.metadata.name === name);
    assert.equal(hit.length, 1, `one ${kind} ${name}`);
    return hit[0]!.object;
  };
  const all = (kind: string) => objects.filter((o) => o.object.kind === kind).map((o) => o.object);
  return { files, byPath, kustomization, objects, find, all };
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

test('kinds and names: three Deployments and Services, the gateway\'s budget and Redis policy, the responder\'s account, Role, binding and volume, the operator manifests', () => {
  const { objects, kustomization } = kube();
  assert.deepEqual(
    objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`).sort(),
    [
      'Deployment/llmwatch-gateway',
      'Deployment/llmwatch-redis',
      'Deployment/llmwatch-responder',
      'NetworkPolicy/llmwatch-redis',
      'PersistentVolumeClaim/llmwatch-responder-data',
      'PodDisruptionBudget/llmwatch-gateway',
      'PrometheusRule/llmwatch-rules',
      'Role/llmwatch-responder-scale',
      'RoleBinding/llmwatch-responder-scale',
      'Service/llmwatch-gateway',
      'Service/llmwatch-redis',
      'Service/llmwatch-responder',
      'ServiceAccount/llmwatch-responder',
      'ServiceMonitor/llmwatch-alertmanager',
      'ServiceMonitor/llmwatch-gateway',
      'ServiceMonitor/llmwatch-prometheus',
      'ServiceMonitor/llmwatch-responder',
    ],
  );
  // The source article's playbook scales default/openllm: llmwatch goes where the Role must be.
  assert.equal(kustomization.namespace, 'default');
  for (const { file, object } of objects) {
    if (object.metadata.namespace !== undefined) assert.equal(object.metadata.namespace, 'default', file);
    assert.equal(object.metadata.labels?.['app.kubernetes.io/part-of'], 'llmwatch', file);
  }
  assert.deepEqual(
    kustomization.configMapGenerator.map((g: { name: string }) => g.name),
    ['llmwatch-gateway', 'llmwatch-responder'],
  );
});

test('every Service selects its Deployment\'s pods, on a port the container names; every ServiceMonitor selects a Service by its app name', () => {
  const { all, find } = kube();
  for (const service of all('Service')) {
    const deployment = find('Deployment', service.metadata.name);
    const pod = deployment.spec.template;
    assert.ok(matches(service.spec.selector, pod.metadata.labels), `${service.metadata.name}: selector matches the pod labels`);
    assert.deepEqual(deployment.spec.selector.matchLabels, service.spec.selector);
    // No other Deployment's pods behind this Service.
    for (const other of all('Deployment').filter((d) => d !== deployment)) assert.ok(!matches(service.spec.selector, other.spec.template.metadata.labels));
    const ports = pod.spec.containers[0].ports.map((p: { name: string }) => p.name);
    for (const p of service.spec.ports) assert.ok(ports.includes(p.targetPort), `${service.metadata.name}: targetPort ${p.targetPort}`);
  }
  // Monitors of the operators' own Services (other namespaces) are checked in generate-kube-monitors.test.ts.
  for (const monitor of all('ServiceMonitor').filter((m) => m.spec.namespaceSelector === undefined)) {
    const services = all('Service').filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
    assert.equal(services.length, 1, `${monitor.metadata.name} selects one Service`);
    const ports = services[0]!.spec.ports.map((p: { name: string }) => p.name);
    for (const e of monitor.spec.endpoints) assert.ok(ports.includes(e.port));
    // The job label comes from the app name: the job the rules expect.
    assert.equal(services[0]!.metadata.labels![monitor.spec.jobLabel], monitor.metadata.name);
  }
});

test('probes on /healthz, resource requests and limits, a non-root read-only container', () => {
  const { all } = kube();
  // Redis is checked in its own test below.
  for (const d of all('Deployment').filter((d) => d.metadata.name !== 'llmwatch-redis')) {
    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      assert.deepEqual(c[probe].httpGet, { path: '/healthz', port: 'http' }, `${d.metadata.name} ${probe}`);
    }
    for (const kind of ['requests', 'limits']) assert.deepEqual(Object.keys(c.resources[kind]).sort(), ['cpu', 'memory'], `${d.metadata.name} ${kind}`);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.match(c.image, /^llmwatch:\d+\.\d+\.\d+/);
    // The config comes from the generated ConfigMap of the same name, the tokens from the user's Secret.
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    assert.equal(volumes.config.configMap.name, d.metadata.name);
    assert.equal(volumes.tokens.secret.secretName, 'llmwatch-tokens');
    assert.equal(c.args[c.args.indexOf('--config') + 1], `/etc/llmwatch/${c.name}.yaml`);
  }
});

test('the Role grants get and update on deployments/scale of the scaled Deployment, and nothing more', () => {
  const { find } = kube();
  const role = find('Role', 'llmwatch-responder-scale');
  assert.deepEqual(role.rules, [{ apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['openllm'], verbs: ['get', 'update'] }]);
  const binding = find('RoleBinding', 'llmwatch-responder-scale');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
  const account = find('ServiceAccount', 'llmwatch-responder');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: role.metadata.namespace }]);
  assert.equal(binding.metadata.namespace, role.metadata.namespace);
  const responder = find('Deployment', 'llmwatch-responder').spec.template.spec;
  assert.equal(responder.serviceAccountName, account.metadata.name);
  assert.equal(responder.automountServiceAccountToken, true);
  // The gateway talks to no Kubernetes API: no account of its own, no token.
  const gateway = find('Deployment', 'llmwatch-gateway').spec.template.spec;
  assert.equal(gateway.serviceAccountName, undefined);
  assert.equal(gateway.automountServiceAccountToken, false);
});

describe('the Role\'s verbs are exactly what the scale action sends (Kubernetes API stand-in with RBAC)', () => {
  const alert: Alert = {
    status: 'firing',
    labels: { alertname: 'HighInferenceLatency', severity: 'critical' },
    annotations: {},
    startsAt: '2024-01-01T00:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    fingerprint: 'f1',
  };
  const verbs = kube().find('Role', 'llmwatch-responder-scale').rules[0].verbs as StandinVerb[];

  async function scaleWith(granted: StandinVerb[]) {
    const k8s = await startKubernetesApiStandin({ tokens: { sa: granted } });
    try {
      k8s.seed('default', 'openllm', 1);
      const scale = createScaleAction({ kubeConfig: k8s.kubeConfig('sa') });
      const result = await scale.run({ alert, params: { deployment: 'openllm', namespace: 'default' }, dryRun: false, signal: AbortSignal.timeout(5000) });
      return { result, replicas: k8s.replicas('default', 'openllm'), methods: [...new Set(k8s.requests.map((r) => r.method))].sort() };
    } finally {
      await k8s.close();
    }
  }

  test('with the Role\'s verbs the action scales, using GET (get) and PUT (update) only', async () => {
    const { result, replicas, methods } = await scaleWith(verbs);
    assert.equal(result.outcome, 'success', result.detail);
    assert.equal(replicas, 2);
    assert.deepEqual(methods, ['GET', 'PUT']);
  });

  test('without update (the issue\'s "get and patch"), the write is forbidden', async () => {
    const { result, replicas } = await scaleWith(verbs.filter((v) => v !== 'update'));
    assert.equal(result.outcome, 'failure');
    assert.equal(result.data?.reason, 'forbidden');
    assert.equal(replicas, 1);
  });
});

test('the scale action\'s default namespace is the one the generator assumes', () => {
  assert.equal(scaleParamsSchema.parse({ deployment: 'x' }).namespace, SCALE_DEFAULT_NAMESPACE);
});

test('the playbooks decide the namespace and the Deployments the Role names', () => {
  const scale = (params: Record<string, unknown>) => ({ steps: [{ action: 'scale', params }] });
  const { kustomization, find, all } = kube({ playbooks: { QueueBacklog: scale({ deployment: 'vllm', namespace: 'llm' }), HighInferenceLatency: scale({ deployment: 'vllm-small', namespace: 'llm' }) } });
  assert.equal(kustomization.namespace, 'llm');
  assert.deepEqual(find('Role', 'llmwatch-responder-scale').rules[0].resourceNames, ['vllm', 'vllm-small']);
  for (const d of all('Deployment')) assert.equal(d.metadata.namespace, 'llm');
  assert.equal(find('RoleBinding', 'llmwatch-responder-scale').subjects[0].namespace, 'llm');

  // A Deployment named from the alert's labels: any Deployment's scale in the namespace, still only get and update.
  const templated = kube({ playbooks: { QueueBacklog: scale({ deployment: '{{ $labels.deployment }}', namespace: 'llm' }) } });
  assert.deepEqual(templated.find('Role', 'llmwatch-responder-scale').rules, [{ apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'update'] }]);
});

test('a playbook that scales nowhere gets no Role, no binding and no API token', () => {
  const { objects, find, kustomization } = kube({ playbooks: { QueueBacklog: { steps: [{ action: 'noop' }] } } });
  assert.ok(!objects.some((o) => o.object.kind === 'Role' || o.object.kind === 'RoleBinding'));
  assert.ok(!kustomization.resources.some((f: string) => f.includes('role')));
  assert.equal(find('Deployment', 'llmwatch-responder').spec.template.spec.automountServiceAccountToken, false);
});

test('a templated namespace, or two namespaces, cannot be one Role: GEN_ERR_INVALID_SPEC names the field', () => {
  const scale = (params: Record<string, unknown>) => ({ steps: [{ action: 'scale', params }] });
  assert.throws(
    () => generate(monitoringSpec({ playbooks: { QueueBacklog: scale({ deployment: 'vllm', namespace: '{{ $labels.namespace }}' }) } })),
    (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && err.param === 'playbooks.QueueBacklog.steps[0].params.namespace',
  );
  assert.throws(
    () => generate(monitoringSpec({ playbooks: { QueueBacklog: scale({ deployment: 'a', namespace: 'one' }), HighErrorRate: scale({ deployment: 'b', namespace: 'two' }) } })),
    (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && /one/.test(err.message) && /two/.test(err.message),
  );
});

test('the ConfigMaps\' configs are valid for their parts and wire the in-cluster names and the Secret\'s files', () => {
  const { byPath, find } = kube();
  const gateway = validateConfig(GatewayConfigSchema, parseYaml(byPath.get(K8S_GATEWAY_CONFIG_PATH.slice(4))!));
  const responder = validateConfig(ResponderConfigSchema, parseYaml(byPath.get(K8S_RESPONDER_CONFIG_PATH.slice(4))!));
  const service = find('Service', 'llmwatch-gateway');
  assert.equal(responder.gateway.url, `http://${service.metadata.name}.default.svc:${service.spec.ports[0].port}`);
  assert.equal(gateway.port, find('Deployment', 'llmwatch-gateway').spec.template.spec.containers[0].ports[0].containerPort);
  assert.equal(responder.port, find('Deployment', 'llmwatch-responder').spec.template.spec.containers[0].ports[0].containerPort);
  // Every token file a config names is a key the pod's Secret volume projects.
  const projected = (name: string) => {
    const pod = find('Deployment', name).spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'tokens').mountPath;
    return pod.volumes.find((v: { name: string }) => v.name === 'tokens').secret.items.map((i: { path: string }) => `${mount}/${i.path}`);
  };
  assert.ok(projected('llmwatch-gateway').includes(gateway.admin.tokenFile));
  for (const file of [responder.auth.tokenFile, responder.gateway.adminTokenFile]) assert.ok(projected('llmwatch-responder').includes(file), file);
  // The audit log is on the PersistentVolumeClaim.
  const pod = find('Deployment', 'llmwatch-responder').spec.template.spec;
  const data = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'data');
  assert.ok(responder.auditPath.startsWith(`${data.mountPath}/`));
  assert.equal(pod.volumes.find((v: { name: string }) => v.name === 'data').persistentVolumeClaim.claimName, 'llmwatch-responder-data');
});

// Issue 19, point 4: gateway replicas that agree on their routes through Redis.
test('two gateway replicas spread over nodes, rolled without losing one, kept by a PodDisruptionBudget, sharing routes through the Redis only they can reach', () => {
  const { find, byPath } = kube();
  const gateway = find('Deployment', 'llmwatch-gateway');
  assert.equal(gateway.spec.replicas, 2);
  assert.deepEqual(gateway.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  assert.deepEqual(gateway.spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels, gateway.spec.selector.matchLabels);
  const pdb = find('PodDisruptionBudget', 'llmwatch-gateway');
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.equal(pdb.spec.minAvailable, 1);
  assert.ok(pdb.spec.minAvailable < gateway.spec.replicas, 'a drain can still evict one replica');
  assert.deepEqual(pdb.spec.selector.matchLabels, gateway.spec.selector.matchLabels);
  // The gateway config shares the routes through the in-cluster Redis, which only the gateway pods may reach.
  const config = validateConfig(GatewayConfigSchema, parseYaml(byPath.get('config/gateway.yaml')!), 'k8s gateway config');
  assert.equal(config.routes.store, 'redis');
  const redisService = find('Service', 'llmwatch-redis');
  assert.equal(config.routes.redisURL, `redis://llmwatch-redis.default.svc:${redisService.spec.ports[0].port}`);
  const redis = find('Deployment', 'llmwatch-redis');
  assert.equal(redis.spec.replicas, 1);
  const c = redis.spec.template.spec.containers[0];
  assert.match(c.image, /^redis:\d+\.\d+\.\d+-alpine$/);
  // No value a YAML 1.1 reader would turn into a boolean.
  for (const arg of c.args) assert.equal(typeof arg, 'string');
  assert.ok(!c.args.some((a: string) => /^(yes|no|on|off|true|false)$/i.test(a)), c.args.join(' '));
  assert.equal(redis.spec.template.spec.securityContext.runAsNonRoot, true);
  assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  assert.deepEqual(Object.keys(c.resources.limits).sort(), ['cpu', 'memory']);
  const policy = find('NetworkPolicy', 'llmwatch-redis');
  assert.deepEqual(policy.spec.podSelector.matchLabels, redis.spec.selector.matchLabels);
  assert.deepEqual(policy.spec.ingress, [{ from: [{ podSelector: { matchLabels: gateway.spec.selector.matchLabels } }], ports: [{ protocol: 'TCP', port: redisService.spec.ports[0].port }] }]);
  // The HPA is an example beside the kustomization: it scales the gateway Deployment from its replica count up.
  const hpa = parseYaml(byPath.get('examples/gateway-hpa.yaml')!);
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'llmwatch-gateway' });
  assert.equal(hpa.spec.minReplicas, gateway.spec.replicas);
  assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
});

test('the kustomization lists exactly the files of the folder, generated and committed', () => {
  // Beside it: the Alertmanager kustomization (another namespace) and the chart values, applied on their own.
  const apart = ['alertmanager/alertmanager.yaml', 'alertmanager/kustomization.yaml', 'examples/gateway-hpa.yaml', 'kube-prometheus-stack-values.yaml'];
  const listed = (k: { resources: string[]; configMapGenerator: Array<{ files: string[] }> }) =>
    ['kustomization.yaml', ...k.resources, ...k.configMapGenerator.flatMap((g) => g.files), ...apart].sort();
  const { byPath, kustomization } = kube();
  assert.deepEqual(listed(kustomization), [...byPath.keys()].sort());
  const dir = join(ROOT, 'deploy/k8s');
  const onDisk = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
  assert.deepEqual(listed(parseYaml(readFileSync(join(ROOT, 'deploy', KUSTOMIZATION_PATH), 'utf8'))), onDisk);
});

test('kustomize builds the folder: every object in the namespace, the Deployments mount the hashed ConfigMaps', (t) => {
  // .ci/run installs kubectl (Debian's kubernetes-client) where the machine has none.
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  assert.equal(probe.error, undefined, 'kubectl is needed for this test (kustomize is built into it): apt-get install -y kubernetes-client');
  const out = mkdtempSync(join(tmpdir(), 'llmwatch-kube-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  writeGenerated(out, generate(monitoringSpec({})));
  const r = spawnSync('kubectl', ['kustomize', join(out, 'k8s')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
  const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
  assert.equal(configMaps.length, 2);
  for (const o of objects) assert.equal(o.metadata.namespace, 'default', `${o.kind}/${o.metadata.name}`);
  for (const d of objects.filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'llmwatch-redis')) {
    const name = d.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'config').configMap.name;
    const cm = configMaps.find((c) => c.metadata.name === name);
    assert.ok(cm !== undefined && name.startsWith(`${d.metadata.name}-`), `${d.metadata.name} mounts ${name}`);
    assert.deepEqual(Object.keys(cm.data), [`${d.spec.template.spec.containers[0].name}.yaml`]);
  }
});

test('the committed deploy/k8s is what llmwatch.yaml generates, and the same spec gives the same bytes', () => {
  const spec = loadMonitoringSpec(join(ROOT, 'llmwatch.yaml'));
  const files = generate(spec).filter((f) => f.path.startsWith('k8s/'));
  assert.deepEqual(generate(spec).filter((f) => f.path.startsWith('k8s/')), files);
  assert.deepEqual(diffGenerated(join(ROOT, 'deploy'), files).filter((p) => p.startsWith('k8s/')), []);
  for (const f of files) assert.ok(f.content.startsWith('# Code generated by llmwatch. DO NOT EDIT.\n'), f.path);
});
