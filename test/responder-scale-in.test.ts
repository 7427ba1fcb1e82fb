import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ACTION_SPECS, riskOf } from '../src/core/config/action-specs.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { createDriverScaleAction } from '../src/responder/actions/scale-driver.ts';
import type { ReplicaDriver } from '../src/responder/actions/scale-driver.ts';
import { startResponder } from '../src/responder/server.ts';
import type { ResponderHandle } from '../src/responder/server.ts';
import { alert, post, webhook } from './helpers/webhook.ts';

// Issue 15: a scale-in is its own, slower playbook. Its risk follows its direction (a warning may
// step a Deployment in, never out), and its cooldown is its own: a scale-in waits for any scale's
// cooldown, a scale-out never waits for a scale-in's.

const TOKEN = 'responder-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const DEPLOYMENT = { deployment: 'openllm', namespace: 'default' };

/** Replicas in memory: the driver the action writes through, with every write kept. */
class MemoryReplicas implements ReplicaDriver {
  readonly where = 'memory';
  replicas = 3;
  version = 0;
  readonly writes: number[] = [];
  async read() {
    return { replicas: this.replicas, version: String(this.version) };
  }
  async write(_target: unknown, replicas: number) {
    this.replicas = replicas;
    this.version++;
    this.writes.push(replicas);
  }
}

test('the scale risk follows the direction: in is low, out (and the default) high', () => {
  assert.equal(riskOf(ACTION_SPECS.scale, { ...DEPLOYMENT, direction: 'in' }), 'low');
  assert.equal(riskOf(ACTION_SPECS.scale, { ...DEPLOYMENT, direction: 'out' }), 'high');
  assert.equal(riskOf(ACTION_SPECS.scale, { ...DEPLOYMENT }), 'high');
  assert.equal(riskOf(ACTION_SPECS['switch-model'], { model: 'm' }), 'low');
  assert.equal(riskOf(ACTION_SPECS.exec, { command: 'c' }), 'high');
});

describe('scale-in as its own playbook', () => {
  let dir: string;
  let r: ResponderHandle;
  let driver: MemoryReplicas;
  const rows = (fingerprint: string) => r.store.listActions({ limit: 1000 }).filter((a) => a.fingerprint === fingerprint);
  const fire = async (labels: Record<string, string>) => {
    const a = alert(labels);
    await post(r.url, webhook([a]), auth);
    await r.engine.idle();
    return rows(a.fingerprint);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmwatch-scale-in-'));
  });
  beforeEach(async () => {
    await r?.close();
    rmSync(join(dir, 'audit.db'), { force: true });
    driver = new MemoryReplicas();
    r = await startResponder(
      validateConfig(ResponderConfigSchema, {
        port: 0,
        auth: { token: TOKEN },
        auditPath: join(dir, 'audit.db'),
        gateway: { url: 'http://127.0.0.1:9', adminToken: 'gateway-admin-token-0123456789' },
        playbooks: {
          QueueBacklog: { cooldown: '1ms', steps: [{ action: 'scale', params: { ...DEPLOYMENT, step: 2, max: 3 } }] },
          SpareReplicas: { cooldown: '10m', steps: [{ action: 'scale', params: { ...DEPLOYMENT, direction: 'in', step: 1, min: 1 } }] },
          // The same scale-out with a long cooldown: a scale-in must wait for it.
          HighInferenceLatency: { cooldown: '10m', steps: [{ action: 'scale', params: { ...DEPLOYMENT, step: 1, max: 3 } }] },
        },
      }),
      { port: 0, actions: [createDriverScaleAction(driver)] },
    );
  });
  after(async () => {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a warning runs a scale-in (one step, 3 -> 2) and still skips a scale-out', async () => {
    const scaledIn = await fire({ alertname: 'SpareReplicas', upstream: 'local', severity: 'warning' });
    assert.equal(scaledIn[0]!.outcome, 'success', scaledIn[0]!.detail);
    assert.match(scaledIn[0]!.detail, /from 3 to 2/);
    assert.deepEqual(driver.writes, [2]);
    const out = await fire({ alertname: 'QueueBacklog', model: 'm', severity: 'warning' });
    assert.equal(out[0]!.outcome, 'skipped');
    assert.match(out[0]!.detail, /severity warning \(P1\) runs low-risk actions only; scale with these params needs critical/);
    assert.deepEqual(driver.writes, [2]);
  });

  test("a scale-out right after a scale-in is not held by the scale-in's cooldown; the next scale-in is", async () => {
    assert.equal((await fire({ alertname: 'SpareReplicas', upstream: 'local', severity: 'warning' }))[0]!.outcome, 'success');
    // A burst: the queue grows minutes after the scale-in, well inside its 10m cooldown.
    const out = await fire({ alertname: 'QueueBacklog', model: 'm' });
    assert.equal(out[0]!.outcome, 'success', out[0]!.detail);
    assert.deepEqual(driver.writes, [2, 3]);
    const again = await fire({ alertname: 'SpareReplicas', upstream: 'local', severity: 'warning' });
    assert.equal(again[0]!.outcome, 'skipped');
    assert.match(again[0]!.detail, /^cooldown on scale:default\/openllm:in until/);
    assert.deepEqual(driver.writes, [2, 3]);
  });

  test("a scale-in waits for a scale-out's cooldown on the same Deployment", async () => {
    driver.replicas = 2;
    assert.equal((await fire({ alertname: 'HighInferenceLatency', model: 'm' }))[0]!.outcome, 'success');
    const held = await fire({ alertname: 'SpareReplicas', upstream: 'local', severity: 'warning' });
    assert.equal(held[0]!.outcome, 'skipped');
    assert.match(held[0]!.detail, /^cooldown on scale:default\/openllm until/);
    assert.deepEqual(driver.writes, [3]);
  });

  test('a scale-in never goes below min: at 1 replica it is skipped, nothing written', async () => {
    driver.replicas = 1;
    const at = await fire({ alertname: 'SpareReplicas', upstream: 'local', severity: 'warning' });
    assert.equal(at[0]!.outcome, 'skipped');
    assert.match(at[0]!.detail, /already at min 1/);
    assert.deepEqual(driver.writes, []);
  });
});
