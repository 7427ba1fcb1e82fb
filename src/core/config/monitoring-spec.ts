import { existsSync } from 'node:fs';
import { z } from 'zod';
import { Duration, durationMs } from './duration.ts';
import { ENGINE_ALERTS, HOST_ALERTS, MODEL_ALERTS, RECEIVER, SEVERITIES, UPSTREAM_ALERTS } from '../conventions/alerts.ts';
import { BUCKETS, DEFAULT_PREFIX, GENAI_BUCKETS } from '../conventions/metrics.ts';
import { MaintenanceSchema } from './maintenance-spec.ts';
import { PlaybooksSchema } from './playbook-spec.ts';
import { ReceiverName, ReceiverSpecSchema } from './receiver-spec.ts';
import { hasUrlCredentials } from './secrets.ts';
import type { ReceiverSpec } from './receiver-spec.ts';
import { loadConfigFile, validateConfig } from './validate.ts';

/** A Prometheus duration with one unit, e.g. `30s`, `5m`, `3d`. */
const HostPort = z.string().regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'host:port, such as 127.0.0.1:8000');
const Severity = z.enum(SEVERITIES);
const ModelName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'a model name as configured in the gateway');

/** One alert's tuning: any field left out keeps the default. */
const AlertTuning = z.strictObject({
  enabled: z.boolean().optional(),
  threshold: z.number().finite().optional(),
  for: Duration.optional(),
  severity: Severity.optional(),
  /** For rate-based alerts: the traffic below which the alert stays silent, in requests per second. */
  minRequestRate: z.number().min(0).optional(),
  /**
   * For ratio and quantile alerts: the fewest events (requests, answers) the alert's window must
   * hold before it may fire, so one bad event among a handful pages nobody. See docs/monitoring.md,
   * "Low traffic".
   */
  minEvents: z.number().int().min(0).optional(),
  /**
   * Prometheus' `keep_firing_for` (2.42+): how long the alert stays firing after its expression
   * stops returning it, so a noisy signal does not resolve and re-fire; `0s` turns it off.
   */
  keepFiringFor: z.union([Duration, z.literal('0s')]).optional(),
  /**
   * For alerts over a window of their own (`SpareReplicas`' stabilization window): how far back
   * the condition must have held before `for` starts counting.
   */
  window: Duration.optional(),
});
export type AlertTuning = z.output<typeof AlertTuning>;

const modelAlertTunings = z.strictObject(
  Object.fromEntries(MODEL_ALERTS.map((a) => [a, AlertTuning.optional()])) as Record<(typeof MODEL_ALERTS)[number], z.ZodOptional<typeof AlertTuning>>,
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.join(', ')}: not a model alert; per-model tuning takes ${MODEL_ALERTS.join(', ')} (tune host alerts under the top-level 'alerts')`
        : undefined,
  },
);
const allAlertTunings = z.strictObject(
  Object.fromEntries([...MODEL_ALERTS, ...HOST_ALERTS, ...ENGINE_ALERTS, ...UPSTREAM_ALERTS].map((a) => [a, AlertTuning.optional()])) as Record<
    (typeof MODEL_ALERTS)[number] | (typeof HOST_ALERTS)[number] | (typeof ENGINE_ALERTS)[number] | (typeof UPSTREAM_ALERTS)[number],
    z.ZodOptional<typeof AlertTuning>
  >,
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.join(', ')}: no such alert; tunable alerts are ${[...MODEL_ALERTS, ...HOST_ALERTS, ...ENGINE_ALERTS, ...UPSTREAM_ALERTS].join(', ')}`
        : undefined,
  },
);

/** A Kubernetes label set: names as Kubernetes allows them (prefix/name), values up to 63 characters. */
const K8sLabels = z.record(
  z.string().regex(/^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, 'a Kubernetes label name, such as app.kubernetes.io/name'),
  z.string().regex(/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/, 'a Kubernetes label value'),
);

