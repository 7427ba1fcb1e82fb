import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { GENAI_BUCKETS, GENAI_METRIC } from '../src/core/conventions/metrics.ts';
import type { MetricsNaming } from '../src/core/conventions/metrics.ts';
import { renderMetrics } from '../src/core/metering/exposition.ts';
import { GatewayMetrics } from '../src/core/metering/gateway-metrics.ts';
import { startGateway } from '../src/gateway/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { sampleValue } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';
import { startPrometheus } from './helpers/prometheus.ts';
import { freePort } from './helpers/processes.ts';
import { MODEL, scrape } from './helpers/stack.ts';

/**
 * The OpenTelemetry GenAI metrics as the semantic conventions v1.41.0 define them
 * (open-telemetry/semantic-conventions, docs/gen-ai/gen-ai-metrics.md and
 * model/gen-ai/metrics.yaml at tag v1.41.0), written out here by hand from that
 * source, as Prometheus names them (specification/compatibility/prometheus_and_openmetrics.md):
 * the gateway's families must match this list, not the conventions module they come from.
 */
const SEMCONV_V1_41_0 = [
  {
    name: 'gen_ai_client_token_usage',
    labels: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_token_type'],
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  },
  {
    name: 'gen_ai_client_operation_duration_seconds',
    labels: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'error_type'],
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  },
  {
    name: 'gen_ai_server_time_to_first_token_seconds',
    labels: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model'],
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
  },
  {
    name: 'gen_ai_server_time_per_output_token_seconds',
    labels: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model'],
    buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
  },
] as const;

const OWN_HISTOGRAMS = ['inference_duration_seconds', 'time_to_first_token_seconds', 'time_per_output_token_seconds', 'request_prompt_tokens', 'request_completion_tokens'];

function registryWith(naming: MetricsNaming): { registry: Registry; metrics: GatewayMetrics } {
  const registry = new Registry();
  const metrics = new GatewayMetrics(registry, {
    prefix: 'openllm_',
    durationBuckets: [0.1, 0.3, 0.5, 1, 2, 3, 5, 10],
    processMetrics: false,
    version: '1.2.3',
    models: [{ model: 'llama', targets: [{ upstream: 'vllm', model: 'llama' }] }],
    naming,
  });
  return { registry, metrics };
}

test('the OpenTelemetry families have the names, types, attributes and buckets of semantic conventions v1.41.0', async () => {
  const { registry } = registryWith('otel');
  const json = await registry.getMetricsAsJSON();
  for (const want of SEMCONV_V1_41_0) {
    const m = registry.getSingleMetric(want.name) as unknown as { labelNames: string[]; upperBounds: number[] } | undefined;
    assert.ok(m, `${want.name} is registered`);
    assert.equal(json.find((j) => j.name === want.name)?.type, 'histogram');
    assert.deepEqual([...m.labelNames].sort(), [...want.labels].sort(), want.name);
    assert.deepEqual(m.upperBounds, [...want.buckets], want.name);
  }
  // The conventions module says the same, so the rules generator reads the same names and bounds.
  assert.deepEqual(Object.values(GENAI_METRIC).sort(), SEMCONV_V1_41_0.map((w) => w.name).sort());
  assert.deepEqual(GENAI_BUCKETS.timeToFirstToken, SEMCONV_V1_41_0[2].buckets);
  // Under `otel` the llmwatch histograms the conventions replace are not exported; the counters are.
  for (const n of OWN_HISTOGRAMS) assert.equal(registry.getSingleMetric(`openllm_${n}`), undefined, n);
  assert.ok(registry.getSingleMetric('openllm_requests_total'));
  assert.ok(registry.getSingleMetric('openllm_tokens_processed_total'));
  // And under `openllm` (the default) no gen_ai family exists.
  const { registry: own } = registryWith('openllm');
  for (const w of SEMCONV_V1_41_0) assert.equal(own.getSingleMetric(w.name), undefined, w.name);
});

