import { ALERT_LABEL, RECEIVER, SEVERITIES, WATCHDOG_ALERT } from '../../core/conventions/alerts.ts';
import type { Severity } from '../../core/conventions/alerts.ts';
import { GEN_ERR_ALERT_NAME, GEN_ERR_DUPLICATE_ALERT, GEN_ERR_EMPTY_OUTPUT, GEN_ERR_RUNBOOK_URL } from '../errors.ts';
import type { AlertInfo, AlertingRule, GeneratedFile, MonitoringModel } from '../model.ts';
import type { Playbook } from '../../core/config/playbook-spec.ts';
import { severityReceivers, watchdogReceiver } from './alertmanager.ts';
import { COMPOSE_FILE_PATH } from './compose.ts';
import { KUSTOMIZATION_PATH, deployNamespace } from './kube-deploy.ts';
import { deployedPlaybooks } from './service-configs.ts';

/** Where the deployed responder keeps its audit database (docker compose and Kubernetes alike). */
const DEPLOYED_AUDIT_DB = '/var/lib/llmwatch/responder.db';

/**
 * Metrics a runbook may name besides llmwatch's own and those its rules read:
 * vLLM's (https://docs.vllm.ai/en/latest/design/metrics/), current names only
 * (`vllm:gpu_cache_usage_perc` was deprecated for `vllm:kv_cache_usage_perc`
 * in vLLM PR 18354 and removed in PR 29330), and Prometheus' own notifier
 * summary (prometheus/notifier: namespace `prometheus`, subsystem `notifications`).
 */
export const EXTERNAL_METRICS = ['vllm:num_requests_waiting', 'vllm:num_requests_running', 'vllm:kv_cache_usage_perc', 'prometheus_notifications_latency_seconds'] as const;

/** The alert instance a served runbook is filled in for: its labels (only its identity labels are used). */
export type AlertLabels = Readonly<Record<string, string>>;

/** The runbooks' folder, relative to the output folder. */
export const RUNBOOKS_DIR = 'docs/runbooks';

/** Alert names become file names: keep them to what every file system and URL takes as is. */
const FILE_SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Renders one Markdown runbook per alert (`docs/runbooks/<AlertName>.md`, where
 * each alert's `runbook_url` points) and a `README.md` index. Each runbook says
 * what the alert means, what it costs, how to diagnose and end it, who is told,
 * and what the llmwatch responder does on its own.
 */
export function renderRunbooks(model: MonitoringModel): GeneratedFile[] {
  if (model.alerts.length === 0) throw GEN_ERR_EMPTY_OUTPUT('The model has no alerts, so there is no runbook to write');
  const seen = new Set<string>();
  for (const alert of model.alerts) {
    if (!FILE_SAFE_NAME.test(alert.name)) {
      throw GEN_ERR_ALERT_NAME(`Alert name '${alert.name}' cannot be a runbook file name; use letters, digits and _ (starting with a letter)`);
    }
    if (seen.has(alert.name)) throw GEN_ERR_DUPLICATE_ALERT(`Two alerts are named '${alert.name}'; their runbooks would overwrite each other`);
    seen.add(alert.name);
    // A runbook_url that misses the file we write is a dead link in the middle of an incident.
    if (!alert.runbookURL.endsWith(`/${alert.name}.md`)) {
      throw GEN_ERR_RUNBOOK_URL(`Alert '${alert.name}' has runbook_url '${alert.runbookURL}', which does not end in '/${alert.name}.md'`);
    }
  }
  const files = model.alerts.map((alert) => ({ path: `${RUNBOOKS_DIR}/${alert.name}.md`, content: runbookPage(alert, rulesOf(model, alert.name), model, {}) }));
  files.push({ path: `${RUNBOOKS_DIR}/README.md`, content: indexPage(model.alerts) });
  return files;
}

/**
 * One alert's runbook, filled in for one firing instance: its identity labels
 * (`model`, `instance`, ...) narrow every query, command and silence. What
 * `llmwatch console` serves at `/runbooks/<Alert>.md`; undefined for an alert
 * the model does not have.
 */
export function runbookFor(model: MonitoringModel, name: string, labels: AlertLabels = {}): string | undefined {
  const alert = model.alerts.find((a) => a.name === name);
  return alert === undefined ? undefined : runbookPage(alert, rulesOf(model, name), model, labels);
}

/** What `llmwatch console` serves: every runbook of the model, filled in on demand. */
export function runbookSource(model: MonitoringModel): { page(alert: string, labels: AlertLabels): string | undefined; index(): string; identity(alert: string): readonly string[] | undefined } {
  return {
    page: (alert, labels) => runbookFor(model, alert, labels),
    index: () => indexPage(model.alerts),
    identity: (alert) => model.alerts.find((a) => a.name === alert)?.identity,
  };
}

function rulesOf(model: MonitoringModel, name: string): AlertingRule[] {
  return model.groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r && r.alert === name));
}

