import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Playbook } from './playbook-spec.ts';

/** Alert names of Prometheus rule files (YAML text): every `alert:` of every group. */
export function alertNamesOf(ruleFiles: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const text of ruleFiles) {
    const doc = (parseYaml(text) ?? {}) as { groups?: Array<{ rules?: Array<{ alert?: unknown }> }> };
    for (const g of doc.groups ?? []) for (const r of g.rules ?? []) if (typeof r.alert === 'string') names.add(r.alert);
  }
  return names;
}

/** The rule files under a generated folder's `prometheus/rules/`. */
export function ruleFilesIn(dir: string): string[] {
  const rules = join(dir, 'prometheus/rules');
  if (!existsSync(rules)) return [];
  return readdirSync(rules)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(join(rules, f), 'utf8'));
}

/**
 * Playbooks whose alert no rule defines: each would wait for an alert that can
 * never fire. One message per playbook, with the closest existing name.
 */
export function playbookAlertErrors(playbooks: Readonly<Record<string, Playbook>>, alertNames: ReadonlySet<string>): string[] {
  const errors: string[] = [];
  for (const name of Object.keys(playbooks).sort()) {
    if (alertNames.has(name)) continue;
    const near = closest(name, [...alertNames]);
    errors.push(`playbooks.${name}: no alert rule named ${name} in the generated rules${near !== undefined ? ` (did you mean ${near}?)` : ''}`);
  }
  return errors;
}

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(3, Math.floor(name.length / 4)) + 1;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

/** Levenshtein distance (names are short: O(n*m) is fine). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
