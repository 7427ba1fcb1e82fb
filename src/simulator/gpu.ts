import type { GpuConfig } from '../core/config/simulator-config.ts';
import { OAI_ERR_INVALID_PARAM, OAI_ERR_MISSING_PARAM } from '../core/openai/errors.ts';
import { seconds } from './engine.ts';
import type { EngineCore, ModelEngines } from './engine.ts';
import type { ProfileStore } from './profile.ts';

/** One simulated GPU's readings, in nvidia-smi's units. */
export interface SimulatedGpuReading {
  /** nvidia-smi's index: GPUs follow the models in config order, then their engine cores. */
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  /** The model and data-parallel rank (vLLM's `engine` label) this GPU runs. */
  readonly model: string;
  readonly engine: number;
  readonly memoryUsedMiB: number;
  readonly memoryTotalMiB: number;
  /** 0..100. */
  readonly utilisationPercent: number;
  readonly temperatureCelsius: number;
  readonly powerWatts: number;
}

/**
 * Illustrative figures of an NVIDIA L4 (72 W board power limit, about 16 W idle); temperature
 * rises with load and stays far below the 85 °C of HighGpuTemperature. Not measured: what the
 * drills rely on is memory and utilisation.
 */
const IDLE_WATTS = 16;
const MAX_WATTS = 72;
const IDLE_CELSIUS = 35;
const BUSY_CELSIUS = 70;
/** nvidia-smi's sample period is 1/6 s to 1 s by product; a reading asked for sooner repeats the last one. */
const MIN_SAMPLE_SECONDS = 0.1;

/** One simulated GPU: its index, and the model and engine core it runs. */
export interface GpuPlacement {
  readonly gpu: number;
  readonly model: string;
  readonly engine: number;
}

/**
 * Which GPU runs what, known from the config alone (before the simulator starts): the models in
 * config order, each with `dataParallelSize` engine cores, one GPU each.
 */
export function gpuPlacement(models: readonly string[], dataParallelSize: number): GpuPlacement[] {
  return models.flatMap((model, m) => Array.from({ length: dataParallelSize }, (_, engine) => ({ gpu: m * dataParallelSize + engine, model, engine })));
}

interface Gpu {
  readonly index: number;
  readonly uuid: string;
  readonly model: string;
  readonly core: EngineCore;
  sampledAt: number;
  busyAt: number;
  utilisation: number;
}

/**
 * The simulator's GPUs: one per engine core, as vLLM runs each data-parallel rank on its own GPU.
 * - `memory.used` is the model's `gpuMemoryMiB` (weights, context, activations) plus the KV cache's
 *   usage times `kvCacheMiB`, capped at `memory.total`: KV blocks are allocated as requests take them,
 *   and freed ones stay reserved for `memoryHoldMs` (the highest usage of that last window counts), as a
 *   caching allocator holds them.
 * - `utilization.gpu` is what nvidia-smi samples: the share of the time since the last reading in
 *   which a kernel ran, i.e. in which the engine's batch held at least one request.
 * The readings come from the live engine model, so a drill that fills the KV cache fills the GPU.
 */
export class SimulatedGpus {
  readonly #gpus: Gpu[];
  readonly #profiles: ProfileStore;
  readonly #config: GpuConfig;

  constructor(engines: ReadonlyMap<string, ModelEngines>, profiles: ProfileStore, config: GpuConfig) {
    this.#profiles = profiles;
    this.#config = config;
    const now = seconds();
    this.#gpus = gpuPlacement([...engines.keys()], engines.values().next().value?.cores.length ?? 1).map(({ gpu, model, engine }) => {
      const core = engines.get(model)!.cores[engine]!;
      return { index: gpu, uuid: simulatedUuid(gpu), model, core, sampledAt: now, busyAt: core.busySeconds(now), utilisation: 0 };
    });
  }

  /** Which model and engine core each GPU runs, by index. */
  placement(): GpuPlacement[] {
    return this.#gpus.map((g) => ({ gpu: g.index, model: g.model, engine: g.core.index }));
  }

  /** Every GPU's readings now. */
  read(now = seconds()): SimulatedGpuReading[] {
    const total = this.#config.memoryTotalMiB;
    return this.#gpus.map((g) => {
      if (now - g.sampledAt >= MIN_SAMPLE_SECONDS) {
        const busy = g.core.busySeconds(now);
        g.utilisation = Math.min(1, Math.max(0, (busy - g.busyAt) / (now - g.sampledAt)));
        g.sampledAt = now;
        g.busyAt = busy;
      }
      const base = this.#profiles.get(g.model)?.gpuMemoryMiB ?? 0;
      // Temperature and power follow the utilisation as printed, so the three readings agree.
      const percent = Math.round(g.utilisation * 100);
      return {
        index: g.index,
        uuid: g.uuid,
        name: this.#config.name,
        model: g.model,
        engine: g.core.index,
        memoryUsedMiB: Math.min(total, Math.round(base + g.core.kvCacheUsagePeak(this.#config.memoryHoldMs / 1000, now) * this.#config.kvCacheMiB)),
        memoryTotalMiB: total,
        utilisationPercent: percent,
        temperatureCelsius: Math.round(IDLE_CELSIUS + ((BUSY_CELSIUS - IDLE_CELSIUS) * percent) / 100),
        powerWatts: IDLE_WATTS + ((MAX_WATTS - IDLE_WATTS) * percent) / 100,
      };
    });
  }
}