test('under both namings one observation updates both families, and the fast renderer stays byte for byte prom-client', async () => {
  const { registry, metrics } = registryWith('both');
  assert.equal(await renderMetrics(registry), await registry.metrics());
  const chat = metrics.route('llama', 'chat_completions')!;
  chat.duration.observe(0.2);
  chat.ttft.observe(0.05);
  chat.tpot.observe(0.02);
  chat.promptSize.observe(12);
  chat.completionSize.observe(8);
  chat.failedDuration.error_5xx.observe(1.5);
  chat.failedDuration.cancelled.observe(0.3);
  metrics.route('llama', 'embeddings')!.promptSize.observe(5);
  const text = await renderMetrics(registry);
  assert.equal(text, await registry.metrics());
  const line = (s: string) => assert.ok(text.split('\n').includes(s), `missing: ${s}`);
  const chatAttrs = 'gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="llama"';
  line(`openllm_inference_duration_seconds_sum{model="llama",endpoint="chat_completions"} 0.2`);
  line(`gen_ai_client_operation_duration_seconds_sum{${chatAttrs}} 0.2`);
  line(`gen_ai_client_operation_duration_seconds_count{${chatAttrs}} 1`);
  line(`gen_ai_client_operation_duration_seconds_count{${chatAttrs},error_type="error_5xx"} 1`);
  line(`gen_ai_client_operation_duration_seconds_bucket{le="1.28",${chatAttrs},error_type="error_5xx"} 0`);
  line(`gen_ai_client_operation_duration_seconds_bucket{le="2.56",${chatAttrs},error_type="error_5xx"} 1`);
  line(`gen_ai_client_operation_duration_seconds_count{${chatAttrs},error_type="cancelled"} 1`);
  line(`gen_ai_server_time_to_first_token_seconds_bucket{le="0.06",${chatAttrs}} 1`);
  line(`gen_ai_server_time_to_first_token_seconds_bucket{le="0.04",${chatAttrs}} 0`);
  line(`gen_ai_server_time_per_output_token_seconds_sum{${chatAttrs}} 0.02`);
  line(`gen_ai_client_token_usage_sum{${chatAttrs},gen_ai_token_type="input"} 12`);
  line(`gen_ai_client_token_usage_sum{${chatAttrs},gen_ai_token_type="output"} 8`);
  line(`gen_ai_client_token_usage_bucket{le="16",${chatAttrs},gen_ai_token_type="input"} 1`);
  line(`gen_ai_client_token_usage_bucket{le="4",${chatAttrs},gen_ai_token_type="input"} 0`);
  line(`gen_ai_client_token_usage_sum{gen_ai_operation_name="embeddings",gen_ai_provider_name="openai",gen_ai_request_model="llama",gen_ai_token_type="input"} 5`);
  // Embeddings generate nothing: no output-token, TTFT or TPOT series for them.
  assert.ok(!text.includes('gen_ai_operation_name="embeddings",gen_ai_provider_name="openai",gen_ai_request_model="llama",gen_ai_token_type="output"'));
  assert.ok(!/gen_ai_server_time_to_first_token_seconds_count\{gen_ai_operation_name="embeddings"/.test(text));
  // Failure series appear with their first failure only: completions has none yet.
  assert.ok(!text.split('\n').some((l) => l.includes('"text_completion"') && l.includes('error_type=')));
  assert.ok(text.split('\n').some((l) => l.includes('"text_completion"') && l.startsWith('gen_ai_client_operation_duration_seconds_count')));
  // The llmwatch duration counts successes only, as before.
  line(`openllm_inference_duration_seconds_count{model="llama",endpoint="chat_completions"} 1`);
});

/** A simulator, and a gateway in front of it with the naming given, plus a model whose upstream refuses connections. */
async function startNamed(naming: MetricsNaming, providerName?: string) {
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 8, max: 8 } } }), { port: 0 });
  const closed = await freePort();
  const config = validateConfig(GatewayConfigSchema, {
    port: 0,
    metrics: { processMetrics: false, naming, ...(providerName === undefined ? {} : { providerName }) },
    upstreams: { sim: { baseURL: `${sim.url}/v1` }, down: { baseURL: `http://127.0.0.1:${closed}/v1` } },
    models: { [MODEL]: { upstream: 'sim' }, broken: { upstream: 'down' } },
  });
  const gw = await startGateway(config, { port: 0 });
  return {
    gw,
    client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test', maxRetries: 0, timeout: 10_000 }),
    close: async () => {
      await gw.close();
      await sim.close();
    },
  };
}

