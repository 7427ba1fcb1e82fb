import * as common from '@grafana/grafana-foundation-sdk/common';
import * as grafana from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DASHBOARD_TAG, GRAFANA_DATASOURCE_UID } from '../../core/conventions/deploy.ts';
import type { Severity } from '../../core/conventions/alerts.ts';
import { buildDashboards } from '../dashboards/build.ts';
import { DATASOURCE_VAR } from '../dashboards/common.ts';
import type { Annotation, Dashboard, Panel, Threshold, Unit, ValueText, Variable } from '../../core/dashboard-model.ts';
import { ALL_VALUES } from '../dashboards/queries.ts';
import { GENERATED_MARK } from '../model.ts';
import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml } from '../yaml.ts';

/** Where the files go, relative to the output folder. */
export const GRAFANA_DASHBOARDS_DIR = 'grafana/dashboards';
export const GRAFANA_DATASOURCES_PATH = 'grafana/provisioning/datasources/prometheus.yaml';
export const GRAFANA_PROVIDERS_PATH = 'grafana/provisioning/dashboards/llmwatch.yaml';

/**
 * Where the Grafana container expects them: mount `grafana/provisioning` on
 * Grafana's own provisioning folder, and `grafana/dashboards` on the folder
 * the dashboard provider reads (both read-only).
 */
export const GRAFANA_CONTAINER_PATH = {
  provisioning: '/etc/grafana/provisioning',
  dashboards: '/var/lib/grafana/dashboards/llmwatch',
} as const;

/** Prometheus as the compose stack names it (service `prometheus`, its default port). */
export const GRAFANA_PROMETHEUS_URL = 'http://prometheus:9090';

/** Every query and panel goes through the datasource variable, so one dashboard serves any Prometheus. */
const DATASOURCE: { type: string; uid: string } = { type: 'prometheus', uid: `\${${DATASOURCE_VAR}}` };

const UNIT: Readonly<Record<Unit, string>> = {
  seconds: 's',
  ratio: 'percentunit',
  percent: 'percent',
  bytes: 'bytes',
  bytesPerSecond: 'Bps',
  requestsPerSecond: 'reqps',
  tokensPerSecond: 'suffix: tokens/s',
  perSecond: 'suffix:/s',
  celsius: 'celsius',
  watts: 'watt',
  count: 'short',
};

const COLOR: Readonly<Record<Severity | 'ok', string>> = { ok: 'green', info: 'blue', warning: 'orange', critical: 'red' };

/**
 * Renders the dashboards as Grafana JSON through the Grafana Foundation SDK,
 * one file each under `grafana/dashboards/<uid>.json`, and Grafana's
 * provisioning files: the Prometheus datasource and a file provider for the
 * dashboards. JSON cannot carry the `#` header: each dashboard's description
 * carries the generated mark instead.
 */
export function renderGrafana(model: MonitoringModel): GeneratedFile[] {
  const dashboards = buildDashboards(model).map((d) => ({
    path: `${GRAFANA_DASHBOARDS_DIR}/${d.uid}.json`,
    content: stableJson(grafanaDashboard(d, model)),
  }));
  return [...dashboards, ...provisioning(model)];
}

/** One dashboard model as Grafana dashboard JSON (schema of the SDK's `dashboard` package). */
export function grafanaDashboard(d: Dashboard, model: MonitoringModel): grafana.Dashboard {
  const b = new grafana.DashboardBuilder(d.title)
    .uid(d.uid)
    .description(`${d.description} ${GENERATED_MARK}`)
    .tags([...d.tags])
    .timezone('browser')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .tooltip(grafana.DashboardCursorSync.Crosshair)
    .link(new grafana.DashboardLinkBuilder('llmwatch').type(grafana.DashboardLinkType.Dashboards).tags([DASHBOARD_TAG]).asDropdown(true).keepTime(true));
  for (const v of d.variables) b.withVariable(variable(v));
  for (const a of d.annotations) b.annotation(annotation(a, model));
  // Panel ids only need to be unique within the dashboard; numbering in order keeps them stable.
  let id = 1;
  for (const row of d.rows) {
    b.withRow(new grafana.RowBuilder(row.title).id(id++));
    for (const p of row.panels) b.withPanel(panel(p, id++));
  }
  return b.build();
}

