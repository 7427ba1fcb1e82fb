import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyFailure } from '../src/core/metering/exchange.ts';
import type { FailureSource } from '../src/core/metering/exchange.ts';
import type { FailureClass } from '../src/core/metering/gateway-metrics.ts';

// The SLI class table of docs/metrics.md: one row per way a routed request fails.
const TABLE: ReadonlyArray<readonly [string, number, FailureSource, FailureClass]> = [
  ['upstream 500', 500, 'upstream', 'error_5xx'],
  ['refused / reset / malformed (the gateway answers 502)', 502, 'gateway', 'error_5xx'],
  ['upstream timeout (504)', 504, 'gateway', 'error_5xx'],
  ['queue timeout (503)', 503, 'gateway', 'error_5xx'],
  ['queue full (429)', 429, 'gateway', 'error_4xx'],
  ['upstream rate limit (429)', 429, 'upstream', 'error_4xx'],
  ['upstream request timeout (408)', 408, 'upstream', 'error_4xx'],
  ['upstream 404: the route is misconfigured or the model not loaded', 404, 'upstream', 'error_4xx'],
  ["upstream 401 with the gateway's own key", 401, 'upstream', 'error_4xx'],
  ["upstream 403 with the client's key forwarded", 403, 'upstream-client-key', 'client_error_4xx'],
  ['upstream 400: prompt longer than the context', 400, 'upstream', 'client_error_4xx'],
  ['upstream 422', 422, 'upstream', 'client_error_4xx'],
  ['content_filter block (400)', 400, 'gateway', 'client_error_4xx'],
  ['SDK: 404 for a model the caller named', 404, 'sdk', 'client_error_4xx'],
  ['SDK: 401 with the caller key', 401, 'sdk', 'client_error_4xx'],
  ['SDK: 408', 408, 'sdk', 'error_4xx'],
  ['SDK: 429', 429, 'sdk', 'error_4xx'],
];

for (const [what, status, source, want] of TABLE) {
  test(`SLI class: ${what} -> ${want}`, () => {
    assert.equal(classifyFailure(status, source), want);
  });
}
