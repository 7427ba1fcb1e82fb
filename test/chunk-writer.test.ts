import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { chunkWriter } from '../src/core/http/chunk-writer.ts';

const PIECES = ['data: {"a":1}\n\n', 'data: {"b":"é"}\n\ndata: {"c":3}\n\n', `data: ${'x'.repeat(70_000)}\n\n`, 'data: [DONE]\n\n'].map((s) => Buffer.from(s));

/** A server that writes PIECES through `chunkWriter` (path /direct) or `res.write` (any other), headers flushed first. */
async function serve(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream', date: 'fixed' });
    res.flushHeaders();
    const out = req.url === '/direct' ? chunkWriter(res) : { write: (b: Buffer) => res.write(b) };
    for (const p of PIECES) out.write(p);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** The raw bytes of the responses to `requests`, sent on one connection (pipelined), until the server closes it. */
function raw(port: number, requests: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(requests));
    const got: Buffer[] = [];
    s.on('data', (b) => got.push(b));
    s.on('end', () => resolve(Buffer.concat(got).toString('latin1')));
    s.on('error', reject);
  });
}

const get = (path: string, version = '1.1', close = true) => `GET ${path} HTTP/${version}\r\nhost: x\r\n${close ? 'connection: close\r\n' : ''}\r\n`;

test('the chunk writer puts the same bytes on the wire as res.write, chunked framing included', async () => {
  const { server, port } = await serve();
  try {
    const viaRes = await raw(port, get('/res'));
    const direct = await raw(port, get('/direct'));
    assert.match(viaRes, /transfer-encoding: chunked/i);
    assert.ok(viaRes.endsWith('0\r\n\r\n'));
    assert.equal(direct, viaRes);
  } finally {
    server.close();
  }
});

test('an HTTP/1.0 client (no chunked framing) and a pipelined response still waiting for its socket get res.write', async () => {
  const { server, port } = await serve();
  try {
    assert.equal(await raw(port, get('/direct', '1.0')), await raw(port, get('/res', '1.0')));
    // Two responses on one connection: the second is written before its turn, and must come out whole, after the first.
    const pipelined = await raw(port, get('/direct', '1.1', false) + get('/direct'));
    const expected = await raw(port, get('/res', '1.1', false) + get('/res'));
    assert.equal(pipelined, expected);
    assert.equal(pipelined.split('HTTP/1.1 200').length, 3);
  } finally {
    server.close();
  }
});