function variable(v: Variable): grafana.DatasourceVariableBuilder | grafana.QueryVariableBuilder {
  switch (v.kind) {
    case 'datasource':
      return new grafana.DatasourceVariableBuilder(v.name)
        .label(v.label)
        .type('prometheus')
        .current({ selected: true, text: 'Prometheus', value: GRAFANA_DATASOURCE_UID });
    case 'labelValues': {
      const query = `label_values(${v.selector}, ${v.labelName})`;
      const b = new grafana.QueryVariableBuilder(v.name)
        .label(v.label)
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .refresh(grafana.VariableRefresh.OnTimeRangeChanged)
        .sort(grafana.VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue(ALL_VALUES)
        .current({ selected: true, text: ['All'], value: ['$__all'] });
      return v.capture === undefined ? b : b.regex(v.capture);
    }
  }
}

function annotation(a: Annotation, model: MonitoringModel): grafana.AnnotationQueryBuilder {
  return new grafana.AnnotationQueryBuilder()
    .name(a.name)
    .datasource(DATASOURCE)
    .enable(true)
    .hide(false)
    .iconColor(COLOR[a.tone])
    .expr(a.expr)
    .titleFormat(a.title)
    .textFormat(a.text)
    .tagKeys(a.tagLabels.join(','))
    // Rules are evaluated this often: a finer step finds nothing new in ALERTS.
    .step(model.spec.prometheus.evaluationInterval)
    .useValueForTime(false);
}

function panel(p: Panel, id: number): timeseries.PanelBuilder | stat.PanelBuilder {
  const targets = p.queries.map((q, i) =>
    new prometheus.DataqueryBuilder().refId(String.fromCharCode(65 + i)).datasource(DATASOURCE).expr(q.expr).legendFormat(q.legend).range(),
  );
  const alert = p.threshold?.alert;
  const links =
    alert === undefined
      ? []
      : [new grafana.DashboardLinkBuilder(`Runbook: ${alert.name}`).type(grafana.DashboardLinkType.Link).url(alert.runbookURL).targetBlank(true)];
  switch (p.kind) {
    case 'timeseries': {
      const b = new timeseries.PanelBuilder()
        .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
        .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
      if (p.threshold !== undefined) {
        b.thresholds(thresholds(p.threshold)).thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.LineAndArea));
      }
      setShared(b, p, id, targets, links);
      return b;
    }
    case 'stat': {
      const b = new stat.PanelBuilder()
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
        .colorMode(common.BigValueColorMode.Value)
        .graphMode(p.valueText === undefined ? common.BigValueGraphMode.Area : common.BigValueGraphMode.None)
        .thresholds(p.threshold === undefined ? okOnly() : thresholds(p.threshold));
      if (p.valueText !== undefined) b.mappings([valueMap(p.valueText)]);
      setShared(b, p, id, targets, links);
      return b;
    }
  }
}

/** What every kind of panel sets the same way. */
function setShared(
  b: timeseries.PanelBuilder | stat.PanelBuilder,
  p: Panel,
  id: number,
  targets: prometheus.DataqueryBuilder[],
  links: grafana.DashboardLinkBuilder[],
): void {
  b.id(id).title(p.title).description(p.description).datasource(DATASOURCE).targets(targets).unit(UNIT[p.unit]).span(p.width).height(p.height);
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  if (links.length > 0) b.links(links);
}

/** Grafana colours everything at or past a step's value with its colour; the base step has no value. */
function thresholds(t: Threshold): grafana.ThresholdsConfigBuilder {
  const bad = COLOR[t.severity];
  const steps: grafana.Threshold[] =
    t.direction === 'above'
      ? [
          { value: null, color: COLOR.ok },
          { value: t.value, color: bad },
        ]
      : [
          { value: null, color: bad },
          { value: t.value, color: COLOR.ok },
        ];
  return new grafana.ThresholdsConfigBuilder().mode(grafana.ThresholdsMode.Absolute).steps(steps);
}

function okOnly(): grafana.ThresholdsConfigBuilder {
  return new grafana.ThresholdsConfigBuilder().mode(grafana.ThresholdsMode.Absolute).steps([{ value: null, color: COLOR.ok }]);
}

function valueMap(values: readonly ValueText[]): grafana.ValueMap {
  return {
    type: grafana.MappingType.ValueToText,
    options: Object.fromEntries(values.map((v, index) => [String(v.value), { text: v.text, color: COLOR[v.tone], index }])),
  };
}

/**
 * The datasource (uid `prometheus`, the compose stack's Prometheus, sampled
 * at the scrape interval) and a file provider that loads every dashboard
 * under the mounted folder into a folder named llmwatch; the UI cannot
 * change or delete them, as the spec is their source.
 */
function provisioning(model: MonitoringModel): GeneratedFile[] {
  const datasources = {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        type: 'prometheus',
        uid: GRAFANA_DATASOURCE_UID,
        access: 'proxy',
        url: GRAFANA_PROMETHEUS_URL,
        isDefault: true,
        editable: false,
        jsonData: { timeInterval: model.spec.prometheus.scrapeInterval, httpMethod: 'POST' },
      },
    ],
  };
  const providers = {
    apiVersion: 1,
    providers: [
      {
        name: 'llmwatch',
        orgId: 1,
        folder: 'llmwatch',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: GRAFANA_CONTAINER_PATH.dashboards, foldersFromFilesStructure: false },
      },
    ],
  };
  return [
    { path: GRAFANA_DATASOURCES_PATH, content: dumpYaml(datasources) },
    { path: GRAFANA_PROVIDERS_PATH, content: dumpYaml(providers) },
  ];
}

/** JSON with every object's keys sorted and a final newline: the same dashboard gives the same bytes, whatever order a builder set fields in. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeysDeep(value), null, 2)}\n`;
}

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeysDeep(v)]),
    );
  }
  return value;
}
