import { Command } from 'commander';
import { GatewayConfigSchema } from '../core/config/gateway-config.ts';
import { modelTargets, upstreamURLs } from '../core/config/gateway-config.ts';
import type { GatewayConfig } from '../core/config/gateway-config.ts';
import { CFG_ERR_INVALID } from '../core/config/errors.ts';
import { loadConfigFile, validateConfig } from '../core/config/validate.ts';
import { parsePort, waitForSignal } from '../core/cli-helpers.ts';
import { startGateway } from './server.ts';
import { announceListening, clusterMetricsSource, isWorker, runPrimary } from './cluster.ts';
import { upstreamWarnings } from './startup-checks.ts';
import { redactSecrets, redactUrl } from '../core/http/redact.ts';
import { logger, setLogLevel } from '../core/log.ts';

export interface GatewayCommandOptions {
  config?: string;
  upstream?: string;
  model?: string[];
  port?: number;
  host?: string;
  workers?: number;
}

/**
 * The gateway's config from the command line: a config file, or for a quick
 * start one upstream URL and the models it serves.
 */
export function gatewayConfigFromOptions(opts: GatewayCommandOptions): GatewayConfig {
  if (opts.config !== undefined) return loadConfigFile(GatewayConfigSchema, opts.config);
  if (opts.upstream === undefined || opts.model === undefined || opts.model.length === 0) {
    throw CFG_ERR_INVALID('The gateway needs --config FILE, or --upstream URL with one or more --model NAME');
  }
  return validateConfig(
    GatewayConfigSchema,
    {
      upstreams: { default: { baseURL: opts.upstream } },
      models: Object.fromEntries(opts.model.map((m) => [m, { upstream: 'default' }])),
    },
    'command line',
  );
}

/** `llmwatch gateway`. */
export function gatewayCommand(): Command {
  return new Command('gateway')
    .description('run the OpenAI-compatible metering gateway in front of one or more model servers')
    .option('-c, --config <file>', 'gateway config file (YAML or JSON); see config/gateway.example.yaml')
    .option('--upstream <url>', "an OpenAI-compatible base URL, e.g. http://127.0.0.1:8001/v1 (instead of --config)")
    .option('--model <name...>', 'models served by --upstream')
    .option('-p, --port <port>', 'port to listen on (default 8000, or the config file)', parsePort)
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--workers <n>', 'gateway processes sharing the port (node:cluster), one /metrics for all; default 1', parseWorkers)
    .action(async function runGateway(opts: GatewayCommandOptions) {
      const config = gatewayConfigFromOptions(opts);
      setLogLevel(config.logLevel);
      const workers = opts.workers ?? 1;
      if (workers > 1 && !isWorker()) {
        const primary = await runPrimary(workers);
        console.log(`llmwatch gateway listening on ${primary.url} with ${workers} workers (OpenAI API at ${primary.url}/v1, metrics of all workers at ${primary.url}/metrics)`);
        await waitForSignal();
        await primary.close();
        console.log('llmwatch gateway stopped');
        return;
      }
      if (isWorker()) {
        const gw = await startGateway(config, { port: opts.port, host: opts.host, metricsSource: clusterMetricsSource });
        announceListening(gw.url);
        await waitForSignal();
        // A worker's server closes through the primary, which is stopping too: give the close a few
        // seconds for requests in flight, then go.
        await Promise.race([gw.close(), new Promise((r) => setTimeout(r, WORKER_CLOSE_MS).unref())]);
        process.exit(0);
      }
      // Listening for SIGTERM before announcing: the upstream checks below take time, and a signal in
      // between killed the process at once (exit by signal, requests in flight cut) instead of closing it.
      const signalled = waitForSignal();
      const gw = await startGateway(config, { port: opts.port, host: opts.host });
      console.log(`llmwatch gateway listening on ${gw.url} (OpenAI API at ${gw.url}/v1, metrics at ${gw.url}/metrics)`);
      for (const [model, m] of Object.entries(config.models)) {
        const targets = modelTargets(model, m).map((t) => `${upstreamURLs(config.upstreams[t.upstream]!).map(redactUrl).join(' | ')} as ${t.model}`);
        console.log(`  ${model} -> ${targets.join(', then ')}`);
      }
      for (const warning of await upstreamWarnings(config)) logger('gateway').warn(redactSecrets(warning));
      await signalled;
      await gw.close();
      console.log('llmwatch gateway stopped');
    });
}

const WORKER_CLOSE_MS = 3_000;

function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw CFG_ERR_INVALID(`--workers must be a whole number from 1 to 256, got '${value}'`);
  return n;
}
