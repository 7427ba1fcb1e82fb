import { ALERT_LABEL, RECEIVER, SEVERITIES, WATCHDOG_ALERT } from '../../core/conventions/alerts.ts';
import type { Severity } from '../../core/conventions/alerts.ts';
import { GEN_ERR_ALERT_NAME, GEN_ERR_DUPLICATE_ALERT, GEN_ERR_EMPTY_OUTPUT, GEN_ERR_RUNBOOK_URL } from '../errors.ts';
import type { AlertInfo, AlertingRule, GeneratedFile, MonitoringModel } from '../model.ts';
import { severityReceivers, watchdogReceiver } from './alertmanager.ts';

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
  const files = model.alerts.map((alert) => ({ path: `${RUNBOOKS_DIR}/${alert.name}.md`, content: runbookPage(alert, rulesOf(model, alert.name), model) }));
  files.push({ path: `${RUNBOOKS_DIR}/README.md`, content: indexPage(model.alerts) });
  return files;
}

function rulesOf(model: MonitoringModel, name: string): AlertingRule[] {
  return model.groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r && r.alert === name));
}

/** Severities in the fixed order critical, warning, info, whatever order the catalog lists them in. */
function ordered(severities: readonly Severity[]): Severity[] {
  return SEVERITIES.filter((s) => severities.includes(s));
}

function runbookPage(alert: AlertInfo, rules: readonly AlertingRule[], model: MonitoringModel): string {
  const tiers = severityReceivers(model.spec);
  const severities = ordered(alert.severities);
  const lines = [
    `# ${alert.name}`,
    '',
    plainSummary(alert.summary),
    '',
    '| | |',
    '|---|---|',
    `| Severity | ${severities.join(', ')} |`,
    `| Category | ${alert.category} |`,
    `| One alert per | ${alert.identity.length > 0 ? alert.identity.map((l) => `\`${l}\``).join(', ') : 'the whole service'} |`,
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
    '## Diagnosis',
    '',
    ...numbered(alert.runbook.diagnosis),
    '',
    '## Mitigation',
    '',
    ...numbered(alert.runbook.mitigation),
    '',
    '## Automatic response',
    '',
    automaticResponse(alert.name, severities, tiers, watchdogReceiver(model.spec)),
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
    `Alertmanager sends this alert at ${acted.join(' and ')}, firing and resolved, to the llmwatch responder (\`${RECEIVER.responder}\`).`,
    `The responder runs the playbook its config sets for \`${name}\`, if any (scale out, switch to the fallback model, notify), within that playbook's cooldown, or only logs what it would do in dry-run mode; every action and its outcome is in the responder's audit log.`,
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
function plainSummary(summary: string): string {
  return summary
    .replace(/\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, '`<$1>`')
    .replace(/\{\{\s*\$value\b[^}]*\}\}/g, 'the current value')
    .replace(/\{([a-z][A-Za-z]*)\}%?/g, 'the $1');
}

/** Text that stays inside one Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}
