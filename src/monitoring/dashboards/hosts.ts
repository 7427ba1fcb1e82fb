import { TARGET_LABEL } from '../../core/conventions/alerts.ts';
import { DASHBOARD_TAG, DASHBOARD_UID, JOB } from '../../core/conventions/deploy.ts';
import { GPU_METRIC, LABEL, NODE, NODE_EXPORTER, PROMETHEUS_SERIES } from '../../core/conventions/metrics.ts';
import type { MonitoringModel } from '../model.ts';
import { anyOf, ne, rate, re, sel, sumBy } from '../promql.ts';
import { commonAnnotations, datasourceVariable, panel } from './common.ts';
import type { Dashboard, Panel, Query } from '../../core/dashboard-model.ts';
import { onHosts } from './queries.ts';
import { alertThreshold } from './thresholds.ts';

const HOST_VAR = 'host';
/** `instance` is `host:port`; the variable offers the host, so one choice covers every exporter on it. */
const HOST_OF_INSTANCE = '/^(.*):[0-9]+$/';
const GPU = '{{instance}} GPU {{gpu}}';

/**
 * Hosts and GPUs: GPU memory (used and total, per GPU, never averaged per
 * host), utilisation, temperature and power from the GPU exporter (llmwatch's
 * or dcgm-exporter mapped by the recording rules), then CPU, memory and
 * network from node-exporter. The alerts' levels are drawn on their panels.
 */
export function hostsDashboard(model: MonitoringModel): Dashboard {
  const { spec } = model;
  const w = spec.rateWindow;
  const host = onHosts(TARGET_LABEL.instance, HOST_VAR);
  const q = (metric: string, legend: string, ...matchers: string[]): Query => ({ expr: sel(metric, host, ...matchers), legend });

  const gpuPanels: Panel[] = [
    panel('timeseries', {
      key: 'gpu-memory',
      title: 'GPU memory used and total',
      description: 'Memory in use and installed, per GPU.',
      unit: 'bytes',
      queries: [q(GPU_METRIC.memoryUsage, `${GPU} used`), q(GPU_METRIC.memoryTotal, `${GPU} total`)],
      min: 0,
      width: 12,
      height: 8,
    }),
    panel('timeseries', {
      key: 'gpu-memory-utilisation',
      title: 'GPU memory utilisation',
      description: `Used over total memory, per GPU (\`${NODE.gpuMemoryUtilisation}\`).`,
      unit: 'ratio',
      queries: [q(NODE.gpuMemoryUtilisation, GPU)],
      threshold: alertThreshold(model, 'HighGpuMemoryUsage', 'above'),
      min: 0,
      max: 1,
      width: 12,
      height: 8,
    }),
    panel('timeseries', {
      key: 'gpu-utilisation',
      title: 'GPU utilisation',
      description: 'The share of the last sample period a kernel ran, per GPU.',
      unit: 'ratio',
      queries: [q(GPU_METRIC.utilisation, GPU)],
      min: 0,
      max: 1,
      width: 8,
      height: 8,
    }),
    panel('timeseries', {
      key: 'gpu-temperature',
      title: 'GPU temperature',
      description: 'Core temperature, per GPU.',
      unit: 'celsius',
      queries: [q(GPU_METRIC.temperature, GPU)],
      threshold: alertThreshold(model, 'HighGpuTemperature', 'above'),
      width: 8,
      height: 8,
    }),
    panel('timeseries', {
      key: 'gpu-power',
      title: 'GPU power',
      description: 'Power draw, per GPU.',
      unit: 'watts',
      queries: [q(GPU_METRIC.power, GPU)],
      min: 0,
      width: 8,
      height: 8,
    }),
  ];
  // The collector's own health exists only under llmwatch's exporter; dcgm-exporter has no such series.
  if (spec.targets.gpuExporter.source === 'llmwatch') {
    gpuPanels.push(
      panel('timeseries', {
        key: 'gpu-collector',
        title: 'GPU collector',
        description: 'Whether the last nvidia-smi run gave every GPU\'s readings (1) or failed (0), per exporter.',
        unit: 'count',
        queries: [q(GPU_METRIC.collectorSuccess, '{{instance}}')],
        min: 0,
        max: 1,
        width: 12,
        height: 6,
      }),
      panel('timeseries', {
        key: 'gpu-collector-errors',
        title: 'GPU collector errors by reason',
        description: 'Failed nvidia-smi runs per second: missing_binary, timeout, exit_code, parse_error.',
        unit: 'perSecond',
        queries: [{ expr: sumBy([TARGET_LABEL.instance, LABEL.reason], rate(sel(GPU_METRIC.collectorErrors, host), w)), legend: '{{instance}} {{reason}}' }],
        min: 0,
        width: 12,
        height: 6,
      }),
    );
  }

  const notLoopback = ne(NODE_EXPORTER.deviceLabel, NODE_EXPORTER.loopback);
  const network = (metric: string, legend: string): Query => ({
    expr: sumBy([TARGET_LABEL.instance], rate(sel(metric, host, notLoopback), w)),
    legend,
  });

  return {
    uid: DASHBOARD_UID.hosts,
    title: 'Hosts and GPUs',
    description: 'GPU memory, utilisation, temperature and power per GPU; CPU, memory and network per host.',
    tags: [DASHBOARD_TAG],
    variables: [
      datasourceVariable(),
      {
        kind: 'labelValues',
        name: HOST_VAR,
        label: 'Host',
        selector: sel(PROMETHEUS_SERIES.up, re(TARGET_LABEL.job, anyOf([JOB.node, JOB.gpu]))),
        labelName: TARGET_LABEL.instance,
        capture: HOST_OF_INSTANCE,
      },
    ],
    annotations: commonAnnotations(spec),
    rows: [
      { title: 'GPUs', panels: gpuPanels },
      {
        title: 'Hosts',
        panels: [
          panel('timeseries', {
            key: 'cpu',
            title: 'CPU usage',
            description: `Non-idle time over every core, per host (\`${NODE.cpuUsagePercent}\`, the article's name, 0 to 100).`,
            unit: 'percent',
            queries: [q(NODE.cpuUsagePercent, '{{instance}}')],
            threshold: alertThreshold(model, 'HighCpuUsage', 'above'),
            min: 0,
            max: 100,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'memory-utilisation',
            title: 'Memory utilisation',
            description: `Memory not available to new processes, per host (\`${NODE.memoryUtilisation}\`, from MemAvailable).`,
            unit: 'ratio',
            queries: [q(NODE.memoryUtilisation, '{{instance}}')],
            threshold: alertThreshold(model, 'HighHostMemoryUsage', 'above'),
            min: 0,
            max: 1,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'memory',
            title: 'Memory used and total',
            description: `Memory in use (\`${NODE.memoryUsageBytes}\`, the article's name) and installed, per host.`,
            unit: 'bytes',
            queries: [q(NODE.memoryUsageBytes, '{{instance}} used'), q(NODE.memTotal, '{{instance}} total')],
            min: 0,
            width: 12,
            height: 8,
          }),
          panel('timeseries', {
            key: 'network',
            title: 'Network',
            description: 'Bytes sent and received per second, per host, every device but loopback.',
            unit: 'bytesPerSecond',
            queries: [network(NODE.networkTransmit, '{{instance}} sent'), network(NODE_EXPORTER.networkReceive, '{{instance}} received')],
            min: 0,
            width: 12,
            height: 8,
          }),
        ],
      },
    ],
  };
}
