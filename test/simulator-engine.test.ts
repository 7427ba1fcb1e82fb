import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import OpenAI from 'openai';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { VLLM_FINISH_REASONS, VLLM_METRIC, VLLM_METRIC_DEFS, VLLM_VERSION, goFloat, vllmRequestTokenBuckets } from '../src/core/conventions/vllm.ts';
import { ALWAYS_EXACT_CHARS, estimatePromptTokens } from '../src/core/openai/tokens.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { parseExposition, sampleValue, sumSamples } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';

/** vLLM's metrics transcribed from its source (test/fixtures/vllm-metrics.json names the commit). */
interface FixtureMetric {
  name: string;
  type: string;
  labels: string[];
  buckets?: number[] | string;
}
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/vllm-metrics.json', import.meta.url), 'utf8')) as {
  source: { version: string };
  finished_reasons: string[];
  metrics: FixtureMetric[];
};

const MODEL = 'llama-3.1-8b-instruct';
const SMALL = 'llama-3.2-1b-instruct';

async function start(t: TestContext, data: Record<string, unknown>) {
  const sim = await startSimulator(simulatorConfig(data), { port: 0 });
  t.after(() => sim.close());
  const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 20_000 });
  return { sim, client };
}

async function scrape(sim: SimulatorHandle): Promise<{ text: string; exp: Exposition }> {
  const res = await fetch(`${sim.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, exp: parseExposition(text) };
}

/** The family a sample belongs to: its name less a histogram's suffix. */
function familyOf(exp: Exposition, sample: string): string {
  for (const suffix of ['_bucket', '_count', '_sum']) {
    const base = sample.slice(0, -suffix.length);
    if (sample.endsWith(suffix) && exp.types.get(base) === 'histogram') return base;
  }
  return sample;
}

test('the checked-in list and the conventions name the same vLLM families, from the same release', () => {
  assert.equal(FIXTURE.source.version, VLLM_VERSION);
  assert.deepEqual(FIXTURE.finished_reasons, [...VLLM_FINISH_REASONS]);
  assert.deepEqual(
    FIXTURE.metrics.map((m) => [m.name, m.type]),
    VLLM_METRIC_DEFS.map((d) => [VLLM_METRIC[d.key], d.type]),
  );
  // The list, at least.
  for (const name of [
    'vllm:num_requests_running',
    'vllm:num_requests_waiting',
    'vllm:kv_cache_usage_perc',
    'vllm:num_preemptions_total',
    'vllm:prefix_cache_queries_total',
    'vllm:prefix_cache_hits_total',
    'vllm:time_to_first_token_seconds',
    'vllm:e2e_request_latency_seconds',
    'vllm:request_success_total',
    'vllm:prompt_tokens_total',
    'vllm:generation_tokens_total',
  ]) {
    assert.ok(FIXTURE.metrics.some((m) => m.name === name), name);
  }
  // vLLM's build_1_2_5_buckets(100) docstring example.
  assert.deepEqual(vllmRequestTokenBuckets(100), [1, 2, 5, 10, 20, 50, 100]);
});

test('numbers are written as prometheus_client writes them (Python floats, Go exponents)', () => {
  assert.equal(goFloat(1), '1.0');
  assert.equal(goFloat(0.001), '0.001');
  assert.equal(goFloat(2560), '2560.0');
  assert.equal(goFloat(0.25), '0.25');
  assert.equal(goFloat(1e6), '1e+06');
  assert.equal(goFloat(123456789), '1.23456789e+08');
  assert.equal(goFloat(0), '0.0');
  assert.equal(goFloat(Infinity), '+Inf');
});

test("the simulator's /metrics has vLLM's families by name, type, labels and buckets, for every model and data-parallel rank", async (t) => {
  const maxModelLen = 4096;
  const { sim, client } = await start(t, { defaults: { ttftMs: 0, tpotMs: 0, jitter: 0 }, engine: { dataParallelSize: 2, maxModelLen } });
  await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello there' }] });
  const { text, exp } = await scrape(sim);

  const families = new Set(exp.samples.map((s) => familyOf(exp, s.name)));
  assert.deepEqual([...families].sort(), FIXTURE.metrics.map((m) => m.name).sort(), 'exactly the listed families');
  for (const m of FIXTURE.metrics) {
    assert.equal(exp.types.get(m.name), m.type, `${m.name}: type`);
    assert.ok((exp.help.get(m.name) ?? '').length > 0, `${m.name}: help`);
    const samples = exp.samples.filter((s) => familyOf(exp, s.name) === m.name);
    for (const s of samples) {
      const expected = s.name.endsWith('_bucket') ? [...m.labels, 'le'].sort() : [...m.labels].sort();
      assert.deepEqual(Object.keys(s.labels).sort(), expected, `${s.name}: labels`);
    }
    for (const model of [MODEL, SMALL]) {
      for (const engine of ['0', '1']) {
        const own = samples.filter((s) => s.labels.model_name === model && s.labels.engine === engine);
        assert.ok(own.length > 0, `${m.name} for ${model}, engine ${engine}`);
        if (m.name === 'vllm:request_success_total') {
          assert.deepEqual(own.map((s) => s.labels.finished_reason).sort(), [...FIXTURE.finished_reasons].sort());
        }
        if (m.type === 'histogram') {
          const bounds = m.buckets === 'build_1_2_5_buckets(max_model_len)' ? vllmRequestTokenBuckets(maxModelLen) : (m.buckets as number[]);
          const les = own.filter((s) => s.name === `${m.name}_bucket`).map((s) => s.labels.le);
          // On the wire as vLLM writes them: le="1.0", not le="1".
          assert.deepEqual(les, [...bounds.map(goFloat), '+Inf'], `${m.name}: buckets`);
          assert.ok(sampleValue(exp, `${m.name}_count`, { model_name: model, engine }) !== undefined);
          assert.ok(sampleValue(exp, `${m.name}_sum`, { model_name: model, engine }) !== undefined);
        }
      }
    }
  }
  assert.match(text, /vllm:time_to_first_token_seconds_bucket\{engine="0",le="2560\.0",model_name="llama-3\.1-8b-instruct"\} /);
  // The one request: on one rank of one model, counted once.
  assert.equal(sumSamples(exp, VLLM_METRIC.requestSuccess, { model_name: MODEL, finished_reason: 'stop' }), 1);
  assert.equal(sumSamples(exp, `${VLLM_METRIC.timeToFirstToken}_count`, { model_name: MODEL }), 1);
  assert.equal(sumSamples(exp, VLLM_METRIC.requestSuccess, { model_name: SMALL }), 0);
});

/** A prompt of about `words` words, and its size in tokens as the simulator counts it. */
function prompt(words: number, salt: string) {
  const messages = [{ role: 'user' as const, content: `${salt} ${'lorem ipsum dolor '.repeat(Math.ceil(words / 3))}` }];
  return { messages, tokens: estimatePromptTokens('chat_completions', { messages }) };
}

/** Opens a streamed chat and waits for its first token: the request is admitted and generating. */
async function running(client: OpenAI, messages: Array<{ role: 'user'; content: string }>) {
  const stream = await client.chat.completions.create({ model: MODEL, messages, stream: true });
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  return { stream, it };
}

test('the KV cache fills with context length and with concurrency; the waiting queue holds what the batch cannot', async (t) => {
  const blockSize = 16;
  const kvCacheTokens = 100 * blockSize;
  // Each answer holds after its first token for 30 s: the engine stands still while it is read.
  const { sim, client } = await start(t, {
    defaults: { ttftMs: 0, tpotMs: 30_000, jitter: 0, outputTokens: { min: 5, max: 5 } },
    engine: { blockSize, kvCacheTokens, maxNumSeqs: 3 },
  });
  const gauge = async (key: 'kvCacheUsage' | 'running' | 'waiting') => sampleValue((await scrape(sim)).exp, VLLM_METRIC[key], { model_name: MODEL, engine: '0' })!;
  assert.equal(await gauge('kvCacheUsage'), 0, 'idle: empty');

  const short = prompt(60, 'a');
  // Blocks for prompt + first token + room for the next.
  const blocks = (tokens: number) => Math.ceil((tokens + 2) / blockSize);
  const one = await running(client, short.messages);
  const single = await gauge('kvCacheUsage');
  assert.equal(single, blocks(short.tokens) / 100);

  const more = [await running(client, prompt(60, 'b').messages), await running(client, prompt(60, 'c').messages)];
  const three = await gauge('kvCacheUsage');
  assert.ok(three > 2.5 * single, `three requests hold about three times the blocks of one (${three} vs ${single})`);
  assert.equal(await gauge('running'), 3);

  // The batch is full (maxNumSeqs 3): a fourth request waits, and holds no KV cache.
  const fourth = client.chat.completions.create({ model: MODEL, messages: prompt(600, 'd').messages, stream: true });
  let waiting = 0;
  for (let i = 0; i < 500 && waiting === 0; i++) {
    waiting = await gauge('waiting');
    if (waiting === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(waiting, 1);
  assert.equal(await gauge('kvCacheUsage'), three);

  // One leaves (the client aborts): the waiting request, ten times as long, is admitted and takes its blocks.
  one.stream.controller.abort();
  const long = prompt(600, 'd');
  const s4 = await fourth;
  await s4[Symbol.asyncIterator]().next();
  const after = await gauge('kvCacheUsage');
  assert.equal(await gauge('waiting'), 0);
  assert.ok(after > three, `a long context holds more of the cache (${after} > ${three})`);
  assert.equal(Math.round(after * 100), Math.round(three * 100) - blocks(short.tokens) + blocks(long.tokens));
  const { exp } = await scrape(sim);
  assert.equal(sampleValue(exp, VLLM_METRIC.requestSuccess, { model_name: MODEL, engine: '0', finished_reason: 'abort' }), 1, "the client's abort is vLLM's finished_reason=abort");
  for (const s of [...more, { stream: s4 }]) s.stream.controller.abort();
});

test('past the KV budget the engine preempts and recomputes: every answer still completes; within the budget none is preempted', async (t) => {
  const load = async (kvCacheTokens: number) => {
    const { sim, client } = await start(t, {
      defaults: { ttftMs: 0, tpotMs: 5, jitter: 0, outputTokens: { min: 80, max: 80 } },
      engine: { blockSize: 16, kvCacheTokens, maxNumSeqs: 8 },
    });
    const answers = await Promise.all(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((salt) => client.chat.completions.create({ model: MODEL, messages: prompt(30, salt).messages })),
    );
    for (const a of answers) {
      assert.equal(a.choices[0]!.finish_reason, 'stop');
      assert.equal(a.usage!.completion_tokens, 80);
    }
    const { exp } = await scrape(sim);
    const labels = { model_name: MODEL, engine: '0' };
    return {
      preemptions: sampleValue(exp, VLLM_METRIC.preemptions, labels)!,
      stops: sampleValue(exp, VLLM_METRIC.requestSuccess, { ...labels, finished_reason: 'stop' })!,
      generated: sampleValue(exp, VLLM_METRIC.generationTokens, labels)!,
      kv: sampleValue(exp, VLLM_METRIC.kvCacheUsage, labels)!,
    };
  };
  // Six answers growing to ~110 tokens each (7 blocks): 42 blocks wanted, 20 there.
  const tight = await load(20 * 16);
  assert.ok(tight.preemptions > 0, `preempted past the budget (${tight.preemptions})`);
  assert.equal(tight.stops, 6);
  assert.equal(tight.generated, 6 * 80, 'a recomputed token is generated once');
  assert.equal(tight.kv, 0, 'every block back once all are done');
  const roomy = await load(1000 * 16);
  assert.equal(roomy.preemptions, 0);
  assert.equal(roomy.stops, 6);
});

test('a repeated prompt hits the prefix cache; a new one does not', async (t) => {
  const { sim, client } = await start(t, { defaults: { ttftMs: 0, tpotMs: 0, jitter: 0 }, engine: { blockSize: 16 } });
  const p = prompt(300, 'system');
  await client.chat.completions.create({ model: MODEL, messages: p.messages });
  let { exp } = await scrape(sim);
  const labels = { model_name: MODEL, engine: '0' };
  assert.equal(sampleValue(exp, VLLM_METRIC.prefixCacheQueries, labels), p.tokens);
  assert.equal(sampleValue(exp, VLLM_METRIC.prefixCacheHits, labels), 0);
  await client.chat.completions.create({ model: MODEL, messages: p.messages });
  ({ exp } = await scrape(sim));
  assert.equal(sampleValue(exp, VLLM_METRIC.prefixCacheQueries, labels), 2 * p.tokens);
  // Every full block of the prompt, never the last token (vLLM computes it again).
  assert.equal(sampleValue(exp, VLLM_METRIC.prefixCacheHits, labels), Math.min(Math.floor(p.tokens / 16) * 16, p.tokens - 1));
  await client.chat.completions.create({ model: MODEL, messages: prompt(300, 'other').messages });
  ({ exp } = await scrape(sim));
  assert.equal(sampleValue(exp, VLLM_METRIC.prefixCacheHits, labels), Math.min(Math.floor(p.tokens / 16) * 16, p.tokens - 1));
});

test("a prompt past the context (engine.maxModelLen), alone or with the max_tokens asked, is vLLM's 400 at the door: the engine never sees it", async (t) => {
  // Prompts under ALWAYS_EXACT_CHARS, so their counts are exact whatever the machine's speed.
  const maxModelLen = 256;
  const { sim, client } = await start(t, { defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 4, max: 4 } }, engine: { maxModelLen } });
  const refused = async (body: OpenAI.ChatCompletionCreateParamsNonStreaming) => {
    const err = await client.chat.completions.create(body).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.code, 'context_length_exceeded');
    assert.equal(err.param, 'input_tokens');
    return err.message;
  };
  const long = prompt(300, 'long');
  assert.ok(long.tokens > maxModelLen, `${long.tokens} tokens`);
  assert.ok(long.messages[0]!.content.length < ALWAYS_EXACT_CHARS);
  assert.equal(
    await refused({ model: MODEL, messages: long.messages }),
    `400 This model's maximum context length is 256 tokens. However, you requested 0 output tokens and your prompt contains at least ${long.tokens} input tokens, for a total of at least ${long.tokens} tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=${long.tokens})`,
  );
  // A prompt that fits, with max_tokens one over the room left, then exactly the room left.
  const short = prompt(90, 'short');
  const room = maxModelLen - short.tokens;
  assert.match(await refused({ model: MODEL, messages: short.messages, max_tokens: room + 1 }), new RegExp(`requested ${room + 1} output tokens .* at least ${short.tokens} input tokens, for a total of at least ${maxModelLen + 1} tokens`));
  assert.match(await refused({ model: MODEL, messages: short.messages, max_completion_tokens: room + 1 }), /requested \d+ output tokens/);
  const fits = await client.chat.completions.create({ model: MODEL, messages: short.messages, max_tokens: room });
  assert.equal(fits.usage?.prompt_tokens, short.tokens);
  // Streamed, the refusal is the same 400 before any event; /v1/completions too.
  const streamed = await client.chat.completions.create({ model: MODEL, messages: long.messages, stream: true }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(streamed instanceof OpenAI.BadRequestError && streamed.status === 400, String(streamed));
  const text = await client.completions.create({ model: MODEL, prompt: long.messages[0]!.content }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(text instanceof OpenAI.BadRequestError && text.code === 'context_length_exceeded', String(text));
  // The profile's extra prompt tokens count: a short prompt over a long hidden document is refused.
  const put = await fetch(`${sim.url}/admin/profiles/${MODEL}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ extraPromptTokens: maxModelLen }) });
  assert.equal(put.status, 200);
  assert.match(await refused({ model: MODEL, messages: short.messages }), new RegExp(`at least ${short.tokens + maxModelLen} input tokens`));
  // Ollama cuts a prompt to its context rather than refusing it: its API answers.
  const ollama = await fetch(`${sim.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: long.messages, stream: false }) });
  assert.equal(ollama.status, 200);
  await ollama.arrayBuffer();

  // Only the two admitted requests (the fitting chat, then Ollama's) reached the engine.
  const { exp } = await scrape(sim);
  assert.equal(sumSamples(exp, VLLM_METRIC.requestSuccess, { model_name: MODEL }), 2);
  assert.equal(sumSamples(exp, VLLM_METRIC.promptTokens, { model_name: MODEL }), short.tokens + long.tokens + maxModelLen);
});
