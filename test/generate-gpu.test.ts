import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { hasCode } from '../src/core/errors.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { GEN_ERR_INVALID_SPEC } from '../src/monitoring/errors.ts';
import type { AlertingRule, RecordingRule } from '../src/monitoring/model.ts';
import { generateInto, run, testFilesBeyondDefault } from './helpers/promtool.ts';

type Source = 'llmwatch' | 'dcgm';

function gpuSpec(source: Source, extra: Record<string, unknown> = {}) {
  return monitoringSpec({ targets: { gpuExporter: { source, targets: ['10.0.0.5:9400'] } }, ...extra });
}

function rulesOf(spec: ReturnType<typeof gpuSpec>) {
  const all = buildModel(spec).groups.flatMap((g) => g.rules);
  return {
    alerts: all.filter((r): r is AlertingRule => 'alert' in r),
    recorded: new Map(all.filter((r): r is RecordingRule => 'record' in r).map((r) => [r.record, r.expr])),
  };
}

/**
 * promtool check rules over every generated rule file, and test rules over every test file this spec
 * generates differently from the default spec (those byte-identical to the default's, with the rules
 * they load, are run by test/generate-rules.test.ts: the drift alerts', a week of evaluations each);
 * returns the tests folder.
 */
function promtoolPasses(t: { after: (fn: () => void) => void }, spec: ReturnType<typeof gpuSpec>): string {
  const { dir, cleanup } = generateInto(spec);
  t.after(cleanup);
  const prom = join(dir, 'prometheus');
  const checked = run('promtool', ['check', 'rules', ...readdirSync(join(prom, 'rules')).map((f) => `rules/${f}`)], prom);
  assert.equal(checked.status, 0, checked.output);
  const tests = join(prom, 'tests');
  const { own: files, same } = testFilesBeyondDefault(dir);
  assert.ok(!same.some((f) => f.includes('Gpu')), `the GPU alerts' tests are this spec's own, run here: ${same.join(', ')}`);
  const tested = run('promtool', ['test', 'rules', ...files], tests);
  assert.equal(tested.status, 0, tested.output);
  assert.equal((tested.output.match(/SUCCESS/g) ?? []).length, files.length);
  return tests;
}

const DCGM_RELABEL = (m: string) =>
  `label_replace(label_replace(label_replace(${m}, "uuid", "$1", "UUID", "(.+)"), "name", "$1", "modelName", "(.+)"), "hostname", "$1", "Hostname", "(.+)")`;
const BY = 'max by (job, instance, gpu, uuid, name, hostname, GPU_I_ID)';

