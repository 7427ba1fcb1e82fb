import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { countTokens } from '../src/core/openai/tokens.ts';
import { sampleValue } from './helpers/exposition.ts';
import type { Exposition } from './helpers/exposition.ts';
import { MODEL, gatewayConfig, scrape, startPair, until } from './helpers/stack.ts';
import type { Pair } from './helpers/stack.ts';
import { startMisbehaving } from './fixtures/misbehaving-upstream.ts';
import type { Misbehaving } from './fixtures/misbehaving-upstream.ts';

const P = 'openllm_';

function outcome(m: Exposition, reason?: string) {
  const v = (name: string, labels: Record<string, string>) => sampleValue(m, P + name, labels) ?? NaN;
  const l = { model: MODEL, endpoint: 'chat_completions' };
  return {
    success: v('requests_total', { ...l, status: 'success', code: '2xx' }),
    error5xx: v('requests_total', { ...l, status: 'error', code: '5xx' }),
    error4xx: v('requests_total', { ...l, status: 'error', code: '4xx' }),
    clientError: v('requests_total', { ...l, status: 'client_error', code: '4xx' }),
    cancelled: v('requests_total', { ...l, status: 'cancelled', code: '4xx' }),
    reason: reason === undefined ? 0 : v('upstream_errors_total', { model: MODEL, upstream: 'sim', reason }),
    allReasons: m.samples.filter((s) => s.name === P + 'upstream_errors_total').reduce((a, s) => a + s.value, 0),
    inFlight: v('requests_in_flight', { model: MODEL, upstream: 'sim' }),
    queue: v('queue_length', { model: MODEL, upstream: 'sim' }),
  };
}

/**
 * Runs `act`, then checks that exactly the expected counters moved, by one, and the gauges are back at zero.
 * `field` is the request's SLI class: error5xx and error4xx are server-side failures (`status="error"`),
 * clientError the client's own (`status="client_error"`), cancelled the client going away.
 */
async function expectCounted(url: string, reason: string | undefined, field: 'error5xx' | 'error4xx' | 'clientError' | 'cancelled', act: () => Promise<void>) {
  const before = outcome(await scrape(url), reason);
  await act();
  let after = outcome(await scrape(url), reason);
  // A cancellation is seen by the gateway a moment after the client gives up.
  await until(async () => {
    after = outcome(await scrape(url), reason);
    return after[field] === before[field] + 1 && after.inFlight === 0;
  });
  assert.equal(after[field] - before[field], 1, `${field} moved by one`);
  assert.equal(after.success - before.success, 0, 'no success counted');
  for (const other of ['error5xx', 'error4xx', 'clientError', 'cancelled'] as const) {
    if (other !== field) assert.equal(after[other] - before[other], 0, `${other} did not move`);
  }
  if (reason !== undefined) assert.equal(after.reason - before.reason, 1, `upstream_errors_total{reason="${reason}"} moved by one`);
  assert.equal(after.allReasons - before.allReasons, reason === undefined ? 0 : 1, 'no other upstream error counted');
  assert.equal(after.inFlight, 0);
  assert.equal(after.queue, 0);
}

