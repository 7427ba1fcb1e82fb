import { Command } from 'commander';
import { DEFAULT_SPEC_FILE, findSpec, loadMonitoringSpec, loadSpecOrDefaults } from '../core/config/monitoring-spec.ts';
import { routeProblems, runChecks } from './check.ts';
import { GEN_ERR_CHECK_FAILED, GEN_ERR_STALE, GEN_ERR_UNREACHABLE_ROUTE } from './errors.ts';
import { diffGenerated, generate, writeGenerated } from './generate.ts';
import { unreachableRoutes } from './writers/alertmanager.ts';
import { alertNamesOf, playbookAlertErrors, ruleFilesIn } from '../core/config/playbook-check.ts';

function loadSpec(path: string | undefined) {
  return loadSpecOrDefaults(findSpec(path));
}

/** `llmwatch generate`. */
export function generateCommand(): Command {
  return new Command('generate')
    .description('generate Prometheus config, rules and tests, Alertmanager config, runbooks and Kubernetes manifests from the spec')
    .option('-s, --spec <file>', `monitoring spec (default: ${DEFAULT_SPEC_FILE} if present, else the built-in defaults)`)
    .option('-o, --out <dir>', 'output folder', 'deploy')
    .option('--check', 'write nothing; exit 1 when the folder differs from what the spec generates')
    .action(function runGenerate(opts: { spec?: string; out: string; check?: boolean }) {
      const spec = loadSpec(opts.spec);
      const files = generate(spec);
      if (opts.check === true) {
        const differ = diffGenerated(opts.out, files);
        if (differ.length > 0) {
          throw GEN_ERR_STALE(`${opts.out}/ is not what the spec generates; run 'llmwatch generate'. Differing:\n${differ.map((p) => `  ${p}`).join('\n')}`);
        }
        console.log(`${opts.out}/ is up to date (${files.length} files)`);
        return;
      }
      const { written, removed } = writeGenerated(opts.out, files);
      console.log(`wrote ${written} files to ${opts.out}/${removed.length > 0 ? `; removed ${removed.length} stale: ${removed.join(', ')}` : ''}`);
      warnRoutes(unreachableRoutes(spec));
    });
}

/** `llmwatch check`. */
export function checkCommand(): Command {
  return new Command('check')
    .description('check a generated folder with promtool (config, rules, unit tests) and amtool (Alertmanager config)')
    .option('-o, --out <dir>', 'the generated folder', 'deploy')
    .option('-s, --spec <file>', "monitoring spec whose playbooks to check against the generated rules (default: llmwatch.yaml if present)")
    .option('--strict', 'also fail when a severity route (or the Watchdog) reaches no receiver that tells anyone')
    .action(function runCheck(opts: { out: string; spec?: string; strict?: boolean }) {
      runChecks(opts.out, (line) => console.log(line));
      checkSpecPlaybooks(opts.out, opts.spec, (line) => console.log(line));
      const problems = routeProblems(opts.out);
      if (problems.length > 0 && opts.strict === true) {
        throw GEN_ERR_UNREACHABLE_ROUTE(`Alertmanager routes that tell no one (--strict):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
      }
      warnRoutes(problems);
      console.log(problems.length > 0 ? `all checks passed, with ${problems.length} routing warning(s)` : 'all checks passed');
    });
}

/** Loud, on stderr, one line each: an alert that pages no one is worse than a failed build. */
function warnRoutes(problems: readonly string[]): void {
  for (const p of problems) console.error(`WARNING: ${p}`);
}

/** Playbooks of the spec (their params, PromQL and reverts are checked when the spec loads) name alerts the generated rules define. */
function checkSpecPlaybooks(out: string, specPath: string | undefined, log: (line: string) => void): void {
  const path = findSpec(specPath);
  if (path === undefined) return;
  const spec = loadMonitoringSpec(path);
  const errors = playbookAlertErrors(spec.playbooks, alertNamesOf(ruleFilesIn(out)));
  if (errors.length > 0) throw GEN_ERR_CHECK_FAILED(`Playbooks of ${path}:\n${errors.map((e) => `  ${e}`).join('\n')}`);
  log(`ok  playbooks: ${Object.keys(spec.playbooks).length} in ${path} (params, PromQL, alert names)`);
}

/** The alert names the rules generated from a spec file define (the responder checks its playbooks against them). */
export function specAlertNames(specPath: string): Set<string> {
  const rules = generate(loadMonitoringSpec(specPath)).filter((f) => f.path.startsWith('prometheus/rules/')).map((f) => f.content);
  return alertNamesOf(rules);
}
