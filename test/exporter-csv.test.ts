import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../src/core/errors.ts';
import { EXP_ERR_PARSE } from '../src/exporter/errors.ts';
import { QUERY_ARGS, isUnavailable, parseNvidiaSmiCsv } from '../src/exporter/nvidia-smi-csv.ts';

const MIB = 1024 * 1024;

test('the query is exactly the one in the issue: eight fields, CSV with no header and no units', () => {
  assert.deepEqual(QUERY_ARGS, [
    '--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu,temperature.gpu,power.draw',
    '--format=csv,noheader,nounits',
  ]);
});

test("several GPUs in nvidia-smi's real format: MiB to bytes, percent to a ratio, watts as printed", () => {
  const out = [
    '0, GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70, NVIDIA H100 80GB HBM3, 1234, 81559, 12, 35, 70.50',
    '1, GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d, NVIDIA H100 80GB HBM3, 78000, 81559, 100, 71, 612.37',
    '',
  ].join('\n');
  assert.deepEqual(parseNvidiaSmiCsv(out), [
    {
      index: '0',
      uuid: 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70',
      name: 'NVIDIA H100 80GB HBM3',
      memoryUsedBytes: 1234 * MIB,
      memoryTotalBytes: 81559 * MIB,
      utilisation: 0.12,
      temperatureCelsius: 35,
      powerWatts: 70.5,
    },
    {
      index: '1',
      uuid: 'GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
      name: 'NVIDIA H100 80GB HBM3',
      memoryUsedBytes: 78000 * MIB,
      memoryTotalBytes: 81559 * MIB,
      utilisation: 1,
      temperatureCelsius: 71,
      powerWatts: 612.37,
    },
  ]);
});

test('values nvidia-smi cannot read are undefined, never 0: [N/A], [Not Supported], N/A, other bracketed notes, empty', () => {
  const [r] = parseNvidiaSmiCsv('3, GPU-x, NVIDIA GeForce RTX 3090, [N/A], N/A, [Not Supported], [Unknown Error], \n');
  assert.deepEqual(r, {
    index: '3',
    uuid: 'GPU-x',
    name: 'NVIDIA GeForce RTX 3090',
    memoryUsedBytes: undefined,
    memoryTotalBytes: undefined,
    utilisation: undefined,
    temperatureCelsius: undefined,
    powerWatts: undefined,
  });
  for (const cell of ['[N/A]', 'N/A', '[Not Supported]', '[GPU requires reset]', '[Requested functionality has been deprecated]', '']) {
    assert.ok(isUnavailable(cell), cell);
  }
  for (const cell of ['0', 'NA', 'n/a', '[N/A', '12.5']) assert.ok(!isUnavailable(cell), cell);
});

test('a product name with commas in it is kept whole (the CSV has no quoting; only the name can hold a comma)', () => {
  const [r] = parseNvidiaSmiCsv('0, GPU-x, NVIDIA Foo, Bar Edition, 16GB, 1, 2, 3, 4, 5.5\n');
  assert.equal(r!.name, 'NVIDIA Foo, Bar Edition, 16GB');
  assert.equal(r!.memoryUsedBytes, MIB);
  assert.equal(r!.powerWatts, 5.5);
});

test('CRLF line ends and blank lines are tolerated', () => {
  const rows = parseNvidiaSmiCsv('\r\n0, GPU-a, A, 1, 2, 3, 4, 5\r\n\r\n1, GPU-b, B, 1, 2, 3, 4, 5\r\n');
  assert.deepEqual(
    rows.map((r) => [r.index, r.uuid, r.name]),
    [
      ['0', 'GPU-a', 'A'],
      ['1', 'GPU-b', 'B'],
    ],
  );
});

test('anything that is not the asked-for CSV is refused whole with EXP_ERR_PARSE', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['garbage', 'Segmentation fault\n', /1 column where 8/],
    ['no output at all', '', /printed no GPU/],
    ['only blank lines', '\n\n', /printed no GPU/],
    ['a header line (noheader ignored)', 'index, uuid, name, memory.used [MiB], memory.total [MiB], utilization.gpu [%], temperature.gpu, power.draw [W]\n', /index "index"/],
    ['units printed (nounits ignored)', '0, GPU-a, A, 1234 MiB, 81559 MiB, 12 %, 35, 70.50 W\n', /memory\.used of GPU 0 is "1234 MiB"/],
    ['too few columns', '0, GPU-a, A, 1, 2, 3\n', /6 columns where 8/],
    ['a GPU twice', '0, GPU-a, A, 1, 2, 3, 4, 5\n0, GPU-b, B, 1, 2, 3, 4, 5\n', /index 0 appears twice/],
    ['no UUID', '0, [N/A], A, 1, 2, 3, 4, 5\n', /no UUID/],
    ['one good line and one bad', '0, GPU-a, A, 1, 2, 3, 4, 5\nWARNING: something\n', /line 2/],
  ];
  for (const [what, out, message] of refused) {
    assert.throws(
      () => parseNvidiaSmiCsv(out),
      (err: unknown) => hasCode(err, EXP_ERR_PARSE) && message.test((err as Error).message),
      what,
    );
  }
});
