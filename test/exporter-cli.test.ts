import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { GPU_METRIC } from '../src/core/conventions/metrics.ts';
import { standin } from './fixtures/nvidia-smi-standin.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';
import { freePort } from './helpers/processes.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

/** `llmwatch exporter ...` as a child with its own PATH; stdout and stderr kept apart. */
function exporter(t: TestContext, args: string[], path: string) {
  const child = spawn(process.execPath, [BIN, 'exporter', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: path } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function waitForURL(out: () => string, what: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out())?.[1];
    if (url !== undefined) return url;
    if (Date.now() > deadline) throw new Error(`${what} printed no URL:\n${out()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('`llmwatch exporter` finds nvidia-smi on PATH, serves its GPUs and stops cleanly on SIGTERM', async (t) => {
  const smi = standin('gpus');
  t.after(() => smi.cleanup());
  const port = await freePort();
  const exp = exporter(t, ['--port', String(port), '--interval', '0.2'], `${smi.dir}:${process.env.PATH ?? ''}`);
  const url = await waitForURL(exp.stdout, 'the exporter');
  assert.equal(url, `http://127.0.0.1:${port}`);
  assert.match(exp.stdout(), /nvidia-smi every 0\.2s, 3 GPUs/);
  const metrics = parseExposition(await (await fetch(`${url}/metrics`)).text());
  assert.equal(sampleValue(metrics, GPU_METRIC.collectorSuccess), 1);
  assert.equal(
    sampleValue(metrics, GPU_METRIC.memoryUsage, { gpu: '1', uuid: 'GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', name: 'NVIDIA H100 80GB HBM3' }),
    78000 * 1024 * 1024,
  );
  // The schedule runs: a GPU that leaves is gone from /metrics within a few intervals.
  smi.setMode('two');
  const deadline = Date.now() + 5000;
  let gone = false;
  while (!gone && Date.now() < deadline) {
    const text = await (await fetch(`${url}/metrics`)).text();
    gone = !text.includes('gpu="1"');
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(gone, 'GPU 1 still exported');
  assert.equal(exp.stderr(), '');
  exp.child.kill('SIGTERM');
  const [code] = await exp.exited;
  assert.equal(code, 0, exp.stderr());
  assert.match(exp.stdout(), /llmwatch exporter stopped/);
});

test('`llmwatch exporter` with no nvidia-smi: one start-up message naming the fix, then it serves success 0 without crashing', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'llmwatch-empty-path-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  const port = await freePort();
  const exp = exporter(t, ['--port', String(port), '--interval', '0.1'], empty);
  const url = await waitForURL(exp.stdout, 'the exporter');
  assert.match(exp.stdout(), /no GPU yet: missing_binary/);
  // Several failed runs later (polled: a fixed 600 ms pause saw fewer than three runs of a 0.1 s schedule
  // when the loaded machine starved the child): still serving, still one message.
  const deadline = Date.now() + 20_000;
  let metrics = parseExposition(await (await fetch(`${url}/metrics`)).text());
  while ((sampleValue(metrics, GPU_METRIC.collectorErrors, { reason: 'missing_binary' }) ?? 0) < 3 && exp.child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    metrics = parseExposition(await (await fetch(`${url}/metrics`)).text());
  }
  assert.equal(exp.child.exitCode, null, 'the exporter exited');
  assert.equal(sampleValue(metrics, GPU_METRIC.collectorSuccess), 0);
  assert.equal(sampleValue(metrics, GPU_METRIC.collectorLastError, { reason: 'missing_binary' }), 1);
  assert.ok(sampleValue(metrics, GPU_METRIC.collectorErrors, { reason: 'missing_binary' })! >= 3);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const lines = exp.stderr().trim().split('\n');
  assert.equal(lines.length, 1, exp.stderr());
  assert.match(lines[0]!, /cannot run nvidia-smi \(nvidia-smi\): not found on PATH\. nvidia-smi ships with the NVIDIA driver: install the driver .* or pass --nvidia-smi \/path\/to\/nvidia-smi/);
  exp.child.kill('SIGTERM');
  assert.equal((await exp.exited)[0], 0);
});

test('`llmwatch exporter` refuses a bad --interval with what it takes', async (t) => {
  const exp = exporter(t, ['--interval', '0'], process.env.PATH ?? '');
  const [code] = await exp.exited;
  assert.notEqual(code, 0);
  assert.match(exp.stderr(), /interval must be a number of seconds from 0\.1 to 3600/);
});
