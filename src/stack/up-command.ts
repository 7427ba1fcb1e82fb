import { Command } from 'commander';
import { waitForSignal } from '../core/cli-helpers.ts';
import { defaultStackDir } from '../core/state.ts';
import { SCENARIOS, exitCodeOf, formatResults, runDrill, saveResults } from './drill.ts';
import { STACK_ERR_UNKNOWN_SCENARIO } from './errors.ts';
import type { DrillResult } from './drill.ts';
import { gpuBanner } from './gpu.ts';
import { readStackInfo } from './stack-info.ts';
import { startStack } from './stack.ts';
import { compressedTimings, localTimings } from './timings.ts';

const DEFAULT_DIR = defaultStackDir();

interface UpOptions {
  dir: string;
  freePorts?: boolean;
  fast?: boolean;
  spec?: string;
  upstream?: string;
  model?: string[];
}

/**
 * `llmwatch up`: the whole system on 127.0.0.1 in one command: simulator (or a
 * real upstream), gateway, responder, and the real Prometheus, Alertmanager
 * and node-exporter, configured from the spec with local timings.
 */
export function upCommand(): Command {
  return new Command('up')
    .description('run the whole stack locally: simulator, gateway, responder, Prometheus, Alertmanager, node-exporter, GPU exporters (nvidia-smi where it runs, and the simulator\'s simulated GPUs)')
    .option('-d, --dir <dir>', 'working folder: generated configs, data, logs, stack.json', DEFAULT_DIR)
    .option('-s, --spec <file>', 'monitoring spec (default: llmwatch.yaml if present); its targets and timings are replaced for the local stack')
    .option('--upstream <url>', 'meter a real OpenAI-compatible server (vLLM, TGI, Ollama, OpenLLM) instead of the simulator')
    .option('--model <name...>', 'models served by --upstream')
    .option('--free-ports', 'use any free ports instead of 8000, 3000, 9090, 9093, 9095, 9100, 9835, 9836')
    .option('--fast', 'the CI timings: 1 s scrapes, 10 s rate windows, alerts after 2 s')
    .action(async function runUp(opts: UpOptions) {
      const log = (line: string) => console.log(line);
      log('llmwatch up: starting the local stack');
      const stack = await startStack({
        dir: opts.dir,
        ports: opts.freePorts === true ? 'free' : 'default',
        timings: opts.fast === true ? compressedTimings() : localTimings(),
        specFile: opts.spec,
        upstream: opts.upstream === undefined ? undefined : { baseURL: opts.upstream, models: opts.model ?? [] },
        log,
      });
      const u = stack.info.urls;
      log('');
      log(`OpenAI API      ${u.gateway}/v1   (models: ${stack.info.models.join(', ')})`);
      log(`Prometheus      ${u.prometheus}/alerts`);
      log(`Alertmanager    ${u.alertmanager}`);
      log(`Responder log   ${u.responder}/actions`);
      if (u.console !== undefined) log(`Console         ${u.console}   (the dashboards, live)`);
      for (const line of gpuBanner(stack.info.gpus)) log(line);
      log(`Logs and data   ${stack.info.dir}`);
      log('');
      const model = stack.info.tryModel;
      if (model !== undefined) {
        log(`try: curl -s ${u.gateway}/v1/chat/completions -H 'content-type: application/json' -d '${JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }).replaceAll("'", "'\\''")}'`);
      }
      if (u.simulator !== undefined) {
        log('     llmwatch drill latency      (in another terminal: proves an alert fires and the responder acts)');
      } else {
        log('drills: skipped with --upstream (they inject faults in the simulator; run `llmwatch up` without --upstream to drill)');
      }
      log('Ctrl-C stops everything.');
      const signal = await waitForSignal();
      log(`\n${signal}: stopping (waiting for queued responder actions)`);
      await stack.stop();
      log('stopped');
    });
}

/** `llmwatch drill <scenario|all>`. */
export function drillCommand(): Command {
  return new Command('drill')
    .description(`inject a fault in the running stack and time the alert, the responder's action and the recovery: ${SCENARIOS.map((s) => s.name).join(', ')}, or all`)
    .argument('<scenario>', 'a scenario name, or all')
    .option('-d, --dir <dir>', "the stack's working folder", DEFAULT_DIR)
    .action(async function runDrills(name: string, opts: { dir: string }) {
      const info = readStackInfo(opts.dir);
      const chosen = name === 'all' ? SCENARIOS : SCENARIOS.filter((s) => s.name === name);
      if (chosen.length === 0) throw STACK_ERR_UNKNOWN_SCENARIO(`No scenario '${name}'; choose one of ${SCENARIOS.map((s) => s.name).join(', ')}, or all`);
      const results: DrillResult[] = [];
      for (const s of chosen) results.push(await runDrill(info, s, (line) => console.log(line)));
      saveResults(info.dir, results);
      console.log(`\n${formatResults(results)}`);
      const code = exitCodeOf(results);
      if (code !== 0) process.exitCode = code;
    });
}
