import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { defineError } from '../errors.ts';

/** The port is held by another process (EADDRINUSE); `param` is `port`. The CLI names the flag that changes it. */
export const LISTEN_ERR_PORT_IN_USE = defineError('LISTEN_ERR_PORT_IN_USE', 500, 'server_error', 'port_in_use');
/** The port or address may not be bound by this user (EACCES, EADDRNOTAVAIL). */
export const LISTEN_ERR_DENIED = defineError('LISTEN_ERR_DENIED', 500, 'server_error', 'listen_denied');

/**
 * Starts listening and resolves with the bound port (useful with port 0). A
 * port in use or an address that cannot be bound rejects with a
 * `LISTEN_ERR_*` error naming the port, not Node's bare `EADDRINUSE`.
 */
export function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    function failed(err: NodeJS.ErrnoException) {
      reject(listenError(err, port, host));
    }
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string): unknown {
  switch (err.code) {
    case 'EADDRINUSE':
      return LISTEN_ERR_PORT_IN_USE(`Port ${port} on ${host} is already in use by another process`, { param: 'port', cause: err });
    case 'EACCES':
      return LISTEN_ERR_DENIED(`Port ${port} on ${host} may not be opened by this user (ports below 1024 need root)`, { param: 'port', cause: err });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return LISTEN_ERR_DENIED(`Address ${host} is not an address of this machine; use 127.0.0.1, 0.0.0.0 or one of its own addresses`, { param: 'host', cause: err });
    default:
      return err;
  }
}

/** Closes a server and every connection it holds, idle or not. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Whether `host` is an address only this machine reaches: 127.0.0.0/8, `::1` (bracketed or not),
 * `localhost`, `::ffff:127.0.0.1`. `0.0.0.0`, `::` and any other name are not.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
