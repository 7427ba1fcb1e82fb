import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomInt } from 'node:crypto';
import { hasCode } from '../core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE, listen } from '../core/http/listen.ts';

/** The kernel's range of ports for outgoing connections (Linux); undefined where it cannot be read. */
export function ephemeralRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): { readonly low: number; readonly high: number } | undefined {
  try {
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && low! <= high! && high! <= 65535) return { low: low!, high: high! };
  } catch {
    // not Linux, or /proc is not mounted: fall back to the kernel's choice
  }
  return undefined;
}

/** Where free ports are drawn from: below the ephemeral range, else above it; undefined where neither leaves room. */
export function freePortPool(range: { readonly low: number; readonly high: number } | undefined): { readonly from: number; readonly to: number } | undefined {
  if (range === undefined) return undefined;
  const FLOOR = 10_000;
  const ROOM = 1_000;
  if (range.low - FLOOR >= ROOM) return { from: FLOOR, to: range.low - 1 };
  if (65535 - range.high >= ROOM) return { from: range.high + 1, to: 65535 };
  return undefined;
}

/** Ports this process has handed out, so two parts it starts never get the same one. */
const handedOut = new Set<number>();
const HANDED_OUT_CAP = 4_096;

/**
 * A free TCP port on 127.0.0.1, for binaries that cannot listen on port 0 and
 * report it. The port is closed again before the binary binds it, so it is
 * drawn from outside the kernel's ephemeral range: a port 0 listener takes its
 * port from that range, and so does every outgoing connection, and one of
 * those taking the port in between made a stack's part fail to bind it
 * (seen in CI: the local stack's test, "port ... already in use"). Where the
 * range cannot be read, the kernel picks, as before.
 */
export async function freePort(): Promise<number> {
  const pool = freePortPool(ephemeralRange());
  if (pool !== undefined) {
    for (let i = 0; i < 64; i++) {
      const p = randomInt(pool.from, pool.to + 1);
      if (handedOut.has(p)) continue;
      if (await bindable(p)) return remember(p);
    }
  }
  // The kernel's pick; one this process handed out before is asked again, a bounded number of times.
  for (let i = 0; ; i++) {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address() as AddressInfo;
    await new Promise((r) => srv.close(r));
    if (!handedOut.has(port) || i >= 16) return remember(port);
  }
}

function remember(port: number): number {
  if (handedOut.size >= HANDED_OUT_CAP) handedOut.delete(handedOut.values().next().value!);
  handedOut.add(port);
  return port;
}

async function bindable(port: number): Promise<boolean> {
  const srv = createServer();
  try {
    await listen(srv, port, '127.0.0.1');
  } catch {
    return false;
  }
  await new Promise((r) => srv.close(r));
  return true;
}

/**
 * Stops with `LISTEN_ERR_PORT_IN_USE` naming the port and `what` it is for
 * when 127.0.0.1:`port` cannot be bound; checked before anything starts, so a
 * taken port does not leave half a stack running.
 */
export async function assertPortFree(port: number, what: string): Promise<void> {
  const srv = createServer();
  try {
    await listen(srv, port, '127.0.0.1');
  } catch (err) {
    if (hasCode(err, LISTEN_ERR_PORT_IN_USE)) {
      throw LISTEN_ERR_PORT_IN_USE(`Port ${port} on 127.0.0.1 (for ${what}) is already in use by another process`, { param: 'port', cause: err });
    }
    throw err;
  }
  await new Promise((r) => srv.close(r));
}
