import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FrameMeter, nativeTokens } from '../src/core/metering/native/frame-meter.ts';
import { NdjsonSplitter } from '../src/core/metering/native/ndjson.ts';
import { NATIVE_READERS } from '../src/core/metering/native/readers.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import { MODEL, gatewayConfig, scrape } from './helpers/stack.ts';

describe('NDJSON splitting', () => {
  test('lines split across chunks come out whole, once, in order', () => {
    const lines: string[] = [];
    const s = new NdjsonSplitter((l) => (lines.push(l), true));
    const out = [s.push(Buffer.from('{"a":1}\n{"b"')), s.push(Buffer.from(':2}\n\n{"c":3}')), s.end()];
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
    assert.equal(Buffer.concat(out).toString(), '{"a":1}\n{"b":2}\n\n{"c":3}');
  });

  test('a line that never ends is held only up to the cap, then the splitter stops', () => {
    const s = new NdjsonSplitter(() => true, 1024);
    for (let i = 0; i < 10; i++) s.push(Buffer.alloc(200, 0x61));
    assert.equal(s.overflowed, true);
    assert.equal(s.stopped, true);
    assert.equal(s.push(Buffer.from('\n')).length, 0);
  });

  test('a line refused by its reader is not returned, nor anything after it', () => {
    const s = new NdjsonSplitter((l) => l !== 'bad');
    assert.equal(s.push(Buffer.from('ok\nbad\nok\n')).toString(), 'ok\n');
  });
});

describe('native readers: the counts and timings each API reports', () => {
  test('ollama: prompt_eval_count and eval_count, load_duration and eval_duration in nanoseconds', () => {
    const m = new FrameMeter(NATIVE_READERS.ollama_chat);
    m.push(Buffer.from('{"message":{"role":"assistant","content":"Hi"},"done":false}\n'));
    m.push(Buffer.from('{"message":{"role":"assistant","content":""},"done":true,"prompt_eval_count":7,"eval_count":4,"load_duration":2500000000,"eval_duration":400000000}\n'));
    assert.equal(m.done, true);
    assert.equal(m.text, 'Hi');
    assert.equal(m.loadSeconds, 2.5);
    assert.equal(m.tpotSeconds, 0.1);
    assert.deepEqual(nativeTokens(m, NATIVE_READERS.ollama_chat, {}, false), { prompt: 7, completion: 4, source: 'usage' });
  });

  test('ollama: a cached prompt (no prompt_eval_count) counts 0 prompt tokens evaluated', () => {
    const m = new FrameMeter(NATIVE_READERS.ollama_generate, Infinity, false);
    assert.equal(m.readWhole(Buffer.from('{"response":"x","done":true,"eval_count":3}')), true);
    assert.deepEqual(nativeTokens(m, NATIVE_READERS.ollama_generate, { prompt: 'p' }, false), { prompt: 0, completion: 3, source: 'usage' });
  });

  test('responses: usage of response.completed; an error event is a stream error', () => {
    const m = new FrameMeter(NATIVE_READERS.responses);
    m.push(Buffer.from('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hel"}\n\n'));
    m.push(Buffer.from('event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":9,"output_tokens":2}}}\n\n'));
    assert.equal(m.done, true);
    assert.deepEqual(nativeTokens(m, NATIVE_READERS.responses, { input: 'x' }, false), { prompt: 9, completion: 2, source: 'usage' });
    const e = new FrameMeter(NATIVE_READERS.responses);
    e.push(Buffer.from('event: error\ndata: {"type":"error","code":"x","message":"boom"}\n\n'));
    assert.equal(e.fault?.kind, 'stream_error');
  });

  test('tgi: generated_tokens counted from details, the prompt estimated when the server gives no length', () => {
    const m = new FrameMeter(NATIVE_READERS.tgi_generate, Infinity, false);
    m.readWhole(Buffer.from('{"generated_text":" Rayleigh scattering","details":{"finish_reason":"length","generated_tokens":3,"seed":null,"prefill":[],"tokens":[]}}'));
    const t = nativeTokens(m, NATIVE_READERS.tgi_generate, { inputs: 'Why is the sky blue?' }, false);
    assert.equal(t.completion, 3);
    assert.equal(t.source, 'usage');
    assert.equal(t.promptSource, 'estimate');
    assert.ok(t.prompt > 0);
  });
});

