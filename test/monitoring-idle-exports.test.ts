import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayConfigSchema } from '../src/core/config/gateway-config.ts';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { validateConfig } from '../src/core/config/validate.ts';
import { JOB } from '../src/core/conventions/deploy.ts';
import { GENAI_BUCKETS, recordedNames } from '../src/core/conventions/metrics.ts';
import { startGateway } from '../src/gateway/server.ts';
import type { AlertContext } from '../src/monitoring/alert-def.ts';
import { resolveTuning } from '../src/monitoring/build.ts';
import { catalogFor } from '../src/monitoring/catalog.ts';
import { sampleValue } from './helpers/exposition.ts';
import { scrape } from './helpers/stack.ts';

const MODEL = 'example-model';

/** `metric{a="b",c="d"}` as promtool's input series writes it. */
function parseSeries(series: string): { name: string; labels: Record<string, string> } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(series);
  assert.ok(m, `not a series: ${series}`);
  const labels: Record<string, string> = {};
  for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
  return { name: m[1]!, labels };
}

/** The first sample of promtool's expanding notation (`0+0x180`, `0x180`, `5 5 5`). */
function firstValue(values: string): number {
  const m = /^(-?[0-9.]+(?:e[+-]?[0-9]+)?)/.exec(values.trim());
  assert.ok(m, `no first value in ${values}`);
  return Number(m[1]);
}

// Issue 14, point 10: an idle test must feed what the exporters really export when idle, not what
// looks plausible. The gateway is started for real, with the model and the upstream names the
// scenarios use, and scraped before its first request: every series a gateway alert's idle scenario
// feeds must be exported, with that value (job and instance are Prometheus' target labels). In either
// naming: under `otel` the scenarios feed the OpenTelemetry families (OutputLengthDrift's token usage too).
for (const naming of ['openllm', 'otel'] as const) {
  test(`every gateway alert's idle scenario feeds exactly what a gateway exports before its first request (naming ${naming})`, async (t) => {
    const gw = await startGateway(
      validateConfig(GatewayConfigSchema, {
        port: 0,
        metrics: { processMetrics: false, naming },
        // Nothing listens there: no request is ever sent.
        upstreams: { vllm: { baseURL: 'http://127.0.0.1:9/v1' }, small: { baseURL: 'http://127.0.0.1:9/v1' }, backup: { baseURL: 'http://127.0.0.1:9/v1' } },
        models: { [MODEL]: { targets: [{ upstream: 'vllm' }, { upstream: 'small', model: `${MODEL}-small` }] } },
      }),
      { port: 0 },
    );
    t.after(() => gw.close());
    const idle = await scrape(gw.url);

    const spec = monitoringSpec({ metricsNaming: naming });
    const names = recordedNames(spec.metricsPrefix, spec.rateWindow);
    let checked = 0;
    let lengthTokenUsage = 0;
    for (const def of catalogFor(spec).filter((d) => d.scope === 'model')) {
      const c: AlertContext = { spec, names, tuning: resolveTuning(def, spec.alerts[def.name]) };
      const scenario = def.scenarios(c, MODEL).find((s) => s.name === 'idle');
      assert.ok(scenario, `${def.name} has an idle scenario`);
      for (const input of scenario.series) {
        const { name, labels } = parseSeries(input.series);
        assert.equal(labels.job, JOB.gateway, `${def.name}: ${input.series} is the gateway's`);
        const { job: _job, instance: _instance, ...own } = labels;
        const exported = sampleValue(idle, name, own);
        assert.notEqual(exported, undefined, `${def.name} idle feeds ${input.series}, which an idle gateway does not export`);
        assert.equal(exported, firstValue(input.values), `${def.name} idle feeds ${input.series} at ${input.values}; an idle gateway exports ${exported}`);
        checked++;
        if (def.name === 'OutputLengthDrift' && name.startsWith('gen_ai_client_token_usage_')) lengthTokenUsage++;
      }
    }
    // Every model alert's idle scenario was read (the catalog has 14 model alerts and each feeds several series).
    assert.ok(checked > 100, `only ${checked} series checked`);
    // Under otel OutputLengthDrift's idle case feeds the token usage histogram (buckets, sum, count of chat and completions, each replica).
    assert.equal(lengthTokenUsage, naming === 'otel' ? 3 * 2 * (GENAI_BUCKETS.tokenUsage.length + 1 + 2) : 0);
  });
}
