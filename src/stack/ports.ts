import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { hasCode } from '../core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE, listen } from '../core/http/listen.ts';

/** A free TCP port on 127.0.0.1, for binaries that cannot listen on port 0 and report it. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
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
