import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GatewayConfigSchema } from '../core/config/gateway-config.ts';
import { MonitoringSpecSchema, findSpec } from '../core/config/monitoring-spec.ts';
import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { ResponderConfigSchema } from '../core/config/responder-config.ts';
import { simulatorConfig } from '../core/config/simulator-config.ts';
import { readYamlFile, validateConfig } from '../core/config/validate.ts';
import { startConsole } from '../console/server.ts';
import { startGateway } from '../gateway/server.ts';
import type { GatewayHandle } from '../gateway/server.ts';
import { runbookSource } from '../monitoring/writers/runbooks.ts';
import { buildModel } from '../monitoring/build.ts';
import { CATALOG } from '../monitoring/catalog.ts';
import { buildDashboards } from '../monitoring/dashboards/build.ts';
import { generate, writeGenerated } from '../monitoring/generate.ts';
import { startResponder } from '../responder/server.ts';
import type { ResponderHandle } from '../responder/server.ts';
import { startSimulator } from '../simulator/server.ts';
import type { SimulatorHandle } from '../simulator/server.ts';
import { missingV1Hint, probeModels } from '../core/openai/list-models.ts';
import { COMPONENTS, ensureComponents } from './binaries.ts';
import { DRILLS_FILE } from './stack-info.ts';
import type { StackInfo } from './stack-info.ts';
import { STACK_ERR_UPSTREAM } from './errors.ts';
import { startLogged, waitHealthy } from './children.ts';
import type { StackChild } from './children.ts';
import { assertPortFree, freePort } from './ports.ts';
import { hasCode } from '../core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE } from '../core/http/listen.ts';
import { stackAuditPath } from '../core/state.ts';
import { ALERTMANAGER_CONFIG_PATH } from '../monitoring/writers/alertmanager.ts';
import { stackNoiseSource } from './noise-report.ts';
import { LOCAL_KV_CACHE_TOKENS, findNvidiaSmi, simulatedGpuPlaybook, simulatedPlacement, startGpuExporters } from './gpu.ts';
import { durationMs } from '../core/config/duration.ts';
import { LOCAL_SCALE, localPlaybooks, localTimings, spareWindow } from './timings.ts';
import { LocalReplicas } from './replicas.ts';
import { createDriverScaleAction } from '../responder/actions/scale-driver.ts';
import type { Timings } from './timings.ts';

export interface StackOptions {
  readonly dir: string;
  /** `default`: the well-known ports (8000, 3000, 9090, ...); `free`: any free ones (tests). */
  readonly ports: 'default' | 'free';
  readonly timings?: Timings;
  /** A real OpenAI-compatible server instead of the simulator. */
  readonly upstream?: { readonly baseURL: string; readonly models: readonly string[] };
  /** The monitoring spec to start from (`llmwatch.yaml`); targets and timings are replaced for the local stack. */
  readonly specFile?: string;
  readonly log: (line: string) => void;
  /** With `ports: 'free'`, how each free port is picked (default: `freePort`); tests pass one that hands out a taken port. */
  readonly pickPort?: () => Promise<number>;
}

export interface StackHandle {
  readonly info: StackInfo;
  /** Stops every part, children first, then the responder (after its queued actions), gateway and simulator. */
  stop(): Promise<void>;
}

const DEFAULT_PORTS = { simulator: 3000, gateway: 8000, responder: 9095, prometheus: 9090, alertmanager: 9093, nodeExporter: 9100, console: 3100, gpuExporter: 9835, simulatedGpuExporter: 9836 } as const;
/** What each default port is for, for the message when one is taken. */
const PORT_OWNERS = {
  simulator: 'the simulator',
  gateway: 'the gateway',
  responder: 'the responder',
  prometheus: 'Prometheus',
  alertmanager: 'Alertmanager',
  nodeExporter: 'node-exporter',
  console: 'the console',
  gpuExporter: 'the GPU exporter (nvidia-smi)',
  simulatedGpuExporter: "the GPU exporter of the simulator's simulated GPUs",
} as const satisfies Record<keyof typeof DEFAULT_PORTS, string>;
const DRILL_MODEL = 'llama-3.1-8b-instruct';
const FALLBACK_MODEL = 'llama-3.2-1b-instruct';

