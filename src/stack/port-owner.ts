import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Who listens on a TCP port, from Linux's /proc: the inodes of the sockets in
 * state LISTEN on `port` (/proc/net/tcp and tcp6), then the processes holding
 * one of them among their file descriptors. Reading costs what the machine's
 * socket and process tables hold: bounded, and only at start-up.
 */

const LISTEN = '0A';

/** The socket inodes listening on `port`; undefined where /proc/net is not there (not Linux). */
export function listeningInodes(port: number): Set<string> | undefined {
  const inodes = new Set<string>();
  let found = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    found = true;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      const local = f[1]!;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(f[9]!);
    }
  }
  return found ? inodes : undefined;
}

/** Whether process `pid` holds one of `inodes` among its file descriptors. */
export function holdsSocket(pid: number, inodes: ReadonlySet<string>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return true;
  }
  return false;
}

/** Some process of ours (same user) that holds one of `inodes`: its pid and command line, for an error to name. */
export function findHolder(inodes: ReadonlySet<string>): { pid: number; command: string } | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const p of pids) {
    const pid = Number(p);
    if (!holdsSocket(pid, inodes)) continue;
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200);
    } catch {
      // gone meanwhile
    }
    return { pid, command };
  }
  return undefined;
}

/**
 * What serves `port`, seen from `pid`: `own` when that process holds a
 * listening socket on it, `other` (with the holder where it can be seen) when
 * something else does, `unknown` where /proc cannot tell (not Linux).
 */
export function portOwner(port: number, pid: number): { kind: 'own' } | { kind: 'unknown' } | { kind: 'other'; holder?: { pid: number; command: string } } {
  const inodes = listeningInodes(port);
  if (inodes === undefined) return { kind: 'unknown' };
  if (inodes.size > 0 && holdsSocket(pid, inodes)) return { kind: 'own' };
  const holder = inodes.size > 0 ? findHolder(inodes) : undefined;
  return holder === undefined ? { kind: 'other' } : { kind: 'other', holder };
}
