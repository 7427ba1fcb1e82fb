import type { Rng } from './rng.ts';

/**
 * Waits `ms`, or less if `signal` aborts (the client went away or the server
 * is closing). Resolves true when the full time passed, so the caller knows
 * whether to go on; it never rejects, so no abort needs a catch.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const timer = setTimeout(onTime, ms);
    signal.addEventListener('abort', onAbort, { once: true });
    function onTime() {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }
    function onAbort() {
      clearTimeout(timer);
      resolve(false);
    }
  });
}

/** `ms` spread uniformly by ±`jitter` (relative); 0 stays 0 and draws nothing, so the zero-delay mode stays cheap. */
export function jittered(ms: number, jitter: number, rng: Rng): number {
  if (ms === 0) return 0;
  return jitter === 0 ? ms : Math.max(0, ms * (1 + jitter * (2 * rng.next() - 1)));
}

/** An AbortSignal that fires when the response closes, finished or not; an abort after the answer is harmless. */
export function closeSignal(res: { once(event: 'close', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}
