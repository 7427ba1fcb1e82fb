import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { exporterConfig } from '../src/core/config/exporter-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { GPU_METRIC } from '../src/core/conventions/metrics.ts';
import { VLLM_METRIC } from '../src/core/conventions/vllm.ts';
import { OAI_ERR_INVALID_PARAM, OAI_ERR_MISSING_PARAM } from '../src/core/openai/errors.ts';
import { startExporter } from '../src/exporter/server.ts';
import { renderNvidiaSmiCsv } from '../src/simulator/gpu.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';

const MIB = 1024 * 1024;
const MODEL = 'llama-3.1-8b-instruct';
const SMALL = 'llama-3.2-1b-instruct';
const QUERY = 'query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu,temperature.gpu,power.draw&format=csv,noheader,nounits';
/** 4,096 tokens of KV cache in 256 blocks of 16, taking 1,024 MiB when full, freed blocks returned at once. */
const SMALL_KV = { engine: { kvCacheTokens: 4096, blockSize: 16 }, gpu: { kvCacheMiB: 1024, memoryHoldMs: 0 } };

async function simulator(t: TestContext, data: Record<string, unknown> = SMALL_KV) {
  const sim = await startSimulator(simulatorConfig(data), { port: 0 });
  t.after(() => sim.close());
  return sim;
}

async function csv(url: string, query = QUERY): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`${url}/nvidia-smi?${query}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('GET /nvidia-smi: one GPU per engine core, in nvidia-smi\'s CSV, idle at each model\'s own memory floor', async (t) => {
  const sim = await simulator(t);
  const { status, body, type } = await csv(sim.url);
  assert.equal(status, 200);
  assert.match(type ?? '', /^text\/csv/);
  assert.equal(
    body,
    '0, GPU-00000000-0000-4000-8000-000000000000, NVIDIA L4, 16517, 23034, 0, 35, 16.00\n' +
      '1, GPU-00000000-0000-4000-8000-000000000001, NVIDIA L4, 3557, 23034, 0, 35, 16.00\n',
  );
  assert.deepEqual(sim.gpus.placement(), [
    { gpu: 0, model: MODEL, engine: 0 },
    { gpu: 1, model: SMALL, engine: 0 },
  ]);
  // Data-parallel ranks each get a GPU of their own.
  const dp = await simulator(t, { models: { [MODEL]: {} }, engine: { dataParallelSize: 2 } });
  assert.deepEqual(dp.gpus.placement(), [
    { gpu: 0, model: MODEL, engine: 0 },
    { gpu: 1, model: MODEL, engine: 1 },
  ]);
});

test('the header, units and field checks are nvidia-smi\'s; a missing or unknown field or option is a 400 naming the parameter', async (t) => {
  const sim = await simulator(t);
  const withUnits = await csv(sim.url, 'query-gpu=index,memory.used,memory.free,utilization.gpu,power.draw&format=csv');
  assert.equal(withUnits.body.split('\n')[0], 'index, memory.used [MiB], memory.free [MiB], utilization.gpu [%], power.draw [W]');
  assert.equal(withUnits.body.split('\n')[1], '0, 16517 MiB, 6517 MiB, 0 %, 16.00 W');
  const readings = sim.gpus.read();
  assert.throws(() => renderNvidiaSmiCsv(readings, null, 'csv'), (e: unknown) => (e as { code: string }).code === OAI_ERR_MISSING_PARAM.code);
  assert.throws(() => renderNvidiaSmiCsv(readings, 'index', ''), (e: unknown) => (e as { code: string }).code === OAI_ERR_MISSING_PARAM.code);
  for (const [query, message] of [
    ['query-gpu=index,clocks.sm&format=csv', /Field "clocks\.sm" is not a valid field to query/],
    ['query-gpu=index&format=csv,bogus', /"bogus" is not a valid format option/],
    ['query-gpu=index&format=noheader', /format must include csv/],
    [`query-gpu=${Array(65).fill('index').join(',')}&format=csv`, /at most 64/],
  ] as const) {
    const res = await fetch(`${sim.url}/nvidia-smi?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.headers.get('x-llmwatch-error'), OAI_ERR_INVALID_PARAM.code);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, message);
  }
});

test('memory follows the KV cache block by block, utilisation the share of time a request ran', async (t) => {
  const sim = await simulator(t);
  const engine = sim.engines.get(MODEL)!;
  // Past the shortest sample period since start-up, so the next reading starts a fresh one.
  await sleep(150);
  // Three 1,000-token prompts: 63 blocks each (1,001 tokens' room for the first output token), 189 of 256.
  const reqs = [0, 1, 2].map((i) => engine.add(1000, `doc ${i}`));
  assert.equal(engine.cores[0]!.kvCacheUsage, 189 / 256);
  // A reading starts a sample period; the batch is busy for the whole of the next one.
  sim.gpus.read();
  await sleep(150);
  let [gpu0, gpu1] = sim.gpus.read();
  assert.equal(gpu0!.memoryUsedMiB, 16517 + Math.round((189 / 256) * 1024));
  assert.equal(gpu0!.utilisationPercent, 100);
  assert.equal(gpu0!.temperatureCelsius, 70);
  assert.equal(gpu0!.powerWatts, 72);
  // The other model's GPU saw nothing.
  assert.deepEqual([gpu1!.memoryUsedMiB, gpu1!.utilisationPercent], [3557, 0]);
  for (const r of reqs) engine.cores[0]!.finish(r, 'stop');
  // A reading sooner than the sample period after the last repeats it, so the idle period starts
  // with a reading past it: one taken at once would still count the milliseconds before finish.
  await sleep(150);
  sim.gpus.read();
  await sleep(150);
  [gpu0] = sim.gpus.read();
  assert.deepEqual([gpu0!.memoryUsedMiB, gpu0!.utilisationPercent], [16517, 0]);
});

