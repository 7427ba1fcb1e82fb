import { Command } from 'commander';
import { parsePort, waitForSignal } from '../cli-helpers.ts';
import { GatewayConfigSchema } from '../config/gateway-config.ts';
import { DEFAULT_SIMULATOR_CONFIG, loadSimulatorConfig } from '../config/simulator-config.ts';
import { validateConfig } from '../config/validate.ts';
import { gatewayConfigFromOptions } from '../gateway/command.ts';
import { startGateway } from '../gateway/server.ts';
import type { GatewayHandle } from '../gateway/server.ts';
import { startSimulator } from '../simulator/server.ts';
import type { SimulatorHandle } from '../simulator/server.ts';

interface UpOptions {
  port: number;
  simPort: number;
  simConfig?: string;
  upstream?: string;
  model?: string[];
  config?: string;
}

/**
 * `llmwatch up`: the local stack in one command. Today it runs the simulator
 * (unless a real upstream is given) and the metering gateway in front of it.
 */
export function upCommand(): Command {
  return new Command('up')
    .description('run the local stack: the LLM simulator and the metering gateway in front of it')
    .option('-p, --port <port>', 'gateway port', parsePort, 8000)
    .option('--sim-port <port>', 'simulator port', parsePort, 3000)
    .option('--sim-config <file>', 'simulator config file (default: two simulated Llama models)')
    .option('--upstream <url>', 'meter a real OpenAI-compatible server (vLLM, TGI, Ollama, OpenLLM) instead of the simulator')
    .option('--model <name...>', 'models served by --upstream')
    .option('-c, --config <file>', 'a full gateway config file instead of --upstream/--model')
    .action(async function runUp(opts: UpOptions) {
      let sim: SimulatorHandle | undefined;
      let gw: GatewayHandle | undefined;
      try {
        let config;
        if (opts.config !== undefined || opts.upstream !== undefined) {
          config = gatewayConfigFromOptions(opts);
        } else {
          const simConfig = opts.simConfig === undefined ? DEFAULT_SIMULATOR_CONFIG : loadSimulatorConfig(opts.simConfig);
          sim = await startSimulator(simConfig, { port: opts.simPort });
          console.log(`simulator  ${sim.url}/v1   (admin: ${sim.url}/admin/profiles)`);
          config = validateConfig(
            GatewayConfigSchema,
            {
              upstreams: { simulator: { baseURL: `${sim.url}/v1` } },
              models: Object.fromEntries(sim.profiles.models.map((m) => [m, { upstream: 'simulator' }])),
            },
            'local stack config',
          );
        }
        gw = await startGateway(config, { port: opts.port });
        console.log(`gateway    ${gw.url}/v1   (metrics: ${gw.url}/metrics, ready: ${gw.url}/readyz)`);
        console.log(`models     ${Object.keys(config.models).join(', ')}`);
        console.log(`\ntry: curl -s ${gw.url}/v1/chat/completions -H 'content-type: application/json' \\\n       -d '{"model":"${Object.keys(config.models)[0]}","messages":[{"role":"user","content":"hi"}]}'`);
        console.log('\nCtrl-C stops everything.');
        await waitForSignal();
      } finally {
        await gw?.close();
        await sim?.close();
      }
      console.log('stopped');
    });
}
