import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { startResponder } from '../src/responder/server.ts';
import type { ResponderHandle } from '../src/responder/server.ts';
import { alert, post, webhook } from './helpers/webhook.ts';

const TOKEN = 'responder-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A responder whose commands are given the test's folder (`$DIR` in their argv). */
async function responder(t: { after(fn: () => unknown): void }, commands: Record<string, unknown>, playbooks: Record<string, unknown>): Promise<{ r: ResponderHandle; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-iso-'));
  const withDir = JSON.parse(JSON.stringify(commands).replaceAll('$DIR', dir)) as Record<string, unknown>;
  const r = await startResponder(
    validateConfig(ResponderConfigSchema, { port: 0, auth: { token: TOKEN }, auditPath: join(dir, 'audit.db'), limits: { maxActionsPerHour: 10_000 }, commands: withDir, playbooks }),
    { port: 0 },
  );
  t.after(async () => {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { r, dir };
}

test('exec: a background child left behind does not hold the action; a timeout kills the whole process group; output is capped', async (t) => {
  const commands = {
    // Leaves `sleep 30` behind holding stdout, and exits at once.
    leaves: { argv: ['/bin/sh', '-c', 'sleep 30 & echo $! > "$DIR/leaves.pid"; echo started'] },
    // Never ends by itself: its child and itself die with the group at the timeout (1 s: long enough for
    // the shell to have written the pid file on a loaded machine).
    hangs: { argv: ['/bin/sh', '-c', 'sleep 30 & echo $! > "$DIR/hangs.pid"; wait'], timeoutMs: 1000 },
    chatty: { argv: [process.execPath, '-e', 'process.stdout.write("x".repeat(1 << 20))'] },
  };
  const { r, dir } = await responder(t, commands, {
    Leaves: { steps: [{ action: 'exec', params: { command: 'leaves' } }] },
    Hangs: { steps: [{ action: 'exec', params: { command: 'hangs' } }] },
    Chatty: { steps: [{ action: 'exec', params: { command: 'chatty' } }] },
  });
  await post(r.url, webhook([alert({ alertname: 'Leaves' }), alert({ alertname: 'Hangs' }), alert({ alertname: 'Chatty' })]), auth);
  await r.engine.idle();
  const leavesPid = Number(readFileSync(join(dir, 'leaves.pid'), 'utf8'));
  t.after(() => {
    if (alive(leavesPid)) process.kill(leavesPid, 'SIGKILL');
  });
  const row = (name: string) => r.store.listActions({ limit: 10, alertname: name })[0]!;
  assert.equal(row('Leaves').outcome, 'success');
  assert.ok(alive(leavesPid), 'the run finished while the background child it left still lives');
  assert.equal((row('Leaves').data as { output: string }).output, 'started\n');

  assert.equal(row('Hangs').outcome, 'failure');
  assert.match(row('Hangs').detail, /hangs timed out after 1000 ms: its process group was killed/);
  const hangsPid = Number(readFileSync(join(dir, 'hangs.pid'), 'utf8'));
  for (let i = 0; i < 500 && alive(hangsPid); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive(hangsPid), false, "the command's child died with its group");

  const chatty = row('Chatty').data as { output: string; outputDroppedBytes: number };
  assert.equal(Buffer.byteLength(chatty.output), 4096);
  assert.equal(chatty.outputDroppedBytes, (1 << 20) - 4096);
});

test('actions on different targets run concurrently; on one target, in order', async (t) => {
  const commands = {
    // Succeeds only if the other alert's action runs at the same time: each waits (bounded) for the other's mark.
    meet: { argv: ['/bin/sh', '-c', 'touch "$DIR/$LLMWATCH_LABEL_SIDE"; for i in $(seq 100); do [ -e "$DIR/$LLMWATCH_LABEL_OTHER" ] && exit 0; sleep 0.05; done; exit 1'] },
    // Appends start and end around a pause; two on one target must never interleave.
    serial: { argv: ['/bin/sh', '-c', 'echo "start $LLMWATCH_ACTION_KEY" >> "$DIR/serial.log"; sleep 0.2; echo "end $LLMWATCH_ACTION_KEY" >> "$DIR/serial.log"'] },
  };
  const { r, dir } = await responder(t, commands, {
    Meet: { cooldown: '1ms', steps: [{ action: 'exec', params: { command: 'meet' } }] },
    Serial: { cooldown: '10m', steps: [{ action: 'exec', params: { command: 'serial' } }] },
  });
  await post(r.url, webhook([alert({ alertname: 'Meet', side: 'a', other: 'b' }), alert({ alertname: 'Meet', side: 'b', other: 'a' })]), auth);
  // One alert series (one fingerprint, so one target), two episodes: the second queues behind the first.
  const first = alert({ alertname: 'Serial' });
  const second = { ...first, startsAt: new Date(Date.parse(first.startsAt) + 60_000).toISOString() };
  await post(r.url, webhook([first, second]), auth);
  await r.engine.idle();
  assert.deepEqual(r.store.listActions({ limit: 10, alertname: 'Meet' }).map((x) => x.outcome), ['success', 'success'], 'both met: they ran at the same time');
  // The cooldown is written when an action finishes: the second episode, queued behind the first on the same
  // target, finds it; had they run side by side, both would have run and their lines interleaved.
  const lines = readFileSync(join(dir, 'serial.log'), 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['start', 'end'],
  );
  const serial = r.store.listActions({ limit: 10, alertname: 'Serial' }).reverse();
  assert.deepEqual(serial.map((x) => x.outcome), ['success', 'skipped']);
  assert.match(serial[1]!.detail, new RegExp(`cooldown on exec:serial@${first.fingerprint} until`));
  assert.ok(serial[1]!.startedAt >= serial[0]!.startedAt + serial[0]!.durationMs - 1);
  assert.ok(existsSync(join(dir, 'a')) && existsSync(join(dir, 'b')));
});
