import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { simulatorConfig } from '../src/core/config/simulator-config.ts';
import { startSimulator } from '../src/simulator/server.ts';
import { stopChild } from '../src/stack/children.ts';
import { freePort } from './helpers/processes.ts';

// Each common start-up mistake, made with the real CLI in a child process: one
// `llmwatch:` line that names the file, port or field and the fix, no stack
// trace unless --debug, and nothing started before the mistake is found.

const BIN = new URL('../bin/llmwatch.js', import.meta.url).pathname;
/** A stack trace line, as Node prints it. */
const STACK_LINE = /^\s+at .+[(:]\d+/m;

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly stderr: string;
}

function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the CLI to its end (at most 60 s) and keeps its output. */
async function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
    stderr += b.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, out, stderr };
}

/** The `llmwatch:` lines of the output: exactly one is expected. */
function failureLine(run: Run): string {
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('llmwatch: '));
  assert.equal(lines.length, 1, `expected one llmwatch: line:\n${run.out}`);
  return lines[0]!;
}

function assertNoStack(run: Run): void {
  assert.doesNotMatch(run.out, STACK_LINE, `a stack trace was printed:\n${run.out}`);
}

/** Holds a port on 127.0.0.1 for the test. */
async function holdPort(t: { after(fn: () => Promise<void>): void }, port = 0): Promise<{ port: number; server: Server }> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, server };
}

const BAD_YAML = 'alerts:\n  HighErrorRate:\n    threshold: [0.01\n  LowTokenThroughput: {}\n';

test('bad YAML in ./llmwatch.yaml: `up` (npm start) names file:line:col, prints no stack, and starts nothing', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir(t, 'llmwatch-badyaml-');
  writeFileSync(join(cwd, 'llmwatch.yaml'), BAD_YAML);
  const run = await runCli(['up', '--free-ports', '--dir', join(cwd, 'stack')], { cwd });
  assert.equal(run.code, 2, run.out);
  assert.match(failureLine(run), /^llmwatch: llmwatch\.yaml:\d+:\d+: not valid YAML: .+; fix the file there and run again$/);
  assertNoStack(run);
  assert.doesNotMatch(run.out, /ready {2}simulator/, 'the simulator started before the spec was read');
  assert.equal(existsSync(join(cwd, 'stack')), false, 'a stack folder was created for a spec that does not parse');
});

test('bad YAML: `responder`, `generate` and `console` name the same file:line:col; --debug adds the stack', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir(t, 'llmwatch-badyaml-');
  writeFileSync(join(cwd, 'llmwatch.yaml'), BAD_YAML);
  const expected = /^llmwatch: llmwatch\.yaml:4:3: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]; fix the file there and run again$/;
  for (const args of [['responder', '--port', '0'], ['generate', '--out', join(cwd, 'out')], ['console', '--port', '0', '--prometheus', 'http://127.0.0.1:9']]) {
    const run = await runCli(args, { cwd });
    assert.equal(run.code, 2, `${args[0]}: ${run.out}`);
    assert.match(failureLine(run), expected, args[0]);
    assertNoStack(run);
  }
  const debug = await runCli(['--debug', 'generate', '--out', join(cwd, 'out')], { cwd });
  assert.equal(debug.code, 2);
  assert.match(debug.out, /^llmwatch: llmwatch\.yaml:4:3: not valid YAML/m);
  assert.match(debug.out, STACK_LINE, 'no stack trace with --debug');
  assert.match(debug.out, /caused by: YAMLParseError/);
});

test('an unknown field names its path and says to remove it or check the spelling', { timeout: 60_000 }, async (t) => {
  const cwd = tempDir(t, 'llmwatch-unknown-');
  writeFileSync(join(cwd, 'spec.yaml'), 'alertmanager:\n  recievers: {}\n');
  const run = await runCli(['generate', '--spec', 'spec.yaml', '--out', join(cwd, 'out')], { cwd });
  assert.equal(run.code, 2, run.out);
  assert.match(failureLine(run), /^llmwatch: Invalid config file spec\.yaml: alertmanager\.recievers: unknown field, remove it or check its spelling$/);
  assertNoStack(run);
  assert.equal(existsSync(join(cwd, 'out')), false);

  writeFileSync(join(cwd, 'gw.yaml'), 'upstreams: { a: { baseURL: "http://127.0.0.1:1/v1", maxConcurency: 4 } }\nmodels: { m: { upstream: a } }\n');
  const gw = await runCli(['gateway', '--config', 'gw.yaml', '--port', '0'], { cwd });
  assert.equal(gw.code, 2, gw.out);
  assert.match(failureLine(gw), /gw\.yaml: upstreams\.a\.maxConcurency: unknown field/);
});

