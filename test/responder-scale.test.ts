import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApiException, AppsV1Api } from '@kubernetes/client-node';
import { createScaleAction, scaleParamsSchema } from '../src/responder/actions/scale.ts';
import type { Action, ActionContext, ActionResult, Alert } from '../src/responder/types.ts';
import { startKubernetesApiStandin } from './fixtures/kubernetes-api-standin.ts';
import type { KubernetesApiStandin } from './fixtures/kubernetes-api-standin.ts';

const alert: Alert = {
  status: 'firing',
  labels: { alertname: 'HighInferenceLatency', severity: 'critical' },
  annotations: {},
  startsAt: '2024-01-01T00:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus/graph',
  fingerprint: 'abc123',
};

function ctx(params: Record<string, unknown>, over: Partial<ActionContext> = {}): ActionContext {
  return { alert, params, dryRun: false, signal: AbortSignal.timeout(5000), ...over };
}

const puts = (k: KubernetesApiStandin) => k.requests.filter((r) => r.method === 'PUT');

describe('scale action against the Kubernetes API stand-in', () => {
  let k8s: KubernetesApiStandin;
  let scale: Action;

  before(async () => {
    k8s = await startKubernetesApiStandin();
    scale = createScaleAction({ kubeConfig: k8s.kubeConfig() });
  });
  after(() => k8s.close());
  beforeEach(() => {
    k8s.requests.length = 0;
    k8s.deployments.clear();
    k8s.conflictNext(0);
    k8s.delay(0);
  });

  test('scales out one step: 1 -> 2, through GET and PUT of the scale subresource', async () => {
    const seeded = k8s.seed('llm', 'openllm', 1);
    const rv = seeded.resourceVersion;
    const r = await scale.run(ctx({ deployment: 'openllm', namespace: 'llm' }));
    assert.equal(r.outcome, 'success', r.detail);
    assert.equal(r.detail, 'scaled llm/openllm from 1 to 2');
    assert.deepEqual(r.data, { from: 1, to: 2, deployment: 'openllm', namespace: 'llm', attempts: 1 });
    assert.equal(k8s.replicas('llm', 'openllm'), 2);
    assert.deepEqual(
      k8s.requests.map((q) => `${q.method} ${q.path} ${q.status}`),
      ['GET /apis/apps/v1/namespaces/llm/deployments/openllm/scale 200', 'PUT /apis/apps/v1/namespaces/llm/deployments/openllm/scale 200'],
    );
    const body = puts(k8s)[0]!.body as { apiVersion: string; kind: string; metadata: { resourceVersion: string }; spec: { replicas: number } };
    assert.equal(body.apiVersion, 'autoscaling/v1');
    assert.equal(body.kind, 'Scale');
    assert.equal(body.metadata.resourceVersion, rv, 'the write is conditional on the resourceVersion read');
    assert.equal(body.spec.replicas, 2);
    assert.equal(k8s.requests[0]!.authorization, 'Bearer t');
  });

  test('namespace defaults to "default"', async () => {
    k8s.seed('default', 'openllm', 2);
    const r = await scale.run(ctx({ deployment: 'openllm' }));
    assert.equal(r.detail, 'scaled default/openllm from 2 to 3');
  });

  test('at max 3 (the default) -> skipped, nothing written', async () => {
    k8s.seed('default', 'openllm', 3);
    const r = await scale.run(ctx({ deployment: 'openllm' }));
    assert.equal(r.outcome, 'skipped');
    assert.match(r.detail, /already at max 3/);
    assert.equal(puts(k8s).length, 0);
    assert.equal(k8s.replicas('default', 'openllm'), 3);
  });

  test('step is clamped to max: 2 + 5 -> 3', async () => {
    k8s.seed('default', 'openllm', 2);
    const r = await scale.run(ctx({ deployment: 'openllm', step: 5 }));
    assert.equal(r.detail, 'scaled default/openllm from 2 to 3');
  });

  test('a step out never lowers a Deployment someone put above max', async () => {
    k8s.seed('default', 'openllm', 5);
    const r = await scale.run(ctx({ deployment: 'openllm', max: 3 }));
    assert.equal(r.outcome, 'skipped');
    assert.match(r.detail, /5 replicas, already beyond max 3/);
    assert.equal(k8s.replicas('default', 'openllm'), 5);
  });

  test('scaling in: by step, bounded by min', async () => {
    k8s.seed('default', 'openllm', 6);
    let r = await scale.run(ctx({ deployment: 'openllm', direction: 'in', step: 2, min: 3, max: 10 }));
    assert.equal(r.detail, 'scaled default/openllm from 6 to 4');
    r = await scale.run(ctx({ deployment: 'openllm', direction: 'in', step: 2, min: 3, max: 10 }));
    assert.equal(r.detail, 'scaled default/openllm from 4 to 3', 'clamped to min');
    r = await scale.run(ctx({ deployment: 'openllm', direction: 'in', step: 2, min: 3, max: 10 }));
    assert.equal(r.outcome, 'skipped');
    assert.match(r.detail, /already at min 3/);
    assert.equal(k8s.replicas('default', 'openllm'), 3);
  });

  test('dry-run reads, says what it would do, and writes nothing', async () => {
    k8s.seed('llm', 'openllm', 2);
    const r = await scale.run(ctx({ deployment: 'openllm', namespace: 'llm' }, { dryRun: true }));
    assert.equal(r.outcome, 'dry-run');
    assert.equal(r.detail, 'would scale deployment llm/openllm from 2 to 3');
    assert.deepEqual(r.data, { from: 2, to: 3, deployment: 'openllm', namespace: 'llm' });
    assert.deepEqual(k8s.requests.map((q) => q.method), ['GET']);
    assert.equal(k8s.replicas('llm', 'openllm'), 2);
  });

  test('a stale resourceVersion (409 Conflict) -> re-read and retried once, and succeeds', async () => {
    k8s.seed('default', 'openllm', 1);
    k8s.conflictNext(1);
    const r = await scale.run(ctx({ deployment: 'openllm' }));
    assert.equal(r.outcome, 'success', r.detail);
    assert.equal(r.data?.['attempts'], 2);
    assert.deepEqual(
      k8s.requests.map((q) => `${q.method} ${q.status}`),
      ['GET 200', 'PUT 409', 'GET 200', 'PUT 200'],
    );
    const [first, second] = puts(k8s).map((q) => (q.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    assert.notEqual(first, second, 'the retry carries the resourceVersion of the re-read');
    assert.equal(k8s.replicas('default', 'openllm'), 2);
  });

  test('the retry recomputes from the count the concurrent writer left', async () => {
    k8s.seed('default', 'openllm', 1);
    k8s.conflictNext(1, { replicas: 2 }); // e.g. an HPA scaled 1 -> 2 between our read and write
    const r = await scale.run(ctx({ deployment: 'openllm' }));
    assert.equal(r.detail, 'scaled default/openllm from 2 to 3');
    assert.equal(k8s.replicas('default', 'openllm'), 3);
  });

  test('the concurrent writer reached max -> the retry skips instead of writing', async () => {
    k8s.seed('default', 'openllm', 2);
    k8s.conflictNext(1, { replicas: 3 });
    const r = await scale.run(ctx({ deployment: 'openllm' }));
    assert.equal(r.outcome, 'skipped');
    assert.match(r.detail, /already at max 3/);
    assert.equal(puts(k8s).length, 1);
  });

  test('two conflicts in a row -> failure "conflict", no third try', async () => {
    k8s.seed('default', 'openllm', 1);
    k8s.conflictNext(2);
    const r = await scale.run(ctx({ deployment: 'openllm' }));
    assert.equal(r.outcome, 'failure');
    assert.match(r.detail, /^conflict/);
    assert.match(r.detail, /409 Conflict/);
    assert.equal(r.data?.['reason'], 'conflict');
    assert.equal(puts(k8s).length, 2);
    assert.equal(k8s.replicas('default', 'openllm'), 1);
  });

  test('unknown deployment -> failure with 404 NotFound and the API message', async () => {
    const r = await scale.run(ctx({ deployment: 'nope', namespace: 'llm' }));
    assert.equal(r.outcome, 'failure');
    assert.match(r.detail, /404 NotFound/);
    assert.match(r.detail, /deployments\.apps "nope" not found/);
    assert.equal(r.data?.['reason'], 'not-found');
    assert.equal(r.data?.['status'], 404);
  });

  test('an API slower than the signal -> failure "timed out", no throw', async () => {
    k8s.seed('default', 'openllm', 1);
    // The stand-in would answer after a minute: the action ends at the signal, and the request itself is
    // aborted (the stand-in sees the connection close unanswered). Timing the call against 1.5 s instead
    // could fail on a loaded machine.
    k8s.delay(60_000);
    const r = await scale.run(ctx({ deployment: 'openllm' }, { signal: AbortSignal.timeout(100) }));
    for (let i = 0; i < 250 && k8s.requests[0]?.aborted !== true; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(k8s.requests.length, 1);
    assert.equal(k8s.requests[0]!.aborted, true, 'the request itself was aborted');
    assert.equal(r.outcome, 'failure');
    assert.match(r.detail, /timed out scaling deployment default\/openllm/);
    assert.equal(r.data?.['reason'], 'timeout');
    assert.equal(k8s.replicas('default', 'openllm'), 1);
  });

  test('an already aborted signal -> failure, nothing sent', async () => {
    const ac = new AbortController();
    ac.abort(new Error('responder stopping'));
    const r = await scale.run(ctx({ deployment: 'openllm' }, { signal: ac.signal }));
    assert.equal(r.outcome, 'failure');
    assert.match(r.detail, /aborted.*responder stopping/);
    assert.equal(k8s.requests.length, 0);
  });
});

describe('the stand-in keeps the API server semantics the action relies on', () => {
  test('a write with a resourceVersion older than a concurrent writer\'s -> 409 Status Conflict; a fresh one goes through', async (t) => {
    const k8s = await startKubernetesApiStandin();
    t.after(() => k8s.close());
    k8s.seed('llm', 'openllm', 1);
    const api = k8s.kubeConfig().makeApiClient(AppsV1Api);
    const read = await api.readNamespacedDeploymentScale({ name: 'openllm', namespace: 'llm' });
    assert.equal(read.kind, 'Scale');
    assert.equal(read.apiVersion, 'autoscaling/v1');
    assert.equal(read.status?.replicas, 1);
    k8s.bumpResourceVersion('llm', 'openllm', 2);
    const body = { ...read, spec: { replicas: 3 } };
    const err = await api.replaceNamespacedDeploymentScale({ name: 'openllm', namespace: 'llm', body }).then(
      () => assert.fail('a stale write must not succeed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiException);
    assert.equal(err.code, 409);
    const status = JSON.parse(err.body as string) as { kind: string; reason: string; code: number };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'Conflict', 409]);
    assert.equal(k8s.replicas('llm', 'openllm'), 2, 'the concurrent writer\'s count stands');

    const fresh = await api.readNamespacedDeploymentScale({ name: 'openllm', namespace: 'llm' });
    const written = await api.replaceNamespacedDeploymentScale({ name: 'openllm', namespace: 'llm', body: { ...fresh, spec: { replicas: 3 } } });
    assert.equal(written.spec?.replicas, 3);
    assert.ok(Number(written.metadata?.resourceVersion) > Number(fresh.metadata?.resourceVersion), 'every write moves the resourceVersion');
  });
});

describe('scale action params', () => {
  let k8s: KubernetesApiStandin;
  let scale: Action;
  before(async () => {
    k8s = await startKubernetesApiStandin();
    scale = createScaleAction({ kubeConfig: k8s.kubeConfig() });
  });
  after(() => k8s.close());

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['deployment missing', {}, /deployment:/],
    ['deployment not a string', { deployment: 3 }, /deployment:/],
    ['deployment not a Kubernetes name', { deployment: 'Open LLM' }, /deployment: must be a Kubernetes object name/],
    ['namespace not a DNS label', { deployment: 'x', namespace: 'a/b' }, /namespace:/],
    ['step 0', { deployment: 'x', step: 0 }, /step:/],
    ['step not an integer', { deployment: 'x', step: 1.5 }, /step:/],
    ['min negative', { deployment: 'x', min: -1 }, /min:/],
    ['min above max', { deployment: 'x', min: 4, max: 3 }, /min: min must not be greater than max/],
    ['direction unknown', { deployment: 'x', direction: 'up' }, /direction:/],
    ['unknown key (a typo)', { deployment: 'x', maxReplicas: 5 }, /maxReplicas/],
  ];
  for (const [name, params, re] of cases) {
    test(`bad params: ${name} -> failure naming the param, no request`, async () => {
      const before = k8s.requests.length;
      const r = await scale.run(ctx(params));
      assert.equal(r.outcome, 'failure');
      assert.match(r.detail, /^invalid scale params: /);
      assert.match(r.detail, re);
      assert.equal(r.data?.['reason'], 'invalid-params');
      assert.equal(k8s.requests.length, before);
    });
  }

  test('defaults: namespace default, step 1, min 1, max 3, direction out', () => {
    assert.deepEqual(scaleParamsSchema.parse({ deployment: 'x' }), { deployment: 'x', namespace: 'default', step: 1, min: 1, max: 3, direction: 'out' });
  });
});

describe('scale action when the API refuses or is gone', () => {
  test('a token without the update verb -> failure 403 Forbidden with the RBAC message', async (t) => {
    const k8s = await startKubernetesApiStandin({ tokens: { reader: ['get'], writer: ['get', 'update'] } });
    t.after(() => k8s.close());
    k8s.seed('llm', 'openllm', 1);
    const r = await createScaleAction({ kubeConfig: k8s.kubeConfig('reader') }).run(ctx({ deployment: 'openllm', namespace: 'llm' }));
    assert.equal(r.outcome, 'failure');
    assert.match(r.detail, /403 Forbidden/);
    assert.match(r.detail, /cannot update resource "deployments\/scale"/);
    assert.equal(r.data?.['reason'], 'forbidden');
    assert.equal(k8s.replicas('llm', 'openllm'), 1);

    const ok = await createScaleAction({ kubeConfig: k8s.kubeConfig('writer') }).run(ctx({ deployment: 'openllm', namespace: 'llm' }));
    assert.equal(ok.outcome, 'success', ok.detail);
  });

  test('an unknown token -> failure 401 Unauthorized', async (t) => {
    const k8s = await startKubernetesApiStandin({ tokens: { writer: ['get', 'update'] } });
    t.after(() => k8s.close());
    k8s.seed('default', 'openllm', 1);
    const r = await createScaleAction({ kubeConfig: k8s.kubeConfig('wrong') }).run(ctx({ deployment: 'openllm' }));
    assert.equal(r.outcome, 'failure');
    assert.match(r.detail, /401 Unauthorized/);
    assert.equal(r.data?.['reason'], 'unauthorized');
  });

  test('API down (server closed) -> failure "cannot reach", no throw', async () => {
    const k8s = await startKubernetesApiStandin();
    const kubeConfig = k8s.kubeConfig();
    await k8s.close();
    let r: ActionResult | undefined;
    await assert.doesNotReject(async () => {
      r = await createScaleAction({ kubeConfig }).run(ctx({ deployment: 'openllm' }));
    });
    assert.equal(r?.outcome, 'failure');
    assert.match(r!.detail, /cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assert.equal(r?.data?.['reason'], 'unreachable');
  });
});
