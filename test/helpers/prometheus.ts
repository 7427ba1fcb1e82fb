import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitReady } from './processes.ts';
import type { Child } from './processes.ts';

export interface Prometheus {
  readonly url: string;
  readonly child: Child;
  /** Runs an instant query and returns its vector result. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  close(): Promise<void>;
}

/**
 * Starts the real Prometheus binary (Debian package) on a free port with a
 * throwaway TSDB, scraping `targets` (host:port) every second.
 */
export async function startPrometheus(targets: string[], extraConfig = ''): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-prom-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: llmwatch\n    static_configs:\n      - targets: ${JSON.stringify(targets)}\n${extraConfig}`,
  );
  const child = startChild('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--rules.alert.resend-delay=1s',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await waitReady(`${url}/-/ready`, child, 'Prometheus', close);
  return {
    url,
    child,
    query: async (expr) => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
      return body.data.result;
    },
    close,
  };
}