/** The same requests for every naming: what each one must count, exactly. */
async function sendMix(client: OpenAI) {
  const plain = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say something about monitoring.' }] });
  let streamed: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Stream please' }], stream: true, stream_options: { include_usage: true } })) {
    if (chunk.usage) streamed = chunk.usage;
  }
  const completion = await client.completions.create({ model: MODEL, prompt: 'Once upon a time' });
  const embedding = await client.embeddings.create({ model: MODEL, input: 'embed me' });
  await assert.rejects(client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'hi' }] }), (e: { status?: number }) => e.status !== undefined && e.status >= 500);
  return {
    chatInput: plain.usage!.prompt_tokens + streamed!.prompt_tokens,
    chatOutput: plain.usage!.completion_tokens + streamed!.completion_tokens,
    completionInput: completion.usage!.prompt_tokens,
    completionOutput: completion.usage!.completion_tokens,
    embeddingInput: embedding.usage.prompt_tokens,
  };
}

const attrs = (operation: string, model = MODEL, provider = 'openai') => ({ gen_ai_operation_name: operation, gen_ai_provider_name: provider, gen_ai_request_model: model });

/** The OpenTelemetry families' values after {@link sendMix}. */
function otelValues(m: Exposition, provider = 'openai') {
  const v = (name: string, labels: Record<string, string>) => sampleValue(m, name, labels) ?? NaN;
  const a = (op: string, model = MODEL) => attrs(op, model, provider);
  return {
    chatDurations: v('gen_ai_client_operation_duration_seconds_count', a('chat')),
    completionDurations: v('gen_ai_client_operation_duration_seconds_count', a('text_completion')),
    embeddingDurations: v('gen_ai_client_operation_duration_seconds_count', a('embeddings')),
    failed: v('gen_ai_client_operation_duration_seconds_count', { ...a('chat', 'broken'), error_type: 'error_5xx' }),
    brokenSuccesses: v('gen_ai_client_operation_duration_seconds_count', a('chat', 'broken')),
    ttft: v('gen_ai_server_time_to_first_token_seconds_count', a('chat')),
    tpot: v('gen_ai_server_time_per_output_token_seconds_count', a('chat')),
    completionTtft: v('gen_ai_server_time_to_first_token_seconds_count', a('text_completion')),
    chatInput: v('gen_ai_client_token_usage_sum', { ...a('chat'), gen_ai_token_type: 'input' }),
    chatOutput: v('gen_ai_client_token_usage_sum', { ...a('chat'), gen_ai_token_type: 'output' }),
    chatOperations: v('gen_ai_client_token_usage_count', { ...a('chat'), gen_ai_token_type: 'output' }),
    completionInput: v('gen_ai_client_token_usage_sum', { ...a('text_completion'), gen_ai_token_type: 'input' }),
    completionOutput: v('gen_ai_client_token_usage_sum', { ...a('text_completion'), gen_ai_token_type: 'output' }),
    embeddingInput: v('gen_ai_client_token_usage_sum', { ...a('embeddings'), gen_ai_token_type: 'input' }),
    embeddingOutput: sampleValue(m, 'gen_ai_client_token_usage_sum', { ...a('embeddings'), gen_ai_token_type: 'output' }),
  };
}

