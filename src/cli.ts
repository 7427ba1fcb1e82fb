import { Command } from 'commander';
import { describeFailure } from './cli-errors.ts';
import { consoleCommand } from './stack/console-command.ts';
import { exporterCommand } from './exporter/command.ts';
import { gatewayCommand } from './gateway/command.ts';
import { checkCommand, generateCommand, specAlertNames } from './monitoring/command.ts';
import { responderCommand } from './responder/command.ts';
import { simulateCommand } from './simulator/command.ts';
import { noiseCommand } from './stack/noise-command.ts';
import { drillCommand, upCommand } from './stack/up-command.ts';
import { VERSION } from './core/version.ts';
import { redactSecrets } from './core/http/redact.ts';

// A reader that went away (`llmwatch generate | head`, a supervisor or bench that closed its pipe
// before the last "stopped" line) is no reason to crash with an unhandled EPIPE and a non-zero exit:
// what was left to print has nobody to read it. Any other write error still ends the process.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

let running: Command | undefined;
const program = new Command('llmwatch')
  .description('Prometheus-native monitoring, alerting and auto-remediation for self-hosted LLM serving')
  .version(VERSION)
  .option('--debug', 'print the stack trace of an error')
  .hook('preAction', (_program, actionCommand) => {
    running = actionCommand;
  })
  .addCommand(upCommand())
  .addCommand(drillCommand())
  .addCommand(consoleCommand())
  .addCommand(noiseCommand())
  .addCommand(gatewayCommand())
  .addCommand(simulateCommand())
  .addCommand(exporterCommand())
  .addCommand(generateCommand())
  .addCommand(checkCommand())
  .addCommand(responderCommand(specAlertNames));

// commander's own errors (an unknown option, a bad option value) read like every other failure.
(function sameOutput(cmd: Command): void {
  cmd.configureOutput({ outputError: (text, write) => write(`llmwatch: ${text.replace(/^error: /, '')}`) });
  for (const sub of cmd.commands) sameOutput(sub);
})(program);

try {
  await program.parseAsync();
} catch (err) {
  // Every command's failure ends here: one `llmwatch:` line with the fix, the stack only with --debug.
  const debug = program.opts<{ debug?: boolean }>().debug === true || process.argv.includes('--debug');
  const failure = describeFailure(err, running, debug);
  // A failure may quote a URL or a peer's answer: never print the credentials in it.
  console.error(redactSecrets(failure.text));
  process.exitCode = failure.exitCode;
}
