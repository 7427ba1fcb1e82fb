import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';
import { MODEL, SMALL_MODEL, gatewayConfig, scrape } from './helpers/stack.ts';

const TOKENS = 5;
const value = (exp: Exposition, name: string, labels: Record<string, string>) => sampleValue(exp, `openllm_${name}`, labels) ?? 0;
const ok = (model: string, endpoint: string) => ({ model, endpoint, status: 'success', code: '2xx' });

describe('native APIs through the gateway, with their official clients', () => {
  let sim: SimulatorHandle;
  let gw: GatewayHandle;
  let ollama: Ollama;
  let openai: OpenAI;
  before(async () => {
    sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: TOKENS, max: TOKENS } } }), { port: 0 });
    gw = await startGateway(
      gatewayConfig(`${sim.url}/v1`, {
        upstreams: {
          sim: { baseURL: `${sim.url}/v1`, apis: ['ollama', 'responses', 'tgi'] },
          plain: { baseURL: `${sim.url}/v1` },
        },
        models: { [MODEL]: { upstream: 'sim' }, [SMALL_MODEL]: { upstream: 'plain' } },
      }),
      { port: 0 },
    );
    ollama = new Ollama({ host: gw.url });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  after(async () => {
    await gw?.close();
    await sim?.close();
  });

  test('ollama chat, not streamed: the answer intact, tokens and durations from its own fields', async () => {
    const before = await scrape(gw.url);
    const r = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }], stream: false });
    assert.equal(r.done, true);
    assert.equal(r.eval_count, TOKENS);
    assert.ok(r.message.content.length > 0);
    const after = await scrape(gw.url);
    assert.equal(value(after, 'requests_total', ok(MODEL, 'ollama_chat')) - value(before, 'requests_total', ok(MODEL, 'ollama_chat')), 1);
    const tokens = (kind: string, e: Exposition) => value(e, 'tokens_processed_total', { model: MODEL, kind, source: 'usage' });
    assert.equal(tokens('completion', after) - tokens('completion', before), TOKENS);
    assert.equal(tokens('prompt', after) - tokens('prompt', before), r.prompt_eval_count);
    // load_duration becomes its own histogram, in seconds.
    const loadSum = (e: Exposition) => value(e, 'model_load_duration_seconds_sum', { model: MODEL });
    assert.ok(Math.abs(loadSum(after) - loadSum(before) - r.load_duration / 1e9) < 1e-9);
    assert.equal(value(after, 'model_load_duration_seconds_count', { model: MODEL }) - value(before, 'model_load_duration_seconds_count', { model: MODEL }), 1);
    // Not streamed: no time to first token; TPOT from eval_duration / eval_count.
    assert.equal(value(after, 'time_to_first_token_seconds_count', { model: MODEL, endpoint: 'ollama_chat' }), 0);
    assert.equal(value(after, 'time_per_output_token_seconds_count', { model: MODEL, endpoint: 'ollama_chat' }) - value(before, 'time_per_output_token_seconds_count', { model: MODEL, endpoint: 'ollama_chat' }), 1);
  });

  test('ollama generate, streamed NDJSON: every chunk reaches the client, TTFT observed once', async () => {
    const before = await scrape(gw.url);
    let text = '';
    let last;
    for await (const part of await ollama.generate({ model: MODEL, prompt: 'tell me', stream: true })) {
      text += part.response;
      last = part;
    }
    assert.equal(last?.done, true);
    assert.equal(last?.eval_count, TOKENS);
    assert.ok(text.length > 0);
    const after = await scrape(gw.url);
    const d = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    assert.equal(d('requests_total', ok(MODEL, 'ollama_generate')), 1);
    assert.equal(d('time_to_first_token_seconds_count', { model: MODEL, endpoint: 'ollama_generate' }), 1);
    assert.equal(d('request_completion_tokens_sum', { model: MODEL, endpoint: 'ollama_generate' }), TOKENS);
  });

  test('ollama embed: vectors intact, prompt tokens from prompt_eval_count', async () => {
    const before = await scrape(gw.url);
    const r = await ollama.embed({ model: MODEL, input: ['one', 'two'] });
    assert.equal(r.embeddings.length, 2);
    const after = await scrape(gw.url);
    assert.equal(value(after, 'requests_total', ok(MODEL, 'ollama_embed')) - value(before, 'requests_total', ok(MODEL, 'ollama_embed')), 1);
    assert.equal(value(after, 'request_prompt_tokens_sum', { model: MODEL, endpoint: 'ollama_embed' }) - value(before, 'request_prompt_tokens_sum', { model: MODEL, endpoint: 'ollama_embed' }), r.prompt_eval_count);
  });

  test('responses, not streamed and streamed, with the openai SDK: output text and usage counted', async () => {
    const before = await scrape(gw.url);
    const r = await openai.responses.create({ model: MODEL, input: 'hello' });
    assert.equal(r.status, 'completed');
    assert.ok(r.output_text.length > 0);
    assert.equal(r.usage?.output_tokens, TOKENS);
    const stream = await openai.responses.create({ model: MODEL, input: [{ role: 'user', content: 'hello' }], stream: true });
    let deltas = '';
    let completed;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') deltas += ev.delta;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    assert.ok(completed !== undefined);
    assert.equal(deltas, completed.output_text ?? (completed.output[0] as { content: Array<{ text: string }> }).content[0]!.text);
    const after = await scrape(gw.url);
    const d = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    assert.equal(d('requests_total', ok(MODEL, 'responses')), 2);
    assert.equal(d('request_completion_tokens_sum', { model: MODEL, endpoint: 'responses' }), 2 * TOKENS);
    assert.equal(d('request_prompt_tokens_sum', { model: MODEL, endpoint: 'responses' }), r.usage!.input_tokens + completed.usage!.input_tokens);
    assert.equal(d('time_to_first_token_seconds_count', { model: MODEL, endpoint: 'responses' }), 1);
  });

  test('tgi generate and generate_stream over plain HTTP: details.generated_tokens and SSE token events', async () => {
    const before = await scrape(gw.url);
    const r = await fetch(`${gw.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-llmwatch-model': MODEL }, body: JSON.stringify({ inputs: 'why is the sky blue', parameters: { details: true } }) });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { generated_text: string; details: { generated_tokens: number } };
    assert.equal(body.details.generated_tokens, TOKENS);
    const s = await fetch(`${gw.url}/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-llmwatch-model': MODEL }, body: JSON.stringify({ inputs: 'why' }) });
    assert.equal(s.headers.get('content-type')?.startsWith('text/event-stream'), true);
    const events = (await s.text()).split('\n\n').filter((e) => e.startsWith('data:')).map((e) => JSON.parse(e.slice(5)) as { token: { text: string; special: boolean }; generated_text: string | null });
    const final = events.at(-1)!;
    assert.equal(final.generated_text, events.filter((e) => !e.token.special).map((e) => e.token.text).join(''));
    const after = await scrape(gw.url);
    const d = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    assert.equal(d('requests_total', ok(MODEL, 'tgi_generate')), 1);
    assert.equal(d('requests_total', ok(MODEL, 'tgi_generate_stream')), 1);
    assert.equal(d('request_completion_tokens_sum', { model: MODEL, endpoint: 'tgi_generate_stream' }), TOKENS);
    assert.equal(d('time_to_first_token_seconds_count', { model: MODEL, endpoint: 'tgi_generate_stream' }), 1);
  });

  test('faults: an injected 500 reaches the ollama client in its own shape and counts as a server error', async () => {
    sim.profiles.patch(MODEL, { errors: { http500: 1 } });
    try {
      const before = await scrape(gw.url);
      await assert.rejects(ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false }), (err: Error & { status_code?: number }) => {
        assert.equal(err.status_code, 500);
        assert.match(err.message, /simulated fault/);
        return true;
      });
      const r = await fetch(`${gw.url}/generate`, { method: 'POST', body: JSON.stringify({ inputs: 'x', model: MODEL }) });
      assert.equal(r.status, 500);
      assert.match(((await r.json()) as { error: string }).error, /simulated fault/);
      const after = await scrape(gw.url);
      const err = (e: string) => value(after, 'requests_total', { model: MODEL, endpoint: e, status: 'error', code: '5xx' }) - value(before, 'requests_total', { model: MODEL, endpoint: e, status: 'error', code: '5xx' });
      assert.equal(err('ollama_chat'), 1);
      assert.equal(err('tgi_generate'), 1);
    } finally {
      sim.profiles.reset(MODEL);
    }
  });

  test('faults: a reset mid-stream ends the ollama stream with an error line, counted with the tokens it carried', async () => {
    sim.profiles.patch(MODEL, { errors: { reset: 1 } });
    try {
      const before = await scrape(gw.url);
      await assert.rejects(async () => {
        for await (const _ of await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true })) void _;
      });
      const after = await scrape(gw.url);
      const d = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
      assert.equal(d('requests_total', { model: MODEL, endpoint: 'ollama_chat', status: 'error', code: '5xx' }), 1);
      assert.equal(d('upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'reset' }), 1);
    } finally {
      sim.profiles.reset(MODEL);
    }
  });

  test('faults on the Responses API: a 429 reaches the SDK as RateLimitError, a reset mid-stream as a failed stream', async () => {
    sim.profiles.patch(MODEL, { errors: { http429: 1 } });
    try {
      const before = await scrape(gw.url);
      await assert.rejects(openai.responses.create({ model: MODEL, input: 'hi' }), (err: Error & { status?: number }) => err instanceof OpenAI.RateLimitError && err.status === 429);
      const after = await scrape(gw.url);
      const d = (labels: Record<string, string>) => value(after, 'requests_total', labels) - value(before, 'requests_total', labels);
      assert.equal(d({ model: MODEL, endpoint: 'responses', status: 'error', code: '4xx' }), 1);
    } finally {
      sim.profiles.reset(MODEL);
    }
    sim.profiles.patch(MODEL, { errors: { reset: 1 }, outputTokens: { min: 8, max: 8 } });
    try {
      const before = await scrape(gw.url);
      let deltas = 0;
      let failed = false;
      try {
        for await (const ev of await openai.responses.create({ model: MODEL, input: 'hi', stream: true })) {
          if (ev.type === 'response.output_text.delta') deltas++;
          if ((ev.type as string) === 'error') failed = true;
        }
      } catch {
        failed = true;
      }
      assert.equal(failed, true);
      assert.equal(deltas, 4);
      const after = await scrape(gw.url);
      const d = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
      assert.equal(d('requests_total', { model: MODEL, endpoint: 'responses', status: 'error', code: '5xx' }), 1);
      assert.equal(d('upstream_errors_total', { model: MODEL, upstream: 'sim', reason: 'reset' }), 1);
      // The four tokens it carried are counted (estimated: the stream never reached its usage).
      assert.equal(d('tokens_processed_total', { model: MODEL, kind: 'completion', source: 'estimate' }), 4);
    } finally {
      sim.profiles.reset(MODEL);
    }
  });

  test('a model whose upstream does not serve the Ollama API is passed through as endpoint="other"', async () => {
    const before = await scrape(gw.url);
    let text = '';
    for await (const part of await ollama.chat({ model: SMALL_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true })) text += part.message.content;
    assert.ok(text.length > 0);
    const after = await scrape(gw.url);
    assert.equal(value(after, 'requests_total', ok(SMALL_MODEL, 'other')) - value(before, 'requests_total', ok(SMALL_MODEL, 'other')), 1);
    assert.equal(value(after, 'requests_total', ok(SMALL_MODEL, 'ollama_chat')), 0);
  });

  test('passthrough: an unknown path is proxied byte for byte, counted once under model="_none"', async () => {
    const direct = await fetch(`${sim.url}/no/such/path?q=1`);
    const directBody = Buffer.from(await direct.arrayBuffer());
    const before = await scrape(gw.url);
    const via = await fetch(`${gw.url}/no/such/path?q=1`);
    const viaBody = Buffer.from(await via.arrayBuffer());
    assert.equal(via.status, direct.status);
    assert.deepEqual(viaBody, directBody);
    assert.equal(via.headers.get('x-llmwatch-error'), direct.headers.get('x-llmwatch-error'));
    const after = await scrape(gw.url);
    const labels = { model: '_none', endpoint: 'other', status: 'client_error', code: '4xx' };
    assert.equal(value(after, 'requests_total', labels) - value(before, 'requests_total', labels), 1);
  });
});

describe('passthrough off', () => {
  test('an empty allow list turns passthrough off: unknown paths are 404 from the gateway', async () => {
    const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0 } }), { port: 0 });
    const gw = await startGateway(gatewayConfig(`${sim.url}/v1`, {}, { passthrough: [] }), { port: 0 });
    try {
      const r = await fetch(`${gw.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: [] }) });
      assert.equal(r.status, 404);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'not_found');
      const exp = await scrape(gw.url);
      assert.equal(value(exp, 'gateway_rejected_requests_total', { endpoint: 'none', reason: 'not_found' }), 1);
      assert.equal(sampleValue(exp, 'openllm_requests_total', { model: '_none', endpoint: 'other', status: 'success', code: '2xx' }), undefined);
    } finally {
      await gw.close();
      await sim.close();
    }
  });
});
