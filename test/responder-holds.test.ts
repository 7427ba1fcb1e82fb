import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { alert, post, webhook } from './helpers/webhook.ts';

const ADMIN = 'gateway-admin-token-0123456789';
const TOKEN = 'responder-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const RSP_ADMIN = 'responder-admin-token-0123456789';

/** Issue 13 points 2 (holds) and 3 (revert ownership, per-target cooldown), against the real gateway. */
describe('holds and overlapping alerts', () => {
  let dir: string;
  let sim: SimulatorHandle;
  let gw: GatewayHandle;
  let r: ResponderHandle;
  let models = 0;
  const model = () => `model-${++models}`;
  const config = (extra: Record<string, unknown> = {}) =>
    validateConfig(ResponderConfigSchema, {
      port: 0,
      auth: { token: TOKEN },
      adminAuth: { token: RSP_ADMIN },
      auditPath: join(dir, 'audit.db'),
      gateway: { url: gw.url, adminToken: ADMIN },
      limits: { maxActionsPerHour: 10_000 },
      // Runs until the test lets it go (a file), bounded by its 10 s timeout: no race between the test's
      // clock and the command's.
      commands: { slow: { argv: ['/bin/sh', '-c', `touch "${dir}/slow-started"; while [ ! -e "${dir}/slow-go" ]; do sleep 0.02; done`] } },
      playbooks: {
        HighInferenceLatency: { cooldown: '1ms', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true }] },
        HighTimeToFirstToken: { cooldown: '1ms', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true }] },
        HighErrorRate: { cooldown: '10m', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' } }] },
        UpstreamErrors: { cooldown: '10m', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' } }] },
        Slow: { cooldown: '1ms', steps: [{ action: 'exec', params: { command: 'slow' } }] },
        HighToxicityScore: { cooldown: '1ms', steps: [{ action: 'noop' }] },
      },
      ...extra,
    });
  const admin = (path: string, body: unknown) =>
    fetch(`${r.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${RSP_ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const rows = (fingerprint: string) => r.store.listActions({ limit: 1000 }).filter((a) => a.fingerprint === fingerprint);
  const route = (m: string) => gw.router.get(m)!.active;
  const resolved = (a: ReturnType<typeof alert>) => ({ ...a, status: 'resolved' as const, endsAt: new Date().toISOString() });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llmwatch-holds-'));
    sim = await startSimulator(simulatorConfig({ port: 0, defaults: { ttftMs: 0, tpotMs: 0, jitter: 0, outputTokens: { min: 2, max: 2 } } }), { port: 0 });
    const modelsConfig = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`model-${i + 1}`, { targets: [{ upstream: 'sim' }, { upstream: 'sim', model: 'light' }] }]));
    gw = await startGateway(
      validateConfig(GatewayConfigSchema, { port: 0, metrics: { processMetrics: false }, admin: { token: ADMIN }, upstreams: { sim: { baseURL: `${sim.url}/v1` } }, models: modelsConfig }),
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

  test('the kill switch survives a restart, and is audited with who set it', async () => {
    const on = await admin('/admin/kill-switch', { on: true, by: 'alice', reason: 'incident 42' });
    assert.equal(on.status, 200);
    await r.close();
    r = await startResponder(config(), { port: 0 });
    assert.equal(r.engine.killSwitch, true);
    const health = (await (await fetch(`${r.url}/healthz`)).json()) as { killSwitch: boolean };
    assert.equal(health.killSwitch, true);
    const a = alert({ alertname: 'HighToxicityScore' });
    const res = await post(r.url, webhook([a]), auth);
    assert.match(res.body.decisions[0].reason, /kill switch on \(set by alice at /);
    await admin('/admin/kill-switch', { on: false, by: 'bob' });
    const ops = r.store.listOperations({ limit: 10 });
    assert.deepEqual(
      ops.slice(0, 2).map((o) => [o.what, o.who, o.detail]),
      [
        ['kill-switch-off', 'bob', ''],
        ['kill-switch-on', 'alice', 'incident 42'],
      ],
    );
    assert.equal(ops[0]!.remote, '127.0.0.1');
  });

  test('an alert skipped by the kill switch keeps its idempotency key free: repeated after the hold, it is acted on', async () => {
    await admin('/admin/kill-switch', { on: true, by: 'alice' });
    const a = alert({ alertname: 'HighToxicityScore' });
    const held = await post(r.url, webhook([a]), auth);
    assert.equal(held.body.decisions[0].decision, 'skip');
    await admin('/admin/kill-switch', { on: false, by: 'alice' });
    const again = await post(r.url, webhook([a]), auth);
    assert.equal(again.body.decisions[0].decision, 'act', again.body.decisions[0].reason);
    await r.engine.idle();
    assert.deepEqual(rows(a.fingerprint).map((x) => x.outcome), ['success']);
    const third = await post(r.url, webhook([a]), auth);
    assert.match(third.body.decisions[0].reason, /duplicate delivery/);
  });

  test('turning the kill switch on cancels queued actions (recorded as cancelled); they run when Alertmanager repeats them after', async () => {
    await r.close();
    r = await startResponder(config({ limits: { maxActionsPerHour: 10_000, concurrency: 1 } }), { port: 0 });
    const burst = Array.from({ length: 5 }, () => alert({ alertname: 'Slow' }));
    await post(r.url, webhook(burst), auth);
    // The first is running (it cannot end before the test lets it go); the others wait behind it. A fixed
    // pause here raced the command: on a loaded machine the first had not started yet, or had ended and the
    // second had begun.
    for (let i = 0; i < 500 && !existsSync(join(dir, 'slow-started')); i++) await new Promise((res) => setTimeout(res, 20));
    assert.ok(existsSync(join(dir, 'slow-started')), 'the first action started');
    await admin('/admin/kill-switch', { on: true, by: 'carol' });
    writeFileSync(join(dir, 'slow-go'), '');
    await r.engine.idle();
    const outcomes = burst.map((a) => rows(a.fingerprint).map((x) => x.outcome).join(','));
    assert.equal(outcomes[0], 'success', 'the running one finishes');
    assert.deepEqual(outcomes.slice(1), ['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    assert.match(rows(burst[1]!.fingerprint)[0]!.detail, /cancelled before it ran: kill switch on \(set by carol/);
    await admin('/admin/kill-switch', { on: false, by: 'carol' });
    const repeat = await post(r.url, webhook(burst), auth);
    assert.deepEqual(
      repeat.body.decisions.map((d: { decision: string }) => d.decision),
      ['skip', 'act', 'act', 'act', 'act'],
    );
    await r.engine.idle();
    for (const a of burst.slice(1)) assert.deepEqual(rows(a.fingerprint).map((x) => x.outcome).sort(), ['cancelled', 'success']);
  });

  test('a resolution that arrives during a hold is applied when the hold ends', async () => {
    const m = model();
    const a = alert({ alertname: 'HighInferenceLatency', model: m });
    await post(r.url, webhook([a]), auth);
    await r.engine.idle();
    assert.equal(route(m), 1);
    await admin('/admin/kill-switch', { on: true, by: 'dave' });
    const res = await post(r.url, webhook([resolved(a)]), auth);
    assert.match(res.body.decisions[0].reason, /the resolution is kept and applied when the hold ends/);
    await r.engine.idle();
    assert.equal(route(m), 1, 'nothing reverted during the hold');
    await admin('/admin/kill-switch', { on: false, by: 'dave' });
    await r.engine.idle();
    assert.equal(route(m), 0, 'reverted once the hold ended');
    assert.ok(rows(a.fingerprint).some((x) => x.action === 'switch-model:revert' && x.outcome === 'success'));
  });

  test('two alerts hold one switched model: it goes back only when the last of them resolves', async () => {
    const m = model();
    const latency = alert({ alertname: 'HighInferenceLatency', model: m });
    const ttft = alert({ alertname: 'HighTimeToFirstToken', model: m });
    await post(r.url, webhook([latency]), auth);
    await r.engine.idle();
    await post(r.url, webhook([ttft]), auth);
    await r.engine.idle();
    assert.equal(route(m), 1);
    await post(r.url, webhook([resolved(latency)]), auth);
    await r.engine.idle();
    assert.equal(route(m), 1, 'still needed by the other alert');
    assert.match(rows(latency.fingerprint).find((x) => x.action === 'switch-model:revert')!.detail, new RegExp(`still held by 1 firing alert\\(s\\): HighTimeToFirstToken@${ttft.fingerprint}`));
    await post(r.url, webhook([resolved(ttft)]), auth);
    await r.engine.idle();
    assert.equal(route(m), 0);
  });

  test("an operator's manual route is never reverted; a resolve with no switch before it reverts nothing", async () => {
    const m = model();
    const put = await fetch(`${gw.url}/admin/routes/${m}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"target":"fallback"}' });
    assert.equal(put.status, 200);
    const a = alert({ alertname: 'HighInferenceLatency', model: m });
    await post(r.url, webhook([a]), auth);
    await r.engine.idle();
    assert.match(rows(a.fingerprint)[0]!.detail, /was already on/);
    await post(r.url, webhook([resolved(a)]), auth);
    await r.engine.idle();
    assert.equal(route(m), 1, "the operator's route stays");
    assert.match(rows(a.fingerprint).find((x) => x.action === 'switch-model:revert')!.detail, /was not changed by this responder/);

    const m2 = model();
    const never = alert({ alertname: 'HighInferenceLatency', model: m2 });
    await fetch(`${gw.url}/admin/routes/${m2}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"target":"fallback"}' });
    await post(r.url, webhook([resolved(never)]), auth);
    await r.engine.idle();
    assert.equal(route(m2), 1);
  });

  test('the cooldown is per target across alerts: a second alert on the same model within it is held back, and keeps its key', async () => {
    const m = model();
    const first = alert({ alertname: 'HighErrorRate', model: m });
    const second = alert({ alertname: 'UpstreamErrors', model: m });
    await post(r.url, webhook([first]), auth);
    await r.engine.idle();
    await post(r.url, webhook([second]), auth);
    await r.engine.idle();
    assert.deepEqual(rows(first.fingerprint).map((x) => x.outcome), ['success']);
    const held = rows(second.fingerprint);
    assert.equal(held[0]!.outcome, 'skipped');
    assert.match(held[0]!.detail, new RegExp(`cooldown on switch-model:${m} until`));
    // Held by a cooldown, so not a duplicate when Alertmanager repeats it.
    const repeat = await post(r.url, webhook([second]), auth);
    assert.equal(repeat.body.decisions[0].decision, 'act');
    await r.engine.idle();
  });

  test('a resolution refused by the breaker is applied once the breaker is reset; the reset is audited with who', async () => {
    const m = model();
    const a = alert({ alertname: 'HighInferenceLatency', model: m });
    await post(r.url, webhook([a]), auth);
    await r.engine.idle();
    assert.equal(route(m), 1);
    r.store.tripBreaker(Date.now(), 'test: cap reached');
    const res = await post(r.url, webhook([resolved(a)]), auth);
    assert.match(res.body.decisions[0].reason, /breaker tripped .*the resolution is kept/);
    await r.engine.idle();
    assert.equal(route(m), 1);
    const reset = await fetch(`${r.url}/admin/breaker/reset`, { method: 'POST', headers: { authorization: `Bearer ${RSP_ADMIN}`, 'content-type': 'application/json', 'x-llmwatch-actor': 'erin' } });
    assert.equal(reset.status, 200);
    await r.engine.idle();
    assert.equal(route(m), 0, 'the kept resolution was applied');
    const op = r.store.listOperations({ limit: 1 })[0]!;
    assert.equal(op.what, 'breaker-reset');
    assert.equal(op.who, 'erin');
    assert.match(op.detail, /test: cap reached/);
  });

  test('a webhook of 45 alerts is decided in several transactions, all committed before its answer; its redelivery runs nothing', async () => {
    const alerts = Array.from({ length: 45 }, (_, i) => alert({ alertname: 'HighToxicityScore', model: `batch-${i}` }));
    const first = await post(r.url, webhook(alerts), auth);
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.decisions.map((d: { fingerprint: string; decision: string }) => [d.fingerprint, d.decision]),
      alerts.map((a) => [a.fingerprint, 'act']),
    );
    // Answered, so every decision is in the log already, under the one webhook.
    const kept = r.store.timeline({ limit: 1000, outcome: 'act', alertname: 'HighToxicityScore' }).filter((row) => alerts.some((a) => a.fingerprint === row.fingerprint));
    assert.equal(kept.length, 45);
    assert.equal(new Set(kept.map((row) => r.store.getDecision(row.id)!.webhookId)).size, 1);
    await r.engine.idle();
    assert.deepEqual(alerts.map((a) => rows(a.fingerprint).map((row) => row.outcome)), alerts.map(() => ['success']));
    const again = await post(r.url, webhook(alerts), auth);
    assert.equal(again.body.decisions.filter((d: { reason: string }) => /duplicate delivery/.test(d.reason)).length, 45);
    await r.engine.idle();
    assert.deepEqual(alerts.map((a) => rows(a.fingerprint).length), alerts.map(() => 1));
  });

  test('the hourly cap counts the actions started here and, after a restart, those found in the audit log', async () => {
    await r.close();
    const auditPath = join(dir, 'cap.db');
    const act = async () => {
      const a = alert({ alertname: 'HighToxicityScore', model: 'cap' });
      await post(r.url, webhook([a]), auth);
      await r.engine.idle();
      return rows(a.fingerprint).at(-1)!;
    };
    r = await startResponder(config({ auditPath, limits: { maxActionsPerHour: 2 } }), { port: 0 });
    assert.equal((await act()).outcome, 'success');
    assert.equal((await act()).outcome, 'success');
    const third = await act();
    assert.equal(third.outcome, 'skipped');
    assert.match(third.detail, /breaker tripped: 2 actions in the last hour reached the cap of 2/);
    await admin('/admin/breaker/reset', {});

    await r.close();
    r = await startResponder(config({ auditPath, limits: { maxActionsPerHour: 3 } }), { port: 0 });
    assert.equal((await act()).outcome, 'success', 'two of the hour in the log, under a cap of 3');
    const fifth = await act();
    assert.equal(fifth.outcome, 'skipped');
    assert.match(fifth.detail, /breaker tripped: 3 actions in the last hour reached the cap of 3/);
    await admin('/admin/breaker/reset', {});
  });
});
