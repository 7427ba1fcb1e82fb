import { Command, InvalidArgumentError } from 'commander';
import { parsePort, waitForSignal } from '../core/cli-helpers.ts';
import { exporterConfig } from '../core/config/exporter-config.ts';
import { startExporter } from './server.ts';

interface ExporterCommandOptions {
  port?: number;
  host?: string;
  interval?: number;
  timeout?: number;
  nvidiaSmi?: string;
  csvUrl?: string;
  simulated?: boolean;
}

/** A commander option parser for a number of seconds in [min, max], fractions allowed. */
function secondsIn(name: string, min: number, max: number): (value: string) => number {
  return function parseSeconds(value) {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number of seconds from ${min} to ${max}`);
    }
    return n;
  };
}

/** `llmwatch exporter`. */
export function exporterCommand(): Command {
  return new Command('exporter')
    .description('export host GPU metrics from nvidia-smi under the article\'s names (node_gpu_memory_usage_bytes, ...)')
    .option('-p, --port <port>', 'port to listen on, 0 for any free one (default 9835)', parsePort)
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 to be scraped from another host)')
    .option('--interval <seconds>', 'seconds between nvidia-smi runs (default 10)', secondsIn('interval', 0.1, 3600))
    .option('--timeout <seconds>', 'seconds before a hung nvidia-smi is killed (default 5)', secondsIn('timeout', 0.1, 600))
    .option('--nvidia-smi <path>', 'the nvidia-smi binary (default: nvidia-smi on PATH)')
    .option('--csv-url <url>', "read nvidia-smi's CSV from this URL (GET, with the query as parameters) instead of running nvidia-smi, e.g. the simulator's http://127.0.0.1:3000/nvidia-smi")
    .option('--simulated', 'label every GPU series simulated="true": the readings come from no GPU (the simulator\'s)')
    .action(async function runExporter(opts: ExporterCommandOptions) {
      const config = exporterConfig(
        { host: opts.host, port: opts.port, intervalSeconds: opts.interval, timeoutSeconds: opts.timeout, nvidiaSmi: opts.nvidiaSmi, csvURL: opts.csvUrl, simulated: opts.simulated },
        'command line',
      );
      const exporter = await startExporter(config);
      const gpus = exporter.first.ok ? `${exporter.first.gpus.length} GPUs` : `no GPU yet: ${exporter.first.reason}`;
      const simulated = config.simulated ? '; SIMULATED readings, labelled simulated="true"' : '';
      console.log(`llmwatch exporter listening on ${exporter.url} (metrics at ${exporter.url}/metrics; ${config.csvURL ?? config.nvidiaSmi} every ${config.intervalSeconds}s, ${gpus}${simulated})`);
      await waitForSignal();
      await exporter.close();
      console.log('llmwatch exporter stopped');
    });
}
