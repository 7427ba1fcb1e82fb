import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countTokens, estimatePromptTokens } from '../src/core/openai/tokens.ts';
import { sampleValue } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';
import { MODEL, SMALL_MODEL, startPair } from './helpers/stack.ts';
import type { Pair } from './helpers/stack.ts';

const P = 'openllm_';

/** The values that every request changes, for one (model, endpoint). */
function counts(m: Exposition, model: string, endpoint: string) {
  const v = (name: string, labels: Record<string, string>) => sampleValue(m, P + name, labels) ?? NaN;
  return {
    success: v('requests_total', { model, endpoint, status: 'success', code: '2xx' }),
    error5xx: v('requests_total', { model, endpoint, status: 'error', code: '5xx' }),
    error4xx: v('requests_total', { model, endpoint, status: 'error', code: '4xx' }),
    cancelled: v('requests_total', { model, endpoint, status: 'cancelled', code: '4xx' }),
    promptUsage: v('tokens_processed_total', { model, kind: 'prompt', source: 'usage' }),
    completionUsage: v('tokens_processed_total', { model, kind: 'completion', source: 'usage' }),
    promptEstimate: v('tokens_processed_total', { model, kind: 'prompt', source: 'estimate' }),
    completionEstimate: v('tokens_processed_total', { model, kind: 'completion', source: 'estimate' }),
    durationCount: v('inference_duration_seconds_count', { model, endpoint }),
    ttftCount: v('time_to_first_token_seconds_count', { model, endpoint }),
    tpotCount: v('time_per_output_token_seconds_count', { model, endpoint }),
    promptSizeSum: v('request_prompt_tokens_sum', { model, endpoint }),
    completionSizeSum: v('request_completion_tokens_sum', { model, endpoint }),
    inFlight: v('requests_in_flight', { model, upstream: 'sim' }),
    queue: v('queue_length', { model, upstream: 'sim' }),
  };
}

function delta(before: ReturnType<typeof counts>, after: ReturnType<typeof counts>) {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
}