describe('each naming counts the same requests exactly, through the openai SDK', () => {
  for (const naming of ['otel', 'both', 'openllm'] as const) {
    test(`metrics.naming: ${naming}`, async (t) => {
      const s = await startNamed(naming, naming === 'both' ? 'vllm' : undefined);
      t.after(() => s.close());
      const sent = await sendMix(s.client);
      const m = await scrape(s.gw.url);
      const provider = naming === 'both' ? 'vllm' : 'openai';
      // The request counters are llmwatch's in every naming.
      assert.equal(sampleValue(m, 'openllm_requests_total', { model: MODEL, endpoint: 'chat_completions', status: 'success', code: '2xx' }), 2);
      assert.equal(sampleValue(m, 'openllm_requests_total', { model: 'broken', endpoint: 'chat_completions', status: 'error', code: '5xx' }), 1);
      if (naming === 'openllm') {
        assert.ok(!m.types.has(GENAI_METRIC.operationDuration) && !m.samples.some((x) => x.name.startsWith('gen_ai_')));
        return;
      }
      for (const w of SEMCONV_V1_41_0) assert.equal(m.types.get(w.name), 'histogram', w.name);
      assert.deepEqual(otelValues(m, provider), {
        chatDurations: 2,
        completionDurations: 1,
        embeddingDurations: 1,
        failed: 1,
        // Every series exists from the start, at zero: the broken model's successes too.
        brokenSuccesses: 0,
        ttft: 1,
        tpot: 1,
        completionTtft: 0,
        chatInput: sent.chatInput,
        chatOutput: sent.chatOutput,
        chatOperations: 2,
        completionInput: sent.completionInput,
        completionOutput: sent.completionOutput,
        embeddingInput: sent.embeddingInput,
        embeddingOutput: undefined,
      });
      const own = (name: string, labels: Record<string, string>) => sampleValue(m, `openllm_${name}`, labels);
      const chat = { model: MODEL, endpoint: 'chat_completions' };
      if (naming === 'otel') {
        for (const n of OWN_HISTOGRAMS) assert.ok(!m.types.has(`openllm_${n}`), `${n} is not exported under otel`);
        return;
      }
      // Under both, the two families hold the very same observations: counts and sums equal to the last digit.
      assert.equal(own('inference_duration_seconds_count', chat), 2);
      assert.equal(own('inference_duration_seconds_sum', chat), sampleValue(m, 'gen_ai_client_operation_duration_seconds_sum', attrs('chat', MODEL, provider)));
      assert.equal(own('time_to_first_token_seconds_sum', chat), sampleValue(m, 'gen_ai_server_time_to_first_token_seconds_sum', attrs('chat', MODEL, provider)));
      assert.equal(own('time_per_output_token_seconds_sum', chat), sampleValue(m, 'gen_ai_server_time_per_output_token_seconds_sum', attrs('chat', MODEL, provider)));
      assert.equal(own('request_prompt_tokens_sum', chat), sent.chatInput);
      assert.equal(own('request_completion_tokens_sum', chat), sent.chatOutput);
      // llmwatch's duration counts successes only; the failure is in the OpenTelemetry family alone.
      assert.equal(own('inference_duration_seconds_count', { model: 'broken', endpoint: 'chat_completions' }), 0);
    });
  }
});

test('a real Prometheus scraping the otel naming: every family queried by name, with exact values', async (t) => {
  const s = await startNamed('otel');
  t.after(() => s.close());
  const prom = await startPrometheus([new URL(s.gw.url).host]);
  t.after(() => prom.close());
  const sent = await sendMix(s.client);
  const one = async (expr: string) => {
    const r = await prom.query(expr);
    return r.length === 1 ? Number(r[0]!.value[1]) : NaN;
  };
  // Bounded wait for a scrape after the last request: scrapes every second.
  const want = 5;
  let got = NaN;
  for (let i = 0; i < 100 && got !== want; i++) {
    got = await one(`sum(${GENAI_METRIC.operationDuration}_count)`);
    if (got !== want) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(got, want, prom.child.output());
  assert.equal(await one('sum(gen_ai_client_operation_duration_seconds_count{error_type=""})'), 4);
  assert.equal(await one('sum(gen_ai_client_operation_duration_seconds_count{error_type="error_5xx", gen_ai_request_model="broken"})'), 1);
  assert.equal(await one(`sum(gen_ai_client_token_usage_sum{gen_ai_token_type="input"})`), sent.chatInput + sent.completionInput + sent.embeddingInput);
  assert.equal(await one(`sum(gen_ai_client_token_usage_sum{gen_ai_token_type="output"})`), sent.chatOutput + sent.completionOutput);
  assert.equal(await one('sum(gen_ai_client_token_usage_count{gen_ai_token_type="output", gen_ai_operation_name="chat"})'), 2);
  assert.equal(await one('sum(gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat", gen_ai_provider_name="openai"})'), 1);
  assert.equal(await one('sum(gen_ai_server_time_per_output_token_seconds_count)'), 1);
  // Every bucket bound of the conventions reaches Prometheus (+Inf besides).
  const les = await prom.query(`gen_ai_server_time_to_first_token_seconds_bucket{gen_ai_operation_name="chat", gen_ai_request_model="${MODEL}"}`);
  assert.equal(les.length, GENAI_BUCKETS.timeToFirstToken.length + 1);
  const up = await prom.query('up{job="llmwatch"}');
  assert.equal(up[0]?.value[1], '1');
});
