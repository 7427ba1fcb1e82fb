import { Command } from 'commander';
import { integerIn, parsePort, waitForSignal } from '../core/cli-helpers.ts';
import { DEFAULT_SIMULATOR_CONFIG, loadSimulatorConfig } from '../core/config/simulator-config.ts';
import { startSimulator } from './server.ts';

/**
 * `llmwatch simulate`: runs the LLM simulator until SIGINT or SIGTERM. The
 * action resolves only once the server has closed, so a caller awaiting
 * `parseAsync` never exits under a running server.
 */
export function simulateCommand(): Command {
  return new Command('simulate')
    .description('run an OpenAI-compatible LLM simulator with fault profiles (for demos, drills and benchmarks)')
    .option('-c, --config <file>', 'simulator config file (YAML or JSON); built-in defaults when omitted')
    .option('-p, --port <n>', 'port to listen on, 0 for any free one (default: config, else 3000)', parsePort)
    .option('--host <host>', 'address to bind (default: config, else 127.0.0.1)')
    .option('--seed <n>', 'PRNG seed: same seed and requests give the same outputs and faults', integerIn('seed', 0, 0xffff_ffff))
    .action(async function runSimulate(opts: { config?: string; port?: number; host?: string; seed?: number }) {
      const loaded = opts.config === undefined ? DEFAULT_SIMULATOR_CONFIG : loadSimulatorConfig(opts.config);
      const config = opts.seed === undefined ? loaded : { ...loaded, seed: opts.seed };
      const sim = await startSimulator(config, { port: opts.port, host: opts.host });
      console.log(`llmwatch simulator listening on ${sim.url} (models: ${sim.profiles.models.join(', ')}; seed ${config.seed})`);
      await waitForSignal();
      await sim.close();
      console.log('llmwatch simulator stopped');
    });
}
