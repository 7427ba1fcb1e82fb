import { monitoringSpec } from '../../core/config/monitoring-spec.ts';
import type { MonitoringSpec } from '../../core/config/monitoring-spec.ts';
import { durationMs } from '../../core/config/duration.ts';
import { ALERT_LABEL, ENGINE_ALERTS, SEVERITIES } from '../../core/conventions/alerts.ts';
import { buildModel, resolveTuning } from '../build.ts';
import { CATALOG } from '../catalog.ts';
import { DRIFT_CATALOG } from '../drift.ts';
import type { AlertingRule, MonitoringModel } from '../model.ts';

/** The markers in docs/monitoring.md between which {@link alertTable} is kept; a test fails when it is stale. */
export const ALERT_TABLE_BEGIN = '<!-- alert-table:begin (generated from the catalog by `npm run docs:alerts`; do not edit) -->';
export const ALERT_TABLE_END = '<!-- alert-table:end -->';

/**
 * One row per alert of a built model, read from the rules and the alert
 * definitions themselves, so the docs cannot drift from what is generated:
 * what it measures, the windows its expression reads, the minimum events it
 * needs (where its definition has one), `for` and `keep_firing_for` per
 * severity, and why.
 */
export function alertTable(model: MonitoringModel): string {
  const rows = model.alerts.map((alert) => {
    const rules = model.groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r && r.alert === alert.name));
    const bySeverity = SEVERITIES.map((s) => rules.filter((r) => r.labels[ALERT_LABEL.severity] === s)).filter((l) => l.length > 0);
    const forText = bySeverity.map((l) => `${l[0]!.labels[ALERT_LABEL.severity]}: ${[...new Set(l.map((r) => r.for))].join(', ')}`).join('; ');
    const kept = [...new Set(rules.map((r) => r.keepFiringFor).filter((k): k is string => k !== undefined))];
    const why = [firstSentence(alert.runbook.meaning), ...(alert.keepFiringForWhy === undefined ? [] : [`keep_firing_for: ${alert.keepFiringForWhy}`])].join(' ');
    return `| ${alert.name} | ${cell(plain(rules[0]?.annotations.summary ?? alert.summary))} | ${windowsOf(rules)} | ${minEventsOf(model.spec, alert.name)} | ${forText} | ${kept.length > 0 ? kept.join(', ') : '-'} | ${cell(why)} |`;
  });
  return ['| alert | SLI (what it measures) | windows | minimum events | `for` | `keep_firing_for` | why |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}

/** The engine alerts' table in docs/engines.md: a spec with one vLLM server, its engine alerts only. */
export function engineAlertTable(): string {
  const model = buildModel(monitoringSpec({ targets: { modelServers: [{ name: 'vllm', kind: 'vllm', targets: ['127.0.0.1:8001'] }] } }));
  return alertTable({ ...model, alerts: model.alerts.filter((a) => (ENGINE_ALERTS as readonly string[]).includes(a.name)) });
}

/** The windows an expression reads: range selectors (`[5m]`), windowed recording rules (`rate5m`, `ratio_rate1h`, `avg5m`, `mean_1h`) and offsets (`offset 1w`). */
function windowsOf(rules: readonly AlertingRule[]): string {
  const found = new Set<string>();
  for (const r of rules) for (const m of r.expr.matchAll(/(?:\[|rate|avg|mean_|offset )(\d+(?:ms|s|m|h|d|w))(?![0-9A-Za-z])/g)) found.add(m[1]!);
  return found.size === 0 ? 'none in the rule' : [...found].sort((a, b) => durationMs(a) - durationMs(b)).join(', ');
}

/** The catalog default of `minEvents` where the alert's definition takes one; the burn rates' from `slo.minEvents`. */
function minEventsOf(spec: Readonly<MonitoringSpec>, name: string): string {
  const def = [...CATALOG, ...DRIFT_CATALOG].find((d) => d.name === name);
  if (def?.defaults.minEvents !== undefined) return String(resolveTuning(def, spec.alerts[def.name]).minEvents);
  const slo = (spec.slo as { minEvents?: unknown }).minEvents;
  if ((name === 'ErrorBudgetBurn' || name === 'LatencyBudgetBurn') && slo !== undefined) return slo === 'auto' ? 'auto: 1 / (burn rate x budget) per window pair' : String(slo);
  return '-';
}

function firstSentence(text: string): string {
  const m = /^(.*?[.!?])(\s|$)/.exec(text);
  return m === null ? text : m[1]!;
}

function plain(summary: string): string {
  return summary.replace(/\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, '`<$1>`').replace(/\{\{[^}]*\}\}/g, 'the value');
}

/** Text that stays inside one Markdown table cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