/** Severities in the fixed order critical, warning, info, whatever order the catalog lists them in. */
function ordered(severities: readonly Severity[]): Severity[] {
  return SEVERITIES.filter((s) => severities.includes(s));
}

function runbookPage(alert: AlertInfo, rules: readonly AlertingRule[], model: MonitoringModel, given: AlertLabels): string {
  const tiers = severityReceivers(model.spec);
  const severities = ordered(alert.severities);
  // Only the labels that tell one instance from another, and only those given.
  const labels = alert.identity.filter((l) => given[l] !== undefined && given[l] !== '').map((l) => [l, given[l]!] as const);
  const lines = [
    `# ${alert.name}`,
    '',
    plainSummary(alert.summary, Object.fromEntries(labels)),
    '',
    '| | |',
    '|---|---|',
    `| Severity | ${severities.join(', ')} |`,
    `| Category | ${alert.category} |`,
    `| One alert per | ${alert.identity.length > 0 ? alert.identity.map((l) => `\`${l}\``).join(', ') : 'the whole service'} |`,
    ...(labels.length > 0 ? [`| This page is for | ${labels.map(([k, v]) => `\`${k}="${cell(v)}"\``).join(', ')} |`] : []),
    `| Notifies | ${alert.name === WATCHDOG_ALERT ? `only the dead man's switch (\`${watchdogReceiver(model.spec)}\` receiver), every repeat interval` : severities.map((s) => `${s}: ${receiversText(tiers[s])}`).join('; ')} |`,
    '',
    '## Meaning',
    '',
    alert.runbook.meaning,
    '',
    '## Impact',
    '',
    alert.runbook.impact,
    '',
    '## Check it now',
    '',
    ...queries(alert, rules, model, labels),
    '',
    '## Diagnosis',
    '',
    ...numbered(alert.runbook.diagnosis),
    '',
    '## Commands',
    '',
    ...commands(alert.name, model),
    '',
    '## Mitigation',
    '',
    ...numbered(alert.runbook.mitigation),
    '',
    '## Automatic response',
    '',
    automaticResponse(alert.name, severities, tiers, watchdogReceiver(model.spec)),
    ...playbookLines(alert.name, severities, tiers, model, Object.fromEntries(labels)),
    '',
    '## Silence',
    '',
    ...silence(alert.name, labels, model),
    '',
    '## Escalation',
    '',
    ...escalation(alert.name, severities, tiers, model),
  ];
  if (rules.length > 0) {
    lines.push('', '## Rules', '');
    for (const rule of rules) {
      lines.push(`- \`${rule.labels[ALERT_LABEL.severity] ?? 'unlabelled'}\` after ${rule.for}${rule.keepFiringFor === undefined ? '' : `, kept firing ${rule.keepFiringFor} after it clears`}:`, '', '  ```promql', ...rule.expr.split('\n').map((l) => `  ${l}`), '  ```', '');
    }
    lines.pop();
    if (alert.keepFiringForWhy !== undefined) lines.push('', `Why it keeps firing after it clears (\`keep_firing_for\`): ${alert.keepFiringForWhy}`);
  }
  lines.push('', '[All runbooks](README.md)', '');
  return lines.join('\n');
}


/** A PromQL string literal. */
function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * `expr` narrowed to one instance, whatever its shape: `and on (labels)` a
 * one-sample vector carrying exactly those label values. (Adding matchers to
 * each selector would silently return nothing for a selector whose metric
 * lacks the label.)
 */
export function narrowed(expr: string, labels: ReadonlyArray<readonly [string, string]>): string {
  if (labels.length === 0) return expr;
  // `$` in a label_replace replacement refers to a capture group: doubled, it is literal.
  const one = labels.reduce((acc, [k, v]) => `label_replace(${acc}, "${k}", ${promString(v.replace(/\$/g, '$$$$'))}, "", "")`, 'vector(1)');
  return `(\n  ${expr.split('\n').join('\n  ')}\n)\nand on (${labels.map(([k]) => k).join(', ')}) ${one}`;
}

