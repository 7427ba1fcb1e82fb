import { performance } from 'node:perf_hooks';
import type { EngineConfig } from '../core/config/simulator-config.ts';
import { VLLM_FINISH_REASONS } from '../core/conventions/vllm.ts';
import type { VllmFinishReason } from '../core/conventions/vllm.ts';
import { Histogram, histogramBounds } from './engine-metrics.ts';
import type { EngineSnapshot } from './engine-metrics.ts';

/**
 * A small model of a vLLM engine core (vllm/v1/core/sched/scheduler.py, FCFS policy), enough for
 * its metrics to move as a real one's do:
 * - a batch of at most `maxNumSeqs` running requests, and a waiting queue served first come, first served;
 * - a KV cache of `kvCacheTokens / blockSize` blocks: a running request holds one block per
 *   `blockSize` tokens of its context (prompt plus output so far), so usage grows with context length
 *   and with concurrency; a waiting request is admitted only when its context's blocks are free;
 * - when a running request needs a block and none is free, the most recently admitted request is
 *   preempted (`self.running.pop()` in vLLM): its blocks are freed and it goes back to the front of the
 *   queue, to be recomputed once there is room;
 * - a prefix cache of full prompt blocks: a prompt whose leading blocks were seen before hits them.
 * Time is the simulator's own (the profile's delays); the engine decides only when a request may run.
 */
export class EngineCore {
  readonly model: string;
  readonly index: number;
  readonly #maxNumSeqs: number;
  readonly #blockSize: number;
  readonly #totalBlocks: number;
  #freeBlocks: number;
  readonly #running: EngineRequest[] = [];
  readonly #waiting: EngineRequest[] = [];
  /** Hashes of cached full prompt blocks, oldest first (a Map keeps insertion order: LRU by re-insertion). */
  readonly #prefixCache = new Map<number, true>();
  readonly #counters = { prefixCacheQueries: 0, prefixCacheHits: 0, preemptions: 0, promptTokens: 0, generationTokens: 0 };
  readonly #finished = Object.fromEntries(VLLM_FINISH_REASONS.map((r) => [r, 0])) as Record<VllmFinishReason, number>;
  readonly #histograms: EngineSnapshot['histograms'];
  /** Seconds with at least one request running, up to `#busySince` (the start of the current busy spell, if any). */
  #busyTotal = 0;
  #busySince: number | undefined;
  /** Used blocks at each change, oldest first, as far back as the last {@link kvCacheUsagePeak} window needs. */
  readonly #usedHistory: Array<{ at: number; used: number }> = [{ at: seconds(), used: 0 }];

