import { GW_ERR_QUEUE_FULL, GW_ERR_QUEUE_TIMEOUT } from './errors.ts';

/** Notified as a request enters and leaves the queue, for the queue gauges. */
export interface QueueObserver {
  queued(): void;
  /** `waitedMs` is how long it waited, whatever the way out. */
  dequeued(waitedMs: number): void;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly observer: QueueObserver;
  readonly since: number;
  readonly signal: AbortSignal;
  onAbort: () => void;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

/**
 * A counting semaphore with a bounded FIFO queue: at most `max` holders, at
 * most `maxQueue` waiters, each waiting at most `timeoutMs`. `tryAcquire`
 * takes a free slot without a promise, so the uncontended path allocates
 * nothing.
 */
export class ConcurrencyLimiter {
  #max: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  #active = 0;
  #waiting = 0;
  #queue: Waiter[] = [];
  #head = 0;

  constructor(max: number, maxQueue: number, timeoutMs: number) {
    this.#max = max;
    this.maxQueue = maxQueue;
    this.timeoutMs = timeoutMs;
  }

  /** Slots: fixed for one server, the sum over the admitted endpoints of a replicated upstream. */
  get max(): number {
    return this.#max;
  }

  /**
   * Changes the slot count. More slots go to waiters at once, oldest first;
   * fewer take effect as holders release (nobody running is interrupted).
   */
  resize(max: number): void {
    this.#max = max;
    while (this.#active < this.#max && this.#handOver()) this.#active++;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** Takes a slot if one is free and nobody is queued ahead. */
  tryAcquire(): boolean {
    if (this.#active < this.#max && this.#waiting === 0) {
      this.#active++;
      return true;
    }
    return false;
  }

  /**
   * Waits for a slot. Rejects with GW_ERR_QUEUE_FULL at once when the queue is
   * full, GW_ERR_QUEUE_TIMEOUT after `timeoutMs`, or the signal's reason when
   * the client goes away first. Call `tryAcquire` first.
   */
  acquire(observer: QueueObserver, signal: AbortSignal): Promise<void> {
    if (this.#waiting >= this.maxQueue) {
      return Promise.reject(
        GW_ERR_QUEUE_FULL(`The upstream is busy: ${this.#active} requests running and ${this.#waiting} queued (limit ${this.maxQueue})`, {
          headers: { 'retry-after': '1' },
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, observer, since: performance.now(), signal, onAbort: noop, timer: undefined, settled: false };
      w.onAbort = () => this.#leave(w, signal.reason);
      w.timer = setTimeout(
        () => this.#leave(w, GW_ERR_QUEUE_TIMEOUT(`No upstream slot became free within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.#queue.push(w);
      this.#waiting++;
      observer.queued();
    });
  }

  /** Frees a slot, handing it straight to the oldest waiter (unless the limiter shrank below its holders). */
  release(): void {
    if (this.#active > this.#max || !this.#handOver()) this.#active--;
  }

  /** Gives a slot to the oldest live waiter; false when nobody waits. */
  #handOver(): boolean {
    while (this.#head < this.#queue.length) {
      const w = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Waiter;
      if (w.settled) continue;
      this.#compact();
      this.#settle(w);
      w.resolve();
      return true;
    }
    this.#compact();
    return false;
  }

  #leave(w: Waiter, reason: unknown): void {
    if (w.settled) return;
    // Left in the array and skipped by release(): removal from the middle of
    // a FIFO is O(n), skipping is O(1).
    this.#settle(w);
    w.reject(reason);
  }

  #settle(w: Waiter): void {
    w.settled = true;
    clearTimeout(w.timer);
    w.signal.removeEventListener('abort', w.onAbort);
    this.#waiting--;
    w.observer.dequeued(performance.now() - w.since);
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

function noop(): void {}
