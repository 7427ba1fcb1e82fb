/**
 * Rewrites the per-alert table of docs/monitoring.md from the catalog (the
 * default spec), between its markers: `npm run docs:alerts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { ALERT_TABLE_BEGIN, ALERT_TABLE_END, alertTable } from '../src/monitoring/writers/alert-table.ts';

const DOC = new URL('../docs/monitoring.md', import.meta.url);
const text = readFileSync(DOC, 'utf8');
const begin = text.indexOf(ALERT_TABLE_BEGIN);
const end = text.indexOf(ALERT_TABLE_END);
if (begin === -1 || end < begin) throw new Error(`docs/monitoring.md lacks the markers ${ALERT_TABLE_BEGIN} ... ${ALERT_TABLE_END}`);
const table = alertTable(buildModel(monitoringSpec({})));
writeFileSync(DOC, `${text.slice(0, begin + ALERT_TABLE_BEGIN.length)}\n\n${table}\n\n${text.slice(end)}`);
console.log('docs/monitoring.md: alert table rewritten');
