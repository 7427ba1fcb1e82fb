import { TARGET_LABEL } from '../../core/conventions/alerts.ts';
import { JOB, modelServerJob } from '../../core/conventions/deploy.ts';
import { GEN_ERR_DUPLICATE_JOB } from '../errors.ts';
import type { RemoteWriteSpec } from '../../core/config/monitoring-spec.ts';
import type { GeneratedFile, MonitoringModel } from '../model.ts';
import { dumpYaml, sortedRecord } from '../yaml.ts';

/** Where the Prometheus config goes, relative to the output folder. */
export const PROMETHEUS_CONFIG_PATH = 'prometheus/prometheus.yml';

/** The rule files, relative to the config file: Prometheus resolves `rule_files` against the config's folder. */
export const RULE_FILES_GLOB = 'rules/*.yml';

const DEFAULT_METRICS_PATH = '/metrics';

/** One `scrape_configs` entry. */
interface ScrapeJob {
  readonly job_name: string;
  readonly metrics_path: string;
  readonly static_configs?: ReadonlyArray<{ readonly targets: readonly string[]; readonly labels?: Record<string, string> }>;
  readonly dns_sd_configs?: ReadonlyArray<{ readonly names: readonly string[]; readonly type: 'A'; readonly port: number }>;
  readonly relabel_configs?: ReadonlyArray<Record<string, unknown>>;
}

/**
 * Adds the `host` label, the target's address without its port, so a node
 * exporter (:9100) and the GPU exporter (:9835 or dcgm's :9400) on one machine
 * share it: the inhibition "a node down silences its GPU alerts" matches on it.
 * https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#relabel_config
 */
const HOST_RELABEL = {
  source_labels: ['__address__'],
  // An IPv6 target is written [addr]:port; the brackets stay part of the host.
  regex: '(.+):\\d+',
  target_label: TARGET_LABEL.host,
  replacement: '$1',
} as const;

/**
 * Renders `prometheus/prometheus.yml`: intervals and external labels, the rule
 * files, the Alertmanagers, and one scrape job per kind of target. Only fields
 * current in Prometheus 2.42 (the source article's deprecated ones are flags,
 * which belong to the compose writer).
 */
export interface PrometheusConfigOptions {
  /**
   * Find the gateways by a DNS name with one A record per replica (docker
   * compose's service name), so that every replica is scraped however many
   * run, instead of the spec's static `targets.gateways`.
   */
  readonly gatewayDns?: { readonly service: string; readonly port: number };
}

export function renderPrometheusConfig(model: MonitoringModel, opts: PrometheusConfigOptions = {}): GeneratedFile[] {
  const { prometheus, targets } = model.spec;
  const externalLabels = sortedRecord(prometheus.externalLabels);
  const config = {
    global: {
      scrape_interval: prometheus.scrapeInterval,
      evaluation_interval: prometheus.evaluationInterval,
      ...(Object.keys(externalLabels).length > 0 ? { external_labels: externalLabels } : {}),
    },
    rule_files: [RULE_FILES_GLOB],
    alerting: {
      alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: [...targets.alertmanagers] }] }],
    },
    scrape_configs: scrapeJobs(model, opts),
    ...(prometheus.remoteWrite.length > 0 ? { remote_write: prometheus.remoteWrite.map(remoteWrite) } : {}),
  };
  return [{ path: PROMETHEUS_CONFIG_PATH, content: dumpYaml(config) }];
}

/**
 * The scrape jobs, in a fixed order. A job with no targets is left out: an
 * empty job scrapes nothing, and the rules about it are guarded by `absent()`.
 */
function scrapeJobs(model: MonitoringModel, opts: PrometheusConfigOptions): ScrapeJob[] {
  const { targets } = model.spec;
  const dns = opts.gatewayDns;
  const jobs: ScrapeJob[] = [
    // https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#dns_sd_config
    dns === undefined
      ? job(JOB.gateway, targets.gateways)
      : { job_name: JOB.gateway, metrics_path: DEFAULT_METRICS_PATH, dns_sd_configs: [{ names: [dns.service], type: 'A', port: dns.port }] },
    { ...job(JOB.node, targets.nodeExporter), relabel_configs: [HOST_RELABEL] },
    // Either source (llmwatch's exporter or NVIDIA dcgm-exporter) is one job; the recording rules map dcgm's names.
    { ...job(JOB.gpu, targets.gpuExporter.targets), relabel_configs: [HOST_RELABEL] },
    job(JOB.responder, targets.responder),
    // Prometheus and the Alertmanagers scraping themselves: the meta alerts (rule failures,
    // dropped notifications, failed reloads, failing integrations) read these series.
    job(JOB.prometheus, targets.prometheus),
    job(JOB.alertmanager, targets.alertmanagers),
  ];
  const seen = new Map<string, string>(jobs.map((j) => [j.job_name, `the built-in job ${j.job_name}`]));
  targets.modelServers.forEach((server, i) => {
    const name = modelServerJob(server.name);
    const field = `targets.modelServers[${i}].name`;
    const other = seen.get(name);
    if (other !== undefined) {
      throw GEN_ERR_DUPLICATE_JOB(`${field} '${server.name}' gives the scrape job '${name}', already used by ${other}; give each model server a unique name`, {
        param: field,
      });
    }
    seen.set(name, field);
    jobs.push(job(name, server.targets, server.metricsPath, { [TARGET_LABEL.server]: server.name }));
  });
  return jobs.filter((j) => j.dns_sd_configs !== undefined || j.static_configs!.some((c) => c.targets.length > 0));
}

function job(name: string, targets: readonly string[], metricsPath = DEFAULT_METRICS_PATH, labels?: Record<string, string>): ScrapeJob {
  return {
    job_name: name,
    metrics_path: metricsPath,
    static_configs: [{ targets: [...targets], ...(labels === undefined ? {} : { labels: sortedRecord(labels) }) }],
  };
}

/**
 * One `remote_write` entry (Prometheus 2.42:
 * https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#remote_write).
 * Secrets are file paths only (`password_file`, `credentials_file`), so the file can be committed.
 */
function remoteWrite(rw: RemoteWriteSpec): Record<string, unknown> {
  const q = rw.queue;
  const queue = q === undefined ? {} : {
    ...(q.capacity === undefined ? {} : { capacity: q.capacity }),
    ...(q.maxShards === undefined ? {} : { max_shards: q.maxShards }),
    ...(q.maxSamplesPerSend === undefined ? {} : { max_samples_per_send: q.maxSamplesPerSend }),
    ...(q.batchSendDeadline === undefined ? {} : { batch_send_deadline: q.batchSendDeadline }),
  };
  return {
    name: rw.name,
    url: rw.url,
    ...(rw.basicAuth === undefined ? {} : { basic_auth: { username: rw.basicAuth.username, password_file: rw.basicAuth.passwordFile } }),
    ...(rw.credentialsFile === undefined ? {} : { authorization: { type: rw.credentialsType, credentials_file: rw.credentialsFile } }),
    ...(Object.keys(rw.headers).length > 0 ? { headers: sortedRecord(rw.headers) } : {}),
    ...(Object.keys(queue).length > 0 ? { queue_config: queue } : {}),
    // Prometheus anchors the regex at both ends; each pattern is grouped so `|` cannot leak across them.
    ...(rw.keepMetrics.length > 0
      ? { write_relabel_configs: [{ source_labels: ['__name__'], regex: rw.keepMetrics.map((r) => `(?:${r})`).join('|'), action: 'keep' }] }
      : {}),
  };
}
