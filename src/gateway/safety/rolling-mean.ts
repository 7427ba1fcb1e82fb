/**
 * The mean of the last `window` values, in O(1) per add: a ring buffer and a
 * running sum. Backs the per-model `openllm_output_toxicity_score` gauge.
 * @example
 * const mean = new RollingMean({ window: 2 });
 * mean.add(1); mean.add(0); mean.add(0); // the 1 has left the window
 * mean.value; // 0
 */
export class RollingMean {
  readonly window: number;
  readonly #ring: Float64Array;
  #next = 0;
  #count = 0;
  #sum = 0;
  /** Adds since the last resum; bounds the floating-point drift of the running sum. */
  #sinceResum = 0;

  constructor(options: { window?: number } = {}) {
    const window = options.window ?? 100;
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`RollingMean: window must be an integer >= 1, got ${window}`);
    this.window = window;
    this.#ring = new Float64Array(window);
  }

  /** Adds one value; the oldest leaves once the window is full. A non-finite value is ignored. */
  add(value: number): void {
    if (!Number.isFinite(value)) return;
    this.#sum += value - this.#ring[this.#next]!;
    this.#ring[this.#next] = value;
    this.#next = this.#next + 1 === this.window ? 0 : this.#next + 1;
    if (this.#count < this.window) this.#count++;
    // Adding and subtracting leaves rounding error behind (a window of zeros
    // can read 1e-17); summing the ring afresh once per `window` adds keeps it
    // from piling up over millions of adds, at O(1) amortised.
    if (++this.#sinceResum >= this.window) {
      this.#sinceResum = 0;
      let sum = 0;
      for (let i = 0; i < this.#count; i++) sum += this.#ring[i]!;
      this.#sum = sum;
    }
  }

  /** The mean of the values in the window; 0 when there are none. */
  get value(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** How many values are in the window (at most `window`). */
  get count(): number {
    return this.#count;
  }
}