/** A UUID in nvidia-smi's form that no real GPU has (all zeros but the version and variant digits and the index). */
function simulatedUuid(index: number): string {
  return `GPU-00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

/** The `--query-gpu` fields the simulated GPUs answer: nvidia-smi's names, with the unit it prints unless `nounits`. */
const FIELDS: Readonly<Record<string, { readonly unit?: string; readonly value: (r: SimulatedGpuReading) => string }>> = {
  index: { value: (r) => String(r.index) },
  uuid: { value: (r) => r.uuid },
  name: { value: (r) => r.name },
  'memory.used': { unit: 'MiB', value: (r) => String(r.memoryUsedMiB) },
  'memory.total': { unit: 'MiB', value: (r) => String(r.memoryTotalMiB) },
  'memory.free': { unit: 'MiB', value: (r) => String(r.memoryTotalMiB - r.memoryUsedMiB) },
  'utilization.gpu': { unit: '%', value: (r) => String(r.utilisationPercent) },
  'temperature.gpu': { value: (r) => String(r.temperatureCelsius) },
  'power.draw': { unit: 'W', value: (r) => r.powerWatts.toFixed(2) },
  'power.limit': { unit: 'W', value: () => MAX_WATTS.toFixed(2) },
};
const FORMAT_OPTIONS = new Set(['csv', 'noheader', 'nounits']);
const MAX_FIELDS = 64;

/** The fields {@link renderNvidiaSmiCsv} knows. */
export const NVIDIA_SMI_FIELDS: readonly string[] = Object.freeze(Object.keys(FIELDS));

/**
 * What `nvidia-smi --query-gpu=<queryGpu> --format=<format>` prints for these readings: one line per
 * GPU, `, `-separated, a header unless `noheader`, units unless `nounits`. Fields and format are
 * checked as nvidia-smi checks them (an unknown field is refused with its message); a missing or
 * unknown one is a 400 naming the parameter.
 * @example renderNvidiaSmiCsv(gpus.read(), 'index,memory.used', 'csv,noheader,nounits') // '0, 17320\n1, 3557\n'
 */
export function renderNvidiaSmiCsv(readings: readonly SimulatedGpuReading[], queryGpu: string | null, format: string | null): string {
  if (queryGpu === null || queryGpu.trim() === '') throw OAI_ERR_MISSING_PARAM('query-gpu is required: the fields to report, as nvidia-smi --query-gpu takes them', { param: 'query-gpu' });
  if (format === null || format.trim() === '') throw OAI_ERR_MISSING_PARAM('format is required: csv, with noheader and nounits as wanted', { param: 'format' });
  const fields = queryGpu.split(',').map((f) => f.trim().toLowerCase());
  if (fields.length > MAX_FIELDS) throw OAI_ERR_INVALID_PARAM(`query-gpu asks for ${fields.length} fields; at most ${MAX_FIELDS}`, { param: 'query-gpu' });
  for (const f of fields) {
    if (!Object.hasOwn(FIELDS, f)) throw OAI_ERR_INVALID_PARAM(`Field "${f.slice(0, 64)}" is not a valid field to query (the simulated GPUs know ${NVIDIA_SMI_FIELDS.join(', ')})`, { param: 'query-gpu' });
  }
  const options = new Set(format.split(',').map((o) => o.trim()));
  for (const o of options) {
    if (!FORMAT_OPTIONS.has(o)) throw OAI_ERR_INVALID_PARAM(`"${o.slice(0, 64)}" is not a valid format option (csv, noheader, nounits)`, { param: 'format' });
  }
  if (!options.has('csv')) throw OAI_ERR_INVALID_PARAM('format must include csv', { param: 'format' });
  const units = !options.has('nounits');
  const lines = options.has('noheader') ? [] : [fields.map((f) => (units && FIELDS[f]!.unit !== undefined ? `${f} [${FIELDS[f]!.unit}]` : f)).join(', ')];
  for (const r of readings) {
    lines.push(fields.map((f) => {
      const { unit, value } = FIELDS[f]!;
      return units && unit !== undefined ? `${value(r)} ${unit}` : value(r);
    }).join(', '));
  }
  return `${lines.join('\n')}\n`;
}
