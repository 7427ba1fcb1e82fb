import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { queryVector } from '../src/core/http/prometheus-api.ts';
import { estimatePromptTokens } from '../src/core/openai/tokens.ts';
import { SCENARIOS, drillBounds, formatResults, runDrill } from '../src/stack/drill.ts';
import { GPU_DRILL_FAULT, LOCAL_KV_CACHE_TOKENS, gpuBanner, simulatedGpuPlaybook } from '../src/stack/gpu.ts';
import { startStack } from '../src/stack/stack.ts';
import { compressedTimings } from '../src/stack/timings.ts';
import { standin } from './fixtures/nvidia-smi-standin.ts';

const gpuScenario = SCENARIOS.find((s) => s.name === 'gpu')!;

test('the gpu drill without a GPU: long contexts fill the simulated GPU, HighGpuMemoryUsage fires labelled simulated, the responder switches to the lighter model, the GPU drains and the alert resolves', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-stack-gpu-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const stack = await startStack({ dir, ports: 'free', timings: compressedTimings(), log: (l) => lines.push(l) });
  t.after(() => stack.stop());
  const sim = stack.info.gpus?.simulated;
  assert.ok(sim !== undefined, lines.join('\n'));
  assert.ok(lines.some((l) => /^ready {2}sim-gpu .*SIMULATED/.test(l)), lines.join('\n'));
  assert.deepEqual(sim.placement.map((p) => [p.gpu, p.model]), [[0, stack.info.drillModel], [1, stack.info.fallbackModel]]);
  // stack.json carries it for `llmwatch drill` in another process.
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')).gpus.simulated.placement, sim.placement);

  const result = await runDrill(stack.info, gpuScenario, (l) => lines.push(l));
  console.log(formatResults([result]).replace(/^/gm, '# '));
  assert.equal(result.skipped, undefined);
  assert.equal(result.ok, true, `${result.problems.join('; ')}\n${lines.join('\n')}`);
  assert.match(result.actionDetail ?? '', /^success: routed model llama-3\.1-8b-instruct to local\/llama-3\.2-1b-instruct/);

  // The alert Prometheus raised came from the simulated series, and says so.
  const fired = await queryVector(stack.info.urls.prometheus, 'last_over_time(ALERTS{alertname="HighGpuMemoryUsage"}[5m])');
  assert.ok(fired.length > 0 && fired.every((r) => r.metric.simulated === 'true' && r.metric.gpu === '0'), JSON.stringify(fired));
});

test('where nvidia-smi is on PATH, up runs the exporter over it too: Prometheus scrapes the host GPUs unlabelled and the simulated ones labelled', { timeout: 120_000 }, async (t) => {
  const smi = standin('gpus');
  t.after(() => smi.cleanup());
  const path = process.env.PATH;
  process.env.PATH = `${smi.dir}:${path}`;
  t.after(() => {
    process.env.PATH = path;
  });
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-stack-gpu-host-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const stack = await startStack({ dir, ports: 'free', timings: compressedTimings(), log: (l) => lines.push(l) });
  t.after(() => stack.stop());
  assert.equal(stack.info.gpus?.host?.gpus, 3, lines.join('\n'));
  assert.match(gpuBanner(stack.info.gpus).join('\n'), /^GPU {13}.*: 3 GPUs of this host\)\nGPU SIMULATED .*2 simulated GPUs/);
  let byKind = '';
  for (let i = 0; i < 100 && byKind !== 'real 3, simulated 2'; i++) {
    const rows = await queryVector(stack.info.urls.prometheus, 'count by (simulated) (node_gpu_memory_usage_bytes{job="llmwatch-gpu"})');
    const n = (sim: boolean) => rows.find((r) => (r.metric.simulated === 'true') === sim)?.value[1] ?? '0';
    byKind = `real ${n(false)}, simulated ${n(true)}`;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(byKind, 'real 3, simulated 2');
});

test('the gpu drill has bounds from the timings and its measured onset: one scrape after the exporter serves the reading, no answer time, no rate window to resolve', () => {
  const t = compressedTimings();
  // Onset 0.8 s (measured by the drill), 2 s for, a scrape and 3 evaluations of 1 s, one poll.
  assert.equal(drillBounds(t, gpuScenario, 0.25, 0.25, undefined, 0.8).fireBound, 0.8 + 2 + 1 + 3 + 0.25);
  // Resolving: the scrape and evaluation terms, the requests in flight, one poll, and no 10 s rate window.
  assert.equal(drillBounds(t, gpuScenario, 0.25, 0.25).resolveBound, 5 + 0.25 + 0.25);
});

test('the fault: seven requests fill the KV cache (7 x 433 of 3,072 blocks) and an eighth cannot join them, so it waits to take the place of one that ends', () => {
  const blocks = LOCAL_KV_CACHE_TOKENS / 16;
  // A drill request's text (src/stack/drill.ts) at its longest, and its 16 output tokens.
  const text = estimatePromptTokens('chat_completions', { messages: [{ role: 'user', content: 'drill 7-99999' }] });
  const perRequest = Math.ceil((GPU_DRILL_FAULT.extraPromptTokens + text + 16) / 16);
  assert.equal(perRequest, 433);
  assert.ok(7 * perRequest <= blocks && 8 * (perRequest - 1) > blocks);
  // 16,517 MiB of weights and 6,144 MiB of KV cache on 23,034 MiB: past 95% at that usage.
  assert.ok((16_517 + ((7 * perRequest) / blocks) * 6_144) / 23_034 > 0.95);
});

test('the playbook acts only on the simulated GPUs that run the model; the banner says what is simulated', () => {
  const placement = [{ gpu: 0, model: 'a', engine: 0 }, { gpu: 1, model: 'b', engine: 0 }];
  const step = simulatedGpuPlaybook('a', placement).HighGpuMemoryUsage!.steps[0]!;
  assert.equal(step.if?.query, 'count(node_gpu_memory_usage_bytes{simulated="true",gpu=~"0",gpu="{{ $labels.gpu }}",instance="{{ $labels.instance }}"})');
  assert.deepEqual(step.params, { model: 'a', target: 'fallback' });
  assert.deepEqual(simulatedGpuPlaybook('c', placement), {});
  assert.match(gpuBanner({ simulated: { url: 'http://x', placement, memoryHoldSeconds: 3 } }).join('\n'), /^GPU SIMULATED .*no nvidia-smi on this host; 2 simulated GPUs .*simulated="true": not real hardware/);
  assert.match(gpuBanner({ host: { url: 'http://h', nvidiaSmi: '/usr/bin/nvidia-smi', gpus: 8 } }).join('\n'), /^GPU {13}http:\/\/h\/metrics {3}\(\/usr\/bin\/nvidia-smi: 8 GPUs of this host\)$/);
  assert.match(gpuBanner(undefined).join('\n'), /^GPU {13}none/);
});
