import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import type { ExporterConfig } from '../core/config/exporter-config.ts';
import { close, listen } from '../core/http/listen.ts';
import { sendJson } from '../core/http/send.ts';
import { serve, serverURL } from '../core/http/serve.ts';
import { GpuCollector } from './collector.ts';
import type { CollectOutcome } from './collector.ts';
import { GpuMetrics } from './gpu-metrics.ts';
import { fetchNvidiaSmi } from './nvidia-smi-http.ts';

export interface ExporterOptions {
  /** A registry of the caller's; a fresh one by default (never prom-client's global one). */
  readonly registry?: Registry;
  /** Where collector state changes are reported; stderr by default. */
  readonly log?: (line: string) => void;
}

export interface ExporterHandle {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly registry: Registry;
  readonly collector: GpuCollector;
  /** The first run's outcome, which ended before the server started listening. */
  readonly first: CollectOutcome;
  close(): Promise<void>;
}

/**
 * Starts the GPU exporter: one nvidia-smi run (or, with `csvURL`, one GET of nvidia-smi over HTTP) first (so the first scrape has
 * data), then the schedule, then `GET /metrics` and `GET /healthz`. A failing
 * nvidia-smi, a missing one included, never stops it: the failure is in the
 * metrics, and `/healthz` answers 200 while the process serves.
 */
export async function startExporter(config: Readonly<ExporterConfig>, opts: ExporterOptions = {}): Promise<ExporterHandle> {
  const registry = opts.registry ?? new Registry();
  const csvURL = config.csvURL;
  const collector = new GpuCollector({
    nvidiaSmi: csvURL ?? config.nvidiaSmi,
    intervalMs: config.intervalSeconds * 1000,
    timeoutMs: config.timeoutSeconds * 1000,
    metrics: new GpuMetrics(registry, config.simulated),
    log: opts.log,
    // Over HTTP only the run differs: the parser, the metrics and the failure reasons are the binary's.
    ...(csvURL === undefined ? {} : { run: (_: string, timeoutMs: number, signal?: AbortSignal) => fetchNvidiaSmi(csvURL, timeoutMs, signal) }),
  });
  const first = await collector.start();

  const server = serve({
    part: 'exporter',
    metrics: registry,
    routes: [
      {
        path: '/healthz',
        methods: {
          GET: (_req, res) => {
            const last = collector.last;
            sendJson(res, 200, {
              status: 'ok',
              collector: last === undefined ? null : last.ok ? { ok: true, gpus: last.gpus.length } : { ok: false, reason: last.reason, message: last.message },
            });
          },
        },
      },
    ],
  });
  let port: number;
  try {
    port = await listen(server, config.port, config.host);
  } catch (err) {
    await collector.stop();
    throw err;
  }
  return {
    url: serverURL(config.host, port),
    port,
    server,
    registry,
    collector,
    first,
    close: async () => {
      await close(server);
      await collector.stop();
    },
  };
}
