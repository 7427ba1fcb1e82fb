import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { LISTEN_ERR_PORT_IN_USE } from '../src/core/http/listen.ts';
import { ephemeralRange, freePort, freePortPool } from '../src/stack/ports.ts';
import { startStack } from '../src/stack/stack.ts';
import { compressedTimings } from '../src/stack/timings.ts';

// A free port is closed before the binary binds it; CI once saw a stack part fail to bind
// its port because something took it in between. Free ports now come from outside the
// kernel's ephemeral range, and `up --free-ports` starts again on other ports when one is taken.

test('the ephemeral range is read from the kernel file; a bad file is no range', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-ports-'));
  try {
    const f = join(dir, 'range');
    writeFileSync(f, '32768\t60999\n');
    assert.deepEqual(ephemeralRange(f), { low: 32768, high: 60999 });
    for (const bad of ['', 'x y', '60999 32768', '0 100', '1024 70000']) {
      writeFileSync(f, bad);
      assert.equal(ephemeralRange(f), undefined, bad);
    }
    assert.equal(ephemeralRange(join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the pool lies below the ephemeral range, else above it, else there is none', () => {
  assert.deepEqual(freePortPool({ low: 32768, high: 60999 }), { from: 10_000, to: 32767 });
  assert.deepEqual(freePortPool({ low: 10_500, high: 60999 }), { from: 61_000, to: 65535 });
  assert.equal(freePortPool({ low: 1024, high: 65000 }), undefined);
  assert.equal(freePortPool(undefined), undefined);
});

test('free ports: never in the ephemeral range, never the same twice, bindable when handed out', async () => {
  const range = ephemeralRange();
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const p = await freePort();
    assert.ok(!seen.has(p), `port ${p} handed out twice`);
    seen.add(p);
    if (range !== undefined && freePortPool(range) !== undefined) assert.ok(p < range.low || p > range.high, `port ${p} in the ephemeral range ${range.low}-${range.high}`);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(p, '127.0.0.1', r));
    await new Promise((r) => srv.close(r));
  }
});

test('up --free-ports: a port taken before its part binds it starts the stack again on other ports; one that stays taken stops it after three attempts', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-stack-ports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Holds the port the first attempt picks for Prometheus (the fourth pick), answering 503 so
  // only Prometheus' exit and its log can tell: the in-process parts and two children start first.
  const holder = createServer((_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => holder.close(r)));
  const taken = (holder.address() as AddressInfo).port;
  let picks = 0;
  const lines: string[] = [];
  const stack = await startStack({
    dir,
    ports: 'free',
    timings: compressedTimings(),
    log: (l) => lines.push(l),
    pickPort: async () => (++picks === 4 ? taken : freePort()),
  });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await stack.stop();
  });
  const retries = lines.filter((l) => l.startsWith('retry  ports'));
  assert.equal(retries.length, 1, lines.join('\n'));
  assert.match(retries[0]!, new RegExp(`Prometheus could not bind port ${taken} on 127\\.0\\.0\\.1: it is already in use by another process; see .*prometheus\\.log; starting again on other free ports \\(2 of 3\\)`));
  assert.equal(picks, 18, 'nine ports an attempt');
  assert.notEqual(new URL(stack.info.urls.prometheus).port, String(taken));
  // The stack that started is whole: Prometheus answers and scrapes the gateway of this attempt.
  let scraped: string[] = [];
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const body = (await (await fetch(`${stack.info.urls.prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ scrapeUrl: string }> } };
    scraped = body.data.activeTargets.map((x) => x.scrapeUrl);
    if (scraped.includes(`${stack.info.urls.gateway}/metrics`)) break;
  }
  assert.ok(scraped.includes(`${stack.info.urls.gateway}/metrics`), JSON.stringify(scraped));
  await stack.stop();
  stopped = true;

  // A part that keeps failing to bind: three attempts, then the error.
  const dir2 = mkdtempSync(join(tmpdir(), 'llmwatch-stack-ports-'));
  t.after(() => rmSync(dir2, { recursive: true, force: true }));
  const lines2: string[] = [];
  const err = await startStack({ dir: dir2, ports: 'free', timings: compressedTimings(), log: (l) => lines2.push(l), pickPort: async () => taken }).then(
    (s) => s.stop().then(() => undefined),
    (e: unknown) => e,
  );
  assert.ok(hasCode(err, LISTEN_ERR_PORT_IN_USE), String(err));
  assert.equal(lines2.filter((l) => l.startsWith('retry  ports')).length, 2, lines2.join('\n'));
});
