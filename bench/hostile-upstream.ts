/**
 * A deliberately hostile OpenAI-compatible upstream for bench/gateway-hostile.ts,
 * run as its own process so that its work never lands on the gateway's event
 * loop or on the prober's. The model name picks the misbehaviour:
 *
 * - `degenerate-stream`: 1 MB of one character as content deltas, no usage;
 * - `degenerate-json`: the same as one JSON answer, no usage;
 * - `huge-event`: one SSE event that never ends (16 MiB of data, no blank line);
 * - anything else: a short normal stream with no usage.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const MB = 1024 * 1024;
const chunk = (content: string) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const piece = 'a'.repeat(1024);

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (b: Buffer) => parts.push(b));
  req.on('end', () => {
    let model = '';
    try {
      model = String((JSON.parse(Buffer.concat(parts).toString()) as { model?: unknown }).model);
    } catch {
      // The gateway validated the body already; a bad one is answered as the default model.
    }
    void answer(model, res);
  });
});

async function answer(model: string, res: import('node:http').ServerResponse): Promise<void> {
  const write = async (s: string | Buffer) => {
    if (!res.write(s)) await new Promise((r) => res.once('drain', r));
  };
  res.on('error', () => {});
  switch (model) {
    case 'degenerate-json': {
      const body = JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model, choices: [{ index: 0, message: { role: 'assistant', content: 'a'.repeat(MB) }, finish_reason: 'length' }] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    case 'degenerate-stream':
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 1024 && !res.destroyed; i++) await write(chunk(piece));
      return void res.end('data: [DONE]\n\n');
    case 'huge-event': {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await write('data: {"choices":[{"delta":{"content":"');
      const block = Buffer.alloc(64 * 1024, 'a');
      for (let i = 0; i < 256 && !res.destroyed; i++) await write(block);
      return void res.end();
    }
    default:
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await write(chunk('hello'));
      return void res.end('data: [DONE]\n\n');
  }
}

server.listen(0, '127.0.0.1', () => console.log(`hostile upstream on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
