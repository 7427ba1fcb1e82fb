import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Registry } from 'prom-client';
import type { MetricsSource } from '../core/http/serve.ts';

/**
 * `llmwatch gateway --workers N`: N gateway processes (node:cluster) share
 * one listening socket, and every worker's `/metrics` answers for all of
 * them. A worker asked for `/metrics` asks the primary, which collects every
 * worker's registry over IPC and aggregates it with prom-client's
 * AggregatorRegistry: counters and histograms are summed series by series
 * (so `requests_total` is exactly the requests served, whichever worker
 * served them), gauges by the aggregator each declares (summed unless it
 * says otherwise: `route_active` and `build_info` take the maximum, the
 * toxicity mean the average).
 */
const METRICS_REQUEST = 'llmwatch:gateway-metrics-request';
const METRICS_ANSWER = 'llmwatch:gateway-metrics-answer';
const LISTENING = 'llmwatch:gateway-listening';

interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}
interface MetricsAnswer {
  readonly type: typeof METRICS_ANSWER;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Runs the primary: forks `workers` workers (each runs the same command and
 * so the same config) and serves their requests for the aggregated metrics.
 * Resolves with the URL the first worker printed, once every worker listens.
 * A worker that dies ends the gateway: a half-sized gateway is not silently
 * kept running.
 */
export async function runPrimary(workers: number): Promise<{ url: string; close(): Promise<void> }> {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: MetricsRequest) => {
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_ANSWER, id: message.id, text } satisfies MetricsAnswer),
      (err: unknown) => worker.send({ type: METRICS_ANSWER, id: message.id, error: String((err as Error).message) } satisfies MetricsAnswer),
    );
  });
  let closing = false;
  const forked: Worker[] = [];
  const urls = await Promise.all(
    Array.from({ length: workers }, () => {
      const w = cluster.fork();
      forked.push(w);
      return new Promise<string>((resolve, reject) => {
        w.on('message', (m: { type?: string; url?: string }) => {
          if (m?.type === LISTENING) resolve(m.url!);
        });
        w.on('exit', (code) => {
          if (closing) return;
          reject(new Error(`gateway worker ${w.id} exited with ${code}`));
          process.exitCode = 1;
          // One worker gone: stop the others, the gateway is not what was asked for.
          for (const other of forked) if (other !== w && !other.isDead()) other.process.kill('SIGTERM');
        });
      });
    }),
  );
  return {
    url: urls[0]!,
    close: async () => {
      closing = true;
      await Promise.all(
        forked.filter((w) => !w.isDead()).map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve());
              // The worker's own SIGTERM handling closes its gateway; Worker.kill() would first wait
              // for the worker's server to disconnect, which keep-alive clients can hold off for good.
              w.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** In a worker: tells the primary the gateway listens. */
export function announceListening(url: string): void {
  process.send?.({ type: LISTENING, url });
}

/**
 * In a worker: hands `registry` to the primary's aggregation and returns the
 * `/metrics` source that answers with the aggregate of all workers.
 */
export function clusterMetricsSource(registry: Registry): MetricsSource {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs the worker's answer to the primary's collection requests.
  new AggregatorRegistry();
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  process.on('message', (m: MetricsAnswer) => {
    if (m?.type !== METRICS_ANSWER) return;
    const p = pending.get(m.id);
    if (p === undefined) return;
    pending.delete(m.id);
    if (m.text !== undefined) p.resolve(m.text);
    else p.reject(new Error(`aggregating the workers' metrics failed: ${m.error}`));
  });
  return {
    contentType: registry.contentType,
    metrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        process.send!({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      }),
  };
}
