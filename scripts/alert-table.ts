/**
 * Rewrites the per-alert table of docs/monitoring.md from the catalog (the
 * default spec), and the engine alerts' table of docs/engines.md (a spec with a
 * vLLM server), between their markers: `npm run docs:alerts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { ALERT_TABLE_BEGIN, ALERT_TABLE_END, alertTable, engineAlertTable } from '../src/monitoring/writers/alert-table.ts';

function rewrite(doc: string, table: string): void {
  const url = new URL(`../${doc}`, import.meta.url);
  const text = readFileSync(url, 'utf8');
  const begin = text.indexOf(ALERT_TABLE_BEGIN);
  const end = text.indexOf(ALERT_TABLE_END);
  if (begin === -1 || end < begin) throw new Error(`${doc} lacks the markers ${ALERT_TABLE_BEGIN} ... ${ALERT_TABLE_END}`);
  writeFileSync(url, `${text.slice(0, begin + ALERT_TABLE_BEGIN.length)}\n\n${table}\n\n${text.slice(end)}`);
  console.log(`${doc}: alert table rewritten`);
}

rewrite('docs/monitoring.md', alertTable(buildModel(monitoringSpec({}))));
rewrite('docs/engines.md', engineAlertTable());
