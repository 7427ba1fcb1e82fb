import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { exporterConfig } from '../src/core/config/exporter-config.ts';
import { GPU_METRIC } from '../src/core/conventions/metrics.ts';
import { QUERY_ARGS } from '../src/exporter/nvidia-smi-csv.ts';
import { queryURL } from '../src/exporter/nvidia-smi-http.ts';
import { startExporter } from '../src/exporter/server.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';
import { freePort } from './helpers/processes.ts';

const MIB = 1024 * 1024;
const CSV = '0, GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70, NVIDIA L4, 20000, 23034, 87, 64, 66.10\n';
const GPU0 = { gpu: '0', uuid: 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70', name: 'NVIDIA L4' };

/** A stand-in for an HTTP source of nvidia-smi's CSV, whose answer each test sets; it records the URLs asked for. */
async function source(t: TestContext): Promise<{ url: string; asked: string[]; answer: (fn: (req: IncomingMessage, res: ServerResponse) => void) => void }> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.end(CSV);
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/nvidia-smi`, asked, answer: (fn) => (handler = fn) };
}

async function exporterOver(t: TestContext, csvURL: string, opts: { simulated?: boolean; timeout?: number } = {}) {
  const logs: string[] = [];
  const exporter = await startExporter(exporterConfig({ port: 0, intervalSeconds: 3600, timeoutSeconds: opts.timeout ?? 5, csvURL, simulated: opts.simulated ?? false }), { log: (l) => logs.push(l) });
  t.after(() => exporter.close());
  const scrape = async () => parseExposition(await (await fetch(`${exporter.url}/metrics`)).text());
  return { exporter, logs, scrape };
}

test("the query goes as URL parameters, one per nvidia-smi argument, so the source answers the exporter's own query", () => {
  const url = queryURL('http://127.0.0.1:3000/nvidia-smi');
  assert.deepEqual([...url.searchParams], QUERY_ARGS.map((a) => [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  assert.equal(url.searchParams.get('format'), 'csv,noheader,nounits');
});

test('--csv-url: the CSV read over HTTP goes through the same parser and metrics as the binary, in base units', async (t) => {
  const src = await source(t);
  const { exporter, scrape } = await exporterOver(t, src.url);
  assert.equal(exporter.first.ok, true);
  assert.equal(new URL(src.asked[0]!, 'http://x').searchParams.get('query-gpu'), 'index,uuid,name,memory.used,memory.total,utilization.gpu,temperature.gpu,power.draw');
  const exp = await scrape();
  assert.equal(sampleValue(exp, GPU_METRIC.memoryUsage, GPU0), 20000 * MIB);
  assert.equal(sampleValue(exp, GPU_METRIC.memoryTotal, GPU0), 23034 * MIB);
  assert.equal(sampleValue(exp, GPU_METRIC.utilisation, GPU0), 0.87);
  assert.equal(sampleValue(exp, GPU_METRIC.power, GPU0), 66.1);
  assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 1);
  // Not marked simulated unless told.
  assert.ok(exp.samples.every((s) => !('simulated' in s.labels)));
});

test('--simulated: every GPU reading carries simulated="true"; the collector health series do not', async (t) => {
  const src = await source(t);
  const { scrape } = await exporterOver(t, src.url, { simulated: true });
  const exp = await scrape();
  const gpu = exp.samples.filter((s) => s.name.startsWith('node_gpu_'));
  assert.equal(gpu.length, 5);
  assert.ok(gpu.every((s) => s.labels.simulated === 'true'), JSON.stringify(gpu));
  assert.equal(sampleValue(exp, GPU_METRIC.memoryUsage, { ...GPU0, simulated: 'true' }), 20000 * MIB);
  assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 1);
});

test('a source that fails is reported as the binary would be: HTTP 500 is exit_code, garbage and 2 MiB of text parse_error, no stale series', async (t) => {
  const src = await source(t);
  const { exporter, logs, scrape } = await exporterOver(t, src.url);
  src.answer((_req, res) => {
    res.statusCode = 500;
    res.end('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n');
  });
  const failed = await exporter.collector.collect();
  assert.deepEqual(failed.ok ? 'ok' : failed.reason, 'exit_code');
  assert.match(logs.at(-1)!, /answered HTTP 500: NVIDIA-SMI has failed/);
  let exp = await scrape();
  assert.equal(sampleValue(exp, GPU_METRIC.collectorSuccess), 0);
  assert.ok(!exp.samples.some((s) => s.name === GPU_METRIC.memoryUsage));

  src.answer((_req, res) => void res.end('index, uuid, name [MiB]\nnot a csv\n'));
  const garbage = await exporter.collector.collect();
  assert.deepEqual(garbage.ok ? 'ok' : garbage.reason, 'parse_error');

  src.answer((_req, res) => void res.end('x'.repeat(2 * MIB)));
  const big = await exporter.collector.collect();
  assert.ok(!big.ok && big.reason === 'parse_error' && /more than 1048576 bytes/.test(big.message), JSON.stringify(big));

  src.answer((_req, res) => void res.end(CSV));
  assert.equal((await exporter.collector.collect()).ok, true);
  exp = await scrape();
  assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason: 'exit_code' }), 1);
  assert.equal(sampleValue(exp, GPU_METRIC.collectorErrors, { reason: 'parse_error' }), 2);
});

test('a source that does not answer is abandoned at the timeout (reason timeout); one that is not there is exit_code', async (t) => {
  const src = await source(t);
  const { exporter, scrape } = await exporterOver(t, src.url, { timeout: 0.3 });
  src.answer(() => {});
  const hung = await exporter.collector.collect();
  assert.ok(!hung.ok && hung.reason === 'timeout' && /did not answer within 0\.3s/.test(hung.message), JSON.stringify(hung));
  // Nothing lingers after an abandoned request: the next run starts (and fails as its own run, not as "still not exited").
  const again = await exporter.collector.collect();
  assert.ok(!again.ok && again.reason === 'timeout' && !/still not exited/.test(again.message), JSON.stringify(again));
  assert.equal(sampleValue(await scrape(), GPU_METRIC.collectorErrors, { reason: 'timeout' }), 2);

  // A free port (outside the ephemeral range, so no port-0 listener takes it meanwhile): nothing listens there.
  const port = await freePort();
  const gone = await exporterOver(t, `http://127.0.0.1:${port}/nvidia-smi`);
  assert.ok(!gone.exporter.first.ok && gone.exporter.first.reason === 'exit_code' && /could not be reached: ECONNREFUSED/.test(gone.exporter.first.message), JSON.stringify(gone.exporter.first));
});

test('exporter config: csvURL must be http(s), simulated is a boolean, both named when wrong', () => {
  assert.equal(exporterConfig({}).simulated, false);
  assert.equal(exporterConfig({}).csvURL, undefined);
  assert.throws(() => exporterConfig({ csvURL: 'file:///etc/passwd' }), /csvURL/);
  assert.throws(() => exporterConfig({ simulated: 'yes' }), /simulated/);
});
