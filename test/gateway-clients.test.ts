import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { MODEL, gatewayConfig, scrape, until } from './helpers/stack.ts';

/** What came back on a raw socket before the server closed it (or `ms` passed). */
function exchange(port: number, send: (s: Socket) => unknown, ms = 5_000): Promise<{ head: string; status: number; headers: Record<string, string>; body: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const lines = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ head: lines[0] ?? '', status: Number(lines[0]?.split(' ')[1]), headers, body, closed });
      s.destroy();
    };
    const timer = setTimeout(finish, ms);
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', () => {});
    s.on('connect', () => {
      Promise.resolve(send(s)).catch(reject);
    });
  });
}

const post = (path: string, body: Buffer | string, headers: Record<string, string>) => (s: Socket) => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  let head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.length}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  s.write(head + '\r\n');
  s.write(b);
};

const chat = (model = MODEL) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('slow and hostile clients get OpenAI-shaped answers, counted (raw sockets)', () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  let gw: GatewayHandle;
  before(async () => {
    sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 4, max: 4 } } }), { port: 0 });
    gw = await startGateway(
      gatewayConfig(`${sim.url}/v1`, { server: { headersTimeoutMs: 400, bodyTimeoutMs: 400, keepAliveTimeoutMs: 300, maxConnections: 20 } }),
      { port: 0 },
    );
  });
  after(async () => {
    await gw.close();
    await sim.close();
  });
  const rejected = async (reason: string) => sampleValue(await scrape(gw.url), 'openllm_gateway_rejected_requests_total', { endpoint: 'none', reason }) ?? NaN;
  const rejectedChat = async (reason: string) => sampleValue(await scrape(gw.url), 'openllm_gateway_rejected_requests_total', { endpoint: 'chat_completions', reason }) ?? NaN;

  test('headers trickled past headersTimeoutMs -> 408 request_timeout JSON, connection closed', async () => {
    const before = await rejected('request_timeout');
    const r = await exchange(gw.port, async (s) => {
      s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
      for (let i = 0; i < 30 && !s.destroyed; i++) {
        await new Promise((res) => setTimeout(res, 100));
        if (!s.destroyed) s.write('X');
      }
    });
    assert.equal(r.status, 408, r.head);
    assert.equal(JSON.parse(r.body).error.code, 'request_timeout');
    assert.equal(r.closed, true);
    assert.equal((await rejected('request_timeout')) - before, 1);
  });

  test('a body trickled past bodyTimeoutMs -> 408 request_timeout JSON', async () => {
    const before = await rejectedChat('request_timeout');
    const r = await exchange(gw.port, (s) => {
      s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
    });
    assert.equal(r.status, 408, r.head);
    assert.equal(JSON.parse(r.body).error.code, 'request_timeout');
    assert.equal(r.closed, true);
    assert.equal((await rejectedChat('request_timeout')) - before, 1);
  });

  test('an unknown method -> 405 JSON with Allow; a known one on an inference path -> 405 with Allow: POST', async () => {
    const before = await rejected('method_not_allowed');
    const r = await exchange(gw.port, (s) => s.write('FROB /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(r.status, 405, r.head);
    assert.equal(JSON.parse(r.body).error.code, 'method_not_allowed');
    assert.match(r.headers.allow ?? '', /POST/);
    const p = await exchange(gw.port, (s) => s.write('PUT /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    assert.equal(p.status, 405);
    assert.equal(p.headers.allow, 'POST');
    assert.equal((await rejected('method_not_allowed')) - before, 1);
  });

  test('a body that is not application/json -> 415 (a cross-site form cannot post), none at all too', async () => {
    const before = await rejectedChat('unsupported_media_type');
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const r = await exchange(gw.port, post('/v1/chat/completions', chat(), type === undefined ? {} : { 'Content-Type': type }));
      assert.equal(r.status, 415, `${type}: ${r.head}`);
      assert.equal(JSON.parse(r.body).error.code, 'unsupported_media_type');
    }
    assert.equal((await rejectedChat('unsupported_media_type')) - before, 3);
  });

  test('gzip and deflate bodies are decoded; a bomb past maxBodyBytes -> 413; corrupt -> 400; br -> 415', async () => {
    for (const [enc, body] of [['gzip', gzipSync(chat())], ['deflate', deflateSync(chat())]] as const) {
      const r = await exchange(gw.port, post('/v1/chat/completions', body, { 'Content-Type': 'application/json', 'Content-Encoding': enc, Connection: 'close' }));
      assert.equal(r.status, 200, `${enc}: ${r.head} ${r.body}`);
      assert.equal(JSON.parse(r.body).object, 'chat.completion');
    }
    const bomb = gzipSync(Buffer.from(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: ' '.repeat(8 * 1024 * 1024) }] })));
    assert.ok(bomb.length < 64 * 1024);
    const b = await exchange(gw.port, post('/v1/chat/completions', bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }));
    assert.equal(b.status, 413, b.body);
    const c = await exchange(gw.port, post('/v1/chat/completions', Buffer.from([0x1f, 0x8b, 1, 2, 3, 0xff, 0xfe]), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }));
    assert.equal(c.status, 400);
    assert.equal(JSON.parse(c.body).error.code, 'invalid_content_encoding');
    assert.match(c.body, /^[\x20-\x7e]*$/, 'no binary in the message');
    const raw = await exchange(gw.port, post('/v1/chat/completions', gzipSync(chat()), { 'Content-Type': 'application/json' }));
    assert.equal(raw.status, 400, 'gzip without Content-Encoding is bad JSON');
    assert.match(raw.body, /^[\x20-\x7e]*$/, 'no binary in the message');
    const br = await exchange(gw.port, post('/v1/chat/completions', chat(), { 'Content-Type': 'application/json', 'Content-Encoding': 'br' }));
    assert.equal(br.status, 415);
  });

  test('a 3 MB model name is not echoed back, and the 404 lists no configured model', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    await assert.rejects(client.chat.completions.create({ model: 'm'.repeat(3 * 1024 * 1024 - 1000), messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.ok(err.message.length < 400, `message of ${err.message.length} characters`);
      assert.ok(!err.message.includes(MODEL), 'no configured model named');
      return true;
    });
  });

  test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const r = await exchange(gw.port, (s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), 5_000);
    assert.equal(r.status, 200);
    assert.equal(r.closed, true, 'the server closed the idle connection');
  });

  test('connections past maxConnections are dropped at accept, counted; the gateway still serves', async () => {
    const before = await rejected('connection_limit');
    const held: Socket[] = [];
    for (let i = 0; i < 25; i++) {
      const s = connect(gw.port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r).once('close', r) : r(undefined)))));
    await new Promise((r) => setTimeout(r, 200));
    const dropped = held.filter((s) => s.destroyed || s.readableEnded).length;
    for (const s of held) s.destroy();
    await until(async () => (await fetch(`${gw.url}/healthz`).catch(() => undefined))?.status === 200);
    const counted = (await rejected('connection_limit')) - before;
    assert.ok(counted >= 5, `${counted} drops counted (${dropped} seen closed)`);
  });
});
