import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../src/openai/sse.ts';

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