/** An upstream that answers every request with what `reply` writes. */
async function fakeUpstream(reply: (path: string, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => reply(req.url ?? '/', res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('hostile native upstreams: bounded, counted, told in the API shape', () => {
  let up: { url: string; server: Server };
  let gw: GatewayHandle;
  before(async () => {
    up = await fakeUpstream((path, res) => {
      if (path === '/api/chat') {
        // A line that never ends: more than maxEventBytes without a newline.
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write('{"message":{"content":"a"},"done":false}\n');
        res.write(`{"message":{"content":"${'x'.repeat(4096)}`);
        return;
      }
      if (path === '/api/generate') {
        // Ends without done: true.
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.end('{"response":"a","done":false}\n');
        return;
      }
      if (path === '/generate_stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data:{"token":{"id":1,"text":"a","special":false},"generated_text":null,"details":null}\n\ndata:{"error":"Request failed during generation","error_type":"generation"}\n\n');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('nope');
    });
    gw = await startGateway(gatewayConfig(`${up.url}/v1`, { models: { [MODEL]: { upstream: 'sim' } } }, { apis: ['ollama', 'tgi'], maxEventBytes: 1024 }), { port: 0 });
  });
  after(async () => {
    await gw?.close();
    await new Promise((r) => up?.server.close(r));
  });

  const errors = async (reason: string) => sampleValue(await scrape(gw.url), 'openllm_upstream_errors_total', { model: MODEL, upstream: 'sim', reason }) ?? 0;

  test('an NDJSON line past maxEventBytes ends the stream with an error line, counted malformed', async () => {
    const r = await fetch(`${gw.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: [] }) });
    const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l) as { error?: string });
    assert.equal(lines.length, 2);
    assert.match(lines[1]!.error!, /maxEventBytes/);
    assert.equal(await errors('malformed'), 1);
    assert.equal(sampleValue(await scrape(gw.url), 'openllm_requests_total', { model: MODEL, endpoint: 'ollama_chat', status: 'error', code: '5xx' }), 1);
  });

  test('an NDJSON stream that ends without done: true is a reset, its tokens still counted', async () => {
    const completion = async () => sampleValue(await scrape(gw.url), 'openllm_tokens_processed_total', { model: MODEL, kind: 'completion', source: 'estimate' }) ?? 0;
    const before = await completion();
    const r = await fetch(`${gw.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: 'x' }) });
    const lines = (await r.text()).trim().split('\n');
    assert.match((JSON.parse(lines.at(-1)!) as { error: string }).error, /before a done: true object/);
    assert.equal(await errors('reset'), 1);
    assert.equal((await completion()) - before, 1);
  });

  test('a TGI error event mid-stream becomes a stream_error, told as a TGI error event', async () => {
    const r = await fetch(`${gw.url}/generate_stream`, { method: 'POST', body: JSON.stringify({ inputs: 'x' }) });
    const events = (await r.text()).split('\n\n').filter((e) => e.startsWith('data:'));
    const last = JSON.parse(events.at(-1)!.slice(5)) as { error: string; error_type: string };
    assert.match(last.error, /Request failed during generation/);
    assert.equal(last.error_type, 'generation');
    assert.equal(await errors('stream_error'), 1);
  });

  test('an upstream 404 on a native path reaches the client with its status, wrapped in the API shape', async () => {
    const r = await fetch(`${gw.url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: MODEL, input: 'x' }) });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /answered HTTP 404: nope/);
  });

  test('a native request for an unknown model is refused in the API shape', async () => {
    const r = await fetch(`${gw.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'nope', messages: [] }) });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /does not exist/);
    assert.equal(sampleValue(await scrape(gw.url), 'openllm_gateway_rejected_requests_total', { endpoint: 'ollama_chat', reason: 'unknown_model' }), 1);
  });
});

describe('passthrough of a native request the gateway read', () => {
  test('a gzip-encoded body the gateway decoded goes upstream decoded, without content-encoding (regression)', async () => {
    const up = await fakeUpstreamEcho();
    // The Ollama route exists (one upstream serves it), the model's upstream does not: the gateway reads, then passes through.
    const gw = await startGateway(
      gatewayConfig(`${up.url}/v1`, { upstreams: { ollama: { baseURL: `${up.url}/v1`, apis: ['ollama'] }, plain: { baseURL: `${up.url}/v1` } }, models: { [MODEL]: { upstream: 'plain' } } }),
      { port: 0 },
    );
    try {
      const body = gzipSync(JSON.stringify({ model: MODEL, prompt: 'hi' }));
      const r = await fetch(`${gw.url}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
      const seen = (await r.json()) as { encoding: string | null; body: string };
      assert.equal(seen.encoding, null);
      assert.deepEqual(JSON.parse(seen.body), { model: MODEL, prompt: 'hi' });
    } finally {
      await gw.close();
      await new Promise((r) => up.server.close(r));
    }
  });
});

/** An upstream that answers with the content-encoding and body it received. */
async function fakeUpstreamEcho(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ encoding: req.headers['content-encoding'] ?? null, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('passthrough behind client keys', () => {
  test('a passed-through path needs a key like any other', async () => {
    const up = await fakeUpstream((_p, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('engine admin');
    });
    const { createHash } = await import('node:crypto');
    const gw = await startGateway(gatewayConfig(`${up.url}/v1`, { auth: { keys: [{ name: 'team', sha256: createHash('sha256').update('k1').digest('hex') }] } }), { port: 0 });
    try {
      const no = await fetch(`${gw.url}/engine/stats`);
      assert.equal(no.status, 401);
      const yes = await fetch(`${gw.url}/engine/stats`, { headers: { authorization: 'Bearer k1' } });
      assert.equal(yes.status, 200);
      assert.equal(await yes.text(), 'engine admin');
      const exp = await scrape(gw.url);
      assert.equal(sampleValue(exp, 'openllm_gateway_rejected_requests_total', { endpoint: 'other', reason: 'unauthorized' }), 1);
      assert.equal(sampleValue(exp, 'openllm_requests_total', { model: '_none', endpoint: 'other', status: 'success', code: '2xx' }), 1);
    } finally {
      await gw.close();
      await new Promise((r) => up.server.close(r));
    }
  });
});
