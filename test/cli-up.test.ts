import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startChild } from './helpers/processes.ts';
import { alert, post, webhook } from './helpers/webhook.ts';

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;

test('`llmwatch up` (npm start) brings the stack up, serves metered completions, and stops every child on SIGTERM; `responder log` then reads its audit log without a flag', { timeout: 120_000 }, async (t) => {
  // Issue 20 point 2: one state folder ($LLMWATCH_HOME here, .llmwatch by default) that every command finds.
  const home = mkdtempSync(join(tmpdir(), 'llmwatch-up-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const dir = join(home, 'stack');
  const env = { ...process.env, LLMWATCH_HOME: home };
  const up = startChild(process.execPath, [BIN, 'up', '--free-ports', '--fast'], { env });
  t.after(() => up.stop());
  for (let i = 0; i < 600 && !up.output().includes('Ctrl-C stops everything'); i++) {
    if (up.process.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /OpenAI API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(up.output())?.[1];
  assert.ok(url, `no gateway URL printed:\n${up.output()}`);
  for (const part of ['simulator', 'gateway', 'responder', 'node-exporter', 'alertmanager', 'prometheus', 'sim-gpu']) assert.match(up.output(), new RegExp(`ready  ${part}`));
  // Issue 15 point 3: the simulator's GPUs are reported, and the banner says they are simulated.
  assert.match(up.output(), /^GPU SIMULATED .*2 simulated GPUs .*not real hardware\)$/m);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const res = await client.chat.completions.create({ model: 'llama-3.2-1b-instruct', messages: [{ role: 'user', content: 'hi' }] });
  assert.ok((res.usage?.completion_tokens ?? 0) > 0);
  // Issue 20 point 3: alerts link to the runbooks the stack's console serves, filled in for the alert's labels.
  const urls = (JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as { urls: { console: string; prometheus: string } }).urls;
  const rules = (await (await fetch(`${urls.prometheus}/api/v1/rules?type=alert`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; annotations: Record<string, string> }> }> } };
  const latencyRule = rules.data.groups.flatMap((g) => g.rules).find((r) => r.name === 'HighInferenceLatency')!;
  assert.equal(latencyRule.annotations.runbook_url, `${urls.console}/runbooks/HighInferenceLatency.md`);
  const page = await fetch(`${latencyRule.annotations.runbook_url}?model=llama-3.1-8b-instruct`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  assert.match(html, /ALERTS\{alertname=&quot;HighInferenceLatency&quot;, model=&quot;llama-3\.1-8b-instruct&quot;\}/);
  assert.ok(html.includes(`href="${urls.prometheus}/graph?g0.expr=`), 'links open the stack\'s Prometheus');
  assert.match(html, /<code>switch-model<\/code> \(model=llama-3\.1-8b-instruct, target=/, 'the stack\'s own playbook, filled in');
  assert.equal((await fetch(`${urls.console}/runbooks/NoSuchAlert.md`)).status, 404);
  assert.match(await (await fetch(`${urls.console}/runbooks/`)).text(), /<a href="HighInferenceLatency\.md">HighInferenceLatency<\/a>/);

  // A delivery the responder records (no playbook answers this alert: a skip).
  const info = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as { urls: { responder: string }; responderToken: string };
  const delivered = await post(info.urls.responder, webhook([alert({ alertname: 'StateLayoutProbe' })]), { authorization: `Bearer ${info.responderToken}` });
  assert.equal(delivered.status, 200, JSON.stringify(delivered.body));

  const exited = once(up.process, 'exit');
  up.process.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, up.output());
  assert.match(up.output(), /stopped/);
  // No orphans: nothing started with this stack's folder in its arguments is left running.
  let left = '';
  try {
    left = execFileSync('pgrep', ['-af', dir], { encoding: 'utf8' });
  } catch {
    left = '';
  }
  assert.equal(left.trim(), '', `children left running:\n${left}`);

  // From another folder, with no flag: the stack's database, not an empty new one.
  const elsewhere = mkdtempSync(join(tmpdir(), 'llmwatch-cwd-'));
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  const log = startChild(process.execPath, [BIN, 'responder', 'log'], { env, cwd: elsewhere });
  assert.equal((await once(log.process, 'exit'))[0], 0, log.output());
  assert.match(log.output(), new RegExp(`reading ${join(dir, 'data/responder.db').replaceAll('/', '\\/')}`));
  assert.match(log.output(), /StateLayoutProbe\s+firing\s+decision\s+skip/);
  assert.deepEqual(readdirSync(elsewhere), [], 'reading created nothing in the working folder');
});

test('`llmwatch responder log` with no database anywhere names where it looked and how to create one, and creates nothing', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'llmwatch-empty-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env.LLMWATCH_HOME;
  const log = startChild(process.execPath, [BIN, 'responder', 'log'], { env, cwd });
  assert.equal((await once(log.process, 'exit'))[0], 2, log.output());
  assert.match(log.output(), /^llmwatch: no audit database at \.llmwatch\/stack\/data\/responder\.db \(written by 'llmwatch up'\) nor at \.llmwatch\/responder\.db \(written by 'llmwatch responder'\); start one of them, or give the database with --db FILE or the responder's config with --config FILE$/m);
  assert.equal(existsSync(join(cwd, '.llmwatch')), false, 'no .llmwatch folder created by a reader');
  // The responder's config names its database: --config reads that one.
  const config = join(cwd, 'responder.yaml');
  await import('node:fs').then((fs) => fs.writeFileSync(config, `auditPath: ${join(cwd, 'custom/audit.db')}\n`));
  const byConfig = startChild(process.execPath, [BIN, 'responder', 'log', '--config', config], { env, cwd });
  assert.equal((await once(byConfig.process, 'exit'))[0], 2, byConfig.output());
  assert.match(byConfig.output(), /no audit database at .*custom\/audit\.db \(the auditPath of .*responder\.yaml\): the responder has not run with this config yet; start it with 'llmwatch responder --config/);
  assert.equal(existsSync(join(cwd, 'custom')), false);
});

test('`llmwatch gateway` without a config says what to give, exit code 2', async () => {
  const gw = startChild(process.execPath, [BIN, 'gateway']);
  const [code] = await once(gw.process, 'exit');
  assert.equal(code, 2);
  assert.match(gw.output(), /needs --config FILE, or --upstream URL/);
});

test('`llmwatch drill` without a running stack says how to start one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmwatch-nostack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const drill = startChild(process.execPath, [BIN, 'drill', 'latency', '--dir', dir]);
  const [code] = await once(drill.process, 'exit');
  assert.notEqual(code, 0);
  assert.match(drill.output(), /No running stack found: .*stack\.json is missing\. Start one with 'llmwatch up'/);
});
