import { Command } from 'commander';
import { consoleCommand } from './console/command.ts';
import { LlmwatchError } from './errors.ts';
import { exporterCommand } from './exporter/command.ts';
import { gatewayCommand } from './gateway/command.ts';
import { checkCommand, generateCommand } from './monitoring/command.ts';
import { responderCommand } from './responder/command.ts';
import { simulateCommand } from './simulator/command.ts';
import { drillCommand, upCommand } from './stack/up-command.ts';
import { VERSION } from './version.ts';

const program = new Command('llmwatch')
  .description('Prometheus-native monitoring, alerting and auto-remediation for self-hosted LLM serving')
  .version(VERSION)
  .addCommand(upCommand())
  .addCommand(drillCommand())
  .addCommand(consoleCommand())
  .addCommand(gatewayCommand())
  .addCommand(simulateCommand())
  .addCommand(exporterCommand())
  .addCommand(generateCommand())
  .addCommand(checkCommand())
  .addCommand(responderCommand());

try {
  await program.parseAsync();
} catch (err) {
  // A bad config or option ends the command with its message, not a stack trace.
  if (err instanceof LlmwatchError) {
    console.error(`llmwatch: ${err.message}`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
