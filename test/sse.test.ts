import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../src/core/openai/sse.ts';

test('events split across chunks at any byte, CRLF included, are reassembled and forwarded whole', () => {
  const text = 'data: {"a":1}\r\n\r\n: comment\n\nevent: x\ndata: {"b":"é"}\n\ndata: [DONE]\n\n';
  const bytes = Buffer.from(text);
  for (let split = 1; split < bytes.length; split++) {
    const seen: string[] = [];
    const p = new SseParser((d) => (seen.push(d), true));
    const out = Buffer.concat([p.push(bytes.subarray(0, split)), p.push(bytes.subarray(split)), p.end()]);
    assert.deepEqual(seen, ['{"a":1}', '{"b":"é"}', '[DONE]'], `split at ${split}`);
    assert.equal(out.toString(), text, `split at ${split}: every byte forwarded once, in order`);
  }
});

test('an unfinished event is held back until its blank line arrives', () => {
  const p = new SseParser(() => true);
  assert.equal(p.push(Buffer.from('data: {"a":1}\n\ndata: {"b"')).toString(), 'data: {"a":1}\n\n');
  assert.equal(p.push(Buffer.from(':2}\n\n')).toString(), 'data: {"b":2}\n\n');
});

test('multi-line data is joined with newlines; an unterminated last event is flushed at end', () => {
  const seen: string[] = [];
  const p = new SseParser((d) => (seen.push(d), true));
  const out = Buffer.concat([p.push(Buffer.from('data: line1\ndata: line2\n\ndata:tail')), p.end()]);
  assert.deepEqual(seen, ['line1\nline2', 'tail']);
  assert.equal(out.toString(), 'data: line1\ndata: line2\n\ndata:tail');
});

test('an event refused by the callback stops the stream: only the events before it are returned', () => {
  const p = new SseParser((d) => d !== 'bad');
  const out = p.push(Buffer.from('data: ok1\n\ndata: ok2\n\ndata: bad\n\ndata: after\n\n'));
  assert.equal(out.toString(), 'data: ok1\n\ndata: ok2\n\n');
});

test('any chunking gives the same events and the same bytes (random splits, long lines across many chunks)', () => {
  const events = ['data: {"a":1}\n\n', ': keep-alive\n\n', `data: ${'x'.repeat(5000)}\r\n\r\n`, 'data: p1\ndata: p2\n\n', 'data: [DONE]\n\n'];
  const text = events.join('');
  const bytes = Buffer.from(text);
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n) + 1;
  for (let k = 0; k < 200; k++) {
    const seen: string[] = [];
    const p = new SseParser((d) => (seen.push(d), true));
    const out: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const n = rand(k % 2 === 0 ? 7 : 900);
      out.push(p.push(bytes.subarray(at, at + n)));
      at += n;
    }
    out.push(p.end());
    assert.deepEqual(seen, ['{"a":1}', 'x'.repeat(5000), 'p1\np2', '[DONE]']);
    assert.equal(Buffer.concat(out).toString(), text);
  }
});

test('an event still unfinished past maxEventBytes stops the stream, marked overflowed; the events before it pass', () => {
  const p = new SseParser(() => true, 1024);
  assert.equal(p.push(Buffer.from('data: ok\n\ndata: "')).toString(), 'data: ok\n\n');
  for (let i = 0; i < 3; i++) p.push(Buffer.alloc(400, 'a'));
  assert.equal(p.overflowed, true);
  assert.equal(p.stopped, true);
  assert.equal(p.push(Buffer.from('"\n\n')).length, 0, 'nothing after an overflow');
  assert.equal(p.end().length, 0);
});
