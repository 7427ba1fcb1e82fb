import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE } from '../src/core/http/listen.ts';
import { COMPONENTS, locate } from '../src/stack/binaries.ts';
import { startLogged, waitHealthy } from '../src/stack/children.ts';
import type { StackChild } from '../src/stack/children.ts';
import { portOwner } from '../src/stack/port-owner.ts';
import { freePort } from './helpers/processes.ts';

// `llmwatch up` checks that each ready answer comes from the child it started (issue 15, point 6):
// a port some other process already serves must not pass for Prometheus, Alertmanager or node-exporter.
describe('the local stack: a ready answer must come from its own child', () => {
  let dir: string;
  const children: StackChild[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmwatch-port-owner-'));
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a stranger answering on the port is LISTEN_ERR_PORT_IN_USE naming it, not ready', async () => {
    // The stranger: this test's own process, answering /-/ready like Prometheus would.
    const stranger = createServer((_req, res) => res.end('Prometheus Server is Ready.\n'));
    await new Promise<void>((r) => stranger.listen(0, '127.0.0.1', r));
    const port = (stranger.address() as AddressInfo).port;
    try {
      // The stack's child: alive, but not serving the port (as a binary that failed to bind would be, for a moment).
      const child = startLogged('prometheus', 'sleep', ['30'], join(dir, 'sleep.log'));
      children.push(child);
      const err = await waitHealthy('Prometheus', `http://127.0.0.1:${port}/-/ready`, child, { port, ms: 5_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(hasCode(err, LISTEN_ERR_PORT_IN_USE), `expected LISTEN_ERR_PORT_IN_USE, got ${String(err)}`);
      const message = (err as Error).message;
      assert.match(message, new RegExp(`Port ${port} answered for Prometheus`));
      assert.match(message, new RegExp(`pid ${process.pid}\\b`), message);
      assert.deepEqual(portOwner(port, process.pid), { kind: 'own' });
    } finally {
      await new Promise((r) => stranger.close(r));
    }
  });

  it('the real node-exporter on its own port is ready', async () => {
    const bin = locate(COMPONENTS.nodeExporter);
    assert.ok(bin, 'prometheus-node-exporter is installed (.ci/run installs it)');
    const port = await freePort();
    const ne = startLogged('node-exporter', bin, [`--web.listen-address=127.0.0.1:${port}`], join(dir, 'ne.log'));
    children.push(ne);
    await waitHealthy('node-exporter', `http://127.0.0.1:${port}/metrics`, ne, { port });
    assert.equal(portOwner(port, ne.process.pid!).kind, 'own');
    // And seen from another process, the port is someone else's.
    assert.equal(portOwner(port, process.pid).kind, 'other');
  });

  it('a child that cannot bind its port (taken by a process that answers no ready) is LISTEN_ERR_PORT_IN_USE naming the port, not "exited"', async () => {
    const bin = locate(COMPONENTS.nodeExporter);
    assert.ok(bin, 'prometheus-node-exporter is installed (.ci/run installs it)');
    // The holder answers 503, so only the child's exit and its log can tell what went wrong.
    const holder = createServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const ne = startLogged('node-exporter', bin, [`--web.listen-address=127.0.0.1:${port}`], join(dir, 'ne-taken.log'));
      children.push(ne);
      const err = await waitHealthy('node-exporter', `http://127.0.0.1:${port}/metrics`, ne, { port, ms: 20_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(hasCode(err, LISTEN_ERR_PORT_IN_USE), `expected LISTEN_ERR_PORT_IN_USE, got ${String(err)}`);
      assert.match((err as Error).message, new RegExp(`node-exporter could not bind port ${port} on 127\\.0\\.0\\.1: it is already in use by another process; see .*ne-taken\\.log`));
      // Without the port, the same exit is only an exit.
      const ne2 = startLogged('node-exporter', bin, [`--web.listen-address=127.0.0.1:${port}`], join(dir, 'ne-taken2.log'));
      children.push(ne2);
      const err2 = await waitHealthy('node-exporter', `http://127.0.0.1:${port}/metrics`, ne2, { ms: 20_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.match(String(err2), /node-exporter exited with code 1/);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it('a port nobody listens on belongs to nobody', async () => {
    const port = await freePort();
    assert.deepEqual(portOwner(port, process.pid), { kind: 'other' });
  });
});
