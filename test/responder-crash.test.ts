import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { startAlertmanager } from './helpers/alertmanager.ts';
import { freePort } from './helpers/processes.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;
const TOKEN = 'responder-token-0123456789abcdef';
const ALERTS = 200;

/**
 * Issue 13, point 1: `kill -9` of a real responder process in the middle of a
 * burst of 200 distinct alerts delivered by a real Alertmanager, a restart on
 * the same port, and Alertmanager's own retries and repeats. Each alert's
 * playbook has two side effects, both counted on disk:
 * - `mark` (declared idempotent): creates effects/<LLMWATCH_ACTION_KEY> only if
 *   absent, and logs every execution; interrupted, it is run again.
 * - `once` (not idempotent): appends the fingerprint to once.log; interrupted,
 *   it is recorded `interrupted` and never repeated.
 */
test('kill -9 mid-burst of 200 alerts, restart, redelivery: 0 acted on twice, 0 lost, every side effect audited', { timeout: 360_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'effects'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const port = await freePort();
  const db = join(dir, 'audit.db');
  writeFileSync(
    join(dir, 'responder.json'),
    JSON.stringify({
      auth: { tokenFile },
      auditPath: db,
      limits: { maxActionsPerHour: 100_000, concurrency: 8 },
      commands: {
        // noclobber: the effect file is created once per action key, however often the command runs.
        mark: { argv: ['/bin/sh', '-c', `set -C; echo "$LLMWATCH_FINGERPRINT" > "${dir}/effects/$LLMWATCH_ACTION_KEY" 2>/dev/null; echo "$LLMWATCH_FINGERPRINT" >> "${dir}/mark-runs.log"`], idempotent: true },
        once: { argv: ['/bin/sh', '-c', `echo "$LLMWATCH_FINGERPRINT" >> "${dir}/once.log"`] },
      },
      playbooks: { Burst: { cooldown: '1h', steps: [{ action: 'exec', params: { command: 'mark' } }, { action: 'exec', params: { command: 'once' } }] } },
    }),
  );

  let output = '';
  const startResponderProcess = async () => {
    const child = spawn(process.execPath, [BIN, 'responder', '--config', join(dir, 'responder.json'), '--port', String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`the responder did not start:\n${output}`);
  };

  let responder = await startResponderProcess();
  t.after(() => responder.kill('SIGKILL'));

  // Each alert its own shard of ten per webhook; Alertmanager retries failed deliveries and repeats every 2 s.
  const am = await startAlertmanager(`
route:
  receiver: responder
  group_by: [shard]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: responder
    webhook_configs:
      - url: http://127.0.0.1:${port}/alerts
        send_resolved: false
        max_alerts: 0
        http_config:
          authorization: { type: Bearer, credentials_file: ${tokenFile} }
`);
  t.after(() => am.close());
  await am.post(Array.from({ length: ALERTS }, (_, i) => ({ labels: { alertname: 'Burst', severity: 'critical', shard: `s${i % 20}`, n: `a${i}` } })));

  // kill -9 once some side effects happened and others have not.
  const lines = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== '') : []);
  const deadline = Date.now() + 120_000;
  while (lines('mark-runs.log').length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const atKill = lines('mark-runs.log').length;
  assert.ok(atKill >= 40 && atKill < ALERTS, `killed mid-burst (${atKill} of ${ALERTS} marks done)\n${output}`);
  responder.kill('SIGKILL');
  await new Promise((r) => responder.once('exit', r));

  responder = await startResponderProcess();
  // Until every alert's playbook has finished, and Alertmanager has repeated the whole set at least once after that.
  const raw = new Database(db, { readonly: true, fileMustExist: true });
  t.after(() => raw.close());
  const count = (sql: string) => (raw.prepare(sql).get() as { n: number }).n;
  const done = () => count("SELECT count(DISTINCT fingerprint) AS n FROM decisions d JOIN runs r ON r.decision_id = d.id WHERE r.state = 'done'") === ALERTS;
  // Generous bounds: this runs on a loaded 2-core machine beside other test runs.
  const until = Date.now() + 150_000;
  while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  assert.ok(done(), `every alert's run finished within 150 s (${count("SELECT count(*) AS n FROM runs WHERE state = 'pending'")} pending)\n${output}`);
  const seen = count("SELECT count(*) AS n FROM decisions WHERE reason LIKE 'duplicate%'");
  const redelivered = Date.now() + 90_000;
  while (count("SELECT count(*) AS n FROM decisions WHERE reason LIKE 'duplicate%'") < seen + ALERTS && Date.now() < redelivered) await new Promise((r) => setTimeout(r, 200));
  assert.ok(count("SELECT count(*) AS n FROM decisions WHERE reason LIKE 'duplicate%'") >= seen + ALERTS, `Alertmanager redelivered every alert after the restart\n${output}`);

  // 0 acted on twice: one act decision per alert, however many deliveries.
  const acts = raw.prepare("SELECT fingerprint, count(*) AS n FROM decisions WHERE decision = 'act' GROUP BY fingerprint").all() as Array<{ fingerprint: string; n: number }>;
  assert.equal(acts.length, ALERTS, '0 lost: every alert has its act decision');
  assert.deepEqual(acts.filter((a) => a.n !== 1), [], '0 acted on twice');
  assert.equal(count("SELECT count(*) AS n FROM runs WHERE state = 'pending'"), 0);
  assert.equal(count("SELECT count(*) AS n FROM actions WHERE outcome = 'running'"), 0, 'no action left running');

  // The idempotent effect: exactly one per alert, even where a crash made it run twice.
  const effects = readdirSync(join(dir, 'effects')).map((f) => readFileSync(join(dir, 'effects', f), 'utf8').trim());
  assert.equal(effects.length, ALERTS);
  assert.equal(new Set(effects).size, ALERTS, 'one idempotent effect per alert');
  const reruns = lines('mark-runs.log').length - ALERTS;
  const interruptedMarks = count("SELECT count(*) AS n FROM actions WHERE step = 0 AND outcome = 'interrupted'");
  assert.ok(reruns <= interruptedMarks, `a re-run happens only for an interrupted idempotent step (${reruns} re-runs, ${interruptedMarks} interrupted)`);

  // The non-idempotent effect: at most once per alert; where it is missing, the audit log says it was interrupted.
  const once = lines('once.log');
  const perFp = new Map<string, number>();
  for (const fp of once) perFp.set(fp, (perFp.get(fp) ?? 0) + 1);
  assert.deepEqual([...perFp].filter(([, n]) => n > 1), [], 'the non-idempotent effect never ran twice');
  const audited = new Map(
    (
      raw
        .prepare("SELECT d.fingerprint, a.outcome FROM actions a JOIN decisions d ON d.id = a.decision_id WHERE a.step = 1 AND a.action = 'exec'")
        .all() as Array<{ fingerprint: string; outcome: string }>
    ).map((r) => [r.fingerprint, r.outcome]),
  );
  assert.equal(audited.size, ALERTS, 'every alert has an audit row for its second step');
  for (const fp of perFp.keys()) assert.ok(['success', 'interrupted'].includes(audited.get(fp)!), `the side effect for ${fp} has its audit row`);
  const missing = [...audited].filter(([fp]) => !perFp.has(fp));
  assert.deepEqual(
    missing.filter(([, outcome]) => outcome !== 'interrupted'),
    [],
    'an alert whose non-idempotent effect is absent is recorded as interrupted, never silently lost',
  );
  console.log(
    `# killed after ${atKill} marks; idempotent re-runs ${reruns} (interrupted ${interruptedMarks}); non-idempotent effects ${once.length}, interrupted without effect ${missing.length}; duplicates answered ${count("SELECT count(*) AS n FROM decisions WHERE reason LIKE 'duplicate%'")}`,
  );
});

