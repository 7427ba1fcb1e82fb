/** Longest stretch of responder work (decisions, steps, validation) between two turns of the event loop. */
export const SLICE_MS = 4;

/**
 * Cooperative time slicing for the responder's synchronous work (SQLite
 * commits, validation): each piece of work runs only while the current slice
 * of {@link SLICE_MS} lasts, the rest waits for the event loop's next turn,
 * when a new slice starts. So a burst of ten thousand alerts never keeps
 * `/healthz` or a new webhook waiting for more than a slice or so.
 *
 * Use it as `while (slice.over) await slice.next;` right before one bounded
 * piece of synchronous work. The check must run in the same microtask as the
 * work: behind an `await` of a function that checks inside, every waiter of a
 * turn passes its check before any of them has worked (each caller's work runs
 * a microtask after its check), and the whole crowd then runs in one turn:
 * 20 to 30 ms of commits at a time in the 10,000-alert burst of
 * bench/responder-burst.ts. Waiters wake in the order they came; those the
 * slice has no room for wait for the next one.
 */
export class TimeSlice {
  readonly #ms: number;
  readonly #clock: () => number;
  #start = Number.NEGATIVE_INFINITY;
  #next: Promise<void> | undefined;
  #turns = 0;

  constructor(ms = SLICE_MS, clock: () => number = () => performance.now()) {
    this.#ms = ms;
    this.#clock = clock;
  }

  /** Whether the current slice is used up: await {@link next}, then ask again. */
  get over(): boolean {
    return this.#clock() - this.#start > this.#ms;
  }

  /** Resolves on the event loop's next turn (setImmediate), when a new slice starts; one promise for all its waiters. */
  get next(): Promise<void> {
    this.#next ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.#next = undefined;
        this.#start = this.#clock();
        this.#turns++;
        resolve();
      }),
    );
    return this.#next;
  }

  /** Slices started so far. */
  get turns(): number {
    return this.#turns;
  }
}