test('a port in use names the port and the flag that changes it, for every command that listens', { timeout: 120_000 }, async (t) => {
  const held = await holdPort(t);
  const cwd = tempDir(t, 'llmwatch-port-');
  const p = String(held.port);
  for (const args of [
    ['simulate', '--port', p],
    ['gateway', '--upstream', 'http://127.0.0.1:9/v1', '--model', 'm', '--port', p],
    ['responder', '--insecure', '--port', p],
    ['console', '--port', p, '--prometheus', 'http://127.0.0.1:9'],
    ['exporter', '--port', p, '--nvidia-smi', join(cwd, 'no-nvidia-smi')],
  ]) {
    const run = await runCli(args, { cwd });
    assert.equal(run.code, 2, `${args[0]}: ${run.out}`);
    assert.equal(
      failureLine(run),
      `llmwatch: Port ${p} on 127.0.0.1 is already in use by another process; stop what holds it, or choose another with --port N (0 picks any free port)`,
      args[0],
    );
    assertNoStack(run);
  }
});

test('`up` on a default port that is taken names it and --free-ports, before starting anything', { timeout: 90_000 }, async (t) => {
  // The simulator's default port is checked first. Held by this test, or by
  // anything else on this machine: either way it is taken.
  try {
    await holdPort(t, 3000);
  } catch {
    // someone else holds it
  }
  const cwd = tempDir(t, 'llmwatch-upport-');
  const run = await runCli(['up', '--dir', join(cwd, 'stack')], { cwd });
  assert.equal(run.code, 2, run.out);
  assert.equal(failureLine(run), 'llmwatch: Port 3000 on 127.0.0.1 (for the simulator) is already in use by another process; stop what holds it, or run with --free-ports to use any free ports');
  assertNoStack(run);
  assert.equal(existsSync(join(cwd, 'stack')), false);
});

test('a missing binary: `up` says what to install, `check` too', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir(t, 'llmwatch-nobin-');
  // A PATH with node and sh only: no prometheus, alertmanager, node-exporter, promtool, apt-get.
  const bin = join(cwd, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  const env = { ...process.env, PATH: bin };
  const run = await runCli(['up', '--free-ports', '--dir', join(cwd, 'stack')], { cwd, env });
  assert.equal(run.code, 2, run.out);
  assert.match(failureLine(run), /^llmwatch: Missing: Prometheus, Alertmanager, node-exporter\. Install them, .*apt-get install -y prometheus prometheus-alertmanager prometheus-node-exporter$/);
  assertNoStack(run);
  assert.doesNotMatch(run.out, /ready {2}simulator/);

  const gen = await runCli(['generate', '--out', join(cwd, 'deploy')], { cwd, env });
  assert.equal(gen.code, 0, gen.out);
  const check = await runCli(['check', '--out', join(cwd, 'deploy')], { cwd, env });
  assert.equal(check.code, 2, check.out);
  assert.match(failureLine(check), /^llmwatch: promtool is not installed; .*Install it: apt-get install -y prometheus/);
});

test('an unreachable upstream: `up --upstream` stops before starting anything; `gateway` warns and /readyz says 503', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir(t, 'llmwatch-unreach-');
  const closed = await freePort();
  const up = await runCli(['up', '--free-ports', '--upstream', `http://127.0.0.1:${closed}/v1`, '--model', 'm', '--dir', join(cwd, 'stack')], { cwd });
  assert.equal(up.code, 2, up.out);
  assert.match(failureLine(up), new RegExp(`^llmwatch: Upstream http://127\\.0\\.0\\.1:${closed}/v1 is unreachable \\(GET .*/v1/models: .*ECONNREFUSED.*\\); start the model server, or fix --upstream$`));
  assertNoStack(up);
  assert.equal(existsSync(join(cwd, 'stack')), false);

  const port = await freePort();
  const gw = await startCli(t, ['gateway', '--upstream', `http://127.0.0.1:${closed}/v1`, '--model', 'm', '--port', String(port)], /is unreachable/);
  // A warning is a line of the gateway's logger.
  assert.match(gw.out(), /"level":"warn".*"part":"gateway".*"msg":"upstream 'default' is unreachable \(GET .*ECONNREFUSED.*\); \/readyz answers 503 until it is up: /);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 503);
});

test('a baseURL without /v1: the gateway warns at start-up and /readyz is not ready on the 404; with /v1 it is', { timeout: 90_000 }, async (t) => {
  const sim = await startSimulator(simulatorConfig({ port: 0 }), { port: 0 });
  t.after(() => sim.close());
  const port = await freePort();
  const gw = await startCli(t, ['gateway', '--upstream', sim.url, '--model', 'llama-3.1-8b-instruct', '--port', String(port)], /answered 404/);
  assert.match(gw.out(), new RegExp(`"level":"warn".*"msg":"upstream 'default' has baseURL ${sim.url} without /v1; .* use ${sim.url}/v1`));
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(res.status, 503);
  const report = (await res.json()) as { ready: boolean; upstreams: Record<string, { ok: boolean; status?: number; error?: string }> };
  assert.equal(report.ready, false);
  assert.equal(report.upstreams.default?.status, 404);
  assert.match(report.upstreams.default?.error ?? '', /answered 404: .*use .*\/v1/);
  await gw.stop();

  const good = await freePort();
  const ok = await startCli(t, ['gateway', '--upstream', `${sim.url}/v1`, '--model', 'llama-3.1-8b-instruct', '--port', String(good)], /listening/);
  assert.equal((await fetch(`http://127.0.0.1:${good}/readyz`)).status, 200);
  assert.doesNotMatch(ok.out(), /"level":"warn"/);
});