/** The spec's Prometheus (its own scrape target), for links; undefined when it has none. */
function prometheusURL(model: MonitoringModel): string | undefined {
  const target = model.spec.targets.prometheus[0];
  return target === undefined ? undefined : `http://${target}`;
}

function graphLink(model: MonitoringModel, expr: string): string[] {
  const base = prometheusURL(model);
  if (base === undefined) return [];
  return ['', `   [Open in Prometheus](${base}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=1h)`];
}

/** Copy-paste PromQL: is it firing (and for whom), and each rule's expression, narrowed to this instance when known. */
function queries(alert: AlertInfo, rules: readonly AlertingRule[], model: MonitoringModel, labels: ReadonlyArray<readonly [string, string]>): string[] {
  const matchers = [`alertname="${alert.name}"`, ...labels.map(([k, v]) => `${k}=${promString(v)}`)].join(', ');
  const firing = `ALERTS{${matchers}}`;
  const who = labels.length > 0 ? labels.map(([k, v]) => `${k}="${v}"`).join(', ') : alert.identity.length > 0 ? `every ${alert.identity.join(' and ')}` : 'the service';
  const out = [
    `PromQL for ${who}; paste it into Prometheus (the links open the spec's Prometheus, ${prometheusURL(model) ?? 'none in the spec'}; on Kubernetes, port-forward it first).`,
    '',
    `1. Firing or pending now, with its labels and since when (\`alertstate\`):`,
    '',
    '   ```promql',
    `   ${firing}`,
    '   ```',
    ...graphLink(model, firing),
  ];
  rules.forEach((rule, i) => {
    const expr = narrowed(rule.expr, labels);
    out.push(
      '',
      `${i + 2}. The value the \`${rule.labels[ALERT_LABEL.severity] ?? 'unlabelled'}\` rule compares (above its threshold while it fires; empty when it is not):`,
      '',
      '   ```promql',
      ...expr.split('\n').map((l) => `   ${l}`),
      '   ```',
      ...graphLink(model, expr),
    );
  });
  return out;
}

/** kubectl and docker compose commands with the generated objects' names, and the local stack's. */
function commands(name: string, model: MonitoringModel): string[] {
  const ns = safeNamespace(model);
  const servers = model.spec.targets.modelServers;
  const selector = (labels: Readonly<Record<string, string>>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  const kube = [
    `kubectl -n ${ns} get pods -l app.kubernetes.io/part-of=llmwatch -o wide`,
    `kubectl -n ${ns} logs deploy/llmwatch-gateway --since=30m --tail=200`,
    `kubectl -n ${ns} logs deploy/llmwatch-responder --since=30m --tail=200`,
    `kubectl -n ${ns} exec deploy/llmwatch-responder -- node bin/llmwatch.js responder log --alert ${name} --since 2h --db ${DEPLOYED_AUDIT_DB}`,
    ...servers.flatMap((s) => {
      const sel = selector(s.kubernetes.podSelector ?? { 'app.kubernetes.io/name': s.name });
      return [`kubectl -n ${ns} get pods -l ${sel} -o wide`, `kubectl -n ${ns} logs -l ${sel} --since=30m --tail=200`];
    }),
    ...scaleCommands(model),
  ];
  const compose = `docker compose -f ${COMPOSE_FILE_PATH}`;
  return [
    `On Kubernetes (what \`${KUSTOMIZATION_PATH}\` applies, namespace \`${ns}\`):`,
    '',
    '```sh',
    ...kube,
    '```',
    '',
    'With docker compose (from the folder `llmwatch generate --out` wrote):',
    '',
    '```sh',
    `${compose} ps`,
    `${compose} logs --since 30m gateway responder`,
    `${compose} exec responder node bin/llmwatch.js responder log --alert ${name} --since 2h --db ${DEPLOYED_AUDIT_DB}`,
    '```',
    '',
    'On the local stack (`llmwatch up`):',
    '',
    '```sh',
    `llmwatch responder log --alert ${name} --since 2h`,
    '```',
  ];
}

function safeNamespace(model: MonitoringModel): string {
  try {
    return deployNamespace(model.spec);
  } catch {
    // Playbooks that scale in several namespaces: the generator refuses them elsewhere, with the fix.
    return 'default';
  }
}

/** The Deployments the playbooks scale: their replica counts now. */
function scaleCommands(model: MonitoringModel): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const playbook of Object.values(deployedPlaybooks(model.spec))) {
    for (const step of playbook.steps) {
      const deployment = step.params.deployment;
      if (step.action !== 'scale' || typeof deployment !== 'string' || deployment.includes('{{')) continue;
      const ns = typeof step.params.namespace === 'string' ? step.params.namespace : 'default';
      const line = `kubectl -n ${ns} get deploy ${deployment}`;
      if (!seen.has(line)) out.push(line);
      seen.add(line);
    }
  }
  return out;
}

