import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { countTokens, estimatePromptTokens } from '../src/core/openai/tokens.ts';
import { isLoopbackHost } from '../src/core/http/listen.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { TOXIC_LEXICON, VOCABULARY } from '../src/simulator/text.ts';

const MODEL = 'llama-3.1-8b-instruct';
const SMALL = 'llama-3.2-1b-instruct';
const ZERO = { ttftMs: 0, tpotMs: 0, jitter: 0 };
const ask = { model: MODEL, messages: [{ role: 'user' as const, content: 'How is the weather today?' }] };

/** A simulator on a free port, closed after the test, and an SDK client that never retries and never waits long. */
async function start(t: TestContext, data: Record<string, unknown> = {}, timeout = 5_000) {
  const sim = await startSimulator(simulatorConfig({ defaults: ZERO, ...data }), { port: 0 });
  t.after(() => sim.close());
  const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0, timeout });
  return { sim, client };
}

function post(sim: SimulatorHandle, path: string, body: unknown, method = 'POST') {
  return fetch(sim.url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
}

/** Resolves whether `p` settled within `ms`, so a hang fails the test instead of stalling it. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('simulator: OpenAI shapes through the openai SDK', () => {
  test('GET /v1/models lists the configured models', async (t) => {
    const { client } = await start(t);
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.deepEqual(ids, [MODEL, SMALL]);
    assert.equal((await client.models.retrieve(SMALL)).id, SMALL);
  });

  test('chat completion: exact shape, usage from the same tokenizer a client uses', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 7, max: 7 } } });
    const res = await client.chat.completions.create(ask);
    assert.match(res.id, /^chatcmpl-[0-9a-f]{24}$/);
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, MODEL);
    assert.equal(res.choices.length, 1);
    const [choice] = res.choices;
    assert.equal(choice?.index, 0);
    assert.equal(choice?.finish_reason, 'stop');
    assert.equal(choice?.message.role, 'assistant');
    const text = choice?.message.content ?? '';
    assert.equal(countTokens(text), 7);
    assert.deepEqual(res.usage, {
      prompt_tokens: estimatePromptTokens('chat_completions', ask),
      completion_tokens: 7,
      total_tokens: estimatePromptTokens('chat_completions', ask) + 7,
    });
  });

  test('max_tokens and max_completion_tokens cap the output with finish_reason length', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 20, max: 20 } } });
    const capped = await client.chat.completions.create({ ...ask, max_tokens: 3 });
    assert.equal(capped.choices[0]?.finish_reason, 'length');
    assert.equal(capped.usage?.completion_tokens, 3);
    assert.equal(countTokens(capped.choices[0]?.message.content ?? ''), 3);
    const capped2 = await client.chat.completions.create({ ...ask, max_completion_tokens: 5 });
    assert.equal(capped2.usage?.completion_tokens, 5);
    const roomy = await client.chat.completions.create({ ...ask, max_tokens: 100 });
    assert.equal(roomy.choices[0]?.finish_reason, 'stop');
    assert.equal(roomy.usage?.completion_tokens, 20);
  });

  test('text completion: exact shape and usage', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 4, max: 4 } } });
    const res = await client.completions.create({ model: SMALL, prompt: 'Once upon a time' });
    assert.match(res.id, /^cmpl-/);
    assert.equal(res.object, 'text_completion');
    assert.equal(res.choices[0]?.finish_reason, 'stop');
    assert.equal(countTokens(res.choices[0]?.text ?? ''), 4);
    assert.deepEqual(res.usage, { prompt_tokens: countTokens('Once upon a time'), completion_tokens: 4, total_tokens: countTokens('Once upon a time') + 4 });
  });

  test('chat stream without include_usage: one chunk per token, role first, finish chunk, no usage key', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 6, max: 6 } } });
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks.length, 7);
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0]?.id);
      assert.ok(!('usage' in c), 'no usage key unless asked for');
    }
    const tokens = chunks.slice(0, 6).map((c) => c.choices[0]?.delta.content ?? '');
    for (const token of tokens) assert.equal(countTokens(token), 1);
    assert.equal(countTokens(tokens.join('')), 6);
    assert.deepEqual(chunks[6]?.choices[0]?.delta, {});
    assert.equal(chunks[6]?.choices[0]?.finish_reason, 'stop');
  });

  test('chat stream with include_usage: usage: null on each chunk, then a usage chunk with empty choices', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 9, max: 9 } } });
    const stream = await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true }, max_tokens: 5 });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks.length, 5 + 2);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
    assert.equal(chunks[5]?.choices[0]?.finish_reason, 'length');
    const last = chunks[6];
    assert.deepEqual(last?.choices, []);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const prompt = estimatePromptTokens('chat_completions', ask);
    assert.deepEqual(last?.usage, { prompt_tokens: prompt, completion_tokens: countTokens(text), total_tokens: prompt + 5 });
  });

  test('text completion stream with include_usage', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 3, max: 3 } } });
    const stream = await client.completions.create({ model: MODEL, prompt: 'hi', stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks.length, 5);
    assert.equal(chunks[3]?.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(chunks[4]?.choices, []);
    assert.equal(chunks[4]?.usage?.completion_tokens, 3);
  });

  test('raw SSE framing: text/event-stream, data: lines, [DONE] last', async (t) => {
    const { sim } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 2, max: 2 } } });
    const res = await post(sim, '/v1/chat/completions', { ...ask, stream: true });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const body = await res.text();
    const events = body.split('\n\n').filter((e) => e !== '');
    assert.equal(events.length, 4);
    for (const e of events) assert.match(e, /^data: /);
    assert.ok(body.endsWith('data: [DONE]\n\n'));
  });

  test('every output word is one o200k token, so completion_tokens equals countTokens(text)', async (t) => {
    for (const word of [...VOCABULARY, ...TOXIC_LEXICON]) assert.equal(encode(' ' + word).length, 1, `'${word}' is one token`);
    const { client } = await start(t, { defaults: { ...ZERO, outputTokens: { min: 1, max: 200 }, toxicFraction: 0.5 } });
    for (let i = 0; i < 20; i++) {
      const res = await client.chat.completions.create(ask);
      assert.equal(res.usage?.completion_tokens, countTokens(res.choices[0]?.message.content ?? ''));
    }
  });

  test('embeddings: deterministic unit vectors; float and base64 (the SDK default) agree', async (t) => {
    const { client } = await start(t, { models: { [MODEL]: { embeddingDimensions: 32 }, [SMALL]: {} } });
    const input = ['the quick brown fox', 'jumps over', 'the quick brown fox'];
    const decoded = await client.embeddings.create({ model: MODEL, input });
    const floats = await client.embeddings.create({ model: MODEL, input, encoding_format: 'float' });
    assert.equal(floats.object, 'list');
    assert.equal(floats.model, MODEL);
    assert.equal(floats.data.length, 3);
    for (const [i, d] of floats.data.entries()) {
      assert.equal(d.object, 'embedding');
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, 32);
      assert.deepEqual(Array.from(decoded.data[i]?.embedding ?? []), d.embedding);
      const norm = Math.sqrt(d.embedding.reduce((a, x) => a + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-5, `unit length, got ${norm}`);
    }
    assert.deepEqual(floats.data[0]?.embedding, floats.data[2]?.embedding);
    assert.notDeepEqual(floats.data[0]?.embedding, floats.data[1]?.embedding);
    const expected = estimatePromptTokens('embeddings', { input });
    assert.deepEqual(floats.usage, { prompt_tokens: expected, total_tokens: expected });
    const small = await client.embeddings.create({ model: SMALL, input: [[1, 2, 3]], encoding_format: 'float' });
    assert.equal(small.data[0]?.embedding.length, 16);
    assert.equal(small.usage.prompt_tokens, 3);
  });
});

describe('simulator: bad requests get OpenAI errors', () => {
  test('unknown model -> 404 model_not_found, param model', async (t) => {
    const { client } = await start(t);
    await assert.rejects(client.chat.completions.create({ ...ask, model: 'gpt-9' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.param, 'model');
      return true;
    });
    await assert.rejects(client.embeddings.create({ model: 'gpt-9', input: 'x' }), OpenAI.NotFoundError);
  });

  test('invalid fields -> 400 naming the field', async (t) => {
    const { sim } = await start(t);
    for (const [path, body, param] of [
      ['/v1/chat/completions', { model: MODEL }, 'messages'],
      ['/v1/chat/completions', { ...ask, messages: [{ role: '' }] }, 'messages[0].role'],
      ['/v1/chat/completions', { ...ask, max_tokens: -1 }, 'max_tokens'],
      ['/v1/completions', { model: MODEL, prompt: 5 }, 'prompt'],
      ['/v1/embeddings', { model: MODEL, input: 'x', stream: true }, 'stream'],
      ['/v1/embeddings', { model: MODEL, input: 'x', encoding_format: 'int8' }, 'encoding_format'],
      ['/v1/chat/completions', { messages: ask.messages }, 'model'],
    ] as const) {
      const res = await post(sim, path, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
      const { error } = (await res.json()) as { error: { param: string; type: string } };
      assert.equal(error.param, param);
      assert.equal(error.type, 'invalid_request_error');
    }
  });

  test('bad JSON 400, oversized 413, unknown path 404, wrong method 405', async (t) => {
    const { sim } = await start(t, { maxBodyBytes: 1024 });
    const cases: Array<[Promise<Response>, number, string]> = [
      [post(sim, '/v1/chat/completions', '{"model":'), 400, 'invalid_json'],
      [post(sim, '/v1/chat/completions', '[1]'), 400, 'invalid_json'],
      [post(sim, '/v1/chat/completions', { ...ask, pad: 'x'.repeat(2048) }), 413, 'body_too_large'],
      [post(sim, '/v2/chat', ask), 404, 'not_found'],
      [fetch(sim.url + '/v1/chat/completions', { signal: AbortSignal.timeout(5_000) }), 405, 'method_not_allowed'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.status, status);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, code);
    }
  });
});

describe('simulator: seeded faults', () => {
  const flaky = { defaults: { ...ZERO, outputTokens: { min: 1, max: 8 }, errors: { http500: 0.2, http429: 0.2 }, toxicFraction: 0.3 } };

  async function outcomes(client: OpenAI, n: number): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const res = await client.chat.completions.create(ask);
        seen.push(res.choices[0]?.message.content ?? '');
      } catch (err) {
        seen.push(`error ${(err as InstanceType<typeof OpenAI.APIError>).status}`);
      }
    }
    return seen;
  }

  test('same seed, same requests -> same outputs and same faults; another seed differs', async (t) => {
    const a = await start(t, { ...flaky, seed: 7 });
    const b = await start(t, { ...flaky, seed: 7 });
    const c = await start(t, { ...flaky, seed: 8 });
    const first = await outcomes(a.client, 30);
    assert.deepEqual(await outcomes(b.client, 30), first);
    assert.notDeepEqual(await outcomes(c.client, 30), first);
    assert.ok(first.includes('error 500') && first.includes('error 429'), first.join('|'));
    assert.ok(first.some((o) => !o.startsWith('error')));
  });

  test('POST /admin/reset reseeds: the sequence starts over', async (t) => {
    const { sim, client } = await start(t, flaky);
    const first = await outcomes(client, 10);
    assert.equal((await post(sim, '/admin/reset', {})).status, 200);
    assert.deepEqual(await outcomes(client, 10), first);
  });

  test('http500 -> 500 server_error', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, errors: { http500: 1 } } });
    await assert.rejects(client.chat.completions.create(ask), (err: unknown) => {
      assert.ok(err instanceof OpenAI.InternalServerError);
      assert.equal(err.type, 'server_error');
      return true;
    });
    await assert.rejects(client.embeddings.create({ model: MODEL, input: 'x' }), OpenAI.InternalServerError);
  });

  test('http429 -> 429 rate_limit_exceeded with Retry-After', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, errors: { http429: 1 }, retryAfterSeconds: 3 } });
    await assert.rejects(client.chat.completions.create({ ...ask, stream: true }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.code, 'rate_limit_exceeded');
      assert.equal(err.headers.get('retry-after'), '3');
      return true;
    });
  });

  test('reset mid-stream: about half the tokens arrive, then the SDK throws', async (t) => {
    const { client } = await start(t, { defaults: { ttftMs: 0, tpotMs: 2, jitter: 0, outputTokens: { min: 10, max: 10 }, errors: { reset: 1 } } });
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    let received = 0;
    await assert.rejects(async () => {
      for await (const c of stream) if (c.choices[0]?.delta.content) received++;
    });
    assert.equal(received, 5);
  });

  test('reset without streaming: the SDK gets a connection error, no answer', async (t) => {
    const { client } = await start(t, { defaults: { ...ZERO, errors: { reset: 1 } } });
    await assert.rejects(client.chat.completions.create(ask), OpenAI.APIConnectionError);
    await assert.rejects(client.embeddings.create({ model: MODEL, input: 'x' }), OpenAI.APIConnectionError);
  });

  test('hang: the client timeout and abort work, and closing the server does not wait for hung requests', async (t) => {
    const { sim, client } = await start(t, { defaults: { ...ZERO, errors: { hang: 1 } } }, 200);
    await assert.rejects(client.chat.completions.create(ask), OpenAI.APIConnectionTimeoutError);
    const ac = new AbortController();
    const aborted = client.chat.completions.create({ ...ask, stream: true }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(aborted, OpenAI.APIUserAbortError);
    const stillHung = client.chat.completions.create(ask, { timeout: 60_000 });
    stillHung.catch(() => {}); // settles when the server closes
    await new Promise((r) => setTimeout(r, 50));
    // A close() that waited would take the hung request's 60 s: 5 s tells them apart on a loaded machine.
    assert.ok(await settlesWithin(sim.close(), 5_000), 'close() returned');
    await assert.rejects(stillHung, OpenAI.APIConnectionError);
  });

  test('close() during a slow stream ends it at once', async (t) => {
    const { sim, client } = await start(t, { defaults: { ttftMs: 0, tpotMs: 10_000, jitter: 0 } });
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    // A close() that waited for the stream would take 10 s a token: 5 s tells them apart on a loaded machine.
    assert.ok(await settlesWithin(sim.close(), 5_000), 'close() returned');
    await assert.rejects(async () => {
      while (!(await iterator.next()).done);
    });
  });

  test('toxic outputs carry several lexicon words; clean ones none', async (t) => {
    const toxic = new Set(TOXIC_LEXICON);
    const countToxic = (text: string) => text.split(' ').filter((w) => toxic.has(w)).length;
    const { client } = await start(t, {
      defaults: { ...ZERO, outputTokens: { min: 6, max: 30 } },
      models: { [MODEL]: { toxicFraction: 1 }, [SMALL]: { toxicFraction: 0 } },
    });
    for (let i = 0; i < 10; i++) {
      const bad = await client.chat.completions.create(ask);
      assert.ok(countToxic(bad.choices[0]?.message.content ?? '') >= 3, bad.choices[0]?.message.content ?? '');
      const clean = await client.chat.completions.create({ ...ask, model: SMALL });
      assert.equal(countToxic(clean.choices[0]?.message.content ?? ''), 0);
    }
  });
});

describe('simulator: latency and the admin API', () => {
  async function timeToFirstToken(client: OpenAI, model: string): Promise<number> {
    const started = performance.now();
    const stream = await client.chat.completions.create({ ...ask, model, stream: true });
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) {
        const elapsed = performance.now() - started;
        stream.controller.abort();
        return elapsed;
      }
    }
    throw new Error('no token');
  }

  // Timers may fire up to a millisecond early against performance.now().
  const SLACK_MS = 2;

  test('with zero delays the simulator sets no timer at all (the benchmark baseline)', async (t) => {
    const { client } = await start(t);
    const original = globalThis.setTimeout;
    const fromSimulator: string[] = [];
    t.mock.method(globalThis, 'setTimeout', function tracked(this: unknown, ...args: Parameters<typeof setTimeout>) {
      const stack = new Error().stack ?? '';
      if (stack.includes('/src/simulator/')) fromSimulator.push(stack);
      return original.apply(this, args);
    });
    await client.chat.completions.create(ask);
    for await (const _ of await client.completions.create({ model: MODEL, prompt: 'x', stream: true })) void _;
    await client.embeddings.create({ model: MODEL, input: 'x' });
    t.mock.restoreAll();
    assert.deepEqual(fromSimulator, []);
  });

  test('a non-streaming answer takes at least ttft + (n-1) * tpot', async (t) => {
    const { client } = await start(t, { defaults: { ttftMs: 40, tpotMs: 10, jitter: 0, outputTokens: { min: 5, max: 5 } } });
    const started = performance.now();
    await client.chat.completions.create(ask);
    assert.ok(performance.now() - started >= 40 + 4 * 10 - SLACK_MS);
  });

  test('PUT /admin/profiles/{model} raises TTFT at run time; DELETE puts it back', async (t) => {
    const { sim, client } = await start(t);
    const before = await timeToFirstToken(client, MODEL);
    // 1 s: the unspiked requests (the first one cold) are compared with it, and a loaded machine can
    // stall one of them for a good part of the 300 ms it was.
    const put = await post(sim, `/admin/profiles/${MODEL}`, { ttftMs: 1_000 }, 'PUT');
    assert.equal(put.status, 200);
    assert.equal(((await put.json()) as { profile: { ttftMs: number } }).profile.ttftMs, 1_000);
    const spiked = await timeToFirstToken(client, MODEL);
    assert.ok(spiked >= 1_000 - SLACK_MS, `ttft ${spiked} ms`);
    assert.ok(spiked > before);
    assert.equal(sim.profiles.get(SMALL)?.ttftMs, 60, 'other models are unaffected');
    const del = await post(sim, `/admin/profiles/${MODEL}`, undefined, 'DELETE');
    assert.equal(((await del.json()) as { profile: { ttftMs: number } }).profile.ttftMs, 0);
    assert.ok((await timeToFirstToken(client, MODEL)) < spiked);
  });

  test('GET /admin/profiles shows each effective profile, defaults merged', async (t) => {
    const { sim } = await start(t, { defaults: { ttftMs: 100 }, models: { a: {}, b: { ttftMs: 5, errors: { http500: 0.5 } } } });
    const res = await fetch(`${sim.url}/admin/profiles`, { signal: AbortSignal.timeout(5_000) });
    const { profiles } = (await res.json()) as { profiles: Record<string, { ttftMs: number; tpotMs: number; errors: { http500: number; hang: number } }> };
    assert.deepEqual(Object.keys(profiles), ['a', 'b']);
    assert.equal(profiles.a?.ttftMs, 100);
    assert.equal(profiles.b?.ttftMs, 5);
    assert.equal(profiles.b?.tpotMs, 20);
    assert.deepEqual(profiles.b?.errors, { http500: 0.5, http429: 0, reset: 0, hang: 0, http400: 0 });
  });

  test('a PUT merges over the current profile, errors field by field', async (t) => {
    const { sim } = await start(t);
    await post(sim, `/admin/profiles/${MODEL}`, { errors: { http500: 0.25 } }, 'PUT');
    await post(sim, `/admin/profiles/${MODEL}`, { errors: { hang: 0.5 }, tpotMs: 9 }, 'PUT');
    assert.deepEqual(sim.profiles.get(MODEL)?.errors, { http500: 0.25, http429: 0, reset: 0, hang: 0.5, http400: 0 });
    assert.equal(sim.profiles.get(MODEL)?.tpotMs, 9);
    assert.equal(sim.profiles.get(MODEL)?.ttftMs, 0);
  });

  test('bad PUTs -> 400 naming the field, unknown model 404; nothing changes', async (t) => {
    const { sim } = await start(t);
    const before = sim.profiles.get(MODEL);
    for (const [body, param] of [
      [{ ttftMs: -5 }, 'ttftMs'],
      [{ jitter: 2 }, 'jitter'],
      [{ ttft: 5 }, 'ttft'],
      [{ outputTokens: { min: 'many' } }, 'outputTokens.min'],
      [{ errors: { http500: 0.6, http429: 0.6 } }, 'errors'],
      [{ outputTokens: { min: 100, max: 10 } }, 'outputTokens'],
    ] as const) {
      const res = await post(sim, `/admin/profiles/${MODEL}`, body, 'PUT');
      assert.equal(res.status, 400, JSON.stringify(body));
      const { error } = (await res.json()) as { error: { param: string; code: string; message: string } };
      assert.equal(error.code, 'invalid_profile');
      assert.equal(error.param, param);
      assert.ok(error.message.includes(param), error.message);
    }
    assert.equal((await post(sim, `/admin/profiles/${MODEL}`, '{', 'PUT')).status, 400);
    assert.equal(sim.profiles.get(MODEL), before);
    for (const method of ['PUT', 'DELETE']) {
      const res = await post(sim, '/admin/profiles/gpt-9', { ttftMs: 1 }, method);
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'model_not_found');
    }
  });

  test('model names with a slash work encoded or not; healthz answers', async (t) => {
    const name = 'meta-llama/Llama-3.1-8B-Instruct';
    const { sim, client } = await start(t, { models: { [name]: {} } });
    assert.equal((await post(sim, `/admin/profiles/${encodeURIComponent(name)}`, { tpotMs: 3 }, 'PUT')).status, 200);
    assert.equal((await post(sim, `/admin/profiles/${name}`, { ttftMs: 4 }, 'PUT')).status, 200);
    assert.equal(sim.profiles.get(name)?.tpotMs, 3);
    assert.equal(sim.profiles.get(name)?.ttftMs, 4);
    assert.equal((await client.chat.completions.create({ ...ask, model: name })).model, name);
    const health = await fetch(`${sim.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  test('POST /admin/reset puts every profile back', async (t) => {
    const { sim } = await start(t);
    sim.profiles.patch(MODEL, { ttftMs: 999 });
    sim.profiles.patch(SMALL, { tpotMs: 999 });
    const res = await post(sim, '/admin/reset', {});
    assert.equal(res.status, 200);
    assert.equal(sim.profiles.get(MODEL)?.ttftMs, 0);
    assert.equal(sim.profiles.get(SMALL)?.tpotMs, 8, 'the configured 1B patch');
  });

  test('admin writes need the token when one is set: 401 without, 403 wrong, 200 right; reads stay open', async (t) => {
    const token = 'sim-admin-token-0123456789';
    const { sim } = await start(t, { admin: { token } });
    const put = (headers: Record<string, string>) =>
      fetch(`${sim.url}/admin/profiles/${MODEL}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: '{"ttftMs":5}', signal: AbortSignal.timeout(5_000) });
    const none = await put({});
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'unauthorized');
    assert.equal((await put({ authorization: 'Bearer wrong-token-0123456789' })).status, 403);
    assert.equal((await post(sim, '/admin/reset', {})).status, 401);
    assert.equal((await post(sim, `/admin/profiles/${MODEL}`, '', 'DELETE')).status, 401);
    assert.equal(sim.profiles.get(MODEL)?.ttftMs, 0, 'nothing changed');
    assert.equal((await put({ authorization: `Bearer ${token}` })).status, 200);
    assert.equal(sim.profiles.get(MODEL)?.ttftMs, 5);
    assert.equal((await fetch(`${sim.url}/admin/profiles`, { signal: AbortSignal.timeout(5_000) })).status, 200);
  });

  test('on a non-loopback address without a token, admin writes are refused: faults cannot be injected from the network', async (t) => {
    // Attack: `llmwatch simulate --host 0.0.0.0` (the compose demo) took PUT /admin/profiles from anyone
    // who reached the port: errors.http500 = 1 turned every answer into a 500.
    const sim = await startSimulator(simulatorConfig({ defaults: ZERO }), { host: '0.0.0.0', port: 0 });
    t.after(() => sim.close());
    const res = await post(sim, `/admin/profiles/${MODEL}`, { errors: { http500: 1 } }, 'PUT');
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'admin_disabled');
    assert.match(body.error.message, /admin\.token/);
    assert.equal((await post(sim, '/admin/reset', {})).status, 403);
    assert.equal(sim.profiles.get(MODEL)?.errors.http500, 0);
    assert.equal((await fetch(`${sim.url}/admin/profiles/${MODEL}`, { signal: AbortSignal.timeout(5_000) })).status, 200);
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '127.0.0.1.example.com']) assert.equal(isLoopbackHost(h), false, h);
  });
});
