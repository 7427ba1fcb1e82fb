import type { z } from 'zod';
import { exporterConfig } from '../core/config/exporter-config.ts';
import type { PlaybooksSchema } from '../core/config/playbook-spec.ts';
import type { SimulatorConfig } from '../core/config/simulator-config.ts';
import { GPU_LABEL, GPU_METRIC } from '../core/conventions/metrics.ts';
import { startExporter } from '../exporter/server.ts';
import { gpuPlacement } from '../simulator/gpu.ts';
import type { GpuPlacement } from '../simulator/gpu.ts';
import { locate } from './binaries.ts';
import type { Component } from './binaries.ts';

/** nvidia-smi ships with the NVIDIA driver; `llmwatch up` never installs it. */
const NVIDIA_SMI: Component = { name: 'nvidia-smi', commands: ['nvidia-smi'], debianPackage: 'nvidia-smi' };

/** The path of nvidia-smi on PATH, or undefined on a machine without the NVIDIA driver. */
export function findNvidiaSmi(): string | undefined {
  return locate(NVIDIA_SMI);
}

/**
 * The KV cache of the local stack's simulator, in tokens: what the simulated L4's 6 GiB of KV cache
 * (`gpu.kvCacheMiB`) holds for Llama 3.1 8B at 128 KiB a token (32 layers x 8 KV heads x 128 dims x
 * K and V x 2 bytes). The simulator's own default (2^20) is sized for benchmarks that must not queue.
 */
export const LOCAL_KV_CACHE_TOKENS = 49_152;

/**
 * The `gpu` drill's fault: long documents, so that 7 of the gateway's 8 upstream slots fill the drill
 * model's KV cache (each request holds a seventh of it, less room for its prompt text and 16 output
 * tokens: 7 x 433 of 3,072 blocks, 98.7%) and the 8th waits in the engine's queue, taking the place of
 * each request that ends, so the cache stays full between requests. On the simulated L4 that is
 * 16,517 + 0.987 x 6,144 = 22,580 of 23,034 MiB, 98%, past HighGpuMemoryUsage's 95%. Short answers
 * (about 0.26 s) keep a queued request's wait under the latency alerts' thresholds.
 */
export const GPU_DRILL_FAULT = { extraPromptTokens: Math.floor(LOCAL_KV_CACHE_TOKENS / 7) - 128, ttftMs: 100, tpotMs: 10, jitter: 0 } as const;

/** The GPU exporters of a running stack, for `stack.json`, the banner and the `gpu` drill. */
export interface StackGpus {
  /** The host's own GPUs, where nvidia-smi runs. */
  readonly host?: { readonly url: string; readonly nvidiaSmi: string; readonly gpus: number };
  /** The simulator's simulated GPUs (series labelled `simulated="true"`), and which model each runs. */
  readonly simulated?: { readonly url: string; readonly placement: readonly GpuPlacement[]; readonly memoryHoldSeconds: number };
}

/** Which simulated GPUs a simulator config gives, before it starts. */
export function simulatedPlacement(config: Readonly<SimulatorConfig>): GpuPlacement[] {
  return gpuPlacement(Object.keys(config.models), config.engine.dataParallelSize);
}

/**
 * Starts the stack's GPU exporters in this process, each sampling once a scrape interval: one over
 * nvidia-smi when the host has it, and one over the simulator's `GET /nvidia-smi` (marked
 * `simulated`) when the simulator runs. Both are `llmwatch exporter`, the same code path; only the run differs.
 */
