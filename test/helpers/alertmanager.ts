import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitReady } from './processes.ts';
import type { Child } from './processes.ts';

/** One alert as Alertmanager's v2 API lists it. */
export interface GettableAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly fingerprint: string;
  readonly receivers: Array<{ name: string }>;
  readonly status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[]; silencedBy: string[] };
}

/** An alert to post: labels (alertname included) and optional annotations. */
export interface PostableAlert {
  readonly labels: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface Alertmanager {
  readonly url: string;
  readonly child: Child;
  /** Posts firing alerts to `/api/v2/alerts`. */
  post(alerts: readonly PostableAlert[]): Promise<void>;
  /** Lists every alert Alertmanager holds, inhibited and silenced ones included. */
  alerts(): Promise<GettableAlert[]>;
  close(): Promise<void>;
}

/**
 * Starts the real Alertmanager binary (Debian package) on a free port with the
 * given config and a throwaway storage folder, clustering off (a single local
 * instance needs `--cluster.listen-address=`).
 */
export async function startAlertmanager(configYaml: string): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-am-'));
  const port = await freePort();
  writeFileSync(join(dir, 'alertmanager.yml'), configYaml);
  const child = startChild('prometheus-alertmanager', [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await waitReady(`${url}/-/ready`, child, 'Alertmanager', close);
  return {
    url,
    child,
    post: async (alerts) => {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts.map((a) => ({ labels: a.labels, annotations: a.annotations ?? {} }))),
      });
      if (!res.ok) throw new Error(`POST /api/v2/alerts: ${res.status} ${await res.text()}`);
    },
    alerts: async () => {
      const res = await fetch(`${url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`);
      if (!res.ok) throw new Error(`GET /api/v2/alerts: ${res.status} ${await res.text()}`);
      return (await res.json()) as GettableAlert[];
    },
    close,
  };
}

/** A webhook receiver that keeps every JSON body posted to it, by path. */
export interface WebhookSink {
  readonly url: string;
  /** Bodies received so far on `path`, oldest first. */
  received(path: string): unknown[];
  /** The Authorization headers received on `path`, oldest first ('' where none). */
  authorizations(path: string): string[];
  close(): Promise<void>;
}

/**
 * A stand-in for the peers Alertmanager notifies (the llmwatch responder, a
 * Slack or generic webhook), on 127.0.0.1 and port 0: it answers 200 and keeps
 * what it was sent, so a test can see what a real Alertmanager delivered.
 */
export async function startWebhookSink(): Promise<WebhookSink> {
  const bodies = new Map<string, unknown[]>();
  const auths = new Map<string, string[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://sink').pathname;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      bodies.set(path, [...(bodies.get(path) ?? []), body]);
      auths.set(path, [...(auths.get(path) ?? []), req.headers.authorization ?? '']);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received: (path) => [...(bodies.get(path) ?? [])],
    authorizations: (path) => [...(auths.get(path) ?? [])],
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
