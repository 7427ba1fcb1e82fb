import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { cacheKey, canonicalJson, isCacheable, tenantOf } from '../src/gateway/cache/key.ts';
import type { Cacheability } from '../src/gateway/cache/key.ts';
import type { Endpoint } from '../src/core/openai/endpoints.ts';
import { validateInferenceRequest } from '../src/core/openai/validate.ts';

const TARGET = 'http://127.0.0.1:8000/v1#llama-3-8b';

function chat(extra: Record<string, unknown> = {}) {
  return validateInferenceRequest('chat_completions', {
    model: 'llama',
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0,
    ...extra,
  });
}

test('canonicalJson sorts keys at every depth and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: 'x' } }), '{"a":{"c":"x","d":[2,{"y":null,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ a: undefined, b: [undefined] }), '{"b":[null]}');
  assert.equal(canonicalJson('a"b'), '"a\\"b"');
});

test('the key is the SHA-256 hex of a versioned derivation, stable across releases', () => {
  // A change here invalidates every entry in a shared Redis: bump KEY_VERSION with it.
  const key = cacheKey(chat(), TARGET, 'anonymous');
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(key, cacheKey(chat(), TARGET, 'anonymous'));
  // Computed outside llmwatch: printf '%s' '<the JSON below>' | sha256sum
  const derivation =
    '["llmwatch-cache-key-v2","anonymous","chat_completions","http://127.0.0.1:8000/v1#llama-3-8b",false,' +
    '{"messages":[{"content":"hi","role":"user"}],"model":"llama","stream":false,"temperature":0}]';
  assert.equal(createHash('sha256').update(derivation).digest('hex'), key);
  assert.equal(key, 'd89fdf028116c10173f90920d7fce776d43c250fd93ac1e039e2c6c94bb33182');
});

const SAME: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  ['top-level key order', { temperature: 0, seed: 1 }, { seed: 1, temperature: 0 }],
  [
    'nested key order',
    { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object' } } } },
    { response_format: { json_schema: { schema: { type: 'object' }, name: 'a' }, type: 'json_schema' } },
  ],
  ['metadata', {}, { metadata: { trace: 'abc' } }],
  ['store', {}, { store: true }],
  ['stream_options on a JSON answer', {}, { stream_options: { include_usage: true } }],
  ['stream: false and no stream', {}, { stream: false }],
  ['stream: null and no stream', {}, { stream: null }],
  ['stream_options other than include_usage', { stream: true }, { stream: true, stream_options: { include_obfuscation: false } }],
];

for (const [what, a, b] of SAME) {
  test(`same key despite a different ${what}`, () => {
    assert.equal(cacheKey(chat(a), TARGET, 'anonymous'), cacheKey(chat(b), TARGET, 'anonymous'));
  });
}

const DIFFERENT: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  ['stream', {}, { stream: true }],
  ['include_usage on a stream', { stream: true }, { stream: true, stream_options: { include_usage: true } }],
  ['model', {}, { model: 'other' }],
  ['message content', {}, { messages: [{ role: 'user', content: 'hello' }] }],
  [
    'message order',
    { messages: [{ role: 'system', content: 'a' }, { role: 'user', content: 'b' }] },
    { messages: [{ role: 'user', content: 'b' }, { role: 'system', content: 'a' }] },
  ],
  ['temperature', {}, { temperature: 0.5 }],
  ['max_tokens', {}, { max_tokens: 10 }],
  ['seed', {}, { seed: 7 }],
  ['user', {}, { user: 'alice' }],
  ['service_tier', {}, { service_tier: 'flex' }],
  ['tools', {}, { tools: [{ type: 'function', function: { name: 'f' } }] }],
];

for (const [what, a, b] of DIFFERENT) {
  test(`different key for a different ${what}`, () => {
    assert.notEqual(cacheKey(chat(a), TARGET, 'anonymous'), cacheKey(chat(b), TARGET, 'anonymous'));
  });
}