describe('gateway -> simulator through the openai SDK', () => {
  let pair: Pair;
  before(async () => {
    pair = await startPair();
  });
  after(() => pair.close());

  test('exports the contract metrics with their types before any request', async () => {
    const m = await pair.metrics();
    assert.equal(m.types.get(P + 'inference_duration_seconds'), 'histogram');
    assert.equal(m.types.get(P + 'tokens_processed_total'), 'counter');
    assert.equal(m.types.get(P + 'requests_total'), 'counter');
    assert.equal(m.types.get(P + 'queue_length'), 'gauge');
    assert.equal(m.types.get(P + 'requests_in_flight'), 'gauge');
    assert.equal(m.types.get(P + 'time_to_first_token_seconds'), 'histogram');
    assert.equal(m.types.get(P + 'time_per_output_token_seconds'), 'histogram');
    assert.equal(m.types.get(P + 'queue_wait_seconds'), 'histogram');
    assert.equal(m.types.get(P + 'upstream_errors_total'), 'counter');
    assert.equal(m.types.get(P + 'build_info'), 'gauge');
    // Series exist at zero from the start, so the first increase is visible to rate().
    assert.equal(sampleValue(m, P + 'requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 0);
    assert.equal(sampleValue(m, P + 'upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'timeout' }), 0);
    // The article's recommended buckets are the default.
    const les = m.samples
      .filter((s) => s.name === P + 'inference_duration_seconds_bucket' && s.labels.model === MODEL && s.labels.endpoint === 'chat_completions')
      .map((s) => s.labels.le);
    assert.deepEqual(les, ['0.1', '0.3', '0.5', '1', '2', '3', '5', '10', '+Inf']);
  });

  test('non-streaming chat: usage tokens, one success, one duration, no TTFT', async () => {
    const before = counts(await pair.metrics(), MODEL, 'chat_completions');
    const res = await pair.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say something about monitoring.' }] });
    assert.equal(res.object, 'chat.completion');
    assert.ok((res.choices[0]?.message.content ?? '').length > 0);
    assert.equal(res.usage?.completion_tokens, 8);
    const d = delta(before, counts(await pair.metrics(), MODEL, 'chat_completions'));
    assert.deepEqual(d, {
      success: 1,
      error5xx: 0,
      error4xx: 0,
      cancelled: 0,
      promptUsage: res.usage!.prompt_tokens,
      completionUsage: 8,
      promptEstimate: 0,
      completionEstimate: 0,
      durationCount: 1,
      ttftCount: 0,
      tpotCount: 0,
      promptSizeSum: res.usage!.prompt_tokens,
      completionSizeSum: 8,
      inFlight: 0,
      queue: 0,
    });
  });

  test('streaming chat with include_usage: chunks pass through, usage counted, TTFT and TPOT observed', async () => {
    const before = counts(await pair.metrics(), MODEL, 'chat_completions');
    const stream = await pair.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks >= 9, `expected one chunk per token plus usage, got ${chunks}`);
    assert.equal(usage?.completion_tokens, 8);
    assert.equal(countTokens(text), 8);
    const d = delta(before, counts(await pair.metrics(), MODEL, 'chat_completions'));
    assert.equal(d.success, 1);
    assert.equal(d.promptUsage, usage!.prompt_tokens);
    assert.equal(d.completionUsage, 8);
    assert.equal(d.promptEstimate, 0);
    assert.equal(d.completionEstimate, 0);
    assert.equal(d.ttftCount, 1);
    assert.equal(d.tpotCount, 1);
    assert.equal(d.durationCount, 1);
    assert.equal(d.inFlight, 0);
  });

  test('streaming without usage: tokens counted by the tokenizer and labelled as estimates', async () => {
    const before = counts(await pair.metrics(), MODEL, 'chat_completions');
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Count the tokens of this sentence, gateway.' },
    ];
    const stream = await pair.client.chat.completions.create({ model: MODEL, messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    const d = delta(before, counts(await pair.metrics(), MODEL, 'chat_completions'));
    assert.equal(d.success, 1);
    assert.equal(d.promptUsage, 0);
    assert.equal(d.completionUsage, 0);
    assert.equal(d.promptEstimate, estimatePromptTokens('chat_completions', { messages }));
    assert.equal(d.completionEstimate, countTokens(text));
    assert.equal(d.completionEstimate, 8);
  });

  test('legacy completions, streaming and not, are metered under their own endpoint', async () => {
    const before = counts(await pair.metrics(), SMALL_MODEL, 'completions');
    const res = await pair.client.completions.create({ model: SMALL_MODEL, prompt: 'Once upon a time' });
    assert.equal(res.object, 'text_completion');
    const stream = await pair.client.completions.create({ model: SMALL_MODEL, prompt: 'Once upon a time', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(countTokens(text), 8);
    const d = delta(before, counts(await pair.metrics(), SMALL_MODEL, 'completions'));
    assert.equal(d.success, 2);
    assert.equal(d.durationCount, 2);
    assert.equal(d.ttftCount, 1);
    assert.equal(d.completionUsage, 8);
    assert.equal(d.completionEstimate, 8);
    // The chat endpoint of the same model did not move.
    const chat = counts(await pair.metrics(), SMALL_MODEL, 'chat_completions');
    assert.equal(chat.success, 0);
  });

  test('embeddings: prompt tokens only', async () => {
    const before = counts(await pair.metrics(), MODEL, 'embeddings');
    const res = await pair.client.embeddings.create({ model: MODEL, input: ['first text', 'second text'] });
    assert.equal(res.data.length, 2);
    const d = delta(before, counts(await pair.metrics(), MODEL, 'embeddings'));
    assert.equal(d.success, 1);
    assert.equal(d.promptUsage, res.usage.prompt_tokens);
    assert.equal(d.completionUsage, 0);
    // Embeddings generate nothing: no completion-size, TTFT or TPOT series exist for them.
    const m = await pair.metrics();
    for (const name of ['request_completion_tokens_count', 'time_to_first_token_seconds_count', 'time_per_output_token_seconds_count']) {
      assert.equal(sampleValue(m, P + name, { model: MODEL, endpoint: 'embeddings' }), undefined, name);
    }
  });

  test('GET /v1/models lists exactly the configured models', async () => {
    const page = await pair.client.models.list();
    assert.deepEqual(
      page.data.map((m) => m.id),
      [MODEL, SMALL_MODEL],
    );
  });

  test('/healthz is alive and /readyz reports the upstream reachable', async () => {
    assert.equal((await fetch(`${pair.gw.url}/healthz`)).status, 200);
    const ready = await fetch(`${pair.gw.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { ready: boolean; upstreams: Record<string, { ok: boolean }> };
    assert.equal(body.ready, true);
    assert.equal(body.upstreams.sim?.ok, true);
  });

  test('build_info names the version', async () => {
    const m = await pair.metrics();
    const info = m.samples.find((s) => s.name === P + 'build_info');
    assert.equal(info?.value, 1);
    assert.match(info?.labels.version ?? '', /^\d+\.\d+\.\d+/);
  });
});
