import { stringify } from 'yaml';

/**
 * Dumps plain data as YAML, deterministically: keys keep the order the writer
 * built them in (writers sort label maps themselves), long PromQL is never
 * folded, and an object reached twice is written out twice instead of as an
 * anchor and alias, which prometheus-operator and some linters refuse.
 * @example
 * dumpYaml({ groups: [{ name: 'g', rules: [] }] }); // "groups:\n  - name: g\n    rules: []\n"
 */
export function dumpYaml(value: unknown): string {
  return stringify(value, {
    // 0: no folding; a folded `expr` still parses, but diffs of generated files become unreadable.
    lineWidth: 0,
    minContentWidth: 0,
    aliasDuplicateObjects: false,
  });
}

/** A copy of a label or annotation map with its keys sorted, so output never depends on build order. */
export function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