/**
 * Where each kind of model server serves Prometheus metrics: vLLM's OpenAI server, TGI's router and
 * BentoML (OpenLLM) all on `/metrics` of their API port. Ollama serves none: it cannot be scraped,
 * and the gateway in front of it measures its requests.
 */
export const MODEL_SERVER_METRICS_PATH = { vllm: '/metrics', tgi: '/metrics', openllm: '/metrics', generic: '/metrics', ollama: undefined } as const;

const ModelServer = z
  .strictObject({
    /** Used in the `server` label and the job. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and -'),
    kind: z.enum(['vllm', 'openllm', 'tgi', 'ollama', 'generic']).default('generic'),
    targets: z.array(HostPort).min(1),
    /** Default: the kind's ({@link MODEL_SERVER_METRICS_PATH}). */
    metricsPath: z.string().startsWith('/').optional(),
    /** How the generated Kubernetes Service finds the server's pods (in llmwatch's namespace). */
    kubernetes: z
      .strictObject({
        /** The pods' labels; default `app.kubernetes.io/name: <name>`. */
        podSelector: K8sLabels.optional(),
        /** The pods' metrics port; default the port of the first target. */
        port: z.number().int().min(1).max(65_535).optional(),
      })
      .prefault({}),
  })
  .superRefine((server, ctx) => {
    if (server.kind === 'ollama' && server.metricsPath === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kind'],
        message: "ollama serves no Prometheus metrics, so there is nothing to scrape: remove this server from targets.modelServers (the gateway in front of it measures its requests), or give the metricsPath of an exporter beside it",
      });
    }
  })
  .transform((server) => ({ ...server, metricsPath: server.metricsPath ?? MODEL_SERVER_METRICS_PATH[server.kind] ?? '/metrics' }));

/** Inline secrets people write in a remote_write target, and the file field that replaces each. */
const REMOTE_WRITE_INLINE_SECRETS: Readonly<Record<string, string>> = {
  password: 'basicAuth.passwordFile',
  credentials: 'credentialsFile',
  token: 'credentialsFile',
  bearerToken: 'credentialsFile',
  bearer_token: 'credentialsFile',
};

function refuseInlineSecrets(issue: { code?: string; keys?: readonly string[] }): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const secrets = (issue.keys ?? []).filter((k) => REMOTE_WRITE_INLINE_SECRETS[k] !== undefined);
  if (secrets.length === 0) return undefined;
  return secrets
    .map((k) => `${k}: a secret is never written inline in llmwatch.yaml (the generated prometheus.yml is meant to be committed); put it in a file Prometheus can read and name that file in ${REMOTE_WRITE_INLINE_SECRETS[k]}`)
    .join('; ');
}

/**
 * Headers a remote_write may not set: `promtool check config` (2.42) refuses each of them
 * (test/generate-remote-write.test.ts checks the list against it); Authorization is also a secret.
 */
export const REMOTE_WRITE_RESERVED_HEADERS: readonly string[] = [
  'authorization',
  'host',
  'content-encoding',
  'content-length',
  'content-type',
  'user-agent',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'www-authenticate',
  'accept-encoding',
  'x-prometheus-remote-write-version',
  'x-prometheus-remote-read-version',
];

/** A path, on the Prometheus host, to a file holding one secret; Prometheus reads it itself. */
const SecretFile = z.string().min(1, 'a path to the file that holds the secret');

