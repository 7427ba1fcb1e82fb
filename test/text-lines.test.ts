import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { LineSplitter, type LineVerdict } from '../src/core/text/lines.ts';

/** A splitter where every line is a record, noting each line's text. */
function lineRecords(max = Number.POSITIVE_INFINITY, verdict: (line: string) => LineVerdict = () => 'complete') {
  const lines: string[] = [];
  const s = new LineSplitter((buf, start, end) => {
    const line = buf.toString('utf8', start, end);
    lines.push(line);
    return verdict(line);
  }, max);
  return { s, lines };
}

test('a chunk boundary at any byte, inside a CRLF or inside a multibyte UTF-8 character, gives the same lines and bytes', () => {
  const text = 'héllo\r\nwörld €\n\r\n日本語\r\nlast';
  const bytes = Buffer.from(text);
  for (let split = 1; split < bytes.length; split++) {
    const { s, lines } = lineRecords();
    const out = Buffer.concat([s.push(bytes.subarray(0, split)), s.push(bytes.subarray(split)), s.end()]);
    assert.deepEqual(lines, ['héllo', 'wörld €', '', '日本語', 'last'], `split at ${split}: the CR of a CRLF is no part of the line`);
    assert.equal(out.toString(), text, `split at ${split}: every byte returned once, in order`);
  }
});

test('1-byte chunks: lines are whole, a lone CR inside a line is kept, the unterminated last line is read at the end', () => {
  const text = 'a\rb\r\n\r\nc';
  const { s, lines } = lineRecords();
  const out: Buffer[] = [];
  for (const byte of Buffer.from(text)) out.push(s.push(Uint8Array.of(byte)));
  assert.deepEqual(lines, ['a\rb', ''], 'nothing of the last line before the end');
  out.push(s.end());
  assert.deepEqual(lines, ['a\rb', '', 'c']);
  assert.equal(Buffer.concat(out).toString(), text);
  assert.equal(s.stopped, true, 'the end stops the splitter');
  assert.equal(s.push(Buffer.from('more\n')).length, 0);
});

test('records of several lines are held until the reader completes them; a refused record and all after it are not returned', () => {
  let ended = 0;
  const s = new LineSplitter((buf, start, end) => (end === start ? 'complete' : buf.toString('latin1', start, end) === 'bad' ? 'refuse' : 'continue'), Number.POSITIVE_INFINITY, () => (ended++, true));
  assert.equal(s.push(Buffer.from('a\nb\n\nc\n')).toString(), 'a\nb\n\n', 'the record still arriving is held');
  assert.equal(s.push(Buffer.from('d\n\n')).toString(), 'c\nd\n\n');
  assert.equal(s.push(Buffer.from('e\nbad\n\nf\n\n')).toString(), '', 'the refused record is dropped whole');
  assert.equal(s.stopped, true);
  assert.equal(s.end().length, 0);
  assert.equal(ended, 0, 'a stopped splitter asks nothing at the end');
});

test('at the end, the held record is returned unless onEnd or the last line refuses it', () => {
  const held = () => new LineSplitter((buf, start, end) => (buf.toString('latin1', start, end) === 'no' ? 'refuse' : 'continue'), 100, () => false);
  const refusedAtEnd = held();
  assert.equal(refusedAtEnd.push(Buffer.from('x\ny')).length, 0);
  assert.equal(refusedAtEnd.end().length, 0);
  const accepted = new LineSplitter(() => 'continue', 100);
  accepted.push(Buffer.from('x\ny'));
  assert.equal(accepted.end().toString(), 'x\ny');
  const lastLineRefused = new LineSplitter((buf, start, end) => (buf.toString('latin1', start, end) === 'no' ? 'refuse' : 'continue'), 100);
  lastLineRefused.push(Buffer.from('x\nn'));
  lastLineRefused.push(Buffer.from('o'));
  assert.equal(lastLineRefused.end().length, 0);
});

