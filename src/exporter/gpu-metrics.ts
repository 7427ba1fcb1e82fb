import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { GPU_COLLECTOR_ERROR, GPU_LABEL, GPU_METRIC, LABEL } from '../core/conventions/metrics.ts';
import type { GpuCollectorError } from '../core/conventions/metrics.ts';
import type { GpuReading } from './nvidia-smi-csv.ts';

type GpuLabels = (typeof GPU_LABEL)['gpu' | 'uuid' | 'name' | 'simulated'];

/** The reading each GPU gauge shows. */
const GPU_GAUGES = [
  ['memoryUsage', 'memoryUsedBytes', 'GPU memory in use, in bytes (nvidia-smi memory.used).'],
  ['memoryTotal', 'memoryTotalBytes', 'GPU memory installed, in bytes (nvidia-smi memory.total).'],
  ['utilisation', 'utilisation', 'Share of the last sample period in which a kernel ran on the GPU, 0..1 (nvidia-smi utilization.gpu / 100).'],
  ['temperature', 'temperatureCelsius', 'GPU core temperature in degrees Celsius (nvidia-smi temperature.gpu).'],
  ['power', 'powerWatts', 'Board power draw in watts (nvidia-smi power.draw).'],
] as const satisfies ReadonlyArray<readonly [keyof typeof GPU_METRIC, keyof GpuReading, string]>;

/**
 * The exporter's instruments, on a registry passed in. Every update replaces
 * the whole GPU picture in one synchronous step, so a scrape never sees half
 * of a run: a GPU gone from nvidia-smi's output loses its series, a value
 * nvidia-smi cannot read (`[N/A]`) has no series rather than a 0, and a failed
 * run drops every GPU series, so no alert reads stale memory figures.
 */
export class GpuMetrics {
  readonly #gpu: ReadonlyArray<readonly [Gauge<GpuLabels>, keyof GpuReading]>;
  readonly #success: Gauge;
  readonly #duration: Gauge;
  readonly #lastError: Gauge<typeof LABEL.reason>;
  readonly #errors: Counter<typeof LABEL.reason>;
  readonly #simulated: boolean;

  /** `simulated`: every GPU series also carries `simulated="true"` (readings that come from no GPU). */
  constructor(registry: Registry, simulated = false) {
    const registers = [registry];
    this.#simulated = simulated;
    const labelNames = simulated ? [GPU_LABEL.gpu, GPU_LABEL.uuid, GPU_LABEL.name, GPU_LABEL.simulated] : [GPU_LABEL.gpu, GPU_LABEL.uuid, GPU_LABEL.name];
    this.#gpu = GPU_GAUGES.map(([metric, field, help]) => [new Gauge({ name: GPU_METRIC[metric], help, labelNames, registers }), field] as const);
    this.#success = new Gauge({ name: GPU_METRIC.collectorSuccess, help: '1 when the last nvidia-smi run gave every GPU\'s readings, 0 when it failed.', registers });
    this.#duration = new Gauge({ name: GPU_METRIC.collectorDuration, help: 'Seconds the last nvidia-smi run took, killed runs included.', registers });
    this.#lastError = new Gauge({
      name: GPU_METRIC.collectorLastError,
      help: `1, labelled with why the most recent failed nvidia-smi run failed (${GPU_COLLECTOR_ERROR.join(', ')}); kept after recovery, absent until a run fails.`,
      labelNames: [LABEL.reason],
      registers,
    });
    this.#errors = new Counter({ name: GPU_METRIC.collectorErrors, help: 'Failed nvidia-smi runs, by reason.', labelNames: [LABEL.reason], registers });
    for (const reason of GPU_COLLECTOR_ERROR) this.#errors.inc({ reason }, 0);
  }

  /** A successful run: these GPUs, and only these, with the values they reported. */
  succeeded(readings: readonly GpuReading[], seconds: number): void {
    for (const [gauge, field] of this.#gpu) {
      gauge.reset();
      for (const r of readings) {
        const v = r[field];
        if (typeof v === 'number') gauge.set(this.#simulated ? { gpu: r.index, uuid: r.uuid, name: r.name, simulated: 'true' } : { gpu: r.index, uuid: r.uuid, name: r.name }, v);
      }
    }
    this.#success.set(1);
    this.#duration.set(seconds);
  }

  /** A failed run: no GPU series until the next success. */
  failed(reason: GpuCollectorError, seconds: number): void {
    for (const [gauge] of this.#gpu) gauge.reset();
    this.#success.set(0);
    this.#duration.set(seconds);
    this.#lastError.reset();
    this.#lastError.set({ reason }, 1);
    this.#errors.inc({ reason });
  }
}
