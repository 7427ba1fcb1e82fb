import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Registry, Counter } from 'prom-client';
import { HTTP_ERR_FORBIDDEN } from '../src/core/http/errors.ts';
import { close, listen } from '../src/core/http/listen.ts';
import { sendJson } from '../src/core/http/send.ts';
import { serve, serverURL } from '../src/core/http/serve.ts';
import type { RefusedKind } from '../src/core/http/serve.ts';

/** The lines written to stderr while `fn` runs (the pino logger writes there). */
async function stderrOf(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

describe('serverURL: the URL a client reaches a server at', () => {
  test('an IPv4 host as it is', () => {
    assert.equal(serverURL('127.0.0.1', 8080), 'http://127.0.0.1:8080');
    assert.equal(serverURL('localhost', 80), 'http://localhost:80');
  });
  test('an IPv6 literal in brackets', () => {
    assert.equal(serverURL('::1', 8080), 'http://[::1]:8080');
    assert.equal(serverURL('fe80::1%eth0', 9), 'http://[fe80::1%eth0]:9');
    assert.equal(new URL(serverURL('::1', 8080)).port, '8080');
  });
  test('a wildcard bind is reached on loopback', () => {
    assert.equal(serverURL('0.0.0.0', 1), 'http://127.0.0.1:1');
    assert.equal(serverURL('::', 1), 'http://127.0.0.1:1');
  });
});

describe('serve: one route table for every llmwatch server', () => {
  const refused: Array<[RefusedKind, string]> = [];
  const registry = new Registry();
  const hits = new Counter({ name: 'test_hits_total', help: 'hits', registers: [registry] });
  let scraped = 0;
  const server = serve({
    part: 'serve-test',
    metrics: registry,
    beforeScrape: () => {
      scraped++;
    },
    refused: (kind, path) => refused.push([kind, path]),
    routes: [
      { path: '/thing', methods: { GET: (_req, res) => (hits.inc(), sendJson(res, 200, { ok: true })), PUT: (_req, res) => sendJson(res, 201, { put: true }) } },
      { path: '/items/', prefix: true, methods: { GET: (_req, res, { path }) => sendJson(res, 200, { id: path.slice('/items/'.length) }) } },
      { path: '/admin/', prefix: true, any: (_req, res, { method, path }) => sendJson(res, 200, { method, path }) },
      { path: '/known', methods: { GET: () => Promise.reject(HTTP_ERR_FORBIDDEN('no')) } },
      {
        path: '/bug',
        methods: {
          GET: () => {
            throw new TypeError('cannot read x of undefined (token=s3cr3tvalue)');
          },
          POST: () => Promise.reject(new RangeError('async bug')),
        },
      },
    ],
  });
  let url: string;
  before(async () => {
    url = serverURL('127.0.0.1', await listen(server, 0, '127.0.0.1'));
  });
  after(() => close(server));

  test('a route answers its methods, GET also HEAD; a query string is not part of the path', async () => {
    const get = await fetch(`${url}/thing?x=1`);
    assert.equal(get.status, 200);
    assert.deepEqual(await get.json(), { ok: true });
    assert.equal((await fetch(`${url}/thing`, { method: 'PUT' })).status, 201);
    const head = await fetch(`${url}/thing`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('a prefix route gets the whole path; an `any` route every method', async () => {
    assert.deepEqual(await (await fetch(`${url}/items/a/b`)).json(), { id: 'a/b' });
    assert.deepEqual(await (await fetch(`${url}/admin/x`, { method: 'DELETE' })).json(), { method: 'DELETE', path: '/admin/x' });
  });

  test('an unknown path is a 404 in the OpenAI shape, listing the paths, and is reported', async () => {
    refused.length = 0;
    const r = await fetch(`${url}/nope?secret=1`, { method: 'POST' });
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('x-llmwatch-error'), 'HTTP_ERR_NOT_FOUND');
    const body = await r.json();
    assert.equal(body.error.code, 'not_found');
    assert.match(body.error.message, /POST \/nope; this server serves \/thing, \/items\/\.\.\., \/admin\/\.\.\., \/known, \/bug, \/metrics/);
    assert.deepEqual(refused, [['not_found', '/nope']]);
  });

  test('a wrong method is a 405 whose Allow lists the route methods (GET brings HEAD)', async () => {
    refused.length = 0;
    const r = await fetch(`${url}/thing`, { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, PUT, HEAD');
    assert.equal((await r.json()).error.code, 'method_not_allowed');
    const m = await fetch(`${url}/metrics`, { method: 'POST' });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET, HEAD');
    assert.deepEqual(refused, [
      ['method_not_allowed', '/thing'],
      ['method_not_allowed', '/metrics'],
    ]);
  });

  test('/metrics serves the registry, after beforeScrape', async () => {
    await fetch(`${url}/thing`);
    const before = scraped;
    const r = await fetch(`${url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), registry.contentType);
    assert.match(await r.text(), /^test_hits_total [1-9]/m);
    assert.equal(scraped, before + 1);
  });

  test('a known error keeps its status and code, and logs nothing', async () => {
    let r!: Response;
    const lines = await stderrOf(async () => {
      r = await fetch(`${url}/known`);
    });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('x-llmwatch-error'), 'HTTP_ERR_FORBIDDEN');
    assert.equal((await r.json()).error.code, 'forbidden');
    assert.deepEqual(lines, []);
  });

  test('an unknown error, thrown or rejected, is a 500 ERR_INTERNAL that leaks nothing, logged once by the part', async () => {
    for (const method of ['GET', 'POST']) {
      let r!: Response;
      let body!: { error: { code: string; message: string; type: string } };
      const lines = await stderrOf(async () => {
        r = await fetch(`${url}/bug`, { method });
        body = await r.json();
      });
      assert.equal(r.status, 500, method);
      assert.equal(r.headers.get('x-llmwatch-error'), 'ERR_INTERNAL');
      assert.deepEqual(body.error, { message: 'Internal error', type: 'server_error', param: null, code: 'internal_error' });
      assert.equal(lines.length, 1, lines.join('\n'));
      const line = JSON.parse(lines[0]!);
      assert.equal(line.level, 'error');
      assert.equal(line.part, 'serve-test');
      assert.equal(line.code, 'ERR_INTERNAL');
      assert.match(line.err.message, method === 'GET' ? /cannot read x of undefined/ : /async bug/);
      assert.doesNotMatch(lines[0]!, /s3cr3tvalue/, 'the secret in the message is redacted');
    }
  });

  test("Node's parser errors are answered in the same shape, Allow listing every method served", async () => {
    refused.length = 0;
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(new URL(url).port), '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.write('FROB /thing HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    assert.match(raw, /^HTTP\/1\.1 405 /);
    assert.match(raw, /\r\nallow: GET, PUT, POST, HEAD\r\n/);
    assert.match(raw, /"code":"method_not_allowed"/);
    assert.deepEqual(refused, [['method_not_allowed', '']]);
  });

  test('a path defined twice is refused when the table is built', () => {
    const handler = () => undefined;
    assert.throws(() => serve({ part: 'x', routes: [{ path: '/a', methods: { GET: handler } }, { path: '/a', methods: { POST: handler } }] }), /\/a is defined twice/);
  });
});
