import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { GatewayHandle } from '../src/gateway/server.ts';
import { startResponder } from '../src/responder/server.ts';
import type { ResponderHandle } from '../src/responder/server.ts';
import { startSimulator } from '../src/simulator/server.ts';
import type { SimulatorHandle } from '../src/simulator/server.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';
import { alert, post, webhook } from './helpers/webhook.ts';

const MODEL = 'llama-3.1-8b-instruct';
const LIGHT = 'llama-3.2-1b-instruct';
const ADMIN = 'gateway-admin-token-0123456789';
const TOKEN = 'responder-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const RSP_ADMIN = 'responder-admin-token-0123456789';
const adminAuth = { authorization: `Bearer ${RSP_ADMIN}`, 'content-type': 'application/json' };

describe('the responder, against the real gateway', () => {
  let dir: string;
  let sim: SimulatorHandle;
  let gw: GatewayHandle;
  let r: ResponderHandle;
  const config = (extra: Record<string, unknown> = {}) =>
    validateConfig(ResponderConfigSchema, {
      port: 0,
      auth: { token: TOKEN },
      adminAuth: { token: RSP_ADMIN },
      auditPath: join(dir, 'audit.db'),
      maxBodyBytes: 64 * 1024,
      gateway: { url: gw.url, adminToken: ADMIN },
      commands: {
        record: { argv: [process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], process.env.LLMWATCH_LABEL_MODEL ?? "")', join(dir, 'exec-out.txt')] },
      },
      playbooks: {
        HighInferenceLatency: {
          cooldown: '10m',
          steps: [
            { action: 'scale', params: { deployment: 'openllm' }, if: { query: 'vector(0)', above: 20 } },
            { action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true },
          ],
        },
        QueueBacklog: { cooldown: '10m', steps: [{ action: 'scale', params: { deployment: 'openllm' } }, { action: 'noop' }] },
        HighErrorRate: { cooldown: '1s', steps: [{ action: 'exec', params: { command: 'record' } }] },
        HighToxicityScore: { cooldown: '10m', steps: [{ action: 'noop' }] },
      },
      ...extra,
    });
  const actions = async (alertname?: string) => ((await (await fetch(`${r.url}/actions?limit=1000${alertname ? `&alertname=${alertname}` : ''}`, { headers: auth })).json()) as { actions: Array<Record<string, any>> }).actions;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llmwatch-rsp-'));
    sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
    gw = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false },
        admin: { token: ADMIN },
        upstreams: { sim: { baseURL: `${sim.url}/v1` } },
        models: { [MODEL]: { targets: [{ upstream: 'sim' }, { upstream: 'sim', model: LIGHT }] } },
      }),
      { port: 0, log: () => {} },
    );
    r = await startResponder(config(), { port: 0 });
  });
  after(async () => {
    await r.close();
    await gw.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a critical latency alert switches the model to its fallback; its resolution switches it back', async () => {
    const a = alert({ alertname: 'HighInferenceLatency', model: MODEL });
    const res = await post(r.url, webhook([a]), auth);
    assert.equal(res.status, 200);
    assert.equal(res.body.decisions[0].decision, 'act');
    await r.engine.idle();
    assert.equal(gw.router.get(MODEL)!.active, 1);
    const log = await actions('HighInferenceLatency');
    const byAction = Object.fromEntries(log.map((x) => [x.action, x]));
    // Prometheus says the queue is 0: the article's first branch (scale) is skipped, with the reason.
    assert.equal(byAction.scale.outcome, 'skipped');
    assert.match(byAction.scale.detail, /condition false: vector\(0\) = 0, not above 20|condition not checked/);
    assert.equal(byAction['switch-model'].outcome, 'success');
    assert.match(byAction['switch-model'].detail, /routed model llama-3\.1-8b-instruct to sim\/llama-3\.2-1b-instruct/);

    await post(r.url, webhook([{ ...a, status: 'resolved', endsAt: new Date().toISOString() }]), auth);
    await r.engine.idle();
    assert.equal(gw.router.get(MODEL)!.active, 0);
    const after = await actions("HighInferenceLatency");
    assert.ok(after.some((x) => x.action === "switch-model:revert" && x.outcome === "success"), JSON.stringify(after));
  });

  test('the same webhook twice runs once; after a restart, a third delivery still runs nothing, and the log is intact', async () => {
    const a = alert({ alertname: 'HighToxicityScore', model: MODEL });
    const body = webhook([a]);
    await post(r.url, body, auth);
    const again = await post(r.url, body, auth);
    assert.equal(again.body.decisions[0].decision, 'skip');
    assert.match(again.body.decisions[0].reason, /duplicate delivery/);
    await r.engine.idle();
    assert.equal((await actions('HighToxicityScore')).length, 1);

    await r.close();
    r = await startResponder(config(), { port: 0 });
    const third = await post(r.url, body, auth);
    assert.match(third.body.decisions[0].reason, /duplicate delivery/);
    await r.engine.idle();
    const log = await actions('HighToxicityScore');
    assert.equal(log.length, 1);
    assert.equal(log[0]!.outcome, 'success');
    // The earlier test's actions survived the restart too.
    assert.ok((await actions('HighInferenceLatency')).length >= 3);
  });

  test('a warning runs low-risk actions only; info is recorded only; no playbook is a recorded skip', async () => {
    const warning = alert({ alertname: 'QueueBacklog', model: MODEL, severity: 'warning' });
    const info = alert({ alertname: 'LowCacheHitRate', model: MODEL, severity: 'info' });
    const res = await post(r.url, webhook([warning, info, alert({ alertname: 'SomethingElse' })]), auth);
    assert.deepEqual(
      res.body.decisions.map((d: { decision: string }) => d.decision),
      ['act', 'skip', 'skip'],
    );
    assert.match(res.body.decisions[1].reason, /P2, recorded only/);
    assert.match(res.body.decisions[2].reason, /no playbook for SomethingElse/);
    await r.engine.idle();
    const log = await actions('QueueBacklog');
    assert.equal(log.find((x) => x.action === 'scale')!.outcome, 'skipped');
    assert.match(log.find((x) => x.action === 'scale')!.detail, /low-risk actions only/);
    assert.equal(log.find((x) => x.action === 'noop')!.outcome, 'success');
  });

  test('exec passes hostile label values only as environment, never to a shell', async () => {
    const hostile = '$(touch /tmp/llmwatch-pwned-1); `touch /tmp/llmwatch-pwned-2` && rm -rf / ; "quoted" \'single\'';
    await post(r.url, webhook([alert({ alertname: 'HighErrorRate', model: hostile })]), auth);
    await r.engine.idle();
    const log = await actions('HighErrorRate');
    assert.equal(log[0]!.outcome, 'success', log[0]!.detail);
    assert.equal(readFileSync(join(dir, 'exec-out.txt'), 'utf8'), hostile);
    assert.ok(!existsSync('/tmp/llmwatch-pwned-1') && !existsSync('/tmp/llmwatch-pwned-2'));
  });

  test('a second firing within the cooldown is skipped, with the reason', async () => {
    const first = alert({ alertname: 'HighToxicityScore', model: LIGHT });
    const second = alert({ alertname: 'HighToxicityScore', model: LIGHT }, { fingerprint: first.fingerprint });
    await post(r.url, webhook([first]), auth);
    await post(r.url, webhook([second]), auth);
    await r.engine.idle();
    const log = (await actions('HighToxicityScore')).filter((x) => x.fingerprint === first.fingerprint);
    assert.deepEqual(log.map((x) => x.outcome).sort(), ['skipped', 'success']);
    assert.match(log.find((x) => x.outcome === 'skipped')!.detail, new RegExp(`cooldown on noop@${first.fingerprint} until`));
  });

  test('bad input: 4xx with the reason, recorded, nothing run', async () => {
    const before = (await actions()).length;
    const cases: Array<[string, string | object, Record<string, string>, number, RegExp]> = [
      ['no credentials', webhook([alert({ alertname: 'HighToxicityScore' })]), {}, 401, /needs credentials/],
      ['wrong token', webhook([alert({ alertname: 'HighToxicityScore' })]), { authorization: 'Bearer wrong-token-000000000000' }, 403, /Wrong credentials/],
      ['invalid JSON', '{"version": "4",', auth, 400, /not valid JSON/],
      ['wrong version', { ...webhook([alert({ alertname: 'HighToxicityScore' })]), version: '3' }, auth, 400, /version/],
      ['alert without startsAt', webhook([{ ...alert({ alertname: 'HighToxicityScore' }), startsAt: 'yesterday' }]), auth, 400, /alerts\.0\.startsAt/],
      ['oversized', webhook(Array.from({ length: 400 }, () => alert({ alertname: 'HighToxicityScore' }))), auth, 413, /exceeds the limit/],
    ];
    for (const [name, body, headers, status, message] of cases) {
      const res = await post(r.url, body, headers);
      assert.equal(res.status, status, name);
      assert.match(res.body.error.message, message, name);
    }
    await r.engine.idle();
    assert.equal((await actions()).length, before, 'nothing ran');
    const m = parseExposition(await (await fetch(`${r.url}/metrics`)).text());
    for (const [result, n] of [['unauthorized', 1], ['forbidden', 1], ['invalid_json', 1], ['invalid_payload', 2], ['too_large', 1]] as const) {
      assert.equal(sampleValue(m, 'llmwatch_responder_webhooks_total', { result }), n, result);
    }
  });

  test('the kill switch and the hourly cap stop actions, and say so', async () => {
    const ks = await fetch(`${r.url}/admin/kill-switch`, { method: 'POST', headers: adminAuth, body: '{"on":true}' });
    assert.equal(ks.status, 200);
    const off = await post(r.url, webhook([alert({ alertname: 'HighToxicityScore', model: 'k1' })]), auth);
    assert.match(off.body.decisions[0].reason, /kill switch on/);
    await fetch(`${r.url}/admin/kill-switch`, { method: 'POST', headers: adminAuth, body: '{"on":false}' });

    await r.close();
    r = await startResponder(config({ limits: { maxActionsPerHour: 1 } }), { port: 0 });
    // Earlier tests already ran more than one action this hour: the next run trips the breaker.
    await post(r.url, webhook([alert({ alertname: 'HighToxicityScore', model: 'cap-1' })]), auth);
    await r.engine.idle();
    const tripped = (await actions('HighToxicityScore'))[0]!;
    assert.equal(tripped.outcome, 'skipped');
    assert.match(tripped.detail, /breaker tripped: \d+ actions in the last hour reached the cap of 1/);
    const next = await post(r.url, webhook([alert({ alertname: 'HighToxicityScore', model: 'cap-2' })]), auth);
    assert.match(next.body.decisions[0].reason, /breaker tripped at/);
    const m = parseExposition(await (await fetch(`${r.url}/metrics`)).text());
    assert.equal(sampleValue(m, 'llmwatch_responder_breaker_tripped'), 1);
    const reset = await fetch(`${r.url}/admin/breaker/reset`, { method: 'POST', headers: adminAuth });
    assert.equal(reset.status, 200);
    assert.equal(r.store.breaker().tripped, false);
  });

  test('dry run decides and records, and changes nothing', async () => {
    await r.close();
    r = await startResponder(config({ dryRun: true }), { port: 0 });
    await post(r.url, webhook([alert({ alertname: 'HighInferenceLatency', model: MODEL })]), auth);
    await r.engine.idle();
    assert.equal(gw.router.get(MODEL)!.active, 0);
    const latest = (await actions('HighInferenceLatency')).find((x) => x.action === 'switch-model')!;
    assert.equal(latest.outcome, 'dry-run');
    assert.equal(latest.dryRun, true);
    assert.match(latest.detail, /would route model llama-3\.1-8b-instruct to fallback/);
  });
});