/** A regex Prometheus (RE2) compiles: JavaScript must compile it too, and RE2 has no look-around or back-references. */
const MetricNameRegex = z
  .string()
  .min(1)
  .refine((r) => {
    try {
      new RegExp(r);
    } catch {
      return false;
    }
    return !/\(\?<?[=!]|\\[1-9]/.test(r);
  }, 'a regular expression (RE2: no look-around, no back-references) matching metric names, such as openllm_.*');


/** Receivers the generated Alertmanager config has of its own. */
const RESERVED_RECEIVERS = [RECEIVER.none, RECEIVER.responder] as const;

/**
 * The monitoring spec (`llmwatch.yaml`): what to scrape, the alerts with their
 * thresholds (the source article's by default), per-model overrides, the SLOs
 * and the alert routing. Everything `llmwatch generate` writes comes from it.
 */
export const MonitoringSpecSchema = z
  .strictObject({
    /** The `service` label of every alert. */
    service: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'lower-case letters, digits, - and _').default('openllm'),
    metricsPrefix: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*_$/, 'a Prometheus name prefix ending in _').default(DEFAULT_PREFIX),
    /**
     * Which family of the gateway's request histograms the recording rules read: `openllm` (llmwatch's
     * names) or `otel` (the OpenTelemetry GenAI names, the gateway's `metrics.naming: otel` or `both`).
     * The recorded names, alerts and dashboards are the same either way.
     */
    metricsNaming: z.enum(['openllm', 'otel']).default('openllm'),
    /** The gateway's inference duration buckets (must match the gateway config). */
    latencyBuckets: z
      .array(z.number().positive())
      .min(2)
      .refine((v) => v.every((b, i) => i === 0 || b > v[i - 1]!), 'bounds must be strictly ascending')
      .default([...BUCKETS.inferenceDuration]),
    /**
     * Base of each alert's runbook_url; the alert name and `.md` are appended. Default: the
     * runbooks' path in the folder `llmwatch generate --out` writes (`docs/runbooks`), so a link
     * names the user's own copy; set it to where that folder is published (the Git host's URL of
     * it, or `http://<console>/runbooks` where `llmwatch console` runs). `llmwatch up` sets it to its
     * console's `/runbooks`.
     */
    runbookBaseURL: z.string().min(1).default('docs/runbooks'),
    /**
     * The window of the rate-based recording rules. 5m (four 15 s scrapes at least) in production;
     * the local stack shortens it so alerts resolve while you watch. Promtool tests are generated
     * for the 5m window only.
     */
    rateWindow: Duration.default('5m'),
    prometheus: z
      .strictObject({
        scrapeInterval: Duration.default('15s'),
        evaluationInterval: Duration.default('15s'),
        externalLabels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string()).default({}),
        /**
         * Long-term stores every sample is also sent to (`remote_write`): Thanos Receive, Mimir, Cortex,
         * VictoriaMetrics, or a Prometheus with its remote-write receiver. Secrets come from files
         * Prometheus reads, never inline. See docs/deploy.md, "Long-term storage".
         */
        remoteWrite: z
          .array(
            z
              .strictObject(
                {
                  /** Unique among the targets: the `remote_name` label of Prometheus' own remote-storage metrics. */
                  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'letters, digits, - and _'),
                  /** The store's write endpoint, e.g. `https://mimir.example/api/v1/push` or `http://thanos-receive:19291/api/v1/receive`. */
                  url: z
                    .url()
                    // zod runs refinements after a failed format check too: a URL that does not parse is left to z.url()'s message.
                    .refine((u) => !URL.canParse(u) || /^https?:$/.test(new URL(u).protocol), 'an http:// or https:// URL')
                    .refine((u) => !hasUrlCredentials(u), 'holds credentials (a user name or password before the host); a secret is never written inline: use basicAuth.passwordFile or credentialsFile'),
                  /** HTTP basic auth: the user name, and the password from a file (`basic_auth.password_file`). */
                  basicAuth: z.strictObject({ username: z.string().min(1), passwordFile: SecretFile }, { error: refuseInlineSecrets }).optional(),
                  /** A token sent in the Authorization header, from a file (`authorization.credentials_file`). */
                  credentialsFile: SecretFile.optional(),
                  /** The Authorization scheme of that token. */
                  credentialsType: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/).default('Bearer'),
                  /**
                   * Extra HTTP headers on every send, such as Mimir's tenant `X-Scope-OrgID`. Written into
                   * prometheus.yml as is, so never a secret: `Authorization` is refused (use `credentialsFile`), and
                   * so are the headers Prometheus sets itself.
                   */
                  headers: z
                    .record(z.string(), z.string())
                    // Checked here, not in the key schema: zod reports a bad record key only as "Invalid key in record".
                    .superRefine((headers, ctx) => {
                      for (const name of Object.keys(headers)) {
                        const message = !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)
                          ? 'not an HTTP header name'
                          : name.toLowerCase() === 'authorization'
                            ? 'Authorization is a secret and the headers are written inline: put the token in a file and name it in credentialsFile'
                            : REMOTE_WRITE_RESERVED_HEADERS.includes(name.toLowerCase())
                              ? `Prometheus sets this header itself (reserved: ${REMOTE_WRITE_RESERVED_HEADERS.join(', ')})`
                              : undefined;
                        if (message !== undefined) ctx.addIssue({ code: 'custom', path: [name], message });
                      }
                    })
                    .default({}),
                  /** The sending queue (`queue_config`); a field left out keeps Prometheus' default. */
                  queue: z
                    .strictObject({
                      /** Samples buffered per shard. */
                      capacity: z.number().int().positive().optional(),
                      maxShards: z.number().int().positive().optional(),
                      maxSamplesPerSend: z.number().int().positive().optional(),
                      /** How long a sample waits in a shard's buffer before a partial batch is sent. */
                      batchSendDeadline: Duration.optional(),
                    })
                    .optional(),
                  /** Send only the series whose metric name matches one of these (a `keep` write relabelling); empty or left out: every series. */
                  keepMetrics: z.array(MetricNameRegex).default([]),
                },
                { error: refuseInlineSecrets },
              )
              .superRefine((rw, ctx) => {
                if (rw.basicAuth !== undefined && rw.credentialsFile !== undefined) {
                  ctx.addIssue({ code: 'custom', path: ['credentialsFile'], message: 'give either basicAuth or credentialsFile, not both (Prometheus sends one Authorization header)' });
                }
              }),
          )
          .default([]),
      })
      .superRefine((p, ctx) => {
        const seen = new Map<string, number>();
        p.remoteWrite.forEach((rw, i) => {
          const first = seen.get(rw.name);
          if (first !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['remoteWrite', i, 'name'], message: `'${rw.name}' is already the name of remoteWrite[${first}]; each target needs its own name` });
          } else seen.set(rw.name, i);
        });
      })
      .prefault({}),
    targets: z
      .strictObject({
        gateways: z.array(HostPort).min(1).default(['127.0.0.1:8000']),
        nodeExporter: z.array(HostPort).default(['127.0.0.1:9100']),
        /** Empty: no GPU exporter deployed, so no rule complains that it is absent. */
        gpuExporter: z
          .strictObject({
            source: z.enum(['llmwatch', 'dcgm']).default('llmwatch'),
            targets: z.array(HostPort).default([]),
            /**
             * How the generated ServiceMonitor finds it on Kubernetes. `llmwatch`: the exporter's pods in
             * llmwatch's namespace (`podSelector`, default `app.kubernetes.io/name: llmwatch-gpu-exporter`).
             * `dcgm`: the NVIDIA GPU operator's `nvidia-dcgm-exporter` Service in `namespace` (default `gpu-operator`).
             */
            kubernetes: z
              .strictObject({
                podSelector: K8sLabels.optional(),
                namespace: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name').optional(),
              })
              .prefault({}),
          })
          .prefault({}),
        responder: z.array(HostPort).default(['127.0.0.1:9095']),
        alertmanagers: z.array(HostPort).min(1).default(['127.0.0.1:9093']),
        /** Prometheus' own address, for its self-scrape job (the meta alerts read it); empty: not scraped. */
        prometheus: z.array(HostPort).default(['127.0.0.1:9090']),
        /**
         * The model servers' own metrics (vLLM, BentoML/OpenLLM, TGI), scraped beside the gateway's. A server
         * of `kind: vllm` is an engine target: its `vllm:*` metrics get recording rules, the engine alerts
         * (KV cache, preemptions, queue), an engine dashboard and runbooks (docs/engines.md).
         */
        modelServers: z.array(ModelServer).default([]),
      })
      .prefault({}),
    /** Tuning of each alert for every model and host. */
    alerts: allAlertTunings.prefault({}),
    /** Per-model tuning of the model alerts, over `alerts`. */
    models: z.record(ModelName, z.strictObject({ alerts: modelAlertTunings.prefault({}) })).default({}),
    slo: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Share of requests that must succeed. */
        availability: z.number().gt(0).lt(1).default(0.999),
        /** Share of judged answers that must be within `latencyThreshold` seconds. */
        latency: z.number().gt(0).lt(1).default(0.99),
        /**
         * What the latency objective judges. `ttft` (default): time to first token of streamed chat and
         * completions, what a user waits for and what does not grow with answer length. `e2e`: the
         * article's arrival-to-last-byte of every successful request, which does grow with answer length
         * (docs/tuning.md); for non-streaming clients with a fixed timeout.
         */
        latencyIndicator: z.enum(['ttft', 'e2e']).default('ttft'),
        /**
         * Seconds. Default 2.5 for `ttft` (the HighTimeToFirstToken line), 2 for `e2e`. Must be a bound of the
         * indicator's histogram, so the ratio is exact: one of the gateway's TTFT buckets for `ttft`, one of
         * `latencyBuckets` for `e2e`.
         */
        latencyThreshold: z.number().positive().optional(),
        /**
         * The fewest judged requests the long window of a burn-rate pair must hold. `auto`: per pair,
         * the fewest at which one bad request stays within the pair's burn threshold (docs/monitoring.md, "Low traffic").
         */
        minEvents: z.union([z.literal('auto'), z.number().int().min(0)]).default('auto'),
      })
      .prefault({}),
    /**
     * Behaviour drift (docs/drift.md): each behaviour signal of a model (output length, truncations,
     * refusals, empty answers, tool calls) over `window`, compared with two baselines of its own: the
     * same window `baselineOffset` earlier (seasonal: a weekly cycle by default) and the `rollingWindow`
     * before the current window. The bands are the drift alerts' thresholds (`alerts.RefusalDrift.threshold`,
     * per model under `models`), the minimum traffic their `minEvents` (answers in a window).
     */
    drift: z
      .strictObject({
        /** The window each signal is measured over, now and in the seasonal baseline. */
        window: Duration.default('1h'),
        /** How far back the seasonal baseline is (PromQL `offset`): `1w` compares with the same hour of the same weekday. */
        baselineOffset: Duration.default('1w'),
        /** The rolling baseline: this long, ending where the current window starts. */
        rollingWindow: Duration.default('1d'),
        /** For the truncation band (a factor): a baseline ratio under this counts as this, so a model that never truncated does not alert on its first truncation. */
        ratioFloor: z.number().gt(0).lt(1).default(0.01),
      })
      .prefault({}),
    /** What the responder does about each alert: see docs/responder.md. */
    playbooks: PlaybooksSchema.default({}),
    alertmanager: z
      .strictObject({
        groupWait: Duration.default('30s'),
        groupInterval: Duration.default('5m'),
        /** The article: the same alert on the same target at most once in 5 minutes. */
        repeatInterval: Duration.default('5m'),
        /**
         * How alerts are grouped into notifications. `alert` (default): one notification group per
         * alert, model and instance. `model`: one per model and instance, so the alerts one fault
         * raises on a model (errors, latency, throughput) arrive as one page, not several.
         */
        groupBy: z.enum(['alert', 'model']).default('alert'),
        /**
         * Maintenance windows by name: while one is open, every route but the Watchdog's is muted
         * (people and the responder alike); alerts still fire and show in Prometheus. Written as
         * Alertmanager `time_intervals` and `mute_time_intervals`; see docs/noise.md.
         */
        maintenance: MaintenanceSchema.default({}),
        /** Receivers by name (webhook, Slack, PagerDuty, email; secrets from files): see docs/monitoring.md#receivers. */
        receivers: z.record(ReceiverName, ReceiverSpecSchema).default({}),
        /** The receivers each severity reaches, besides the llmwatch responder (critical and warning). */
        routes: z
          .strictObject({
            critical: z.array(ReceiverName).default([]),
            warning: z.array(ReceiverName).default([]),
            /** Empty: info alerts are recorded only. */
            info: z.array(ReceiverName).default([]),
          })
          .prefault({}),
        /**
         * The always-firing Watchdog's receiver: a dead man's switch (Healthchecks.io, Cronitor, a
         * PagerDuty or Opsgenie heartbeat) that pages when the Watchdog stops arriving. It is sent
         * every `repeatInterval`; set the switch's period a little longer. Without `receiver`, a
         * receiver named `watchdog` is used when declared, else an empty one.
         */
        watchdog: z.strictObject({ receiver: ReceiverName.optional(), repeatInterval: Duration.default('5m') }).prefault({}),
        /** Retired (inline URLs, fixed names): refused with the way to declare them now. */
        pager: z.unknown().optional(),
        chat: z.unknown().optional(),
        /** The llmwatch responder's webhook, sent critical and warning alerts, resolved ones too. */
        responderURL: z.url().default('http://127.0.0.1:9095/alerts'),
        /** A file holding the bearer token Alertmanager sends to the responder. */
        responderTokenFile: z.string().min(1).optional(),
      })
      .prefault({}),
  })
  .superRefine((spec, ctx) => {
    const am = spec.alertmanager;
    for (const retired of ['pager', 'chat'] as const) {
      if (am[retired] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['alertmanager', retired],
          message: `replaced by alertmanager.receivers and alertmanager.routes: declare e.g. receivers: { ${retired}: { slack: [{ apiURLFile: /etc/alertmanager/secrets/slack-url }] } } and routes: { ${retired === 'pager' ? 'critical' : 'warning'}: [${retired}] } (secrets from files only; docs/monitoring.md#receivers)`,
        });
      }
    }
    for (const name of Object.keys(am.receivers)) {
      if ((RESERVED_RECEIVERS as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['alertmanager', 'receivers', name], message: `'${name}' is a receiver llmwatch generates itself (${RESERVED_RECEIVERS.join(', ')}); choose another name` });
      }
    }
    for (const severity of SEVERITIES) {
      am.routes[severity].forEach((name, i) => {
        if (am.receivers[name] === undefined) {
          ctx.addIssue({ code: 'custom', path: ['alertmanager', 'routes', severity, i], message: `no receiver '${name}' under alertmanager.receivers (declared: ${Object.keys(am.receivers).join(', ') || 'none'})` });
        }
      });
    }
    if (am.watchdog.receiver !== undefined && am.receivers[am.watchdog.receiver] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['alertmanager', 'watchdog', 'receiver'], message: `no receiver '${am.watchdog.receiver}' under alertmanager.receivers` });
    }

    const drift = spec.drift;
    if (durationMs(drift.baselineOffset) < durationMs(drift.window)) {
      ctx.addIssue({ code: 'custom', path: ['drift', 'baselineOffset'], message: `must be at least drift.window (${drift.window}): the seasonal baseline is a window that ended before the current one started` });
    }
    if (durationMs(drift.rollingWindow) <= durationMs(drift.window)) {
      ctx.addIssue({ code: 'custom', path: ['drift', 'rollingWindow'], message: `must be longer than drift.window (${drift.window}): it is the longer baseline` });
    }
    if (durationMs(drift.window) < 4 * durationMs(spec.prometheus.scrapeInterval)) {
      ctx.addIssue({ code: 'custom', path: ['drift', 'window'], message: `must hold at least four scrapes (prometheus.scrapeInterval ${spec.prometheus.scrapeInterval})` });
    }
    const threshold = sloLatencyThreshold(spec.slo);
    if (spec.slo.enabled && spec.metricsNaming === 'otel') {
      // The OpenTelemetry families have the conventions' buckets, whatever latencyBuckets says.
      const bounds: readonly number[] = spec.slo.latencyIndicator === 'ttft' ? GENAI_BUCKETS.timeToFirstToken : GENAI_BUCKETS.operationDuration;
      if (!bounds.includes(threshold)) {
        ctx.addIssue({
          code: 'custom',
          path: ['slo', 'latencyThreshold'],
          message: `must be one of the OpenTelemetry ${spec.slo.latencyIndicator === 'ttft' ? 'time-to-first-token' : 'operation duration'} buckets (${bounds.join(', ')}) so the slow-answer ratio is exact (metricsNaming: otel)`,
        });
      }
    } else if (spec.slo.enabled && spec.slo.latencyIndicator === 'e2e' && !spec.latencyBuckets.includes(threshold)) {
      ctx.addIssue({
        code: 'custom',
        path: ['slo', 'latencyThreshold'],
        message: `must be one of latencyBuckets (${spec.latencyBuckets.join(', ')}) so the slow-request ratio is exact; add it to both the gateway's durationBuckets and latencyBuckets`,
      });
    } else if (spec.slo.enabled && spec.slo.latencyIndicator === 'ttft' && !(BUCKETS.timeToFirstToken as readonly number[]).includes(threshold)) {
      ctx.addIssue({
        code: 'custom',
        path: ['slo', 'latencyThreshold'],
        message: `must be one of the gateway's time-to-first-token buckets (${BUCKETS.timeToFirstToken.join(', ')}) so the slow-answer ratio is exact`,
      });
    }
  });