describe('GPU alerts with the llmwatch exporter (source: llmwatch, the default)', () => {
  test('the exact PromQL of each GPU alert, and no dcgm mapping', () => {
    const { alerts, recorded } = rulesOf(gpuSpec('llmwatch'));
    const expr = (name: string) => alerts.filter((r) => r.alert === name).map((r) => [r.expr, r.for, r.labels.severity, r.labels.category]);
    assert.deepEqual(expr('HighGpuMemoryUsage'), [['gpu:node_gpu_memory_utilisation:ratio > 0.95', '5m', 'warning', 'resource']]);
    assert.deepEqual(expr('HighGpuTemperature'), [['node_gpu_temperature_celsius > 85', '5m', 'warning', 'resource']]);
    assert.deepEqual(expr('GpuCollectorFailing'), [['llmwatch_gpu_collector_success == 0', '5m', 'warning', 'availability']]);
    assert.ok(alerts.some((r) => r.alert === 'TargetAbsent' && r.expr.split(' or ').includes('absent(up{job="llmwatch-gpu"})')));
    assert.equal(recorded.get('gpu:node_gpu_memory_utilisation:ratio'), 'node_gpu_memory_usage_bytes / node_gpu_memory_total_bytes');
    // The exporter itself exports these names: nothing records them.
    for (const name of ['node_gpu_memory_usage_bytes', 'node_gpu_memory_total_bytes', 'node_gpu_temperature_celsius']) assert.ok(!recorded.has(name), name);
    assert.ok(![...recorded.values()].some((e) => e.includes('DCGM_')));
  });

  test("promtool: every GPU alert fires on the exporter's series with exact labels and annotations, and stays silent when healthy or idle", (t) => {
    const tests = promtoolPasses(t, gpuSpec('llmwatch'));
    for (const alert of ['HighGpuMemoryUsage', 'HighGpuTemperature', 'GpuCollectorFailing']) {
      const file = parse(readFileSync(join(tests, `${alert}.yml`), 'utf8')) as { tests: Array<{ name: string; input_series: Array<{ series: string }> }> };
      const names = file.tests.map((x) => x.name.replace(/^.*: /, ''));
      assert.ok(['firing', 'healthy', 'idle'].every((n) => names.includes(n)), `${alert}: ${names.join(', ')}`);
      assert.ok(file.tests.every((x) => x.input_series.every((s) => !s.series.startsWith('DCGM_'))), alert);
    }
    const temperature = parse(readFileSync(join(tests, 'HighGpuTemperature.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ exp_alerts: Array<{ exp_labels: Record<string, string>; exp_annotations: Record<string, string> }> }> }>;
    };
    assert.deepEqual(temperature.tests[0]!.alert_rule_test[0]!.exp_alerts, [
      {
        exp_labels: {
          category: 'resource',
          gpu: '0',
          instance: 'gpu-host-1:9835',
          job: 'llmwatch-gpu',
          name: 'NVIDIA H100 80GB HBM3',
          service: 'openllm',
          severity: 'warning',
          uuid: 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70',
        },
        exp_annotations: {
          description: 'The core of GPU 0 on gpu-host-1:9835 has been hotter than 85°C for 5m (now 90°C).',
          runbook_url: 'docs/runbooks/HighGpuTemperature.md',
          summary: 'GPU 0 on gpu-host-1:9835 is hotter than 85°C',
        },
      },
    ]);
    // A single failed nvidia-smi run does not page.
    const collector = readFileSync(join(tests, 'GpuCollectorFailing.yml'), 'utf8');
    assert.match(collector, /GpuCollectorFailing \(warning, host\): one failed run/);
  });
});

describe('GPU alerts with NVIDIA dcgm-exporter (source: dcgm)', () => {
  test("recording rules map dcgm's series onto the exporter's names: MiB to bytes, total = used + free, labels renamed", () => {
    const { recorded } = rulesOf(gpuSpec('dcgm'));
    assert.equal(recorded.get('node_gpu_memory_usage_bytes'), `${BY} (${DCGM_RELABEL('DCGM_FI_DEV_FB_USED')}) * 1048576`);
    assert.equal(
      recorded.get('node_gpu_memory_total_bytes'),
      `(${BY} (${DCGM_RELABEL('DCGM_FI_DEV_FB_USED')}) + ${BY} (${DCGM_RELABEL('DCGM_FI_DEV_FB_FREE')})) * 1048576`,
    );
    assert.equal(recorded.get('node_gpu_utilization_ratio'), `${BY} (${DCGM_RELABEL('DCGM_FI_DEV_GPU_UTIL')}) / 100`);
    assert.equal(recorded.get('node_gpu_temperature_celsius'), `${BY} (${DCGM_RELABEL('DCGM_FI_DEV_GPU_TEMP')})`);
    assert.equal(recorded.get('node_gpu_power_watts'), `${BY} (${DCGM_RELABEL('DCGM_FI_DEV_POWER_USAGE')})`);
    // The ratio comes after the mapping in the group, so it reads the same evaluation's values.
    const order = [...recorded.keys()];
    assert.ok(order.indexOf('node_gpu_memory_total_bytes') < order.indexOf('gpu:node_gpu_memory_utilisation:ratio'));
  });

  test('the GPU alerts are the same rules whichever exporter runs; GpuCollectorFailing is llmwatch-only', () => {
    const pick = (source: Source) =>
      rulesOf(gpuSpec(source))
        .alerts.filter((r) => r.alert.startsWith('HighGpu'))
        .map((r) => JSON.stringify(r));
    assert.deepEqual(pick('dcgm'), pick('llmwatch'));
    assert.equal(pick('dcgm').length, 2);
    const dcgm = buildModel(gpuSpec('dcgm'));
    assert.ok(!dcgm.alerts.some((a) => a.name === 'GpuCollectorFailing'));
    assert.ok(!dcgm.tests.some((f) => f.file === 'GpuCollectorFailing'));
  });

  test("promtool: HighGpuMemoryUsage and HighGpuTemperature fire from dcgm-exporter's series, and the mapping's values are exact", (t) => {
    const tests = promtoolPasses(t, gpuSpec('dcgm'));
    assert.ok(!existsSync(join(tests, 'GpuCollectorFailing.yml')));
    for (const alert of ['HighGpuMemoryUsage', 'HighGpuTemperature']) {
      const file = parse(readFileSync(join(tests, `${alert}.yml`), 'utf8')) as {
        tests: Array<{ name: string; input_series: Array<{ series: string }>; alert_rule_test: Array<{ exp_alerts: Array<{ exp_labels: Record<string, string> }> }> }>;
      };
      const firing = file.tests.find((x) => x.name.endsWith('firing'))!;
      assert.ok(firing.input_series.every((s) => s.series.startsWith('DCGM_FI_DEV_')), alert);
      assert.deepEqual(Object.keys(firing.alert_rule_test[0]!.exp_alerts[0]!.exp_labels), [
        'category',
        'gpu',
        'hostname',
        'instance',
        'job',
        'name',
        'service',
        'severity',
        'uuid',
      ]);
    }
    const recording = parse(readFileSync(join(tests, 'recording.yml'), 'utf8')) as { tests: Array<{ name: string }> };
    assert.ok(recording.tests.some((x) => x.name.startsWith("dcgm-exporter's series under the llmwatch exporter's names")));
  });

  test('MIG slices stay apart (GPU_I_ID kept), and a dcgm-exporter run with --no-hostname maps too', (t) => {
    const { dir, cleanup } = generateInto(gpuSpec('dcgm'));
    t.after(cleanup);
    const tests = join(dir, 'prometheus', 'tests');
    const mig = (id: string, used: number) => [
      { series: `DCGM_FI_DEV_FB_USED{job="llmwatch-gpu",instance="h:9400",gpu="0",UUID="GPU-a",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="3g.40gb",GPU_I_ID="${id}"}`, values: `${used}+0x30` },
      { series: `DCGM_FI_DEV_FB_FREE{job="llmwatch-gpu",instance="h:9400",gpu="0",UUID="GPU-a",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="3g.40gb",GPU_I_ID="${id}"}`, values: `${40_000 - used}+0x30` },
    ];
    const labels = (id: string) => ({
      GPU_I_ID: id,
      category: 'resource',
      gpu: '0',
      instance: 'h:9400',
      job: 'llmwatch-gpu',
      name: 'NVIDIA A100-SXM4-80GB',
      service: 'openllm',
      severity: 'warning',
      uuid: 'GPU-a',
    });
    const file = {
      rule_files: readdirSync(join(dir, 'prometheus', 'rules')).map((f) => `../rules/${f}`),
      evaluation_interval: '1m',
      tests: [
        {
          name: 'one full MIG slice among two fires alone',
          interval: '1m',
          input_series: [...mig('1', 39_000), ...mig('2', 1_000)],
          alert_rule_test: [
            {
              eval_time: '10m',
              alertname: 'HighGpuMemoryUsage',
              exp_alerts: [
                {
                  exp_labels: labels('1'),
                  exp_annotations: {
                    description: 'GPU 0 on h:9400 has used more than 95% of its memory for 5m (now 97.5%).',
                    runbook_url: 'docs/runbooks/HighGpuMemoryUsage.md',
                    summary: 'GPU 0 on h:9400 is above 95% memory',
                  },
                },
              ],
            },
          ],
        },
        {
          name: 'no Hostname label: no hostname label, same alert',
          interval: '1m',
          input_series: [{ series: 'DCGM_FI_DEV_GPU_TEMP{job="llmwatch-gpu",instance="h:9400",gpu="3",UUID="GPU-b",modelName="NVIDIA L40S"}', values: '95+0x30' }],
          alert_rule_test: [
            {
              eval_time: '10m',
              alertname: 'HighGpuTemperature',
              exp_alerts: [
                {
                  exp_labels: { category: 'resource', gpu: '3', instance: 'h:9400', job: 'llmwatch-gpu', name: 'NVIDIA L40S', service: 'openllm', severity: 'warning', uuid: 'GPU-b' },
                  exp_annotations: {
                    description: 'The core of GPU 3 on h:9400 has been hotter than 85°C for 5m (now 95°C).',
                    runbook_url: 'docs/runbooks/HighGpuTemperature.md',
                    summary: 'GPU 3 on h:9400 is hotter than 85°C',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(tests, 'dcgm-cases.yml'), stringify(file));
    const tested = run('promtool', ['test', 'rules', 'dcgm-cases.yml'], tests);
    assert.equal(tested.status, 0, tested.output);
  });
});

describe('tuning the GPU alerts in the spec', () => {
  test('HighGpuTemperature and GpuCollectorFailing are host alerts under `alerts`; their own tests follow the tuning', (t) => {
    const spec = gpuSpec('llmwatch', { alerts: { HighGpuTemperature: { threshold: 90, for: '10m', severity: 'critical' }, GpuCollectorFailing: { for: '15m' } } });
    const { alerts } = rulesOf(spec);
    const temp = alerts.find((r) => r.alert === 'HighGpuTemperature')!;
    assert.deepEqual([temp.expr, temp.for, temp.labels.severity], ['node_gpu_temperature_celsius > 90', '10m', 'critical']);
    assert.equal(alerts.find((r) => r.alert === 'GpuCollectorFailing')!.for, '15m');
    promtoolPasses(t, spec);
  });

  test('disabled alerts are left out', () => {
    const { alerts } = rulesOf(gpuSpec('llmwatch', { alerts: { HighGpuTemperature: { enabled: false }, GpuCollectorFailing: { enabled: false } } }));
    assert.ok(!alerts.some((r) => r.alert === 'HighGpuTemperature' || r.alert === 'GpuCollectorFailing'));
  });

  test('a threshold that cannot be a GPU temperature, or one on GpuCollectorFailing, is refused with the field named', () => {
    for (const [alerts, field] of [
      [{ HighGpuTemperature: { threshold: 200 } }, /alerts\.HighGpuTemperature: threshold is a GPU core temperature in °C/],
      [{ GpuCollectorFailing: { threshold: 1 } }, /alerts\.GpuCollectorFailing: threshold has no meaning here/],
    ] as const) {
      assert.throws(
        () => buildModel(gpuSpec('llmwatch', { alerts })),
        (err: unknown) => hasCode(err, GEN_ERR_INVALID_SPEC) && field.test((err as Error).message),
      );
    }
  });

  test('an unknown alert name lists the GPU alerts among the tunable ones', () => {
    assert.throws(() => monitoringSpec({ alerts: { HighGpuTemp: {} } }), /HighGpuTemp: no such alert; tunable alerts are .*HighGpuTemperature, GpuCollectorFailing/);
  });
});
