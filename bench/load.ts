// Load generation shared by the gateway benchmarks.
import type { Pool } from 'undici';

export interface PhaseResult {
  latencies: number[];
  errors: number;
  /** Requests sent (open loop: all of them, whatever the answers). */
  sent?: number;
  wallSeconds: number;
}

/** Sends `rate` requests per second for `seconds`, open loop: a slow answer never delays the next request. */
export async function openLoop(pool: Pool, path: string, body: string, rate: number, seconds: number): Promise<PhaseResult> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  let done = 0;
  const start = performance.now();
  const interval = 1000 / rate;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const one = async () => {
    const sentAt = performance.now();
    try {
      const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body.text();
      if (res.statusCode === 200) latencies.push(performance.now() - sentAt);
      else errors++;
    } catch {
      errors++;
    }
    if (++done === total) finish();
  };
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      for (; sent < due; sent++) void one();
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await finished;
  return { latencies, errors, sent, wallSeconds: (performance.now() - start) / 1000 };
}

/** The `q` quantile of an ascending array (NaN when empty). */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