export async function startGpuExporters(opts: {
  readonly nvidiaSmi: string | undefined;
  readonly simulator: { readonly url: string; readonly placement: readonly GpuPlacement[]; readonly memoryHoldSeconds: number } | undefined;
  readonly ports: { readonly host: number; readonly simulated: number };
  readonly intervalSeconds: number;
  readonly log: (line: string) => void;
  readonly stops: Array<() => Promise<void>>;
}): Promise<StackGpus> {
  const common = { host: '127.0.0.1', intervalSeconds: opts.intervalSeconds, timeoutSeconds: Math.max(1, opts.intervalSeconds) };
  let host: StackGpus['host'];
  let simulated: StackGpus['simulated'];
  if (opts.nvidiaSmi !== undefined) {
    const exp = await startExporter(exporterConfig({ ...common, port: opts.ports.host, nvidiaSmi: opts.nvidiaSmi }, 'local stack'), { log: (l) => opts.log(`warn   gpu-exporter  ${l}`) });
    opts.stops.push(() => exp.close());
    const gpus = exp.first.ok ? exp.first.gpus.length : 0;
    host = { url: exp.url, nvidiaSmi: opts.nvidiaSmi, gpus };
    opts.log(`ready  gpu-exporter  ${exp.url}/metrics   (${opts.nvidiaSmi}: ${exp.first.ok ? `${gpus} GPUs` : `no GPU yet: ${exp.first.reason}`})`);
  }
  if (opts.simulator !== undefined) {
    const exp = await startExporter(
      exporterConfig({ ...common, port: opts.ports.simulated, csvURL: `${opts.simulator.url}/nvidia-smi`, simulated: true }, 'local stack'),
      { log: (l) => opts.log(`warn   sim-gpu       ${l}`) },
    );
    opts.stops.push(() => exp.close());
    simulated = { url: exp.url, placement: opts.simulator.placement, memoryHoldSeconds: opts.simulator.memoryHoldSeconds };
    opts.log(`ready  sim-gpu       ${exp.url}/metrics   (SIMULATED: ${opts.simulator.placement.length} GPUs from the simulator's KV cache, labelled ${GPU_LABEL.simulated}="true")`);
  }
  return { host, simulated };
}

/**
 * The local stack's playbook for HighGpuMemoryUsage on a simulated GPU: the model on it switches to its
 * lighter fallback, whose small weights and short contexts leave the GPU (the heavy model's) to drain,
 * and back once the alert resolves. The condition keeps it to the simulated GPUs that run `model`: a
 * real GPU's alert is for a person, not for switching the simulator's models.
 */
export function simulatedGpuPlaybook(model: string, placement: readonly GpuPlacement[]): z.input<typeof PlaybooksSchema> {
  const gpus = placement.filter((p) => p.model === model).map((p) => p.gpu);
  if (gpus.length === 0) return {};
  const selector = `${GPU_LABEL.simulated}="true",${GPU_LABEL.gpu}=~"${gpus.join('|')}",${GPU_LABEL.gpu}="{{ $labels.gpu }}",instance="{{ $labels.instance }}"`;
  return {
    HighGpuMemoryUsage: {
      cooldown: '15s',
      steps: [
        {
          action: 'switch-model',
          if: { query: `count(${GPU_METRIC.memoryUsage}{${selector}})`, above: 0 },
          params: { model, target: 'fallback' },
          revertOnResolve: true,
        },
      ],
    },
  };
}

/** The start-up banner's GPU lines: what is real and what is simulated, said plainly. */
export function gpuBanner(gpus: StackGpus | undefined): string[] {
  const lines: string[] = [];
  if (gpus?.host !== undefined) lines.push(`GPU             ${gpus.host.url}/metrics   (${gpus.host.nvidiaSmi}: ${gpus.host.gpus} GPUs of this host)`);
  if (gpus?.simulated !== undefined) {
    const real = gpus.host === undefined ? 'no nvidia-smi on this host; ' : '';
    lines.push(`GPU SIMULATED   ${gpus.simulated.url}/metrics   (${real}${gpus.simulated.placement.length} simulated GPUs whose memory follows the simulator's KV cache, labelled ${GPU_LABEL.simulated}="true": not real hardware)`);
  }
  if (lines.length === 0) lines.push('GPU             none (no nvidia-smi on this host, and no simulator with --upstream)');
  return lines;
}

/**
 * The `gpu` drill's onset: whether the simulated GPU exporter now serves GPU `gpu`'s memory above
 * `threshold` of its total, read from its `/metrics` as Prometheus will scrape it. The drill times the
 * alert's pipeline from here, so a loaded machine's slow traffic or late exporter run is measured, not guessed.
 */
export async function simulatedMemoryOver(exporterURL: string, gpu: number, threshold: number): Promise<boolean> {
  const text = await (await fetch(`${exporterURL}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const read = (metric: string) => {
    const m = new RegExp(`^${metric}\\{${GPU_LABEL.gpu}="${gpu}",[^}]*${GPU_LABEL.simulated}="true"[^}]*\\} (\\S+)$`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]);
  };
  const used = read(GPU_METRIC.memoryUsage);
  const total = read(GPU_METRIC.memoryTotal);
  return used !== undefined && total !== undefined && total > 0 && used / total > threshold;
}
