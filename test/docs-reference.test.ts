import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { MonitoringSpecSchema } from '../src/core/config/monitoring-spec.ts';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { ResponderConfigSchema } from '../src/core/config/responder-config.ts';
import { metricDefinitions } from '../src/stack/metric-defs.ts';
import { referenceFiles } from '../scripts/reference.ts';

const ROOT = new URL('..', import.meta.url);

/** Issue 20 point 4: the references are generated from the code; a change to either without the other fails here. */
test('docs/reference/ is what `npm run docs:reference` writes from the code now', async () => {
  for (const f of await referenceFiles()) {
    assert.equal(readFileSync(new URL(f.path, ROOT), 'utf8'), f.content, `${f.path} differs from the code: run npm run docs:reference`);
  }
});

test('the config reference has a row for every field of every schema, nested ones included', async () => {
  const [config] = await referenceFiles();
  const paths = (schema: z.ZodType): string[] => {
    const out: string[] = [];
    const walk = (s: Record<string, any>, prefix: string) => {
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, any>)) {
        out.push(`${prefix}${k}`);
        const inner = v.properties !== undefined ? v : undefined;
        if (inner !== undefined) walk(inner, `${prefix}${k}.`);
      }
    };
    walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, any>, '');
    return out;
  };
  for (const [schema, must] of [
    [MonitoringSpecSchema, ['alertmanager.receivers', 'alertmanager.routes.critical', 'alertmanager.watchdog', 'playbooks']],
    [GatewayConfigSchema, ['admin', 'auth', 'cache', 'safety']],
    [ResponderConfigSchema, ['auditPath', 'limits.maxActionsPerHour', 'retention.maxAge']],
  ] as const) {
    const all = paths(schema);
    for (const m of must) assert.ok(all.includes(m), `${m} is a field`);
    for (const p of all) assert.ok(config!.content.includes(`| \`${p}\` |`), `no row for ${p}`);
  }
});

test('the metric reference lists every metric with its type, labels and buckets', async () => {
  const [, metrics] = await referenceFiles();
  const defs = await metricDefinitions();
  assert.ok(defs.length > 30);
  for (const d of defs) {
    const row = metrics!.content.split('\n').find((l) => l.startsWith(`| \`${d.name}\` | ${d.type} |`));
    assert.ok(row, `no row for ${d.name}`);
    for (const l of d.labels) assert.ok(row.includes(`\`${l}\``), `${d.name} lacks label ${l}`);
    if (d.buckets !== undefined) assert.ok(row.includes(d.buckets.join(', ')), `${d.name} lacks its buckets`);
  }
  // Closed value sets are listed (the responder's decisions by why; the gateway's request status).
  assert.match(metrics!.content, /`why` \(`playbook`, `revert`, /);
  assert.match(metrics!.content, /`status` \(`success`, `cancelled`, `error`, `client_error`\)/);
});
