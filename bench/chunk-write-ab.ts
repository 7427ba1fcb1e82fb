/**
 * The CPU a server spends per SSE event written to its client, `res.write`
 * against the gateway's chunk writer (src/core/http/chunk-writer.ts): one
 * node:http server, 200 concurrent streams of 19 events 5 ms apart from wrk,
 * the two paths in alternating 3 s rounds, the server's own CPU (user +
 * system) per event. The same bytes go out either way (test/chunk-writer.test.ts).
 *
 *   npx tsx bench/chunk-write-ab.ts
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { chunkWriter } from '../src/core/http/chunk-writer.ts';

const EVENTS = 19;
const event = Buffer.from(
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'llama-3.1-8b-instruct', choices: [{ index: 0, delta: { content: ' word' }, finish_reason: null }] })}\n\n`,
);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
  const out = req.url === '/chunk-writer' ? chunkWriter(res) : { write: (b: Buffer) => res.write(b) };
  let n = 0;
  const step = () => {
    out.write(event);
    if (++n < EVENTS) setTimeout(step, 5);
    else res.end();
  };
  setTimeout(step, 5);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

function wrk(path: string, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('wrk', ['-t1', '-c200', `-d${seconds}s`, url + path]);
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('exit', () => resolve(Number(/(\d+) requests in/.exec(out)?.[1] ?? 'NaN')));
  });
}

async function cpuPerEvent(path: string, seconds: number): Promise<number> {
  const c0 = process.cpuUsage();
  const streams = await wrk(path, seconds);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (streams * EVENTS);
}

const paths = ['/res-write', '/chunk-writer'];
for (const p of paths) await cpuPerEvent(p, 1);
const per: Record<string, number[]> = { '/res-write': [], '/chunk-writer': [] };
for (let round = 0; round < 6; round++) for (const p of round % 2 === 0 ? paths : [...paths].reverse()) per[p]!.push(await cpuPerEvent(p, 3));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const p of paths) console.log(`${p}: µs of server CPU per event, per round ${per[p]!.map((x) => x.toFixed(1)).join(', ')} (mean ${mean(per[p]!).toFixed(1)})`);
console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
server.close();
