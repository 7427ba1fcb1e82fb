import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { sampleValue, seriesKeys } from './helpers/exposition.ts';
import { MODEL, startPair } from './helpers/stack.ts';
import type { Pair } from './helpers/stack.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error: { message: string; type: string; param: string | null; code: string } };
}

/** A raw HTTP call, so the test controls every byte sent. */
function call(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Reply['body'] });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

function assertOpenAIError(r: Reply, status: number, code: string, param: string | null = null) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.error.message, 'string');
  assert.ok(r.body.error.message.length > 0);
  assert.equal(typeof r.body.error.type, 'string');
  assert.equal(r.body.error.code, code);
  assert.equal(r.body.error.param, param);
}

describe('bad input gets a specific OpenAI-shaped error and changes only the rejection counter', () => {
  let pair: Pair;
  before(async () => {
    pair = await startPair();
  });
  after(() => pair.close());

  async function rejected(endpoint: string, reason: string) {
    return sampleValue(await pair.metrics(), 'openllm_gateway_rejected_requests_total', { endpoint, reason }) ?? NaN;
  }

  async function routedTotal() {
    const m = await pair.metrics();
    return m.samples.filter((s) => s.name === 'openllm_requests_total').reduce((a, s) => a + s.value, 0);
  }

  const cases: Array<{ name: string; body: string; status: number; code: string; param: string | null; reason: string; path?: string }> = [
    { name: 'invalid JSON', body: '{"model": "x",', status: 400, code: 'invalid_json', param: null, reason: 'invalid_json' },
    { name: 'a JSON array', body: '[1,2]', status: 400, code: 'invalid_json', param: null, reason: 'invalid_json' },
    { name: 'missing model', body: '{"messages":[{"role":"user","content":"hi"}]}', status: 400, code: 'missing_required_parameter', param: 'model', reason: 'invalid_request' },
    { name: 'model not a string', body: '{"model":42,"messages":[{"role":"user","content":"hi"}]}', status: 400, code: 'invalid_value', param: 'model', reason: 'invalid_request' },
    { name: 'missing messages', body: `{"model":"${MODEL}"}`, status: 400, code: 'missing_required_parameter', param: 'messages', reason: 'invalid_request' },
    { name: 'messages not an array', body: `{"model":"${MODEL}","messages":"hi"}`, status: 400, code: 'invalid_value', param: 'messages', reason: 'invalid_request' },
    { name: 'message without role', body: `{"model":"${MODEL}","messages":[{"content":"hi"}]}`, status: 400, code: 'invalid_value', param: 'messages[0].role', reason: 'invalid_request' },
    { name: 'an unknown role', body: `{"model":"${MODEL}","messages":[{"role":"wizard","content":"hi"}]}`, status: 400, code: 'invalid_value', param: 'messages[0].role', reason: 'invalid_request' },
    { name: 'n: 0', body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"n":0}`, status: 400, code: 'invalid_value', param: 'n', reason: 'invalid_request' },
    { name: 'n not an integer', body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"n":1.5}`, status: 400, code: 'invalid_value', param: 'n', reason: 'invalid_request' },
    { name: 'stream not a boolean', body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, status: 400, code: 'invalid_value', param: 'stream', reason: 'invalid_request' },
    { name: 'negative max_tokens', body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}`, status: 400, code: 'invalid_value', param: 'max_tokens', reason: 'invalid_request' },
    { name: 'completions prompt missing', path: '/v1/completions', body: `{"model":"${MODEL}"}`, status: 400, code: 'missing_required_parameter', param: 'prompt', reason: 'invalid_request' },
    { name: 'embeddings input ill-typed', path: '/v1/embeddings', body: `{"model":"${MODEL}","input":{"a":1}}`, status: 400, code: 'invalid_value', param: 'input', reason: 'invalid_request' },
  ];

  for (const c of cases) {
    test(`${c.name} -> ${c.status}`, async () => {
      const path = c.path ?? '/v1/chat/completions';
      const endpoint = path === '/v1/completions' ? 'completions' : path === '/v1/embeddings' ? 'embeddings' : 'chat_completions';
      const rejectedBefore = await rejected(endpoint, c.reason);
      const routedBefore = await routedTotal();
      const r = await call(pair.gw.url, 'POST', path, c.body);
      assertOpenAIError(r, c.status, c.code, c.param);
      assert.equal(await rejected(endpoint, c.reason), rejectedBefore + 1);
      assert.equal(await routedTotal(), routedBefore);
    });
  }

  test('a body over the limit gets 413, whether declared or chunked', async () => {
    const before = await rejected('chat_completions', 'body_too_large');
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const declared = await call(pair.gw.url, 'POST', '/v1/chat/completions', big);
    assertOpenAIError(declared, 413, 'body_too_large');
    const chunked = await call(pair.gw.url, 'POST', '/v1/chat/completions', big, { 'transfer-encoding': 'chunked' });
    assertOpenAIError(chunked, 413, 'body_too_large');
    assert.equal(await rejected('chat_completions', 'body_too_large'), before + 2);
  });

  test('an unknown model gets 404 model_not_found and creates no new metric series', async () => {
    const seriesBefore = seriesKeys(await pair.metrics());
    const r = await call(pair.gw.url, 'POST', '/v1/chat/completions', '{"model":"gpt-9-ultra","messages":[{"role":"user","content":"hi"}]}');
    assertOpenAIError(r, 404, 'model_not_found', 'model');
    assert.match(r.body.error.message, /gpt-9-ultra/);
    const m = await pair.metrics();
    assert.deepEqual(seriesKeys(m), seriesBefore);
    assert.ok(!m.samples.some((s) => Object.values(s.labels).includes('gpt-9-ultra')));
    assert.equal(sampleValue(m, 'openllm_gateway_rejected_requests_total', { endpoint: 'chat_completions', reason: 'unknown_model' }), 1);
  });

  test('an unknown path gets 404, a wrong method 405 with Allow, both OpenAI-shaped', async () => {
    // Passed through (on by default): the upstream's own 404, counted as a client error of endpoint="other".
    const nf = await call(pair.gw.url, 'POST', '/v1/assistants', '{}');
    assertOpenAIError(nf, 404, 'not_found');
    const wm = await call(pair.gw.url, 'GET', '/v1/chat/completions');
    assertOpenAIError(wm, 405, 'method_not_allowed');
    assert.equal(wm.headers.allow, 'POST');
    const m = await pair.metrics();
    assert.equal(sampleValue(m, 'openllm_requests_total', { model: '_none', endpoint: 'other', status: 'client_error', code: '4xx' }), 1);
    assert.equal(sampleValue(m, 'openllm_gateway_rejected_requests_total', { endpoint: 'chat_completions', reason: 'method_not_allowed' }), 1);
  });

  test('the gateway keeps serving after all of it', async () => {
    const res = await pair.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still there?' }] });
    assert.equal(res.choices.length, 1);
  });
});
