import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ERRORS_DOC, definitionsInSource, errorReference } from '../scripts/error-table.ts';
import { ERR_INTERNAL, RETIRED_CODES, defineError, registeredErrors } from '../src/core/errors.ts';
import { sendError } from '../src/core/http/send.ts';

test('docs/errors.md lists every registered error code, as the registry has it (npm run docs:errors)', async () => {
  assert.equal(readFileSync(ERRORS_DOC, 'utf8'), await errorReference(), 'stale: run npm run docs:errors');
});

test('the registry holds every defineError in src/, each with a meaning, one code per definition, ERR_INTERNAL among them', async () => {
  await errorReference(); // loads every defining module
  const { described } = definitionsInSource();
  const codes = registeredErrors().map((d) => d.code);
  assert.deepEqual([...codes].sort(), [...described.keys()].sort());
  assert.equal(new Set(codes).size, codes.length);
  for (const [code, { doc }] of described) assert.ok(doc.length > 10, `${code} has a doc comment saying what it means`);
  assert.ok(codes.includes(ERR_INTERNAL.code));
  // One meaning, one code: "unauthorized" and "forbidden" are the HTTP toolkit's, for every server.
  assert.deepEqual(registeredErrors().filter((d) => d.status === 401 && d.publicCode !== 'invalid_api_key').map((d) => d.code), ['HTTP_ERR_UNAUTHORIZED']);
  assert.deepEqual(registeredErrors().filter((d) => d.status === 403).map((d) => d.code).sort(), ['HTTP_ERR_ADMIN_DISABLED', 'HTTP_ERR_FORBIDDEN']);
  // A public code names one meaning, so it belongs to one llmwatch code: "model_not_found" is OAI_ERR_UNKNOWN_MODEL on
  // the gateway and the simulator alike; "admin_disabled" is HTTP_ERR_ADMIN_DISABLED (403) on the gateway and the responder.
  const byPublic = new Map<string, string[]>();
  for (const d of registeredErrors()) byPublic.set(d.publicCode, [...(byPublic.get(d.publicCode) ?? []), d.code]);
  const shared = [...byPublic].filter(([, codes]) => codes.length > 1).map(([pub, codes]) => `${pub}: ${codes.join(', ')}`);
  assert.deepEqual(shared, []);
});

test('a code is defined once, and a retired code never again', () => {
  assert.throws(() => defineError('ERR_INTERNAL', 500, 'server_error', 'x'), /defined twice/);
  const [retired] = Object.keys(RETIRED_CODES);
  assert.throws(() => defineError(retired!, 401, 'invalid_request_error', 'x'), /retired/);
});

test('an unknown error is sent as ERR_INTERNAL without its text, and logged with its stack on stderr', async (t) => {
  const server = createServer((_req, res) => sendError(res, new Error('boom: the token sk-secret123456789012345678 leaked')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(res.status, 500);
  assert.equal(res.headers.get('x-llmwatch-error'), 'ERR_INTERNAL');
  const body = (await res.json()) as { error: { message: string; code: string } };
  assert.deepEqual([body.error.message, body.error.code], ['Internal error', 'internal_error']);
  const logged = lines.map((l) => JSON.parse(l) as { level: string; code: string; err: { message: string; stack: string } }).find((l) => l.code === 'ERR_INTERNAL');
  assert.ok(logged !== undefined, 'one JSON line on stderr');
  assert.equal(logged.level, 'error');
  assert.match(logged.err.message, /^boom/);
  assert.match(logged.err.stack, /docs-errors\.test\.ts/);
  assert.doesNotMatch(JSON.stringify(logged), /sk-secret123456789012345678/);
});
