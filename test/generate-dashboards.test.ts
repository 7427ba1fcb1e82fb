import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { loadMonitoringSpec, monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { DASHBOARD_UID } from '../src/core/conventions/deploy.ts';
import { GPU_METRIC, METRIC, NODE, NODE_EXPORTER, PROMETHEUS_SERIES, RESPONDER_METRIC, metricName, recordedNames } from '../src/core/conventions/metrics.ts';
import type { MetricKey } from '../src/core/conventions/metrics.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { buildDashboards } from '../src/monitoring/dashboards/build.ts';
import { GENERATED_MARK, generate, writeGenerated } from '../src/monitoring/generate.ts';
import type { MonitoringModel, RuleGroup } from '../src/monitoring/model.ts';
import { GRAFANA_CONTAINER_PATH, GRAFANA_DATASOURCES_PATH, GRAFANA_PROMETHEUS_URL, GRAFANA_PROVIDERS_PATH, renderGrafana } from '../src/monitoring/writers/grafana.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** The parts of Grafana dashboard JSON these tests read. */
interface Target {
  expr: string;
  datasource?: { type: string; uid: string };
}
interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults: { unit?: string; thresholds?: { steps: Array<{ value: number | null; color: string }> } } };
  links?: Array<{ url: string }>;
}
interface GrafanaDashboard {
  uid: string;
  title: string;
  description: string;
  panels: GrafanaPanel[];
  templating: { list: Array<{ name: string; type: string; query: string; datasource?: { uid: string } }> };
  annotations: { list: Array<{ name: string; expr: string; datasource: { uid: string } }> };
}

function dashboardsOf(model: MonitoringModel): GrafanaDashboard[] {
  return renderGrafana(model)
    .filter((f) => f.path.endsWith('.json'))
    .map((f) => JSON.parse(f.content) as GrafanaDashboard);
}

const byUid = (ds: GrafanaDashboard[], uid: string) => ds.find((d) => d.uid === uid)!;
const panelsOf = (d: GrafanaDashboard) => d.panels.filter((p) => p.type !== 'row');
const panelTitled = (d: GrafanaDashboard, title: string) => {
  const p = panelsOf(d).find((x) => x.title === title);
  assert.ok(p, `${d.uid} has a panel '${title}'`);
  return p;
};

/**
 * Every metric name a PromQL expression selects, from the real PromQL grammar
 * (Prometheus' own lezer parser, as its UI uses). Throws on a syntax error.
 */
function metricNamesOf(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id !== null) names.push(expr.slice(id.from, id.to));
      }
    },
  });
  if (errors.length > 0) throw new Error(`PromQL syntax error at ${errors.join(', ')} in: ${expr}`);
  return names;
}

/** Histograms of the catalog: their series are `_bucket`, `_count` and `_sum`. */
const HISTOGRAMS: readonly MetricKey[] = ['inferenceDuration', 'queueWait', 'timeToFirstToken', 'timePerOutputToken', 'promptTokens', 'completionTokens', 'outputSafetyScore'];

/**
 * The metric catalog: every name something exposes (the gateway under the
 * spec's prefix, node-exporter, the GPU exporter, the responder, Prometheus
 * itself). Recorded names are not in it: they must come from the rule groups.
 */
function exposedNames(prefix: string): Set<string> {
  const names = new Set<string>([
    ...(Object.keys(METRIC) as MetricKey[]).map((k) => metricName(k, prefix)),
    NODE.cpuSeconds,
    NODE.memTotal,
    NODE.memAvailable,
    NODE.networkTransmit,
    NODE_EXPORTER.networkReceive,
    ...Object.values(GPU_METRIC),
    ...Object.values(RESPONDER_METRIC),
    PROMETHEUS_SERIES.alerts,
    PROMETHEUS_SERIES.up,
  ]);
  const histograms = [...HISTOGRAMS.map((k) => metricName(k, prefix)), RESPONDER_METRIC.actionDuration, GPU_METRIC.collectorDuration];
  for (const h of histograms) for (const suffix of ['_bucket', '_count', '_sum']) names.add(h + suffix);
  return names;
}

function recordedIn(groups: readonly RuleGroup[]): Set<string> {
  return new Set(groups.flatMap((g) => g.rules.flatMap((r) => ('record' in r ? [r.record] : []))));
}

/**
 * Every query of the dashboards (panels, annotations, the selectors of label
 * variables) that names a metric neither exposed nor recorded by `groups`:
 * `<dashboard uid> / <panel title>: <metric>`.
 */