/** The playbook the deployed responder runs for this alert, step by step, or that there is none. */
function playbookLines(name: string, severities: readonly Severity[], tiers: Readonly<Record<Severity, readonly string[]>>, model: MonitoringModel, labels: AlertLabels): string[] {
  if (name === WATCHDOG_ALERT || !severities.some((s) => tiers[s].includes(RECEIVER.responder))) return [];
  const playbook: Playbook | undefined = deployedPlaybooks(model.spec)[name];
  if (playbook === undefined) {
    return ['', `Playbook: none. No playbook in the spec answers \`${name}\`, so the responder records each delivery and skips it (\`responder log --alert ${name}\` shows \`skip\`). Add one under \`playbooks.${name}\` (docs/responder.md).`];
  }
  const fill = (text: string) => text.replace(/\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, l: string) => (labels[l] !== undefined ? labels[l]! : `(the alert's ${l})`));
  const params = (p: Readonly<Record<string, unknown>>) =>
    Object.entries(p)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? fill(v) : JSON.stringify(v)}`)
      .join(', ');
  const steps = playbook.steps.map((step) => {
    const parts = [`\`${step.action}\`${Object.keys(step.params).length > 0 ? ` (${params(step.params)})` : ''}`];
    if (step.if !== undefined) parts.push(`only if \`${fill(step.if.query)}\` is ${step.if.above !== undefined ? `above ${step.if.above}` : `below ${step.if.below}`}`);
    if (step.stopOnSuccess) parts.push('stops here when it succeeds');
    if (step.always) parts.push('always, whatever happened before');
    if (step.revertOnResolve) parts.push('undone when the alert resolves');
    return parts.join('; ');
  });
  return [
    '',
    `Playbook for \`${name}\` (from the spec's \`playbooks\`; the generated responder configs carry it), at most once per target every ${playbook.cooldown}:`,
    '',
    ...numbered(steps),
  ];
}

/** amtool: silence this alert (this instance when its labels are known). */
function silence(name: string, labels: ReadonlyArray<readonly [string, string]>, model: MonitoringModel): string[] {
  const am = model.spec.targets.alertmanagers[0];
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const matchers = [`alertname=${name}`, ...labels.map(([k, v]) => quote(`${k}=${v}`))].join(' ');
  return [
    labels.length > 0 ? 'Silence this instance for two hours while you work on it:' : `Silence it for two hours while you work on it (every instance; add the alert's ${labelList(model, name)} as \`name=value\` matchers to silence one):`,
    '',
    '```sh',
    `amtool silence add ${matchers} --duration=2h --comment='working on it' --alertmanager.url=http://${am ?? '127.0.0.1:9093'}`,
    `amtool silence query alertname=${name} --alertmanager.url=http://${am ?? '127.0.0.1:9093'}`,
    '```',
    '',
    'A silence stops every notification of the matching alerts, the responder\'s webhook included: no new automatic action, and no revert (such as switching a model back) for an alert that resolves while silenced. `amtool silence expire ID` ends it early.',
  ];
}

function labelList(model: MonitoringModel, name: string): string {
  const identity = model.alerts.find((a) => a.name === name)?.identity ?? [];
  return identity.length > 0 ? identity.map((l) => `\`${l}\``).join(' and ') : 'labels';
}

