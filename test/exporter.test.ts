import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { exporterConfig } from '../src/core/config/exporter-config.ts';
import { GpuCollector } from '../src/exporter/collector.ts';
import { EXP_ERR_TIMEOUT } from '../src/exporter/errors.ts';
import { GpuMetrics } from '../src/exporter/gpu-metrics.ts';
import { startExporter } from '../src/exporter/server.ts';
import type { ExporterHandle } from '../src/exporter/server.ts';
import { GPU_COLLECTOR_ERROR, GPU_METRIC } from '../src/core/conventions/metrics.ts';
import { standin } from './fixtures/nvidia-smi-standin.ts';
import type { Standin, StandinMode } from './fixtures/nvidia-smi-standin.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';

const MIB = 1024 * 1024;
const H100 = 'NVIDIA H100 80GB HBM3';
const GPU0 = { gpu: '0', uuid: 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70', name: H100 };
const GPU1 = { gpu: '1', uuid: 'GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', name: H100 };
const GPU2 = { gpu: '2', uuid: 'GPU-c0ffee00-1111-4222-8333-444455556666', name: 'NVIDIA L40S' };
const GPU_SERIES = [GPU_METRIC.memoryUsage, GPU_METRIC.memoryTotal, GPU_METRIC.utilisation, GPU_METRIC.temperature, GPU_METRIC.power];

interface Setup {
  readonly exporter: ExporterHandle;
  readonly smi: Standin;
  readonly logs: string[];
  scrape(): Promise<Exposition>;
}

/**
 * An exporter on 127.0.0.1:0 over a private stand-in. The schedule is an hour
 * unless given, so each test drives runs itself with `collector.collect()`.
 */
async function setup(t: TestContext, mode: StandinMode, opts: { interval?: number; timeout?: number; nvidiaSmi?: string } = {}): Promise<Setup> {
  const smi = standin(mode);
  t.after(() => smi.cleanup());
  const logs: string[] = [];
  const config = exporterConfig({
    port: 0,
    intervalSeconds: opts.interval ?? 3600,
    timeoutSeconds: opts.timeout ?? 5,
    nvidiaSmi: opts.nvidiaSmi ?? smi.path,
  });
  const exporter = await startExporter(config, { log: (l) => logs.push(l) });
  t.after(() => exporter.close());
  return {
    exporter,
    smi,
    logs,
    scrape: async () => {
      const res = await fetch(`${exporter.url}/metrics`);
      assert.equal(res.status, 200);
      return parseExposition(await res.text());
    },
  };
}

function gpuSeries(exp: Exposition): string[] {
  return exp.samples
    .filter((s) => (GPU_SERIES as readonly string[]).includes(s.name))
    .map((s) => `${s.name}{${s.labels.gpu}}`)
    .sort();
}

describe('llmwatch exporter against the nvidia-smi stand-in', () => {
  test('several GPUs: every reading under its name, labelled gpu, uuid and name, in base units', async (t) => {
    const { exporter, scrape } = await setup(t, 'gpus');
    assert.equal(exporter.url.startsWith('http://127.0.0.1:'), true);
    const exp = await scrape();
    const want: Array<[string, Record<string, string>, number]> = [
      [GPU_METRIC.memoryUsage, GPU0, 1234 * MIB],
      [GPU_METRIC.memoryTotal, GPU0, 81559 * MIB],
      [GPU_METRIC.utilisation, GPU0, 0.12],
      [GPU_METRIC.temperature, GPU0, 35],
      [GPU_METRIC.power, GPU0, 70.5],
      [GPU_METRIC.memoryUsage, GPU1, 78000 * MIB],
      [GPU_METRIC.utilisation, GPU1, 0.98],
      [GPU_METRIC.temperature, GPU1, 71],
      [GPU_METRIC.power, GPU1, 612.37],
      [GPU_METRIC.memoryUsage, GPU2, 0],
      [GPU_METRIC.memoryTotal, GPU2, 46068 * MIB],
      [GPU_METRIC.utilisation, GPU2, 0],
      [GPU_METRIC.collectorSuccess, {}, 1],
    ];
    for (const [name, labels, value] of want) assert.equal(sampleValue(exp, name, labels), value, `${name} ${JSON.stringify(labels)}`);
    assert.equal(gpuSeries(exp).length, 15);
    for (const name of [...GPU_SERIES, GPU_METRIC.collectorSuccess, GPU_METRIC.collectorDuration]) assert.equal(exp.types.get(name), 'gauge', name);
    // The LLM's label is `model` everywhere in llmwatch: the GPU's product name must not take it.
    assert.ok(exp.samples.every((s) => !('model' in s.labels)));
    // Every failure reason is there from the start at 0, so rate() works on the first failure; no last error yet.
    for (const reason of GPU_COLLECTOR_ERROR) assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason }), 0, reason);
    assert.ok(!exp.samples.some((s) => s.name === GPU_METRIC.collectorLastError));
    const duration = sampleValue(exp, GPU_METRIC.collectorDuration)!;
    assert.ok(duration > 0 && duration < 5, String(duration));

    const health = await fetch(`${exporter.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', collector: { ok: true, gpus: 3 } });
  });

  test('values nvidia-smi cannot read ([N/A], [Not Supported], N/A) have no series, never a 0', async (t) => {
    const { scrape } = await setup(t, 'na');
    const exp = await scrape();
    assert.deepEqual(gpuSeries(exp), [
      `${GPU_METRIC.memoryTotal}{0}`,
      `${GPU_METRIC.memoryTotal}{1}`,
      `${GPU_METRIC.memoryTotal}{2}`,
      `${GPU_METRIC.memoryUsage}{0}`,
      `${GPU_METRIC.memoryUsage}{1}`,
      `${GPU_METRIC.temperature}{0}`,
      `${GPU_METRIC.temperature}{2}`,
      `${GPU_METRIC.utilisation}{0}`,
    ]);
    assert.equal(sampleValue(exp, GPU_METRIC.memoryUsage, { gpu: '1', uuid: GPU1.uuid, name: 'NVIDIA GeForce RTX 3090' }), 501 * MIB);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 1);
  });

  test('a GPU gone from the output loses its series; the others keep theirs', async (t) => {
    const { exporter, smi, scrape } = await setup(t, 'gpus');
    assert.equal(gpuSeries(await scrape()).length, 15);
    smi.setMode('two');
    assert.equal((await exporter.collector.collect()).ok, true);
    const exp = await scrape();
    assert.equal(gpuSeries(exp).length, 10);
    assert.ok(!gpuSeries(exp).some((s) => s.endsWith('{1}')));
    assert.equal(sampleValue(exp, GPU_METRIC.memoryUsage, GPU0), 1234 * MIB);
  });

  test('a hung nvidia-smi is killed at the timeout: success 0, reason timeout, and no stale GPU series', async (t) => {
    // A 1 s timeout: the runs that answer (the first, the recovery) must finish within it too, and a
    // stand-in started on a loaded machine can take a good part of the 0.3 s it was.
    const { exporter, smi, logs, scrape } = await setup(t, 'gpus', { timeout: 1 });
    assert.equal(gpuSeries(await scrape()).length, 15);
    smi.setMode('hang');
    smi.recordRuns();
    // The run ends at the timeout, not with the hung process (an hour): bounded here so that a broken
    // timeout fails the test rather than hanging it.
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([exporter.collector.collect(), new Promise<'hung'>((r) => (bound = setTimeout(r, 60_000, 'hung')))]);
    clearTimeout(bound);
    assert.ok(outcome !== 'hung', 'collect() waited for the hung nvidia-smi');
    assert.deepEqual(outcome.ok ? 'ok' : outcome.reason, 'timeout');
    const exp = await scrape();
    assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 0);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorLastError, { reason: 'timeout' }), 1);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason: 'timeout' }), 1);
    // Memory figures from before the hang would keep HighGpuMemoryUsage reading the past: they are dropped.
    assert.deepEqual(gpuSeries(exp), []);
    // The hung process itself is gone, not left behind.
    const pid = Number(smi.runs()[0]!.split(' ')[1]);
    await waitFor(() => !alive(pid), `the hung nvidia-smi (pid ${pid}) to be killed`);
    assert.equal(logs.length, 1, logs.join('\n'));
    assert.match(logs[0]!, /GPU collection failed \(timeout\): nvidia-smi \(.*\) did not finish within 1s and was killed/);

    // Recovery: the series come back; the last error stays as the record of what happened.
    smi.setMode('gpus');
    assert.equal((await exporter.collector.collect()).ok, true);
    const after = await scrape();
    assert.equal(sampleValue(after, GPU_METRIC.collectorSuccess), 1);
    assert.equal(gpuSeries(after).length, 15);
    assert.equal(sampleValue(after, GPU_METRIC.collectorLastError, { reason: 'timeout' }), 1);
    assert.equal(logs.length, 2);
    assert.match(logs[1]!, /recovered \(3 GPUs\)/);
  });

  test("a non-zero exit is reason exit_code, with nvidia-smi's own message in the log", async (t) => {
    const { exporter, logs, scrape } = await setup(t, 'exit');
    assert.deepEqual(exporter.first.ok ? 'ok' : exporter.first.reason, 'exit_code');
    const exp = await scrape();
    assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 0);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorLastError, { reason: 'exit_code' }), 1);
    assert.deepEqual(gpuSeries(exp), []);
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /\(exit_code\): nvidia-smi \(.*\) exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
    const health = await fetch(`${exporter.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { collector: { reason: string } }).collector.reason, 'exit_code');
  });

  test('garbage, and an empty answer, are reason parse_error; the last error follows the latest failure', async (t) => {
    const { exporter, smi, logs, scrape } = await setup(t, 'garbage');
    let exp = await scrape();
    assert.equal(sampleValue(exp, GPU_METRIC.collectorLastError, { reason: 'parse_error' }), 1);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 0);
    smi.setMode('exit');
    await exporter.collector.collect();
    smi.setMode('empty');
    await exporter.collector.collect();
    exp = await scrape();
    // One series only, for the latest reason.
    assert.deepEqual(
      exp.samples.filter((s) => s.name === GPU_METRIC.collectorLastError).map((s) => s.labels.reason),
      ['parse_error'],
    );
    assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason: 'parse_error' }), 2);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason: 'exit_code' }), 1);
    assert.match(logs.join('\n'), /printed no GPU/);
  });

  test('a missing binary: the server still serves, success 0, and one clear message however many runs fail', async (t) => {
    const { exporter, logs, scrape } = await setup(t, 'gpus', { nvidiaSmi: '/nonexistent/nvidia-smi' });
    for (let i = 0; i < 3; i++) await exporter.collector.collect();
    const exp = await scrape();
    assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 0);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorLastError, { reason: 'missing_binary' }), 1);
    assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason: 'missing_binary' }), 4);
    assert.equal((await fetch(`${exporter.url}/healthz`)).status, 200);
    assert.equal(logs.length, 1, logs.join('\n'));
    assert.match(logs[0]!, /cannot run nvidia-smi \(\/nonexistent\/nvidia-smi\): no such file/);
    assert.match(logs[0]!, /install the driver/);
    assert.match(logs[0]!, /--nvidia-smi \/path\/to\/nvidia-smi/);
  });

  test('never two runs at once: concurrent calls share one run, and the schedule waits for a slow one', async (t) => {
    const { exporter, smi } = await setup(t, 'slow');
    smi.recordRuns();
    const outcomes = await Promise.all([exporter.collector.collect(), exporter.collector.collect(), exporter.collector.collect()]);
    assert.ok(outcomes.every((o) => o === outcomes[0] && o.ok));
    assert.equal(smi.runs().filter((l) => l.startsWith('start')).length, 1);

    // A 0.1 s schedule over runs of 0.3 s: runs follow each other, never overlap.
    const fast = await setup(t, 'slow', { interval: 0.1 });
    fast.smi.recordRuns();
    await waitFor(() => fast.smi.runs().length >= 6, 'three scheduled runs');
    await fast.exporter.close();
    const runs = fast.smi.runs();
    runs.forEach((line, i) => assert.equal(line.split(' ')[0], i % 2 === 0 ? 'start' : 'end', runs.join('\n')));
    // Closed: nothing runs any more.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(fast.smi.runs(), runs);
  });

  test('a killed nvidia-smi that does not exit (stuck in the kernel) blocks new runs until it does', async () => {
    // No process here ignores SIGKILL, so this stands in for the kernel: a run that times out and whose exit waits.
    let started = 0;
    let exit!: () => void;
    const exited = new Promise<void>((r) => (exit = r));
    const collector = new GpuCollector({
      nvidiaSmi: 'nvidia-smi',
      intervalMs: 3_600_000,
      timeoutMs: 100,
      metrics: new GpuMetrics(new Registry()),
      log: () => {},
      run: () => {
        started++;
        return started === 1
          ? { output: Promise.reject(EXP_ERR_TIMEOUT('did not finish within 0.1s and was killed')), exited }
          : { output: Promise.resolve('0, GPU-a, A, 1, 2, 3, 4, 5\n'), exited: Promise.resolve() };
      },
    });
    assert.deepEqual(await collector.collect(), { ok: false, reason: 'timeout', message: 'did not finish within 0.1s and was killed' });
    const blocked = await collector.collect();
    assert.equal(started, 1, 'no second nvidia-smi while the first has not exited');
    assert.ok(!blocked.ok && blocked.reason === 'timeout' && /still not exited/.test(blocked.message), JSON.stringify(blocked));
    exit();
    await exited;
    assert.equal((await collector.collect()).ok, true);
    assert.equal(started, 2);
    await collector.stop();
  });

  test('only GET /metrics and /healthz are served', async (t) => {
    const { exporter } = await setup(t, 'gpus');
    const missing = await fetch(`${exporter.url}/v1/models`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-llmwatch-error'), 'HTTP_ERR_NOT_FOUND');
    const post = await fetch(`${exporter.url}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${exporter.url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });
});

describe('exporter config', () => {
  test('defaults: 127.0.0.1:9835, every 10 s, 5 s timeout, nvidia-smi on PATH, not simulated', () => {
    assert.deepEqual({ ...exporterConfig({}) }, { host: '127.0.0.1', port: 9835, intervalSeconds: 10, timeoutSeconds: 5, nvidiaSmi: 'nvidia-smi', simulated: false });
  });

  test('a bad value names its field', () => {
    assert.throws(() => exporterConfig({ intervalSeconds: 0 }), /intervalSeconds/);
    assert.throws(() => exporterConfig({ nvidiaSmi: '' }), /nvidiaSmi/);
    assert.throws(() => exporterConfig({ gpus: 2 }), /gpus/);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