test('a route switch to another upstream target changes the key', () => {
  assert.notEqual(cacheKey(chat(), TARGET, 'anonymous'), cacheKey(chat(), 'http://127.0.0.1:8001/v1#llama-3-8b-fallback', 'anonymous'));
});

test('the same body on another endpoint has another key', () => {
  const body = { model: 'm', prompt: 'x', input: 'x', messages: [{ role: 'user', content: 'x' }] };
  const keys = (['chat_completions', 'completions', 'embeddings'] as Endpoint[]).map((e) =>
    cacheKey(validateInferenceRequest(e, { ...body }), TARGET, 'anonymous'),
  );
  assert.equal(new Set(keys).size, 3);
});

const CACHEABILITY: Array<[string, Endpoint, Record<string, unknown>, string | undefined, Cacheability]> = [
  ['temperature 0', 'chat_completions', { temperature: 0 }, undefined, 'cacheable'],
  ['no temperature (defaults to 1)', 'chat_completions', {}, undefined, 'bypass'],
  ['temperature 0.7', 'chat_completions', { temperature: 0.7 }, undefined, 'bypass'],
  ['temperature 0, n 1', 'chat_completions', { temperature: 0, n: 1 }, undefined, 'cacheable'],
  ['temperature 0, n 2', 'chat_completions', { temperature: 0, n: 2 }, undefined, 'bypass'],
  ['temperature 0, streaming', 'chat_completions', { temperature: 0, stream: true }, undefined, 'cacheable'],
  ['completions, temperature 0', 'completions', { temperature: 0 }, undefined, 'cacheable'],
  ['completions, temperature 1', 'completions', { temperature: 1 }, undefined, 'bypass'],
  ['embeddings', 'embeddings', {}, undefined, 'cacheable'],
  ['force on a sampled answer', 'chat_completions', { temperature: 0.7 }, 'force', 'cacheable'],
  ['force with n 2', 'chat_completions', { temperature: 0, n: 2 }, 'force', 'cacheable'],
  ['force, any case and padding', 'chat_completions', { temperature: 0.7 }, ' FORCE ', 'cacheable'],
  ['bypass on a deterministic answer', 'chat_completions', { temperature: 0 }, 'bypass', 'bypass'],
  ['bypass on embeddings', 'embeddings', {}, 'Bypass', 'bypass'],
  ['an unknown header value is ignored (cacheable)', 'chat_completions', { temperature: 0 }, 'yes', 'cacheable'],
  ['an unknown header value is ignored (bypass)', 'chat_completions', { temperature: 0.7 }, 'yes', 'bypass'],
  ['an empty header value is ignored', 'chat_completions', { temperature: 0 }, '', 'cacheable'],
];

for (const [what, endpoint, extra, header, expected] of CACHEABILITY) {
  test(`isCacheable: ${what} -> ${expected}`, () => {
    const base =
      endpoint === 'chat_completions'
        ? { messages: [{ role: 'user', content: 'hi' }] }
        : endpoint === 'completions'
          ? { prompt: 'hi' }
          : { input: 'hi' };
    const request = validateInferenceRequest(endpoint, { model: 'm', ...base, ...extra });
    assert.equal(isCacheable(request, header), expected);
  });
}

test('the tenant is in the key: client keys by name, else a digest of the Authorization the upstream sees, else anonymous', () => {
  const tenants = [tenantOf('team-a', undefined), tenantOf('team-b', undefined), tenantOf(undefined, 'Bearer sk-1'), tenantOf(undefined, 'Bearer sk-2'), tenantOf(undefined, undefined)];
  assert.equal(new Set(tenants.map((t) => cacheKey(chat(), TARGET, t))).size, tenants.length);
  assert.ok(!tenantOf(undefined, 'Bearer sk-1').includes('sk-1'), 'the credential itself is never part of the key material');
  assert.equal(tenantOf(undefined, 'Bearer sk-1'), tenantOf(undefined, 'Bearer sk-1'));
});