/** Who is told next, and when to hand over. */
function escalation(name: string, severities: readonly Severity[], tiers: Readonly<Record<Severity, readonly string[]>>, model: MonitoringModel): string[] {
  const am = model.spec.alertmanager;
  if (name === WATCHDOG_ALERT) {
    return [`The Watchdog always fires. If the dead man's switch behind \`${watchdogReceiver(model.spec)}\` stops hearing it, the alerting pipeline itself is down: page whoever owns Prometheus and Alertmanager.`];
  }
  const people = severities.map((s) => [s, tiers[s].filter((r) => r !== RECEIVER.none && r !== RECEIVER.responder)] as const);
  const told = people.filter(([, r]) => r.length > 0);
  const lines = told.map(([s, r]) => `- At ${s}: ${r.map((x) => `\`${x}\``).join(', ')}, first after ${am.groupWait}, again every ${am.repeatInterval} while it fires.`);
  if (told.length === 0) lines.push(`- No person is told at ${severities.join(' or ')}: the spec routes ${severities.length > 1 ? 'these severities' : 'this severity'} to no receiver of its own (\`alertmanager.routes\`).`);
  lines.push(
    '- Still firing after the automatic response (the responder\'s log shows `failure`, `skipped`, or nothing), or after one repeat: hand over to the owner of what the Commands above point at (the model server, the node, the gateway), with this page and the responder log.',
    '- It fires again right after it resolves: the cause is not gone; raise it with that owner rather than silencing it.',
  );
  return lines;
}

/**
 * What happens without a person, from the routing contract: critical and
 * warning reach the responder, info reaches no one.
 */
function automaticResponse(name: string, severities: readonly Severity[], tiers: Readonly<Record<Severity, readonly string[]>>, watchdog: string): string {
  if (name === WATCHDOG_ALERT) {
    return `None here: Alertmanager routes the Watchdog before every other route to the \`${watchdog}\` receiver only, and no inhibition rule touches it. The dead man's switch behind that receiver acts when it stops.`;
  }
  const acted = severities.filter((s) => tiers[s].includes(RECEIVER.responder));
  const recordedOnly = severities.filter((s) => !acted.includes(s));
  if (acted.length === 0) {
    return 'None: at this severity Alertmanager only records the alert; no person and not the llmwatch responder are told. Look at it on the dashboards or in the Alertmanager UI.';
  }
  const parts = [
    `Alertmanager sends this alert at ${acted.join(' and ')}, firing and resolved, to the llmwatch responder (\`${RECEIVER.responder}\`), which runs the playbook below within its cooldown (or only records what it would do in dry-run mode); every decision and action is in its audit log.`,
  ];
  if (recordedOnly.length > 0) parts.push(`At ${recordedOnly.join(' and ')} it is recorded only.`);
  return parts.join(' ');
}

/** The receivers of a severity in words: the `null` receiver is no one. */
function receiversText(tier: readonly string[]): string {
  const receivers = tier.filter((r) => r !== RECEIVER.none);
  if (receivers.length === 0) return 'no one (recorded only)';
  // The responder acts but tells no person: say so where it is alone (alertmanager.routes empty).
  if (receivers.every((r) => r === RECEIVER.responder)) return `${RECEIVER.responder} only, no person (declare receivers in alertmanager.receivers and alertmanager.routes)`;
  return receivers.join(', ');
}

function numbered(steps: readonly string[]): string[] {
  if (steps.length === 0) return ['(none yet)'];
  // Continuation lines are indented under the number so multi-line steps (code blocks) stay in the item.
  return steps.map((step, i) => `${i + 1}. ${step.split('\n').join('\n   ')}`);
}

function indexPage(alerts: readonly AlertInfo[]): string {
  const rows = [...alerts]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((a) => `| [${a.name}](${a.name}.md) | ${ordered(a.severities).join(', ')} | ${a.category} | ${cell(plainSummary(a.summary))} |`);
  return [
    '# Runbooks',
    '',
    'One page per alert that llmwatch generates: what it means, what it costs, how to find the cause and how to end it.',
    "Each alert links to its page through its `runbook_url` annotation.",
    '',
    '| Alert | Severity | Category | Summary |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/**
 * The summary as prose: it is the annotation template, so label references
 * become `<label>` and the catalog's `{threshold}` placeholders (one threshold
 * per model and severity; the Rules section lists them) become words.
 */
function plainSummary(summary: string, labels: AlertLabels = {}): string {
  return summary
    .replace(/\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, l: string) => (labels[l] !== undefined ? `\`${labels[l]}\`` : `\`<${l}>\``))
    .replace(/\{\{\s*\$value\b[^}]*\}\}/g, 'the current value')
    .replace(/\{([a-z][A-Za-z]*)\}%?/g, 'the $1');
}

/** Text that stays inside one Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}