  constructor(model: string, index: number, config: EngineConfig) {
    this.model = model;
    this.index = index;
    this.#maxNumSeqs = config.maxNumSeqs;
    this.#blockSize = config.blockSize;
    this.#totalBlocks = Math.floor(config.kvCacheTokens / config.blockSize);
    this.#freeBlocks = this.#totalBlocks;
    const h = (key: Parameters<typeof histogramBounds>[0]) => new Histogram(histogramBounds(key, config.maxModelLen));
    this.#histograms = {
      promptTokensPerRequest: h('promptTokensPerRequest'),
      generationTokensPerRequest: h('generationTokensPerRequest'),
      timeToFirstToken: h('timeToFirstToken'),
      interTokenLatency: h('interTokenLatency'),
      e2eLatency: h('e2eLatency'),
      queueTime: h('queueTime'),
    };
  }

  /**
   * Seconds, on the engine's clock, during which at least one request was running: a GPU runs a kernel
   * for every step of a non-empty batch, which is what nvidia-smi's `utilization.gpu` samples.
   */
  busySeconds(now = seconds()): number {
    return this.#busyTotal + (this.#busySince === undefined ? 0 : now - this.#busySince);
  }

  /** Requests queued plus running: what data-parallel balancing weighs. */
  get load(): number {
    return this.#waiting.length * 4 + this.#running.length;
  }

  /** A new request joins the queue; it runs at once when there is room. */
  add(promptTokens: number, prefixHashes: readonly number[]): EngineRequest {
    const req = new EngineRequest(this, promptTokens, prefixHashes);
    this.#waiting.push(req);
    this.#schedule();
    return req;
  }

  /**
   * Makes room for `req`'s next token: a block when its context fills the ones it holds, taken from
   * the free ones or else by preempting the most recently admitted requests (perhaps `req` itself).
   * False when `req` is not running (waiting, or preempted now): it must wait to be readmitted.
   */
  reserve(req: EngineRequest): boolean {
    if (req.state !== 'running') return false;
    if (req.context + 1 <= req.blocks * this.#blockSize) return true;
    while (this.#freeBlocks === 0) {
      // Alone and still out of room: its context is longer than the whole cache. vLLM refuses such a
      // prompt at the door (max_model_len); here it runs on rather than preempting itself forever.
      if (this.#running.length === 1) return true;
      const victim = this.#running.pop()!;
      this.#preempt(victim);
      this.#busyChanged();
      if (victim === req) return false;
    }
    this.#setFree(this.#freeBlocks - 1);
    req.blocks += 1;
    return true;
  }

  /** Tokens `req` can add before it needs another block (at least 1 once {@link reserve} said yes). */
  room(req: EngineRequest): number {
    return Math.max(1, req.blocks * this.#blockSize - req.context);
  }

  /** `req` produced one output token, now or at `now` (seconds on the engine's clock, for a batch of tokens timed after the fact). */
  emit(req: EngineRequest, now = seconds()): void {
    req.context += 1;
    req.generated += 1;
    this.#counters.generationTokens += 1;
    if (req.firstTokenAt === undefined) {
      req.firstTokenAt = now;
      // vLLM counts a request's prompt once, with its first token (IterationStats, is_prefilling).
      this.#counters.promptTokens += req.promptTokens;
      this.#histograms.timeToFirstToken.observe(now - req.arrival);
    } else {
      this.#histograms.interTokenLatency.observe(now - req.lastTokenAt!);
    }
    req.lastTokenAt = now;
  }

  /** `req` is done: its blocks are freed and the queue moves. */
  finish(req: EngineRequest, reason: VllmFinishReason): void {
    if (req.state === 'finished') return;
    if (req.state === 'running') {
      this.#running.splice(this.#running.indexOf(req), 1);
      this.#setFree(this.#freeBlocks + req.blocks);
      req.blocks = 0;
      this.#busyChanged();
    } else {
      this.#waiting.splice(this.#waiting.indexOf(req), 1);
    }
    req.state = 'finished';
    req.wake(false);
    this.#finished[reason] += 1;
    const now = seconds();
    this.#histograms.e2eLatency.observe(now - req.arrival);
    this.#histograms.promptTokensPerRequest.observe(req.promptTokens);
    this.#histograms.generationTokensPerRequest.observe(req.generated);
    if (req.scheduledAt === undefined) this.#histograms.queueTime.observe(now - req.arrival);
    this.#schedule();
  }

  /** Share of the KV cache's blocks in use, 0..1 (`vllm:kv_cache_usage_perc`). */
  get kvCacheUsage(): number {
    return this.#totalBlocks === 0 ? 0 : (this.#totalBlocks - this.#freeBlocks) / this.#totalBlocks;
  }

  /**
   * The highest KV-cache usage, 0..1, at any moment of the last `windowS` seconds: what a caching
   * allocator holding freed blocks for that long still has reserved (src/simulator/gpu.ts).
   */
  kvCacheUsagePeak(windowS: number, now = seconds()): number {
    this.#prune(now - windowS);
    let peak = 0;
    for (const h of this.#usedHistory) peak = Math.max(peak, h.used);
    return this.#totalBlocks === 0 ? 0 : peak / this.#totalBlocks;
  }

  snapshot(): EngineSnapshot {
    return {
      model: this.model,
      engine: this.index,
      gauges: {
        running: this.#running.length,
        waiting: this.#waiting.length,
        kvCacheUsage: this.kvCacheUsage,
      },
      counters: { ...this.#counters },
      finished: { ...this.#finished },
      histograms: this.#histograms,
    };
  }

  #setFree(free: number): void {
    this.#freeBlocks = free;
    const now = seconds();
    this.#usedHistory.push({ at: now, used: this.#totalBlocks - free });
    // Keeps the history to the longest window a GPU reading asks for (gpu.memoryHoldMs, at most a minute).
    this.#prune(now - MAX_PEAK_WINDOW_S);
  }

  /** Drops changes superseded before `from`: the first kept one is the value in effect at `from`. */
  #prune(from: number): void {
    let drop = 0;
    while (drop + 1 < this.#usedHistory.length && this.#usedHistory[drop + 1]!.at <= from) drop++;
    if (drop > 0) this.#usedHistory.splice(0, drop);
  }

  /** Opens or closes a busy spell when the batch becomes non-empty or empty. */
  #busyChanged(): void {
    if (this.#running.length > 0) {
      this.#busySince ??= seconds();
    } else if (this.#busySince !== undefined) {
      this.#busyTotal += seconds() - this.#busySince;
      this.#busySince = undefined;
    }
  }

  #preempt(victim: EngineRequest): void {
    this.#setFree(this.#freeBlocks + victim.blocks);
    victim.blocks = 0;
    victim.state = 'waiting';
    this.#waiting.unshift(victim);
    this.#counters.preemptions += 1;
  }

  /** Admits waiting requests in order while a slot and their context's blocks are free. */
  #schedule(): void {
    while (this.#waiting.length > 0 && this.#running.length < this.#maxNumSeqs) {
      const head = this.#waiting[0]!;
      const need = Math.max(1, Math.ceil((head.context + 1) / this.#blockSize));
      // A prompt larger than the whole cache runs alone (see reserve).
      if (need > this.#freeBlocks && !(this.#running.length === 0)) return;
      this.#waiting.shift();
      const got = Math.min(need, this.#freeBlocks);
      this.#setFree(this.#freeBlocks - got);
      head.blocks = got;
      head.state = 'running';
      this.#running.push(head);
      this.#busyChanged();
      this.#lookupPrefix(head);
      if (head.scheduledAt === undefined) {
        head.scheduledAt = seconds();
        this.#histograms.queueTime.observe(head.scheduledAt - head.arrival);
      }
      head.wake(true);
    }
  }

  /**
   * vLLM's prefix-cache accounting: every scheduling of a request queries its prompt's tokens, and hits
   * the leading full blocks already cached, at most all but the last token (which must be computed).
   */
  #lookupPrefix(req: EngineRequest): void {
    this.#counters.prefixCacheQueries += req.promptTokens;
    let hit = 0;
    for (const h of req.prefixHashes) {
      if (!this.#prefixCache.has(h)) break;
      hit += 1;
    }
    this.#counters.prefixCacheHits += Math.min(hit * this.#blockSize, Math.max(0, req.promptTokens - 1));
    for (const h of req.prefixHashes) {
      this.#prefixCache.delete(h);
      this.#prefixCache.set(h, true);
    }
    while (this.#prefixCache.size > this.#totalBlocks) this.#prefixCache.delete(this.#prefixCache.keys().next().value!);
  }
}

/** The longest window {@link EngineCore.kvCacheUsagePeak} may be asked for, in seconds. */
export const MAX_PEAK_WINDOW_S = 60;

/** One request's place in an engine core. */
export class EngineRequest {
  readonly engine: EngineCore;
  readonly promptTokens: number;
  readonly prefixHashes: readonly number[];
  readonly arrival = seconds();
  state: 'waiting' | 'running' | 'finished' = 'waiting';
  /** Tokens whose KV the request needs: prompt plus output so far. */
  context: number;
  blocks = 0;
  generated = 0;
  scheduledAt: number | undefined;
  firstTokenAt: number | undefined;
  lastTokenAt: number | undefined;
  #waiters: Array<(running: boolean) => void> = [];

  constructor(engine: EngineCore, promptTokens: number, prefixHashes: readonly number[]) {
    this.engine = engine;
    this.promptTokens = promptTokens;
    this.prefixHashes = prefixHashes;
    this.context = promptTokens;
  }

  /** Resolves true once the request runs, false when it finished (or `signal` aborted) first. */
  admitted(signal: AbortSignal): Promise<boolean> {
    if (this.state === 'running') return Promise.resolve(true);
    if (this.state === 'finished' || signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push((running) => {
        signal.removeEventListener('abort', onAbort);
        resolve(running);
      });
    });
  }

  /** Called by the engine when the request is admitted (true) or finished (false). */
  wake(running: boolean): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(running);
  }
}

/**
 * The engine cores serving one model: one, or `dataParallelSize` ranks (vLLM's `engine` label), a new
 * request going to the least loaded (vLLM's data-parallel balancing weighs waiting x 4 + running).
 */
export class ModelEngines {
  readonly cores: readonly EngineCore[];
  /** vLLM's `--max-model-len`: prompt and output together. */
  readonly maxModelLen: number;
  readonly #blockSize: number;

  constructor(model: string, config: EngineConfig) {
    this.cores = Array.from({ length: config.dataParallelSize }, (_, i) => new EngineCore(model, i, config));
    this.maxModelLen = config.maxModelLen;
    this.#blockSize = config.blockSize;
  }

  /** Queues a request of `promptTokens` whose prompt reads `promptText` (for the prefix cache). */
  add(promptTokens: number, promptText: string): EngineRequest {
    let best = this.cores[0]!;
    for (const c of this.cores) if (c.load < best.load) best = c;
    return best.add(promptTokens, prefixHashes(promptText, promptTokens, this.#blockSize));
  }
}

/**
 * A chained hash per full block of the prompt: the text is cut into as many equal slices as the prompt
 * has tokens' worth of blocks, each hash covering everything before it, as vLLM's block hashes do.
 */
export function prefixHashes(text: string, promptTokens: number, blockSize: number): number[] {
  const blocks = Math.floor(promptTokens / blockSize);
  if (blocks === 0 || text.length === 0) return [];
  const out: number[] = [];
  let h = 0x811c9dc5;
  let from = 0;
  for (let b = 1; b <= blocks; b++) {
    const to = Math.round((text.length * b * blockSize) / promptTokens);
    for (let i = from; i < to; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    from = to;
    out.push(h);
  }
  return out;
}

/** The engine's clock, in seconds. */
export function seconds(): number {
  return performance.now() / 1000;
}