test('freed KV blocks stay in memory.used for memoryHoldMs, as a caching allocator holds them, so a request replaced a moment later does not dip it', async (t) => {
  const sim = await simulator(t, { ...SMALL_KV, gpu: { kvCacheMiB: 1024, memoryHoldMs: 400 } });
  const core = sim.engines.get(MODEL)!.cores[0]!;
  const held = 16517 + Math.round((63 / 256) * 1024);
  const req = sim.engines.get(MODEL)!.add(1000, 'doc');
  core.finish(req, 'stop');
  assert.equal(core.kvCacheUsage, 0);
  assert.equal(sim.gpus.read()[0]!.memoryUsedMiB, held);
  await sleep(500);
  assert.equal(sim.gpus.read()[0]!.memoryUsedMiB, 16517);
});

test('the simulated CSV through the real exporter path: extraPromptTokens fills the KV cache, and node_gpu_memory_usage_bytes follows vllm:kv_cache_usage_perc, labelled simulated', async (t) => {
  const sim = await simulator(t);
  const exporter = await startExporter(exporterConfig({ port: 0, intervalSeconds: 3600, csvURL: `${sim.url}/nvidia-smi`, simulated: true }), { log: () => {} });
  t.after(() => exporter.close());
  const gpu0 = { gpu: '0', uuid: 'GPU-00000000-0000-4000-8000-000000000000', name: 'NVIDIA L4', simulated: 'true' };
  const scrape = async () => {
    await exporter.collector.collect();
    return parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
  };
  assert.equal(sampleValue(await scrape(), GPU_METRIC.memoryUsage, gpu0), 16517 * MIB);

  // Long documents on a slow model: two requests hold 2 x 1,500 extra prompt tokens until the test lets go.
  const res = await fetch(`${sim.url}/admin/profiles/${MODEL}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ extraPromptTokens: 1500, ttftMs: 60_000, jitter: 0 }) });
  assert.equal(res.status, 200);
  const stop = new AbortController();
  const pending = [0, 1].map((i) =>
    fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', signal: stop.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `d${i}` }] }) }).catch(() => undefined),
  );
  t.after(async () => {
    stop.abort();
    await Promise.all(pending);
  });
  const core = sim.engines.get(MODEL)!.cores[0]!;
  for (const deadline = Date.now() + 20_000; core.snapshot().gauges.running < 2 && Date.now() < deadline; ) await sleep(20);
  assert.equal(core.snapshot().gauges.running, 2);
  const kv = parseExposition(await (await fetch(`${sim.url}/metrics`)).text());
  const usage = sampleValue(kv, VLLM_METRIC.kvCacheUsage, { engine: '0', model_name: MODEL })!;
  assert.ok(usage > 0.7 && usage < 0.8, String(usage));
  const exp = await scrape();
  assert.equal(sampleValue(exp, GPU_METRIC.memoryUsage, gpu0), (16517 + Math.round(usage * 1024)) * MIB);
  assert.equal(sampleValue(exp, GPU_METRIC.memoryTotal, gpu0), 23034 * MIB);
  assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 1);
  assert.ok(exp.samples.filter((s) => s.name.startsWith('node_gpu_')).every((s) => s.labels.simulated === 'true'));
});

test('simulator config: gpu and the two profile fields are validated and named', () => {
  const c = simulatorConfig({});
  assert.deepEqual(c.gpu, { name: 'NVIDIA L4', memoryTotalMiB: 23034, kvCacheMiB: 6144, memoryHoldMs: 3000 });
  assert.throws(() => simulatorConfig({ gpu: { memoryHoldMs: 60_001 } }), /gpu\.memoryHoldMs/);
  assert.equal(c.defaults.extraPromptTokens, 0);
  assert.throws(() => simulatorConfig({ gpu: { memoryTotalMiB: 0 } }), /gpu\.memoryTotalMiB/);
  assert.throws(() => simulatorConfig({ gpu: { name: 'a\nb' } }), /gpu\.name/);
  assert.throws(() => simulatorConfig({ defaults: { extraPromptTokens: -1 } }), /extraPromptTokens/);
  assert.throws(() => simulatorConfig({ models: { m: { gpuMemoryMiB: 1.5 } } }), /gpuMemoryMiB/);
});