/**
 * `llmwatch up`: generates the configs from the spec into `dir`, then starts
 * the simulator (unless a real upstream is given), the gateway and the
 * responder in this process, and the real Prometheus, Alertmanager and
 * node-exporter binaries as children logging under `dir/logs`. Each part is
 * checked ready before the next starts; any failure stops what was started.
 */
export async function startStack(opts: StackOptions): Promise<StackHandle> {
  if (opts.ports !== 'free') return startStackOnce(opts);
  // A free port is closed again before its part binds it, so another process can
  // take it in between (rare: freePort draws from outside the kernel's ephemeral
  // range). Each part that fails to bind stops everything started; the stack then
  // starts again on other free ports, a bounded number of times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(opts);
    } catch (err) {
      if (attempt >= FREE_PORT_ATTEMPTS || !hasCode(err, LISTEN_ERR_PORT_IN_USE)) throw err;
      opts.log(`retry  ports         ${err instanceof Error ? err.message : String(err)}; starting again on other free ports (${attempt + 1} of ${FREE_PORT_ATTEMPTS})`);
    }
  }
}

const FREE_PORT_ATTEMPTS = 3;

async function startStackOnce(opts: StackOptions): Promise<StackHandle> {
  const dir = resolve(opts.dir);
  const timings = opts.timings ?? localTimings();
  const log = opts.log;
  // Everything that can be wrong with the user's input is found before anything starts:
  // the upstream, the spec, the binaries, the ports.
  const upstream = opts.upstream === undefined ? undefined : await checkUpstream(opts.upstream, log);
  const port = async (name: keyof typeof DEFAULT_PORTS) => (opts.ports === 'free' ? (opts.pickPort ?? freePort)() : DEFAULT_PORTS[name]);
  const url = (p: number) => `http://127.0.0.1:${p}`;
  const hostPort = (p: number) => `127.0.0.1:${p}`;
  const ports = {
    simulator: await port('simulator'),
    gateway: await port('gateway'),
    responder: await port('responder'),
    prometheus: await port('prometheus'),
    alertmanager: await port('alertmanager'),
    nodeExporter: await port('nodeExporter'),
    console: await port('console'),
    gpuExporter: await port('gpuExporter'),
    simulatedGpuExporter: await port('simulatedGpuExporter'),
  };
  // The host's GPUs where nvidia-smi runs; the simulator's simulated GPUs wherever the simulator does.
  const nvidiaSmi = findNvidiaSmi();
  // A KV cache the size of the simulated GPU's (src/stack/gpu.ts), so the gpu drill can fill it.
  const simConfig = simulatorConfig({ engine: { kvCacheTokens: LOCAL_KV_CACHE_TOKENS } });
  const placement = upstream === undefined ? simulatedPlacement(simConfig) : [];
  const gpuTargets = [...(nvidiaSmi === undefined ? [] : [hostPort(ports.gpuExporter)]), ...(upstream === undefined ? [hostPort(ports.simulatedGpuExporter)] : [])];
  const spec = localSpec(opts.specFile, timings, {
    gateways: [hostPort(ports.gateway)],
    nodeExporter: [hostPort(ports.nodeExporter)],
    responder: [hostPort(ports.responder)],
    alertmanagers: [hostPort(ports.alertmanager)],
    prometheus: [hostPort(ports.prometheus)],
    responderURL: `${url(ports.responder)}/alerts`,
    responderTokenFile: join(dir, 'secrets/responder-token'),
    // Alerts link to the runbooks the stack's console serves, generated from this very spec.
    runbookBaseURL: `${url(ports.console)}/runbooks`,
    gpuExporter: gpuTargets,
    playbooks: simulatedGpuPlaybook(DRILL_MODEL, placement),
  });
  const bins = ensureComponents([COMPONENTS.prometheus, COMPONENTS.alertmanager, COMPONENTS.nodeExporter], log);
  if (opts.ports === 'default') {
    for (const [name, p] of Object.entries(ports)) {
      const unused = (name === 'simulator' || name === 'simulatedGpuExporter') && upstream !== undefined ? true : name === 'gpuExporter' && nvidiaSmi === undefined;
      if (!unused) await assertPortFree(p, PORT_OWNERS[name as keyof typeof PORT_OWNERS]);
    }
  }
  for (const sub of ['logs', 'data', 'secrets']) mkdirSync(join(dir, sub), { recursive: true });
  const adminToken = secret(join(dir, 'secrets/gateway-admin-token'));
  const responderToken = secret(join(dir, 'secrets/responder-token'));

  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`while stopping: ${String(err)}`));
  };
  try {
    let sim: SimulatorHandle | undefined;
    let upstreamURL: string;
    let models: Record<string, unknown>;
    if (upstream === undefined) {
      sim = await startSimulator(simConfig, { port: ports.simulator });
      stops.push(() => sim!.close());
      upstreamURL = `${sim.url}/v1`;
      log(`ready  simulator     ${sim.url}/v1`);
      models = {
        [DRILL_MODEL]: { targets: [{ upstream: 'local' }, { upstream: 'local', model: FALLBACK_MODEL }] },
        [FALLBACK_MODEL]: { upstream: 'local' },
      };
    } else {
      upstreamURL = upstream.baseURL;
      models = Object.fromEntries(upstream.models.map((m) => [m, { upstream: 'local' }]));
    }
    const gpus = await startGpuExporters({
      nvidiaSmi,
      simulator: sim === undefined ? undefined : { url: sim.url, placement, memoryHoldSeconds: simConfig.gpu.memoryHoldMs / 1000 },
      ports: { host: ports.gpuExporter, simulated: ports.simulatedGpuExporter },
      intervalSeconds: durationMs(timings.scrapeInterval) / 1000,
      log,
      stops,
    });

    writeGenerated(join(dir, 'config'), generate(spec));
    log(`wrote  configs       ${join(dir, 'config')} (rules, tests, alertmanager.yml, runbooks)`);

    const gw: GatewayHandle = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: ports.gateway,
        admin: { token: adminToken },
        // The simulator's abuse words, so its toxic outputs score as toxic.
        safety: { scorer: 'lexical', extraTerms: sim === undefined ? [] : [...sim.toxicTerms] },
        // A small slot count so a queue can build up on a laptop (the queue drill).
        upstreams: { local: { baseURL: upstreamURL, maxConcurrency: 8, headersTimeoutMs: 30_000 } },
        models,
      }),
      { log: (entry) => log(`route  ${entry.model}: ${entry.from} -> ${entry.to} (by ${entry.by})`) },
    );
    stops.push(() => gw.close());
    log(`ready  gateway       ${gw.url}/v1   metrics ${gw.url}/metrics`);
    // The `scale` action's driver: more simulator replicas behind the gateway's upstream (docs/responder.md).
    const replicas =
      sim === undefined
        ? undefined
        : new LocalReplicas({ ...LOCAL_SCALE, upstream: 'local', gatewayURL: gw.url, adminToken, primary: sim, simulator: simConfig, log });
    if (replicas !== undefined) stops.push(() => replicas.stop());

    const responder: ResponderHandle = await startResponder(
      validateConfig(ResponderConfigSchema, {
        port: ports.responder,
        auth: { tokenFile: join(dir, 'secrets/responder-token') },
        // The stack's one admin token steers the gateway's routes and the responder's kill switch.
        adminAuth: { token: adminToken },
        auditPath: stackAuditPath(dir),
        // A playground: drills act again and again; the cap still trips a runaway loop.
        limits: { maxActionsPerHour: 200 },
        prometheusURL: url(ports.prometheus),
        gateway: { url: gw.url, adminToken },
        playbooks: spec.playbooks,
      }),
      replicas === undefined ? {} : { actions: [createDriverScaleAction(replicas)] },
    );
    stops.push(() => responder.close());
    log(`ready  responder     ${responder.url}/alerts   audit ${responder.url}/actions`);

    const children: StackChild[] = [];
    stops.push(async () => {
      await Promise.all(children.map((c) => c.stop()));
    });
    const ne = startLogged('node-exporter', bins[COMPONENTS.nodeExporter.name]!, [`--web.listen-address=${hostPort(ports.nodeExporter)}`], join(dir, 'logs/node-exporter.log'));
    children.push(ne);
    await waitHealthy('node-exporter', `${url(ports.nodeExporter)}/metrics`, ne, { port: ports.nodeExporter });
    log(`ready  node-exporter ${url(ports.nodeExporter)}/metrics`);
    const am = startLogged(
      'alertmanager',
      bins[COMPONENTS.alertmanager.name]!,
      [
        `--config.file=${join(dir, 'config', ALERTMANAGER_CONFIG_PATH)}`,
        `--storage.path=${join(dir, 'data/alertmanager')}`,
        `--web.listen-address=${hostPort(ports.alertmanager)}`,
        // One local instance: no gossip cluster.
        '--cluster.listen-address=',
      ],
      join(dir, 'logs/alertmanager.log'),
    );
    children.push(am);
    await waitHealthy('Alertmanager', `${url(ports.alertmanager)}/-/ready`, am, { port: ports.alertmanager });
    log(`ready  alertmanager  ${url(ports.alertmanager)}`);
    const prom = startLogged(
      'prometheus',
      bins[COMPONENTS.prometheus.name]!,
      [
        `--config.file=${join(dir, 'config/prometheus/prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data/prometheus')}`,
        `--storage.tsdb.retention.time=1d`,
        `--web.listen-address=${hostPort(ports.prometheus)}`,
        // Without it Prometheus holds back the first notification of an alert.
        `--rules.alert.resend-delay=${timings.evaluationInterval}`,
        '--web.enable-lifecycle',
      ],
      join(dir, 'logs/prometheus.log'),
    );
    children.push(prom);
    await waitHealthy('Prometheus', `${url(ports.prometheus)}/-/ready`, prom, { port: ports.prometheus });
    log(`ready  prometheus    ${url(ports.prometheus)}   (scrape and evaluation every ${timings.scrapeInterval})`);
    const model = buildModel(spec);
    const consoleHandle = await startConsole({
      prometheus: url(ports.prometheus),
      alertmanager: url(ports.alertmanager),
      responder: responder.url,
      responderToken,
      dashboards: buildDashboards(model),
      runbooks: runbookSource(model),
      port: ports.console,
      drillsFile: join(dir, DRILLS_FILE),
      noise: stackNoiseSource(url(ports.prometheus), join(dir, 'config', ALERTMANAGER_CONFIG_PATH), stackAuditPath(dir)),
    });
    stops.push(() => consoleHandle.close());
    log(`ready  console       ${consoleHandle.url}`);

    const info: StackInfo = {
      pid: process.pid,
      dir,
      urls: {
        simulator: sim?.url,
        gateway: gw.url,
        responder: responder.url,
        prometheus: url(ports.prometheus),
        alertmanager: url(ports.alertmanager),
        nodeExporter: url(ports.nodeExporter),
        console: consoleHandle.url,
      },
      adminToken,
      responderToken,
      drillModel: DRILL_MODEL,
      fallbackModel: FALLBACK_MODEL,
      models: upstream === undefined ? [DRILL_MODEL, FALLBACK_MODEL] : upstream.models,
      tryModel: upstream === undefined ? DRILL_MODEL : upstream.listed[0],
      timings,
      gpus,
      spec,
      ...(replicas === undefined ? {} : { scale: { ...LOCAL_SCALE, upstream: 'local' } }),
    };
    writeFileSync(join(dir, 'stack.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    return { info, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The catalog's `keep_firing_for` defaults shortened to the stack's `for`, so an
 * alert resolves while the user watches, as it does in the drills.
 */
/** Alert tunings of `over` laid field by field over those of `base`. */
function mergeTunings(base: Timings['alerts'], over: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = { ...base };
  for (const [alert, t] of Object.entries(over)) out[alert] = { ...base[alert], ...t };
  return out;
}

function keptBriefly(alerts: Record<string, Record<string, unknown>>, timings: Timings): Record<string, Record<string, unknown>> {
  const out = { ...alerts };
  for (const def of CATALOG) {
    if (def.defaults.keepFiringFor !== undefined) out[def.name] = { keepFiringFor: timings.alertFor, ...out[def.name] };
  }
  return out;
}

/**
 * Asks the real upstream for its models before anything starts: a server that
 * is not running, or a base URL without `/v1`, stops `up` with the fix; with
 * no `--model`, the models it lists are served; a `--model` it does not list
 * is still routed (a server may serve aliases) but never offered as the one to try.
 */
async function checkUpstream(
  given: { readonly baseURL: string; readonly models: readonly string[] },
  log: (line: string) => void,
): Promise<{ baseURL: string; models: readonly string[]; listed: readonly string[] }> {
  const probe = await probeModels(given.baseURL);
  const at = `GET ${given.baseURL.replace(/\/+$/, '')}/models`;
  switch (probe.kind) {
    case 'unreachable':
      throw STACK_ERR_UPSTREAM(`Upstream ${given.baseURL} is unreachable (${at}: ${probe.reason}); start the model server, or fix --upstream`);
    case 'http': {
      if (probe.status === 404) {
        throw STACK_ERR_UPSTREAM(`Upstream ${given.baseURL} answered 404 to ${at}; ${missingV1Hint(given.baseURL) ?? 'is --upstream the base URL of its OpenAI API?'}`);
      }
      if (given.models.length === 0) throw STACK_ERR_UPSTREAM(`Upstream ${given.baseURL} answered ${probe.status} to ${at}, so its models are unknown; name them with --model`);
      log(`warn   upstream      ${at} answered ${probe.status}; serving --model ${given.models.join(' ')} unchecked`);
      return { baseURL: given.baseURL, models: given.models, listed: [] };
    }
    case 'ok': {
      const models = given.models.length > 0 ? given.models : probe.models;
      if (models.length === 0) throw STACK_ERR_UPSTREAM(`Upstream ${given.baseURL} lists no models at ${at}; name them with --model`);
      const unlisted = models.filter((m) => !probe.models.includes(m));
      if (unlisted.length > 0) {
        log(`warn   upstream      does not list ${unlisted.join(', ')} (it lists: ${probe.models.join(', ') || 'nothing'}); requests for ${unlisted.length === 1 ? 'it' : 'them'} will fail`);
      }
      return { baseURL: given.baseURL, models, listed: models.filter((m) => probe.models.includes(m)) };
    }
  }
}

function secret(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = randomBytes(24).toString('hex');
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return value;
}

/**
 * The user's spec (llmwatch.yaml when there is one), with the local stack's
 * targets and compressed timings laid over it, so alerts fire while the user
 * watches.
 */
function localSpec(
  specFile: string | undefined,
  timings: Timings,
  t: {
    gateways: string[];
    nodeExporter: string[];
    responder: string[];
    alertmanagers: string[];
    prometheus: string[];
    responderURL: string;
    responderTokenFile: string;
    runbookBaseURL: string;
    /** The stack's GPU exporters, host and simulated. */
    gpuExporter: string[];
    /** Playbooks the stack adds to the local ones (the simulated GPU's). */
    playbooks: Record<string, unknown>;
  },
): Readonly<MonitoringSpec> {
  const path = findSpec(specFile);
  const user = (path === undefined ? {} : readYamlFile(path)) as Record<string, any>;
  const compress = (tunings: Record<string, Record<string, unknown>> | undefined) =>
    Object.fromEntries(
      Object.entries(tunings ?? {}).map(([k, v]) => [
        k,
        { ...v, for: timings.alertFor, ...(v.keepFiringFor === undefined ? {} : { keepFiringFor: timings.alertFor }), ...(v.window === undefined ? {} : { window: spareWindow(timings) }) },
      ]),
    );
  return validateConfig(
    MonitoringSpecSchema,
    {
      ...user,
      runbookBaseURL: t.runbookBaseURL,
      prometheus: { ...user.prometheus, scrapeInterval: timings.scrapeInterval, evaluationInterval: timings.evaluationInterval },
      rateWindow: timings.rateWindow,
      // The seasonal baseline's week, compressed: docs/drift.md, "The local stack".
      drift: { ...user.drift, ...timings.drift },
      targets: {
        ...user.targets,
        gateways: t.gateways,
        nodeExporter: t.nodeExporter,
        gpuExporter: { source: 'llmwatch', targets: t.gpuExporter },
        responder: t.responder,
        alertmanagers: t.alertmanagers,
        prometheus: t.prometheus,
      },
      // Field by field: what the user's spec leaves out (a minEvents sized for 5-minute windows, say) comes from the local timings.
      alerts: keptBriefly(mergeTunings(timings.alerts, compress(user.alerts)), timings),
      models: Object.fromEntries(Object.entries(user.models ?? {}).map(([m, v]) => [m, { alerts: compress((v as { alerts?: Record<string, Record<string, unknown>> }).alerts) }])),
      alertmanager: {
        ...user.alertmanager,
        // A playground never tells people: drills would page the on-call through the spec's receivers.
        receivers: {},
        routes: {},
        watchdog: {},
        groupWait: timings.groupWait,
        groupInterval: timings.groupInterval,
        repeatInterval: '1h',
        responderURL: t.responderURL,
        responderTokenFile: t.responderTokenFile,
      },
      playbooks: user.playbooks ?? { ...localPlaybooks(timings), ...t.playbooks },
    },
    path === undefined ? 'local stack spec' : `spec file ${path}`,
  );
}