export type MonitoringSpec = z.output<typeof MonitoringSpecSchema>;

/** The latency objective's line in seconds: as set, else 2.5 for time to first token and 2 for end to end. */
export function sloLatencyThreshold(slo: { readonly latencyIndicator: 'ttft' | 'e2e'; readonly latencyThreshold?: number | undefined }): number {
  return slo.latencyThreshold ?? (slo.latencyIndicator === 'ttft' ? 2.5 : 2);
}
export type ModelServerSpec = z.output<typeof ModelServer>;
export type RemoteWriteSpec = MonitoringSpec['prometheus']['remoteWrite'][number];
export type { ReceiverSpec };

export function monitoringSpec(data: unknown): Readonly<MonitoringSpec> {
  return validateConfig(MonitoringSpecSchema, data, 'monitoring spec');
}

/** The spec every command reads when none is named, in the working folder. */
export const DEFAULT_SPEC_FILE = 'llmwatch.yaml';

/** The spec to read: the one named, else `llmwatch.yaml` when there is one, else none (the defaults). */
export function findSpec(given: string | undefined): string | undefined {
  return given ?? (existsSync(DEFAULT_SPEC_FILE) ? DEFAULT_SPEC_FILE : undefined);
}

export function loadMonitoringSpec(path: string): Readonly<MonitoringSpec> {
  return loadConfigFile(MonitoringSpecSchema, path);
}

/** The spec at `path`, or the defaults (the article's thresholds) when there is none. */
export function loadSpecOrDefaults(path: string | undefined): Readonly<MonitoringSpec> {
  return path === undefined ? validateConfig(MonitoringSpecSchema, {}, 'default monitoring spec') : loadMonitoringSpec(path);
}
