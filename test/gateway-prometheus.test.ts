import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPrometheus } from './helpers/prometheus.ts';
import { MODEL, SMALL_MODEL, startPair } from './helpers/stack.ts';

test('a real Prometheus scraping the gateway counts exactly the requests sent', async (t) => {
  const pair = await startPair();
  t.after(() => pair.close());
  const prom = await startPrometheus([new URL(pair.gw.url).host]);
  t.after(() => prom.close());

  const sent = { [MODEL]: 7, [SMALL_MODEL]: 5 };
  for (const [model, n] of Object.entries(sent)) {
    for (let i = 0; i < n; i++) {
      const stream = i % 2 === 0;
      if (stream) {
        for await (const _ of await pair.client.chat.completions.create({ model, messages: [{ role: 'user', content: `hi ${i}` }], stream: true })) {
          // drain
        }
      } else {
        await pair.client.chat.completions.create({ model, messages: [{ role: 'user', content: `hi ${i}` }] });
      }
    }
  }
  const total = Object.values(sent).reduce((a, b) => a + b, 0);
  // Bounded wait: scrapes every second, so a few scrapes at most.
  let value = NaN;
  for (let i = 0; i < 100 && value !== total; i++) {
    const r = await prom.query('sum(openllm_requests_total)');
    value = r.length === 1 ? Number(r[0]!.value[1]) : NaN;
    if (value !== total) await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(value, total, prom.child.output());
  const byModel = await prom.query('sum by (model) (openllm_requests_total{status="success"})');
  assert.deepEqual(Object.fromEntries(byModel.map((r) => [r.metric.model, Number(r.value[1])])), sent);
  const up = await prom.query('up{job="llmwatch"}');
  assert.equal(up[0]?.value[1], '1');
});
