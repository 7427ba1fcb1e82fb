import { connect } from 'node:net';
import { freePort, startChild } from './processes.ts';
import type { Child } from './processes.ts';

/** A real `redis-server` on 127.0.0.1, without persistence, for one test file. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly child: Child;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on `port` (a free one when not given; given, to
 * restart a server where a client expects it) and waits until it answers
 * PING, for at most 10 s. Nothing is saved to disk, so no file is left behind.
 */
export async function startRedis(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const child = startChild('redis-server', [
    '--port', String(p),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    // The working directory stays untouched even if a SAVE is ever issued.
    '--dir', '/tmp',
  ]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await pings(p)) break;
    if (child.process.exitCode !== null || Date.now() > deadline) {
      await child.stop();
      throw new Error(`redis-server on port ${p} did not become ready:\n${child.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port: p, url: `redis://127.0.0.1:${p}`, child, stop: () => child.stop() };
}

/** True when a Redis on 127.0.0.1:`port` answers an inline PING with +PONG within 1 s. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (b) => {
      reply += b.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}