test('a line still unfinished past the cap stops the splitter, marked overflowed; the lines before it pass, nothing after', () => {
  const { s, lines } = lineRecords(1024);
  assert.equal(s.push(Buffer.from('ok\n')).toString(), 'ok\n');
  assert.equal(s.push(Buffer.alloc(1024, 'a')).length, 0);
  assert.equal(s.overflowed, false, 'exactly the cap is still held');
  assert.equal(s.push(Buffer.from('a')).length, 0);
  assert.equal(s.overflowed, true);
  assert.equal(s.stopped, true);
  assert.equal(s.push(Buffer.from('\nnext\n')).length, 0, 'nothing after an overflow');
  assert.equal(s.end().length, 0);
  assert.deepEqual(lines, ['ok'], 'the overflowing line is never read');
});

/**
 * Counts the work of the splitter's primitives while `run` runs: bytes that
 * `Buffer#indexOf` scans, and bytes that `Buffer.concat` and `Buffer#copy` copy.
 */
function work(t: TestContext, run: () => void): { scanned: number; copied: number } {
  const indexOf = t.mock.method(Buffer.prototype, 'indexOf');
  const concat = t.mock.method(Buffer, 'concat');
  const copy = t.mock.method(Buffer.prototype, 'copy');
  try {
    run();
  } finally {
    indexOf.mock.restore();
    concat.mock.restore();
    copy.mock.restore();
  }
  let scanned = 0;
  for (const call of indexOf.mock.calls) scanned += (call.this as Buffer).length - ((call.arguments[1] as number | undefined) ?? 0);
  let copied = 0;
  for (const call of concat.mock.calls) for (const piece of call.arguments[0] as readonly Uint8Array[]) copied += piece.length;
  for (const call of copy.mock.calls) copied += call.result as number;
  return { scanned, copied };
}

test('a huge line fed 1 byte at a time costs linear work: each byte scanned once and copied a bounded number of times', (t) => {
  const n = 50_000;
  const { s, lines } = lineRecords();
  const out: Buffer[] = [];
  const { scanned, copied } = work(t, () => {
    for (let i = 0; i < n; i++) out.push(s.push(Buffer.from('x')));
    out.push(s.push(Buffer.from('\n')));
  });
  assert.deepEqual(lines.map((l) => l.length), [n]);
  assert.equal(Buffer.concat(out).length, n + 1);
  assert.ok(scanned <= n + 1, `scanned ${scanned} bytes for ${n + 1}`);
  // Each byte once into the held record (where the line is read and whence the record is returned,
  // in place), plus the held buffer's doublings: each copies what is held, so together less than twice
  // the bytes held at the last one. Linear: 3 per byte at most (a list of the chunks themselves copied 2,
  // but cost a Buffer object per chunk; see the next test).
  assert.ok(copied <= 3 * (n + 1), `copied ${copied} bytes for ${n + 1}`);
});

test('a record sent a byte at a time is held as its bytes, not as a piece per chunk', () => {
  // Held as a list of chunk pieces, 500,000 one-byte chunks were 500,000 Buffer objects (about 550 MB
  // for a 1 MB event, each keeping its chunk alive), and returning them spread them as arguments:
  // RangeError, maximum call stack size exceeded.
  const n = 500_000;
  const { s, lines } = lineRecords();
  const one = Buffer.from('x');
  for (let i = 0; i < n; i++) assert.equal(s.push(one).length, 0);
  assert.equal(s.push(Buffer.from('\n')).length, n + 1);
  assert.deepEqual(lines.map((l) => l.length), [n]);
});

test('a hostile line past the cap, fed 1 byte at a time, costs work linear in the cap and none after it', (t) => {
  const cap = 20_000;
  const { s } = lineRecords(cap);
  let pushes = 0;
  const { scanned, copied } = work(t, () => {
    while (pushes < 10 * cap) {
      s.push(Buffer.from('x'));
      pushes++;
    }
  });
  assert.equal(s.overflowed, true);
  assert.ok(scanned <= cap + 1, `scanned ${scanned} bytes, cap ${cap}`);
  // Each byte up to the cap copied once into the held record, plus its doublings; nothing after the cap.
  assert.ok(copied <= 3 * (cap + 1), `copied ${copied} bytes, cap ${cap}`);
});