function unknownMetrics(dashboards: readonly GrafanaDashboard[], prefix: string, groups: readonly RuleGroup[]): string[] {
  const known = new Set([...exposedNames(prefix), ...recordedIn(groups)]);
  const found: string[] = [];
  const check = (where: string, expr: string) => {
    for (const name of metricNamesOf(expr)) if (!known.has(name)) found.push(`${where}: ${name}`);
  };
  for (const d of dashboards) {
    for (const p of panelsOf(d)) for (const t of p.targets ?? []) check(`${d.uid} / ${p.title}`, t.expr);
    for (const a of d.annotations.list) check(`${d.uid} / annotation ${a.name}`, a.expr);
    for (const v of d.templating.list) {
      if (v.type !== 'query') continue;
      const m = /^label_values\((.+), ([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(v.query);
      assert.ok(m, `${d.uid} variable ${v.name}: label_values(selector, label), got ${v.query}`);
      check(`${d.uid} / variable ${v.name}`, m[1]!);
    }
  }
  return found;
}

const SPECS: Record<string, Record<string, unknown>> = {
  defaults: {},
  'dcgm-exporter, another prefix and window': { metricsPrefix: 'llm_', rateWindow: '1m', targets: { gpuExporter: { source: 'dcgm', targets: ['gpu:9400'] } } },
  'SLOs off': { slo: { enabled: false } },
};

describe('every panel queries only metrics that exist', () => {
  for (const [name, data] of Object.entries(SPECS)) {
    test(`${name}: each expression parses and names only exposed or recorded metrics`, () => {
      const spec = monitoringSpec(data);
      const model = buildModel(spec);
      const dashboards = dashboardsOf(model);
      let queries = 0;
      for (const d of dashboards) for (const p of panelsOf(d)) queries += p.targets?.length ?? 0;
      assert.ok(queries >= 40, `${queries} panel queries checked`);
      assert.deepEqual(unknownMetrics(dashboards, spec.metricsPrefix, model.groups), []);
    });
  }

  test('llmwatch.yaml: the same', () => {
    const spec = loadMonitoringSpec(join(ROOT, 'llmwatch.yaml'));
    const model = buildModel(spec);
    assert.deepEqual(unknownMetrics(dashboardsOf(model), spec.metricsPrefix, model.groups), []);
  });

  test('the check fails, naming the panels, when a recording rule they read is removed', () => {
    const spec = monitoringSpec({});
    const model = buildModel(spec);
    const errorRate = recordedNames(spec.metricsPrefix, spec.rateWindow).errorRate;
    const without = model.groups.map((g) => ({ ...g, rules: g.rules.filter((r) => !('record' in r) || r.record !== errorRate) }));
    assert.notDeepEqual(without, model.groups, 'the rule was there to remove');
    assert.deepEqual(unknownMetrics(dashboardsOf(model), spec.metricsPrefix, without), [`${DASHBOARD_UID.overview} / Error rate: ${errorRate}`]);
  });

  test('the check fails on a metric nobody exposes, and on a query that does not parse', () => {
    const spec = monitoringSpec({});
    const model = buildModel(spec);
    const dashboards = dashboardsOf(model);
    const overview = structuredClone(byUid(dashboards, DASHBOARD_UID.overview));
    panelTitled(overview, 'Queue length').targets![0]!.expr = 'sum(openllm_queue_lenght)';
    assert.deepEqual(unknownMetrics([overview], spec.metricsPrefix, model.groups), [`${DASHBOARD_UID.overview} / Queue length: openllm_queue_lenght`]);
    panelTitled(overview, 'Queue length').targets![0]!.expr = 'sum(rate(openllm_requests_total[5m])';
    assert.throws(() => unknownMetrics([overview], spec.metricsPrefix, model.groups), /PromQL syntax error/);
  });
});

describe('the dashboards', () => {
  const spec = monitoringSpec({});
  const model = buildModel(spec);
  const dashboards = dashboardsOf(model);

  test('three dashboards with stable uids, whatever the spec', () => {
    const uids = [DASHBOARD_UID.overview, DASHBOARD_UID.hosts, DASHBOARD_UID.alerts];
    assert.deepEqual(
      dashboards.map((d) => d.uid),
      uids,
    );
    assert.deepEqual(
      renderGrafana(model).map((f) => f.path),
      [...uids.map((u) => `grafana/dashboards/${u}.json`), GRAFANA_DATASOURCES_PATH, GRAFANA_PROVIDERS_PATH],
    );
    const other = dashboardsOf(buildModel(monitoringSpec({ service: 'chat', metricsPrefix: 'llm_', rateWindow: '2m' })));
    assert.deepEqual(
      other.map((d) => d.uid),
      uids,
    );
  });

  test('deterministic: the same spec gives the same bytes, keys sorted', () => {
    assert.deepEqual(renderGrafana(buildModel(monitoringSpec({}))), renderGrafana(buildModel(monitoringSpec({}))));
    const sorted = (v: unknown): boolean => {
      if (Array.isArray(v)) return v.every(sorted);
      if (v === null || typeof v !== 'object') return true;
      const keys = Object.keys(v);
      return keys.join('\n') === [...keys].sort().join('\n') && Object.values(v).every(sorted);
    };
    for (const f of renderGrafana(model).filter((x) => x.path.endsWith('.json'))) {
      assert.ok(sorted(JSON.parse(f.content)), `${f.path}: keys sorted`);
      assert.ok(f.content.endsWith('}\n'));
    }
  });

  test('the JSON carries the generated mark in its description, not a # header', () => {
    const files = generate(spec).filter((f) => f.path.startsWith('grafana/'));
    assert.equal(files.length, 5);
    for (const f of files.filter((x) => x.path.endsWith('.json'))) {
      const d = JSON.parse(f.content) as GrafanaDashboard;
      assert.ok(d.description.includes(GENERATED_MARK), f.path);
    }
    for (const f of files.filter((x) => x.path.endsWith('.yaml'))) assert.ok(f.content.startsWith(`# ${GENERATED_MARK}\n`), f.path);
  });

  test('a dashboard no longer generated is removed; a hand-made one is left alone', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'llmwatch-dash-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'grafana/dashboards'), { recursive: true });
    writeFileSync(join(dir, 'grafana/dashboards/retired.json'), JSON.stringify({ uid: 'retired', description: `Old. ${GENERATED_MARK}` }));
    writeFileSync(join(dir, 'grafana/dashboards/mine.json'), JSON.stringify({ uid: 'mine', description: 'Made by hand.' }));
    const { removed } = writeGenerated(dir, generate(spec));
    assert.deepEqual(removed, ['grafana/dashboards/retired.json']);
    assert.deepEqual(readdirSync(join(dir, 'grafana/dashboards')).sort(), ['llmwatch-alerts.json', 'llmwatch-hosts.json', 'llmwatch-overview.json', 'mine.json']);
  });

  test('every panel, query and annotation reads Prometheus through the datasource variable', () => {
    for (const d of dashboards) {
      const ds = d.templating.list.find((v) => v.name === 'datasource');
      assert.deepEqual(ds && { type: ds.type, query: ds.query }, { type: 'datasource', query: 'prometheus' }, d.uid);
      for (const p of panelsOf(d)) {
        assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${d.uid} / ${p.title}`);
        assert.ok((p.targets ?? []).length > 0, `${d.uid} / ${p.title} has queries`);
        for (const t of p.targets ?? []) assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, `${d.uid} / ${p.title}`);
      }
      for (const a of d.annotations.list) assert.equal(a.datasource.uid, '${datasource}');
      for (const v of d.templating.list.filter((x) => x.type === 'query')) assert.equal(v.datasource?.uid, '${datasource}');
    }
  });

  test('panels lie on the 24-column grid without overlapping', () => {
    for (const d of dashboards) {
      const cells = new Set<string>();
      for (const p of d.panels) {
        assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${d.uid} / ${p.title}`);
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
            assert.ok(!cells.has(`${x},${y}`), `${d.uid} / ${p.title} overlaps at ${x},${y}`);
            cells.add(`${x},${y}`);
          }
        }
      }
      assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${d.uid}: panel ids unique`);
      assert.equal(new Set(panelsOf(d).map((p) => p.title)).size, panelsOf(d).length, `${d.uid}: panel titles unique`);
    }
  });

  test("the overview: the article's latency panel (P50, P95, and P99) per model, units, variables, firing alerts", () => {
    const overview = byUid(dashboards, DASHBOARD_UID.overview);
    const n = recordedNames();
    const latency = panelTitled(overview, 'Inference latency');
    assert.deepEqual(
      latency.targets!.map((t) => t.expr),
      ['p50', 'p95', 'p99'].map((q) => `${n.latencyQuantile(q as 'p50')}{model=~"$model"}`),
    );
    assert.equal(latency.fieldConfig!.defaults.unit, 's');
    const units = Object.fromEntries(panelsOf(overview).map((p) => [p.title, p.fieldConfig!.defaults.unit]));
    assert.equal(units['Time to first token'], 's');
    assert.equal(units['Error rate'], 'percentunit');
    assert.equal(units['Cache hit rate'], 'percentunit');
    assert.equal(units['Token throughput'], 'suffix: tokens/s');
    assert.equal(units['Requests per second'], 'reqps');
    for (const title of ['Queue length', 'Requests in flight', 'Output toxicity', 'Upstream errors by reason']) panelTitled(overview, title);
    assert.deepEqual(panelTitled(overview, 'Token throughput').targets!.map((t) => t.expr), [`${n.tokenThroughput}{model=~"$model"}`]);
    assert.deepEqual(panelTitled(overview, 'Error rate').targets!.map((t) => t.expr), [`${n.errorRate}{model=~"$model"}`, `${n.clientErrorRatio}{model=~"$model"}`]);
    assert.deepEqual(
      overview.templating.list.map((v) => [v.name, v.type, v.query]),
      [
        ['datasource', 'datasource', 'prometheus'],
        ['model', 'query', 'label_values(openllm_requests_total, model)'],
        ['instance', 'query', 'label_values(openllm_build_info, instance)'],
      ],
    );
    assert.equal(overview.annotations.list[0]!.expr, 'ALERTS{alertstate="firing", service="openllm"}');
  });

  test('hosts and GPUs: GPU memory used and total per GPU, utilisation, temperature, CPU, memory, network', () => {
    const hosts = byUid(dashboards, DASHBOARD_UID.hosts);
    const gpuMemory = panelTitled(hosts, 'GPU memory used and total');
    assert.deepEqual(
      gpuMemory.targets!.map((t) => metricNamesOf(t.expr)),
      [[NODE.gpuMemoryUsage], [NODE.gpuMemoryTotal]],
    );
    assert.equal(gpuMemory.fieldConfig!.defaults.unit, 'bytes');
    assert.deepEqual(metricNamesOf(panelTitled(hosts, 'GPU utilisation').targets![0]!.expr), [GPU_METRIC.utilisation]);
    assert.deepEqual(metricNamesOf(panelTitled(hosts, 'GPU temperature').targets![0]!.expr), [GPU_METRIC.temperature]);
    assert.deepEqual(metricNamesOf(panelTitled(hosts, 'CPU usage').targets![0]!.expr), [NODE.cpuUsagePercent]);
    assert.equal(panelTitled(hosts, 'CPU usage').fieldConfig!.defaults.unit, 'percent');
    assert.deepEqual(
      panelTitled(hosts, 'Network').targets!.map((t) => metricNamesOf(t.expr)),
      [[NODE.networkTransmit], [NODE_EXPORTER.networkReceive]],
    );
    panelTitled(hosts, 'Memory used and total');
    // nvidia-smi's collector health exists under llmwatch's exporter only.
    panelTitled(hosts, 'GPU collector');
    const dcgm = byUid(dashboardsOf(buildModel(monitoringSpec({ targets: { gpuExporter: { source: 'dcgm', targets: ['gpu:9400'] } } }))), DASHBOARD_UID.hosts);
    assert.equal(panelsOf(dcgm).filter((p) => p.title.startsWith('GPU collector')).length, 0);
  });

  test('alerts and remediation: firing alerts by severity, responder actions by outcome, decisions, breaker and kill switch', () => {
    const alerts = byUid(dashboards, DASHBOARD_UID.alerts);
    for (const [title, severity] of [
      ['Critical (P0)', 'critical'],
      ['Warning (P1)', 'warning'],
      ['Info', 'info'],
    ] as const) {
      assert.equal(panelTitled(alerts, title).targets![0]!.expr, `count(ALERTS{alertstate="firing", service="openllm", severity="${severity}"}) or vector(0)`);
    }
    assert.equal(panelTitled(alerts, 'Actions by outcome').targets![0]!.expr, `sum by (action, outcome) (increase(${RESPONDER_METRIC.actions}[1h]))`);
    assert.equal(panelTitled(alerts, 'Decisions by why').targets![0]!.expr, `sum by (decision, why) (increase(${RESPONDER_METRIC.decisions}[1h]))`);
    assert.deepEqual(metricNamesOf(panelTitled(alerts, 'Breaker').targets![0]!.expr), [RESPONDER_METRIC.breaker]);
    assert.deepEqual(metricNamesOf(panelTitled(alerts, 'Kill switch').targets![0]!.expr), [RESPONDER_METRIC.killSwitch]);
  });
});

describe("thresholds are the spec's alert levels", () => {
  const steps = (model: MonitoringModel, uid: string, title: string) => panelTitled(byUid(dashboardsOf(model), uid), title).fieldConfig!.defaults.thresholds?.steps;

  test('defaults: the article\'s 2 s latency, a warning now (orange); throughput is bad below 50 tokens/s; GPU memory above vLLM\'s 0.9', () => {
    const model = buildModel(monitoringSpec({}));
    assert.deepEqual(steps(model, DASHBOARD_UID.overview, 'Inference latency'), [
      { value: null, color: 'green' },
      { value: 2, color: 'orange' },
    ]);
    assert.deepEqual(steps(model, DASHBOARD_UID.overview, 'Token throughput'), [
      { value: null, color: 'orange' },
      { value: 50, color: 'green' },
    ]);
    assert.deepEqual(steps(model, DASHBOARD_UID.overview, 'Error rate'), [
      { value: null, color: 'green' },
      { value: 0.001, color: 'red' },
    ]);
    assert.deepEqual(steps(model, DASHBOARD_UID.hosts, 'GPU memory utilisation'), [
      { value: null, color: 'green' },
      { value: 0.95, color: 'orange' },
    ]);
    const latency = panelTitled(byUid(dashboardsOf(model), DASHBOARD_UID.overview), 'Inference latency');
    assert.deepEqual(
      latency.links!.map((l) => l.url),
      [`${model.spec.runbookBaseURL}/HighInferenceLatency.md`],
    );
  });

  test('an override moves the line and its colour; per-model levels are named in the description', () => {
    const model = buildModel(
      monitoringSpec({
        alerts: { HighInferenceLatency: { threshold: 3, severity: 'warning' }, HighCpuUsage: { threshold: 90 } },
        models: { small: { alerts: { HighInferenceLatency: { threshold: 1 } } } },
      }),
    );
    assert.deepEqual(steps(model, DASHBOARD_UID.overview, 'Inference latency'), [
      { value: null, color: 'green' },
      { value: 3, color: 'orange' },
    ]);
    assert.deepEqual(steps(model, DASHBOARD_UID.overview, 'P95 latency, slowest model')?.[1], { value: 3, color: 'orange' });
    assert.deepEqual(steps(model, DASHBOARD_UID.hosts, 'CPU usage')?.[1], { value: 90, color: 'orange' });
    const latency = panelTitled(byUid(dashboardsOf(model), DASHBOARD_UID.overview), 'Inference latency');
    assert.match(latency.description!, /Line: HighInferenceLatency \(warning\) at 3s; small at 1s\./);
  });

  test('a disabled alert draws no line', () => {
    const model = buildModel(monitoringSpec({ alerts: { HighInferenceLatency: { enabled: false } } }));
    assert.equal(steps(model, DASHBOARD_UID.overview, 'Inference latency'), undefined);
    assert.doesNotMatch(panelTitled(byUid(dashboardsOf(model), DASHBOARD_UID.overview), 'Inference latency').description!, /Line:/);
  });

  test('the dashboard model carries the same levels for other renderers', () => {
    const model = buildModel(monitoringSpec({ alerts: { HighInferenceLatency: { threshold: 3 } } }));
    const overview = buildDashboards(model)[0]!;
    const latency = overview.rows.flatMap((r) => r.panels).find((p) => p.key === 'latency')!;
    assert.equal(latency.unit, 'seconds');
    assert.deepEqual({ ...latency.threshold, alert: undefined }, { value: 3, direction: 'above', severity: 'warning', alert: undefined });
    assert.equal(latency.threshold?.alert?.name, 'HighInferenceLatency');
  });
});

describe('provisioning', () => {
  test('a Prometheus datasource with the uid the dashboards default to, and a file provider at the mount path', () => {
    const files = renderGrafana(buildModel(monitoringSpec({ prometheus: { scrapeInterval: '30s' } })));
    const ds = parseYaml(files.find((f) => f.path === GRAFANA_DATASOURCES_PATH)!.content);
    assert.deepEqual(ds.datasources.map((d: Record<string, unknown>) => [d.name, d.type, d.uid, d.url, d.isDefault]), [['Prometheus', 'prometheus', 'prometheus', GRAFANA_PROMETHEUS_URL, true]]);
    assert.equal(ds.datasources[0].jsonData.timeInterval, '30s');
    const providers = parseYaml(files.find((f) => f.path === GRAFANA_PROVIDERS_PATH)!.content);
    assert.equal(providers.providers.length, 1);
    assert.equal(providers.providers[0].type, 'file');
    assert.equal(providers.providers[0].options.path, GRAFANA_CONTAINER_PATH.dashboards);
    assert.equal(providers.providers[0].allowUiUpdates, false);
  });
});
