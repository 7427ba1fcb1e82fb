import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { startConsole } from '../src/console/server.ts';
import { rangeParams } from '../src/console/query-bounds.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { buildDashboards } from '../src/monitoring/dashboards/build.ts';
import { TEST_ALERT, eventually, startConsoleWorld } from './helpers/console.ts';
import { freePort } from './helpers/processes.ts';
import { MODEL } from './helpers/stack.ts';

const DASHBOARDS = buildDashboards(buildModel(monitoringSpec({})));

test('console API against a real Prometheus, Alertmanager and responder', { timeout: 90_000 }, async (t) => {
  const world = await startConsoleWorld();
  t.after(() => world.close());
  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${world.console.url}${path}`, init);
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  await t.test('GET /api/dashboards is the dashboard model', async () => {
    const { status, body } = await api('/api/dashboards');
    assert.equal(status, 200);
    assert.deepEqual(body.dashboards.map((d: { uid: string }) => d.uid), ['llmwatch-overview', 'llmwatch-hosts', 'llmwatch-alerts']);
    const latency = body.dashboards[0].rows.flatMap((r: { panels: unknown[] }) => r.panels).find((p: { key: string }) => p.key === 'latency');
    assert.equal(latency.unit, 'seconds');
    assert.equal(latency.threshold.alert.name, 'HighInferenceLatency');
  });

  await t.test('query_range is proxied: the recorded P95 latency appears after traffic', async () => {
    await world.traffic(5);
    const expr = `model_endpoint:openllm_inference_duration_seconds:p95{model="${MODEL}"}`;
    const result = await eventually('recorded p95 latency', async () => {
      await world.traffic(1);
      const end = Math.floor(Date.now() / 1000);
      const { status, body } = await api(`/api/query_range?query=${encodeURIComponent(expr)}&start=${end - 60}&end=${end}&step=1`);
      assert.equal(status, 200);
      return body.data.result.length > 0 ? body.data.result : undefined;
    });
    assert.equal(result[0].metric.model, MODEL);
  });

  await t.test('query is proxied, and a PromQL error keeps Prometheus\' status and message', async () => {
    const ok = await api(`/api/query?query=${encodeURIComponent('group by (model) (openllm_requests_total)')}`);
    assert.equal(ok.status, 200);
    assert.ok(ok.body.data.result.some((r: { metric: { model: string } }) => r.metric.model === MODEL));
    const bad = await api(`/api/query?query=${encodeURIComponent('sum(')}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.status, 'error');
    assert.match(bad.body.error, /parse error/);
  });

  await t.test('alerts: the always-firing rule with its runbook link, from Prometheus and Alertmanager', async () => {
    const body = await eventually('the test alert in both', async () => {
      const { body } = await api('/api/alerts');
      const inProm = body.prometheus.find((a: { name: string; state: string }) => a.name === TEST_ALERT.name && a.state === 'firing');
      const inAm = body.alertmanager?.find((a: { name: string }) => a.name === TEST_ALERT.name);
      return inProm !== undefined && inAm !== undefined ? body : undefined;
    });
    const a = body.prometheus.find((x: { name: string }) => x.name === TEST_ALERT.name);
    assert.equal(a.severity, 'warning');
    assert.equal(a.runbookURL, TEST_ALERT.runbookURL);
    assert.equal(body.alertmanagerError, null);
  });

  await t.test("actions are the responder's", async () => {
    const { status, body } = await api('/api/actions');
    assert.equal(status, 200);
    assert.deepEqual(body.actions, []);
  });

  await t.test('only GET, only the whitelisted paths', async () => {
    const post = await api(`/api/query?query=up`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('x-llmwatch-error'), 'HTTP_ERR_METHOD_NOT_ALLOWED');
    for (const path of ['/api/v1/query?query=up', '/api/admin/tsdb/delete_series', '/api/v1/admin/tsdb/snapshot', '/api/label/model/values', '/api/query_range/../v1/status/config', '/-/quit']) {
      const r = await api(path);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('x-llmwatch-error'), 'HTTP_ERR_NOT_FOUND', path);
    }
    const del = await fetch(`${world.console.url}/`, { method: 'DELETE' });
    assert.equal(del.status, 405);
  });

  await t.test('bad parameters are a 400 naming the parameter', async () => {
    const noQuery = await api('/api/query');
    assert.equal(noQuery.status, 400);
    assert.equal(noQuery.body.error.param, 'query');
    const noStep = await api('/api/query_range?query=up&start=0&end=60');
    assert.equal(noStep.status, 400);
    assert.equal(noStep.body.error.param, 'step');
    const tooWide = await api('/api/query_range?query=up&start=0&end=99999999&step=60');
    assert.equal(tooWide.status, 400);
  });

  await t.test('the page and uPlot are served locally', async () => {
    const page = await fetch(`${world.console.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    assert.match(html, /\/vendor\/uPlot\.iife\.min\.js/);
    assert.doesNotMatch(html, /https?:\/\//);
    const js = await fetch(`${world.console.url}/vendor/uPlot.iife.min.js`);
    assert.equal(js.status, 200);
    assert.match(await js.text(), /uPlot/);
  });
});

test('a too-fine step is coarsened to at most 1000 points', () => {
  assert.equal(rangeParams(new URLSearchParams('query=up&start=0&end=3600&step=1')).step, 4);
  assert.equal(rangeParams(new URLSearchParams('query=up&start=0&end=600&step=15')).step, 15);
  assert.equal(rangeParams(new URLSearchParams('query=up&start=2026-01-01T00:00:00Z&end=2026-01-01T00:10:00Z&step=0.1')).step, 1);
});

test('Prometheus down: the API answers 502 with a JSON error naming it', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const c = await startConsole({ prometheus: dead, alertmanager: dead, responder: dead, dashboards: DASHBOARDS, port: 0, upstreamTimeoutMs: 2_000 });
  t.after(() => c.close());
  for (const path of ['/api/query?query=up', '/api/query_range?query=up&start=0&end=60&step=15', '/api/alerts', '/api/actions']) {
    const res = await fetch(`${c.url}${path}`);
    assert.equal(res.status, 502, path);
    assert.equal(res.headers.get('x-llmwatch-error'), 'CONSOLE_ERR_UPSTREAM', path);
    const body = (await res.json()) as { error: { message: string; code: string } };
    assert.equal(body.error.code, 'upstream_unreachable');
    assert.match(body.error.message, /unreachable/);
  }
  // The dashboards do not need Prometheus.
  assert.equal((await fetch(`${c.url}/api/dashboards`)).status, 200);
});

test('no responder configured: /api/actions is a 404 the page shows as such', async (t) => {
  const c = await startConsole({ prometheus: 'http://127.0.0.1:1', dashboards: DASHBOARDS, port: 0 });
  t.after(() => c.close());
  const res = await fetch(`${c.url}/api/actions`);
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('x-llmwatch-error'), 'CONSOLE_ERR_NOT_CONFIGURED');
});

test('`llmwatch console` without a stack or --prometheus says what to give, exit code 2', () => {
  const r = spawnSync(process.execPath, ['bin/llmwatch.js', 'console', '--dir', '/nonexistent/llmwatch-stack'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /No Prometheus to read: .*stack\.json is missing\. Start a stack with 'llmwatch up', or pass --prometheus URL/);
});

test('`llmwatch console --port 0 --prometheus URL` serves the dashboards and stops on SIGTERM', { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, ['bin/llmwatch.js', 'console', '--dir', '/nonexistent/llmwatch-stack', '--port', '0', '--prometheus', 'http://127.0.0.1:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const url = await eventually('the console URL', async () => /llmwatch console +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 20_000);
  const res = await fetch(`${url}/api/dashboards`);
  assert.equal(res.status, 200);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
});

test('/api/drills serves the last `llmwatch drill` run of the stack, and says when there is none', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { saveResults } = await import('../src/stack/drill.ts');
  const { DRILLS_FILE } = await import('../src/stack/stack-info.ts');
  const { buildDashboards } = await import('../src/monitoring/dashboards/build.ts');
  const { buildModel } = await import('../src/monitoring/build.ts');
  const { monitoringSpec } = await import('../src/core/config/monitoring-spec.ts');
  const { startConsole } = await import('../src/console/server.ts');
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-drills-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = await startConsole({ prometheus: 'http://127.0.0.1:1', dashboards: buildDashboards(buildModel(monitoringSpec({}))), port: 0, drillsFile: join(dir, DRILLS_FILE) });
  t.after(() => c.close());
  const get = async () => (await (await fetch(`${c.url}/api/drills`)).json()) as { at?: string; results: Array<{ scenario: string; ok: boolean }>; error?: string };

  assert.deepEqual(await get(), { results: [] });
  saveResults(dir, [{ scenario: 'latency', alert: 'HighInferenceLatency', fire: 15.4, fireBound: 24, action: 17.4, actionBound: 30, resolve: 31.4, resolveBound: 44, ok: true, problems: [] }], new Date('2026-11-29T05:00:00Z'));
  const run = await get();
  assert.equal(run.at, '2026-11-29T05:00:00.000Z');
  assert.deepEqual(run.results.map((r) => [r.scenario, r.ok]), [['latency', true]]);
  writeFileSync(join(dir, DRILLS_FILE), '{not json');
  assert.match((await get()).error ?? '', /cannot read .*drills\.json/);
});
