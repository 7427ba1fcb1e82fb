import { performance } from 'node:perf_hooks';
import { LlmwatchError } from '../core/errors.ts';
import { GPU_METRIC } from '../core/conventions/metrics.ts';
import type { GpuCollectorError } from '../core/conventions/metrics.ts';
import { EXP_ERR_EXIT_CODE, EXP_ERR_MISSING_BINARY, EXP_ERR_PARSE, EXP_ERR_TIMEOUT } from './errors.ts';
import type { GpuMetrics } from './gpu-metrics.ts';
import { parseNvidiaSmiCsv } from './nvidia-smi-csv.ts';
import type { GpuReading } from './nvidia-smi-csv.ts';
import { runNvidiaSmi } from './nvidia-smi.ts';
import { logger } from '../core/log.ts';

export interface GpuCollectorOptions {
  /** The nvidia-smi binary: a path, or a name looked up on PATH. */
  readonly nvidiaSmi: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly metrics: GpuMetrics;
  /** Where state changes are reported (one line each); stderr by default. */
  readonly log?: (line: string) => void;
  /** Starts one nvidia-smi process; {@link runNvidiaSmi} unless a test stands in for the kernel. */
  readonly run?: typeof runNvidiaSmi;
}

/** What one run gave. */
export type CollectOutcome =
  | { readonly ok: true; readonly gpus: readonly GpuReading[] }
  | { readonly ok: false; readonly reason: GpuCollectorError; readonly message: string };

/**
 * Runs nvidia-smi every `intervalMs`, one run at a time, and publishes each
 * outcome to the metrics. The interval is measured from the start of one run
 * to the start of the next; a run that overruns it delays the next, never
 * overlaps it. A run killed on timeout that has not yet exited (nvidia-smi
 * stuck in the kernel on a hung driver) blocks new runs, which fail as
 * `timeout` without spawning, so hung processes cannot pile up.
 *
 * Logging is by state change, not by run: the first failure of each kind, and
 * the recovery, are one line each, however long they last.
 */
export class GpuCollector {
  readonly #opts: GpuCollectorOptions;
  readonly #log: (line: string, level?: 'info' | 'warn') => void;
  readonly #stopping = new AbortController();
  #inFlight: Promise<CollectOutcome> | undefined;
  #lingering: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: 'ok' | GpuCollectorError | undefined;
  #last: CollectOutcome | undefined;

  constructor(opts: GpuCollectorOptions) {
    this.#opts = opts;
    const log = opts.log;
    this.#log = (line, level = 'warn') => {
      try {
        if (log !== undefined) log(line);
        else logger('exporter')[level](line);
      } catch {
        // A closed stderr must not stop the collection: the metrics carry the state anyway.
      }
    };
  }

  /** The outcome of the last finished run, if any. */
  get last(): CollectOutcome | undefined {
    return this.#last;
  }

  /** Runs once now; while a run is in flight, every caller shares that run. */
  collect(): Promise<CollectOutcome> {
    this.#inFlight ??= this.#run().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Runs once, then every interval until {@link stop}; resolves with the first run's outcome. */
  start(): Promise<CollectOutcome> {
    return this.#tick();
  }

  /** Stops the schedule, kills a run in flight and waits for it to settle. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  async #tick(): Promise<CollectOutcome> {
    const started = performance.now();
    const outcome = await this.collect();
    if (!this.#stopping.signal.aborted) {
      const wait = Math.max(0, this.#opts.intervalMs - (performance.now() - started));
      // Unref'd: the HTTP server is what keeps the process alive, not the schedule.
      this.#timer = setTimeout(() => void this.#tick(), wait).unref();
    }
    return outcome;
  }

  async #run(): Promise<CollectOutcome> {
    const started = performance.now();
    const outcome = await this.#query();
    if (this.#stopping.signal.aborted) return outcome;
    const seconds = (performance.now() - started) / 1000;
    if (outcome.ok) this.#opts.metrics.succeeded(outcome.gpus, seconds);
    else this.#opts.metrics.failed(outcome.reason, seconds);
    this.#report(outcome);
    this.#last = outcome;
    return outcome;
  }

  async #query(): Promise<CollectOutcome> {
    const { nvidiaSmi, timeoutMs } = this.#opts;
    if (this.#lingering !== undefined) {
      return { ok: false, reason: 'timeout', message: `the nvidia-smi (${nvidiaSmi}) killed after an earlier timeout has still not exited (a hung driver?); not starting another` };
    }
    const run = (this.#opts.run ?? runNvidiaSmi)(nvidiaSmi, timeoutMs, this.#stopping.signal);
    try {
      return { ok: true, gpus: parseNvidiaSmiCsv(await run.output) };
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === 'timeout') {
        const lingering = run.exited.then(() => {
          if (this.#lingering === lingering) this.#lingering = undefined;
        });
        this.#lingering = lingering;
      }
      return { ok: false, reason, message: (err as Error).message };
    }
  }

  #report(outcome: CollectOutcome): void {
    const was = this.#state;
    this.#state = outcome.ok ? 'ok' : outcome.reason;
    if (this.#state === was) return;
    if (outcome.ok) {
      if (was !== undefined) this.#log(`llmwatch exporter: GPU collection recovered (${outcome.gpus.length} GPUs)`, 'info');
      return;
    }
    const retry = `/metrics reports ${GPU_METRIC.collectorSuccess} 0; retrying every ${this.#opts.intervalMs / 1000}s`;
    if (outcome.reason === 'missing_binary') {
      this.#log(
        `llmwatch exporter: ${outcome.message}. nvidia-smi ships with the NVIDIA driver: install the driver ` +
          `(Debian: nvidia-smi from non-free; Ubuntu: nvidia-utils-<version>), or pass --nvidia-smi /path/to/nvidia-smi. ${retry}.`,
      );
      return;
    }
    this.#log(`llmwatch exporter: GPU collection failed (${outcome.reason}): ${outcome.message}. ${retry}.`);
  }
}

/** The `reason` label of a failed run: the error registry's code, mapped onto the closed set. */
export function reasonOf(err: unknown): GpuCollectorError {
  if (err instanceof LlmwatchError) {
    switch (err.code) {
      case EXP_ERR_MISSING_BINARY.code:
        return 'missing_binary';
      case EXP_ERR_TIMEOUT.code:
        return 'timeout';
      case EXP_ERR_EXIT_CODE.code:
        return 'exit_code';
      case EXP_ERR_PARSE.code:
        return 'parse_error';
    }
  }
  // Nothing else is thrown on this path; were it to be, "the output could not be used" is the honest reason.
  return 'parse_error';
}