test('`up --upstream` offers a try: command only for a model the upstream lists, and says drills are skipped', { timeout: 120_000 }, async (t) => {
  const sim = await startSimulator(simulatorConfig({ port: 0 }), { port: 0 });
  t.after(() => sim.close());
  const cwd = tempDir(t, 'llmwatch-upstream-');
  const up = await startCli(
    t,
    ['up', '--free-ports', '--fast', '--upstream', `${sim.url}/v1`, '--model', 'no-such-model', 'llama-3.2-1b-instruct', '--dir', join(cwd, 'stack')],
    /Ctrl-C stops everything/,
    { cwd },
  );
  const out = up.out();
  assert.match(out, /warn {3}upstream {6}does not list no-such-model \(it lists: llama-3\.1-8b-instruct, llama-3\.2-1b-instruct\)/);
  const tries = out.split('\n').filter((l) => l.startsWith('try:'));
  assert.equal(tries.length, 1, out);
  assert.match(tries[0]!, /"model":"llama-3\.2-1b-instruct"/);
  assert.match(out, /drills: skipped with --upstream/);
  assert.doesNotMatch(out, /llmwatch drill latency/);

  await up.stop();
  const only = await startCli(
    t,
    ['up', '--free-ports', '--fast', '--upstream', `${sim.url}/v1`, '--model', 'no-such-model', '--dir', join(cwd, 'stack2')],
    /Ctrl-C stops everything/,
    { cwd },
  );
  assert.doesNotMatch(only.out(), /^try:/m, 'a try: command for a model the upstream does not list');
});

/**
 * Starts the CLI and waits (at most 60 s) for `ready` in its output; stops
 * it after the test. Fails with the output if it exits first.
 */
async function startCli(
  t: { after(fn: () => Promise<void>): void },
  args: string[],
  ready: RegExp,
  opts: { cwd?: string } = {},
): Promise<{ out(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const stop = () => stopChild(child, 10_000);
  t.after(stop);
  for (let i = 0; i < 600 && !ready.test(out); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(out, ready, `never printed ${ready}:\n${out}`);
  return { out: () => out, stop };
}

test('a bad option, and `check` on a folder with nothing generated: one llmwatch: line each', { timeout: 60_000 }, async (t) => {
  const cwd = tempDir(t, 'llmwatch-options-');
  const bad = await runCli(['exporter', '--interval', 'soon'], { cwd });
  assert.notEqual(bad.code, 0);
  assert.equal(failureLine(bad), "llmwatch: option '--interval <seconds>' argument 'soon' is invalid. interval must be a number of seconds from 0.1 to 3600");
  const unknown = await runCli(['gateway', '--prot', '8001'], { cwd });
  assert.notEqual(unknown.code, 0);
  assert.match(failureLine(unknown), /^llmwatch: unknown option '--prot'/);
  const check = await runCli(['check', '--out', join(cwd, 'deploy')], { cwd });
  assert.equal(check.code, 2, check.out);
  assert.equal(failureLine(check), `llmwatch: ${join(cwd, 'deploy')}/ holds no generated output (no prometheus/prometheus.yml); run 'llmwatch generate --out ${join(cwd, 'deploy')}' first, or name the folder with --out`);
  assertNoStack(check);
});

test('a reader that closed its pipe does not crash a command: the gateway stops on SIGTERM with exit 0, no EPIPE', { timeout: 60_000 }, async () => {
  // The bench closed its end of the gateway's stdout before stopping it; the "stopped" line then hit
  // EPIPE, an unhandled 'error' event, and the process died with a stack and exit 1.
  const child = spawn(process.execPath, ['bin/llmwatch.js', 'gateway', '--upstream', 'http://127.0.0.1:1/v1', '--model', 'm', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = once(child, 'exit');
  const deadline = Date.now() + 30_000;
  while (!/listening on/.test(out) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /listening on/, err);
  child.stdout.destroy();
  child.kill('SIGTERM');
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, err);
  assert.doesNotMatch(err, /EPIPE/);
});

test('SIGTERM right after "listening on", while the gateway still checks its upstream, closes it cleanly: exit 0, not killed', { timeout: 60_000 }, async (t) => {
  // An upstream that takes connections and never answers: the start-up check waits up to 3 s on it.
  // Before, the gateway listened for SIGTERM only after that check, so a signal in between killed it.
  const held: Socket[] = [];
  const mute = createServer((socket) => held.push(socket));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => mute.close(r));
  });
  const port = (mute.address() as AddressInfo).port;
  const child = spawn(process.execPath, ['bin/llmwatch.js', 'gateway', '--upstream', `http://127.0.0.1:${port}/v1`, '--model', 'm', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = once(child, 'exit');
  const deadline = Date.now() + 30_000;
  while (!/listening on/.test(out) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(out, /listening on/, err);
  child.kill('SIGTERM');
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `${out}\n${err}`);
  assert.match(out, /llmwatch gateway stopped/);
});
