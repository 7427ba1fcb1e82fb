import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import { startResponder } from '../src/responder/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { startAlertmanager } from './helpers/alertmanager.ts';
import { freePort } from './helpers/processes.ts';

const MODEL = 'llama-3.1-8b-instruct';
const ADMIN = 'gateway-admin-token-0123456789';
const RSP_ADMIN = 'responder-admin-token-0123456789';
const TOKEN = 'responder-token-0123456789abcdef';

/**
 * Two real Alertmanagers without gossip (an HA pair whose cluster link is down)
 * deliver the same alert, repeatedly, to one responder: it acts once. Then the
 * kill switch goes on, the alert resolves, both deliver the resolution: it is
 * kept, and applied once when the kill switch goes off.
 */
test('two Alertmanagers without gossip: acted on once; a resolution delivered during a hold is applied after it, once', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-am2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
  t.after(() => sim.close());
  const gw = await startGateway(
    validateConfig(GatewayConfigSchema, {
      port: 0,
      metrics: { processMetrics: false },
      admin: { token: ADMIN },
      upstreams: { sim: { baseURL: `${sim.url}/v1` } },
      models: { [MODEL]: { targets: [{ upstream: 'sim' }, { upstream: 'sim', model: 'light' }] } },
    }),
    { port: 0, log: () => {} },
  );
  t.after(() => gw.close());
  const port = await freePort();
  const r = await startResponder(
    validateConfig(ResponderConfigSchema, {
      port,
      auth: { tokenFile },
      adminAuth: { token: RSP_ADMIN },
      auditPath: join(dir, 'audit.db'),
      gateway: { url: gw.url, adminToken: ADMIN },
      playbooks: { HighInferenceLatency: { cooldown: '1ms', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true }] } },
    }),
    { port },
  );
  t.after(() => r.close());

  const config = `
route:
  receiver: responder
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: responder
    webhook_configs:
      - url: http://127.0.0.1:${port}/alerts
        send_resolved: true
        http_config:
          authorization: { type: Bearer, credentials_file: ${tokenFile} }
`;
  const ams = [await startAlertmanager(config), await startAlertmanager(config)];
  t.after(() => Promise.all(ams.map((am) => am.close())));
  // As Prometheus does: the same alert, with the same startsAt, to every Alertmanager.
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const labels = { alertname: 'HighInferenceLatency', severity: 'critical', model: MODEL };
  const send = (endsAt?: string) =>
    Promise.all(
      ams.map(async (am) => {
        const res = await fetch(`${am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ labels, annotations: {}, startsAt, ...(endsAt && { endsAt }) }]) });
        assert.ok(res.ok, await res.text());
      }),
    );
  const decisions = () => r.store.timeline({ limit: 1000, alertname: 'HighInferenceLatency' }).filter((x) => x.kind === 'decision');
  const waitFor = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 30_000;
    while (!ok() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.ok(ok(), what);
  };

  await send();
  // Both deliver, then each repeats: at least four deliveries of the one firing state.
  await waitFor('four deliveries', () => decisions().length >= 4);
  await r.engine.idle();
  assert.equal(decisions().filter((d) => d.outcome === 'act').length, 1, 'acted on once');
  assert.ok(decisions().filter((d) => /duplicate delivery/.test(d.detail)).length >= 3);
  assert.equal(gw.router.get(MODEL)!.active, 1);

  const ks = await fetch(`${r.url}/admin/kill-switch`, { method: 'POST', headers: { authorization: `Bearer ${RSP_ADMIN}`, 'content-type': 'application/json' }, body: '{"on":true,"by":"oncall"}' });
  assert.equal(ks.status, 200);
  await send(new Date().toISOString());
  await waitFor('both resolutions delivered during the hold', () => decisions().filter((d) => /resolution is kept/.test(d.detail)).length >= 2);
  assert.equal(gw.router.get(MODEL)!.active, 1, 'nothing reverted during the hold');

  await fetch(`${r.url}/admin/kill-switch`, { method: 'POST', headers: { authorization: `Bearer ${RSP_ADMIN}`, 'content-type': 'application/json' }, body: '{"on":false,"by":"oncall"}' });
  await r.engine.idle();
  assert.equal(gw.router.get(MODEL)!.active, 0, 'the kept resolution was applied');
  const reverts = r.store.listActions({ limit: 100, alertname: 'HighInferenceLatency' }).filter((a) => a.action === 'switch-model:revert' && a.outcome === 'success');
  assert.equal(reverts.length, 1, 'reverted once');
});
