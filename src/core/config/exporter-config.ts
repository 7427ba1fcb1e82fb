import { z } from 'zod';
import { validateConfig } from './validate.ts';

/**
 * The `llmwatch exporter` settings: where to listen, and how nvidia-smi is run.
 * Seconds may be fractional. The default port, 9835, is the one the monitoring
 * spec's examples scrape (`targets.gpuExporter`).
 */
export const ExporterConfigSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(9835),
  /** Seconds from the start of one nvidia-smi run to the start of the next. */
  intervalSeconds: z.number().min(0.1).max(3600).default(10),
  /** Seconds after which a hung nvidia-smi is killed and the run counts as failed (`timeout`). */
  timeoutSeconds: z.number().min(0.1).max(600).default(5),
  /** The nvidia-smi binary: a path, or a name looked up on PATH. */
  nvidiaSmi: z.string().min(1).default('nvidia-smi'),
  /**
   * nvidia-smi over HTTP instead of the binary: each run is a GET of this URL with nvidia-smi's
   * arguments as parameters (`query-gpu`, `format`), whose answer is read as nvidia-smi's output.
   * The local stack points it at the simulator's simulated GPUs (`GET /nvidia-smi`).
   */
  csvURL: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL such as http://127.0.0.1:3000/nvidia-smi' }).optional(),
  /** Every GPU reading gets the label `simulated="true"`: for readings that come from no GPU (the simulator's). */
  simulated: z.boolean().default(false),
});

export type ExporterConfig = z.output<typeof ExporterConfigSchema>;

/** Validates, applies defaults and freezes; a bad field stops start-up with its name. */
export function exporterConfig(data: unknown, source = 'exporter options'): Readonly<ExporterConfig> {
  return validateConfig(ExporterConfigSchema, data, source);
}
