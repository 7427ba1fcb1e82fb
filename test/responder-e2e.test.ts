import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import { generate, writeGenerated } from '../src/monitoring/generate.ts';
import { startResponder } from '../src/responder/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { startAlertmanager } from './helpers/alertmanager.ts';
import { freePort } from './helpers/processes.ts';
import { startPrometheus } from './helpers/prometheus.ts';

const MODEL = 'llama-3.1-8b-instruct';
const LIGHT = 'llama-3.2-1b-instruct';
const ADMIN = 'gateway-admin-token-0123456789';
const TOKEN = 'responder-token-0123456789abcdef';

test('Prometheus fires the latency rule, Alertmanager delivers it, the responder switches the model to its fallback', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'responder-token');
  writeFileSync(tokenFile, `${TOKEN}\n`);

  // The big model is slow (0.7 s to first token), the light one instant.
  const sim = await startSimulator(
    simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } }, models: { [MODEL]: { ttftMs: 700 }, [LIGHT]: {} } }),
    { port: 0 },
  );
  t.after(() => sim.close());
  const gw = await startGateway(
    validateConfig(GatewayConfigSchema, {
      port: 0,
      admin: { token: ADMIN },
      upstreams: { sim: { baseURL: `${sim.url}/v1` } },
      models: { [MODEL]: { targets: [{ upstream: 'sim' }, { upstream: 'sim', model: LIGHT }] } },
    }),
    { port: 0, log: () => {} },
  );
  t.after(() => gw.close());

  const responderPort = await freePort();
  // The rules and the Alertmanager config come from the generator, with compressed timings.
  const spec = monitoringSpec({
    // Critical, as the article had it: the scale step runs at P0 only (the default is a warning now).
    alerts: { HighInferenceLatency: { threshold: 0.5, for: '1s', severity: 'critical' } },
    alertmanager: { groupWait: '1s', groupInterval: '1s', repeatInterval: '1m', responderURL: `http://127.0.0.1:${responderPort}/alerts`, responderTokenFile: tokenFile },
  });
  writeGenerated(dir, generate(spec));
  const am = await startAlertmanager(readFileSync(join(dir, 'alertmanager/alertmanager.yml'), 'utf8'));
  t.after(() => am.close());
  const prom = await startPrometheus(
    [new URL(gw.url).host],
    `rule_files: ["${join(dir, 'prometheus/rules')}/*.yml"]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["${new URL(am.url).host}"]\n`,
  );
  t.after(() => prom.close());

  const responder = await startResponder(
    validateConfig(ResponderConfigSchema, {
      port: responderPort,
      auth: { tokenFile },
      auditPath: join(dir, 'audit.db'),
      prometheusURL: prom.url,
      gateway: { url: gw.url, adminToken: ADMIN },
      playbooks: {
        HighInferenceLatency: {
          steps: [
            // The article's playbook: a queue over 20 scales out; otherwise switch to the lighter model.
            { action: 'scale', if: { query: 'sum(openllm_queue_length{model="{{ $labels.model }}"})', above: 20 }, params: { deployment: 'openllm' }, stopOnSuccess: true },
            { action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true },
          ],
        },
      },
    }),
    { port: responderPort },
  );
  t.after(() => responder.close());

  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const started = Date.now();
  let answeredBy = MODEL;
  // Traffic until the fallback answers, bounded to 90 s.
  while (answeredBy !== LIGHT && Date.now() - started < 90_000) {
    const answers = await Promise.all(Array.from({ length: 4 }, () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })));
    answeredBy = answers.at(-1)!.model;
  }
  assert.equal(answeredBy, LIGHT, `the responder switched the route within 90 s; alertmanager alerts: ${JSON.stringify(await am.alerts())}`);

  const firing = await prom.query('ALERTS{alertname="HighInferenceLatency",alertstate="firing"}');
  assert.equal(firing[0]?.metric.model, MODEL);
  assert.equal(firing[0]?.metric.severity, 'critical');
  await responder.engine.idle();
  const log = responder.store.listActions({ limit: 10, alertname: 'HighInferenceLatency' });
  const scale = log.find((a) => a.action === 'scale');
  const sw = log.find((a) => a.action === 'switch-model');
  assert.equal(scale?.outcome, 'skipped');
  assert.match(scale?.detail ?? '', /condition false: sum\(openllm_queue_length\{model="llama-3\.1-8b-instruct"\}\) = 0, not above 20/);
  assert.equal(sw?.outcome, 'success');
  assert.equal(sw?.alertStatus, 'firing');
  console.log(`# fired and switched ${((Date.now() - started) / 1000).toFixed(1)} s after the first slow request`);
});