/** Issue 13 point 1: scale to the same replicas is a no-op, so an interrupted scale is finished, never stepped twice. */
test('an interrupted scale resumes from its checkpoint: a no-op when its write had landed, that count (not another step) when not', async (t) => {
  const { startKubernetesApiStandin } = await import('./fixtures/kubernetes-api-standin.ts');
  const { createScaleAction } = await import('../src/responder/actions/scale.ts');
  const { SqliteAuditStore } = await import('../src/responder/audit-store.ts');
  const { startResponder } = await import('../src/responder/server.ts');
  const { ResponderConfigSchema } = await import('../src/core/config/responder-config.ts');
  const { validateConfig } = await import('../src/core/config/validate.ts');
  const k8s = await startKubernetesApiStandin();
  t.after(() => k8s.close());
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'audit.db');
  // What a responder killed between its checkpoint and the end of its write leaves behind.
  const store = new SqliteAuditStore(db);
  const interrupted = (deployment: string, to: number) => {
    const alert = { status: 'firing' as const, labels: { alertname: 'QueueBacklog', severity: 'critical', deployment }, annotations: {}, startsAt: new Date().toISOString(), endsAt: '', generatorURL: '', fingerprint: `fp-${deployment}` };
    const webhookId = store.recordWebhook({ receivedAt: Date.now(), status: 'accepted', body: '{}' });
    const decisionId = store.recordDecision({ webhookId, at: Date.now(), fingerprint: alert.fingerprint, alertname: 'QueueBacklog', status: 'firing', severity: 'critical', tier: 'P0', decision: 'act', reason: 'playbook', dryRun: false });
    store.insertRun({ decisionId, kind: 'playbook', alert, idemKey: `${alert.fingerprint}|${alert.startsAt}|firing`, createdAt: Date.now() });
    const row = store.recordAction({ decisionId, step: 0, action: 'scale', target: `scale:default/${deployment}`, startedAt: Date.now(), durationMs: 0, outcome: 'running', detail: 'started' });
    store.checkpointAction(row, { from: 1, to });
    return decisionId;
  };
  const landed = interrupted('landed', 2);
  const lost = interrupted('lost', 2);
  store.close();
  k8s.seed('default', 'landed', 2); // the write had landed
  k8s.seed('default', 'lost', 1); // it had not

  const r = await startResponder(
    validateConfig(ResponderConfigSchema, {
      port: 0,
      auth: { token: TOKEN },
      auditPath: db,
      playbooks: { QueueBacklog: { steps: [{ action: 'scale', params: { deployment: '{{ $labels.deployment }}', step: 2, max: 3 } }] } },
    }),
    { port: 0, actions: [createScaleAction({ kubeConfig: k8s.kubeConfig() })] },
  );
  t.after(() => r.close());
  await r.engine.idle();
  assert.equal(k8s.replicas('default', 'landed'), 2, 'not stepped again');
  assert.equal(k8s.replicas('default', 'lost'), 2, 'the checkpointed count, not 1 + step 2');
  const rows = (id: number) => r.store.stepRows(id).map((x) => [x.outcome, x.detail]);
  assert.deepEqual(rows(landed)[0]![0], 'interrupted');
  assert.deepEqual(rows(landed)[1], ['success', 'deployment default/landed already at 2 replicas: the interrupted attempt had written them (no-op)']);
  assert.deepEqual(rows(lost)[1], ['success', 'scaled default/lost from 1 to 2']);
  assert.equal(k8s.requests.filter((q) => q.method === 'PUT').length, 1, 'one write in all');
});