async function setProfile(simURL: string, patch: Record<string, unknown>) {
  const res = await fetch(`${simURL}/admin/profiles/${MODEL}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
  assert.equal(res.status, 200, await res.text());
}

const ask = { model: MODEL, messages: [{ role: 'user' as const, content: 'hello' }] };

describe('simulator faults reach the client clearly and are counted once', () => {
  let pair: Pair;
  before(async () => {
    pair = await startPair({}, { headersTimeoutMs: 300, idleTimeoutMs: 300 });
  });
  after(() => pair.close());

  test('HTTP 500 passes through as an OpenAI error, reason http_5xx', async () => {
    await setProfile(pair.simURL, { errors: { http500: 1, http429: 0, reset: 0, hang: 0 } });
    await expectCounted(pair.gw.url, 'http_5xx', 'error5xx', async () => {
      await assert.rejects(pair.client.chat.completions.create(ask), (err: unknown) => err instanceof OpenAI.InternalServerError && err.status === 500);
    });
  });

  test('HTTP 429 passes through with Retry-After, reason http_429', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 1, reset: 0, hang: 0 }, retryAfterSeconds: 3 });
    await expectCounted(pair.gw.url, 'http_429', 'error4xx', async () => {
      await assert.rejects(pair.client.chat.completions.create(ask), (err: unknown) => {
        assert.ok(err instanceof OpenAI.RateLimitError);
        assert.equal(err.headers.get('retry-after'), '3');
        return true;
      });
    });
  });

  test('HTTP 400 (prompt longer than the context) passes through as a client error, no upstream error counted', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 0, reset: 0, hang: 0, http400: 1 } });
    await expectCounted(pair.gw.url, undefined, 'clientError', async () => {
      await assert.rejects(pair.client.chat.completions.create(ask), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.code, 'context_length_exceeded');
        return true;
      });
    });
    await setProfile(pair.simURL, { errors: { http400: 0 } });
  });

  test('a connection reset before the answer -> 502 upstream_reset', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 0, reset: 1, hang: 0 } });
    await expectCounted(pair.gw.url, 'reset', 'error5xx', async () => {
      await assert.rejects(pair.client.chat.completions.create(ask), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 502);
        assert.equal(err.code, 'upstream_reset');
        return true;
      });
    });
  });

  test('a connection reset mid-stream -> an error event before the stream ends', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 0, reset: 1, hang: 0 }, outputTokens: { min: 20, max: 20 } });
    await expectCounted(pair.gw.url, 'reset', 'error5xx', async () => {
      const stream = await pair.client.chat.completions.create({ ...ask, stream: true });
      let text = '';
      await assert.rejects(
        (async () => {
          for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
        })(),
        (err: unknown) => err instanceof OpenAI.APIError && /upstream/i.test(err.message),
      );
      assert.ok(text.length > 0, 'some tokens arrived before the reset');
    });
  });

  test('a hung upstream -> 504 upstream_timeout after headersTimeoutMs', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 0, reset: 0, hang: 1 } });
    await expectCounted(pair.gw.url, 'timeout', 'error5xx', async () => {
      await assert.rejects(pair.client.chat.completions.create(ask), (err: unknown) => err instanceof OpenAI.APIError && err.status === 504);
    });
  });

  test('a client that disconnects mid-stream is counted as cancelled and the upstream request is aborted', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 0, reset: 0, hang: 0 }, tpotMs: 100, outputTokens: { min: 50, max: 50 } });
    await expectCounted(pair.gw.url, undefined, 'cancelled', async () => {
      const stream = await pair.client.chat.completions.create({ ...ask, stream: true });
      let received = '';
      // Leaving the loop aborts the SDK's request: the client hangs up mid-stream.
      for await (const c of stream) {
        received += c.choices[0]?.delta.content ?? '';
        if (received !== '') break;
      }
      assert.ok(received.length > 0);
    });
    // The tokens the client did receive were processed: counted as estimates.
    const m = await scrape(pair.gw.url);
    assert.ok((sampleValue(m, P + 'tokens_processed_total', { model: MODEL, kind: 'completion', source: 'estimate' }) ?? 0) >= 1);
  });

  test('after all of it the gateway still serves', async () => {
    await setProfile(pair.simURL, { errors: { http500: 0, http429: 0, reset: 0, hang: 0 }, tpotMs: 0, outputTokens: { min: 4, max: 4 } });
    const res = await pair.client.chat.completions.create(ask);
    assert.equal(res.usage?.completion_tokens, 4);
  });
});

describe('protocol faults no simulator makes (misbehaving upstream)', () => {
  let bad: Misbehaving;
  let gw: GatewayHandle;
  let client: OpenAI;
  before(async () => {
    bad = await startMisbehaving();
    gw = await startGateway(gatewayConfig(`${bad.url}/v1`, {}, { idleTimeoutMs: 300, maxResponseBytes: 16 * 1024 }), { port: 0 });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'test', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await bad.close();
  });
  const say = (content: string) => ({ model: MODEL, messages: [{ role: 'user' as const, content }] });

  test('a 200 with a body that is not JSON -> 502 upstream_malformed_response', async () => {
    await expectCounted(gw.url, 'malformed', 'error5xx', async () => {
      await assert.rejects(client.chat.completions.create(say('garbage')), (err: unknown) => err instanceof OpenAI.APIError && err.status === 502 && err.code === 'upstream_malformed_response');
    });
  });

  test('an answer over maxResponseBytes -> 502, counted as malformed', async () => {
    await expectCounted(gw.url, 'malformed', 'error5xx', async () => {
      await assert.rejects(client.chat.completions.create(say('huge')), (err: unknown) => err instanceof OpenAI.APIError && err.status === 502);
    });
  });

  test("a proxy's HTML 502 is wrapped in the OpenAI shape with its status", async () => {
    await expectCounted(gw.url, 'http_5xx', 'error5xx', async () => {
      await assert.rejects(client.chat.completions.create(say('html-502')), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 502);
        assert.equal(err.code, 'upstream_error');
        assert.match(err.message, /502 Bad Gateway/);
        return true;
      });
    });
  });

  test("an OpenAI-shaped 503 passes through untouched, Retry-After included", async () => {
    await expectCounted(gw.url, 'http_5xx', 'error5xx', async () => {
      await assert.rejects(client.chat.completions.create(say('openai-503')), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 503);
        assert.equal(err.code, 'model_loading');
        assert.equal(err.headers.get('retry-after'), '7');
        return true;
      });
    });
  });

  test('a server that reports no usage: tokens estimated with the tokenizer', async () => {
    const before = await scrape(gw.url);
    const res = await client.chat.completions.create(say('no-usage please'));
    const after = await scrape(gw.url);
    const est = (m: Exposition, kind: string) => sampleValue(m, P + 'tokens_processed_total', { model: MODEL, kind, source: 'estimate' })!;
    assert.equal(est(after, 'completion') - est(before, 'completion'), countTokens(res.choices[0]!.message.content!));
    assert.equal(est(after, 'prompt') - est(before, 'prompt'), countTokens('no-usage please'));
  });

  test('a client that hangs up mid-stream makes the gateway abort the upstream stream at once', async () => {
    await expectCounted(gw.url, undefined, 'cancelled', async () => {
      const stream = await client.chat.completions.create({ ...say('stream-slow'), stream: true });
      for await (const c of stream) {
        if ((c.choices[0]?.delta.content ?? '') !== '') break;
      }
    });
    // The upstream would stream for 10 s more; the gateway closed it instead (seen well before the 10 s,
    // with room for a loaded machine).
    await until(() => bad.abandoned() === 1, 8_000);
  });

  for (const [mode, reason, code] of [
    ['stream-error-event', 'stream_error', 'upstream_stream_error'],
    ['stream-no-done', 'reset', 'upstream_reset'],
    ['stream-garbage', 'malformed', 'upstream_malformed_response'],
    ['stream-array', 'malformed', 'upstream_malformed_response'],
    ['stream-stall', 'timeout', 'upstream_timeout'],
  ] as const) {
    test(`${mode}: the client gets an error event (${code}), counted as ${reason}`, async () => {
      await expectCounted(gw.url, reason, 'error5xx', async () => {
        const stream = await client.chat.completions.create({ ...say(mode), stream: true });
        let text = '';
        await assert.rejects(
          (async () => {
            for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
          })(),
          (err: unknown) => err instanceof OpenAI.APIError && (err.error as { code?: string } | undefined)?.code === code,
        );
        assert.ok(text.startsWith(' one'));
      });
    });
  }
});

describe('an upstream that is not there', () => {
  let gw: GatewayHandle;
  before(async () => {
    // Port 1 (tcpmux) is never served on these machines: the connection is refused.
    gw = await startGateway(gatewayConfig('http://127.0.0.1:1/v1'), { port: 0 });
  });
  after(() => gw.close());

  test('-> 502 upstream_unavailable, reason refused, and /readyz says 503', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    await expectCounted(gw.url, 'refused', 'error5xx', async () => {
      await assert.rejects(client.chat.completions.create(ask), (err: unknown) => err instanceof OpenAI.APIError && err.status === 502 && err.code === 'upstream_unavailable');
    });
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(ready.headers.get('retry-after'), '1');
    const body = (await ready.json()) as { ready: boolean; upstreams: Record<string, { ok: boolean }> };
    assert.equal(body.upstreams.sim?.ok, false);
  });
});

describe('the upstream queue', () => {
  test('is FIFO under maxConcurrency; a full queue gets 429 queue_full, a long wait 503 queue_timeout', async (t) => {
    const pair = await startPair({ defaults: { ttftMs: 400, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }, { maxConcurrency: 1, maxQueue: 1, queueTimeoutMs: 5_000 });
    t.after(() => pair.close());
    const first = pair.client.chat.completions.create(ask);
    await until(async () => outcome(await pair.metrics()).inFlight === 1);
    const second = pair.client.chat.completions.create(ask);
    await until(async () => outcome(await pair.metrics()).queue === 1);
    const before = outcome(await pair.metrics());
    await assert.rejects(pair.client.chat.completions.create(ask), (err: unknown) => err instanceof OpenAI.RateLimitError && err.code === 'queue_full');
    const mid = outcome(await pair.metrics());
    assert.equal(mid.error4xx - before.error4xx, 1);
    assert.equal(mid.queue, 1, 'the queued request is still waiting');
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.usage?.completion_tokens, 2);
    assert.equal(b.usage?.completion_tokens, 2);
    await until(async () => outcome(await pair.metrics()).inFlight === 0);
    const m = await pair.metrics();
    assert.equal(outcome(m).success, 2);
    assert.equal(outcome(m).queue, 0);
    assert.equal(sampleValue(m, P + 'queue_wait_seconds_count', { model: MODEL, upstream: 'sim' }), 2);
  });

  test('a request that waits past queueTimeoutMs gets 503 and leaves the queue', async (t) => {
    const pair = await startPair({ defaults: { ttftMs: 600, tpotMs: 0, jitter: 0 } }, { maxConcurrency: 1, maxQueue: 10, queueTimeoutMs: 100 });
    t.after(() => pair.close());
    const first = pair.client.chat.completions.create(ask);
    await until(async () => outcome(await pair.metrics()).inFlight === 1);
    const before = outcome(await pair.metrics());
    await assert.rejects(
      pair.client.chat.completions.create(ask),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 503 && err.code === 'queue_timeout' && err.headers.get('retry-after') === '1',
    );
    const mid = outcome(await pair.metrics());
    assert.equal(mid.error5xx - before.error5xx, 1);
    assert.equal(mid.queue, 0);
    await first;
    await until(async () => outcome(await pair.metrics()).inFlight === 0);
  });

  test('a client that gives up while queued is counted as cancelled and leaves the queue', async (t) => {
    const pair = await startPair({ defaults: { ttftMs: 600, tpotMs: 0, jitter: 0 } }, { maxConcurrency: 1, maxQueue: 10, queueTimeoutMs: 5_000 });
    t.after(() => pair.close());
    const first = pair.client.chat.completions.create(ask);
    await until(async () => outcome(await pair.metrics()).inFlight === 1);
    const ac = new AbortController();
    const queued = pair.client.chat.completions.create(ask, { signal: ac.signal });
    await until(async () => outcome(await pair.metrics()).queue === 1);
    ac.abort();
    await assert.rejects(queued);
    await until(async () => {
      const o = outcome(await pair.metrics());
      return o.cancelled === 1 && o.queue === 0;
    });
    await first;
  });
});
