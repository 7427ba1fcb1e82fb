import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { monitoringSpec } from '../src/core/config/monitoring-spec.ts';
import { META_ALERTS } from '../src/core/conventions/alerts.ts';
import { ALERTMANAGER_SELF_METRIC, PROMETHEUS_SELF_METRIC } from '../src/core/conventions/metrics.ts';
import { buildModel } from '../src/monitoring/build.ts';
import { metaCatalog } from '../src/monitoring/meta-catalog.ts';
import type { AlertingRule } from '../src/monitoring/model.ts';
import { startAlertmanager, startWebhookSink } from './helpers/alertmanager.ts';
import { freePort, startChild, waitReady } from './helpers/processes.ts';
import { generateInto, run } from './helpers/promtool.ts';

function metaRules(spec = monitoringSpec({})): AlertingRule[] {
  return buildModel(spec)
    .groups.filter((g) => g.name === 'llmwatch-meta-alerts')
    .flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r));
}

describe('meta-monitoring: the exact rules', () => {
  const cases: Array<[string, string, string, string, string | undefined]> = [
    ['Watchdog', 'vector(1)', 'info', '0s', undefined],
    ['PrometheusRuleFailures', 'increase(prometheus_rule_evaluation_failures_total[5m]) > 0', 'critical', '15m', '15m'],
    ['PrometheusNotificationsDropped', 'increase(prometheus_notifications_dropped_total[5m]) > 0', 'critical', '10m', undefined],
    ['PrometheusErrorSendingAlerts', 'rate(prometheus_notifications_errors_total[5m]) / rate(prometheus_notifications_sent_total[5m]) > 0.01', 'warning', '15m', undefined],
    [
      'PrometheusNotificationQueueRunningFull',
      'predict_linear(prometheus_notifications_queue_length[5m], 60 * 30) > min_over_time(prometheus_notifications_queue_capacity[5m])',
      'warning',
      '15m',
      undefined,
    ],
    ['PrometheusConfigReloadFailed', 'max_over_time(prometheus_config_last_reload_successful[5m]) == 0', 'warning', '10m', undefined],
    ['PrometheusTSDBCompactionsFailing', 'increase(prometheus_tsdb_compactions_failed_total[3h]) > 0', 'warning', '15m', undefined],
    ['AlertmanagerNotificationsFailing', 'rate(alertmanager_notifications_failed_total[5m]) / rate(alertmanager_notifications_total[5m]) > 0.01', 'warning', '5m', '15m'],
    ['AlertmanagerConfigReloadFailed', 'max_over_time(alertmanager_config_last_reload_successful[5m]) == 0', 'warning', '10m', undefined],
    ['GatewayRouteStoreDown', 'max_over_time(openllm_route_store_up[1m]) == 0', 'warning', '2m', undefined],
  ];
  const rules = metaRules();
  test('one rule per meta alert, in a group of their own', () => {
    assert.deepEqual(
      rules.map((r) => r.alert),
      [...META_ALERTS],
    );
  });
  for (const [name, expr, severity, forDuration, keep] of cases) {
    test(name, () => {
      const r = rules.find((x) => x.alert === name)!;
      assert.deepEqual([r.expr, r.labels.severity, r.labels.category, r.for, r.keepFiringFor], [expr, severity, 'meta', forDuration, keep]);
      assert.match(r.annotations.runbook_url!, new RegExp(`/${name}\\.md$`));
    });
  }

  test('every meta alert but the Watchdog has firing, healthy and idle tests; the Watchdog fires in all of them', () => {
    const { dir, cleanup } = generateInto(monitoringSpec({}));
    try {
      for (const def of metaCatalog()) {
        const file = parse(readFileSync(join(dir, 'prometheus/tests', `${def.name}.yml`), 'utf8')) as {
          tests: Array<{ name: string; alert_rule_test: Array<{ exp_alerts: unknown[] }> }>;
        };
        const names = file.tests.map((t) => t.name);
        if (def.name === 'Watchdog') {
          assert.ok(file.tests.every((t) => t.alert_rule_test[0]!.exp_alerts.length === 1));
          assert.ok(names.some((n) => n.includes('idle')));
          continue;
        }
        for (const kind of ['firing', 'healthy', 'idle']) assert.ok(names.some((n) => n.includes(`: ${kind}`)), `${def.name}: ${kind} in ${names.join(', ')}`);
        assert.ok(file.tests.find((t) => t.name.endsWith(': firing'))!.alert_rule_test[0]!.exp_alerts.length > 0);
      }
      const tests = join(dir, 'prometheus/tests');
      const files = metaCatalog().map((d) => `${d.name}.yml`);
      const r = run('promtool', ['test', 'rules', ...files], tests);
      assert.equal(r.status, 0, r.output);
      // The runbooks exist, and the Watchdog's says where it goes.
      const watchdog = readFileSync(join(dir, 'docs/runbooks/Watchdog.md'), 'utf8');
      assert.match(watchdog, /only the dead man's switch \(`watchdog` receiver\)/);
      assert.ok(readdirSync(join(dir, 'docs/runbooks')).includes('AlertmanagerNotificationsFailing.md'));
    } finally {
      cleanup();
    }
  });
});

/** Polls `check` every 250 ms for at most `ms`; bounded so a broken pipeline fails the test instead of hanging it. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('meta-monitoring on the real Prometheus 2.42 and Alertmanager 0.25', () => {
  test('they scrape themselves, every metric the meta rules read exists, the Watchdog reaches the dead man\'s switch only, and nothing else fires', async (t) => {
    const sink = await startWebhookSink();
    t.after(() => sink.close());
    const promPort = await freePort();
    const base = {
      prometheus: { scrapeInterval: '1s', evaluationInterval: '1s' },
      alertmanager: {
        groupWait: '1s',
        groupInterval: '1s',
        responderURL: `${sink.url}/responder`,
        receivers: { watchdog: { webhook: [{ url: `${sink.url}/watchdog` }] } },
        watchdog: { repeatInterval: '1m' },
      },
    };
    // Alertmanager first: Prometheus' config names its port.
    const { dir: amDir, cleanup: amCleanup } = generateInto(monitoringSpec(base));
    t.after(amCleanup);
    const am = await startAlertmanager(readFileSync(join(amDir, 'alertmanager/alertmanager.yml'), 'utf8'));
    t.after(() => am.close());
    const amHost = am.url.replace('http://', '');
    const spec = monitoringSpec({ ...base, targets: { alertmanagers: [amHost], prometheus: [`127.0.0.1:${promPort}`], gateways: ['127.0.0.1:1'] } });
    const { dir, cleanup } = generateInto(spec);
    t.after(cleanup);
    const prom = startChild('prometheus', [
      `--config.file=${join(dir, 'prometheus/prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--rules.alert.resend-delay=1s',
      '--web.enable-lifecycle',
      '--log.level=error',
    ]);
    const promURL = `http://127.0.0.1:${promPort}`;
    await waitReady(`${promURL}/-/ready`, prom, 'Prometheus', () => prom.stop());
    t.after(() => prom.stop());
    const query = async (expr: string) => {
      const res = await fetch(`${promURL}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      return body.data.result;
    };

    for (const job of ['prometheus', 'alertmanager']) {
      await eventually(`up{job="${job}"} == 1`, async () => ((await query(`up{job="${job}"} == 1`)).length === 1 ? true : undefined));
    }
    // The names are Prometheus' and Alertmanager's own, as these versions export them.
    const names = [...Object.values(PROMETHEUS_SELF_METRIC), ...Object.values(ALERTMANAGER_SELF_METRIC)].filter((v) => typeof v === 'string') as string[];
    for (const name of names) {
      await eventually(`${name} in Prometheus`, async () => ((await query(`count(${name})`)).length === 1 ? true : undefined));
    }
    const labelled = await query(`${PROMETHEUS_SELF_METRIC.ruleEvaluationFailures}{rule_group=~".*llmwatch-meta-alerts"}`);
    assert.equal(labelled.length, 1);
    assert.ok((await query(`${ALERTMANAGER_SELF_METRIC.notifications}{integration="webhook"}`)).length === 1);

    const delivered = await eventually("the Watchdog at the dead man's switch", async () => {
      const alerts = sink.received('/watchdog').flatMap((b) => (b as { alerts: Array<{ labels: Record<string, string> }> }).alerts);
      return alerts.length > 0 ? alerts : undefined;
    });
    assert.ok(delivered.every((a) => a.labels.alertname === 'Watchdog' && a.labels.severity === 'info'));
    // Healthy: no other meta alert is pending or firing, and the Watchdog never reaches the responder.
    const others = await query(`ALERTS{category="meta",alertname!="Watchdog"}`);
    assert.deepEqual(
      others.map((s) => s.metric.alertname),
      [],
    );
    const toResponder = sink.received('/responder').flatMap((b) => (b as { alerts: Array<{ labels: Record<string, string> }> }).alerts);
    assert.ok(!toResponder.some((a) => a.labels.alertname === 'Watchdog'));

    // A reload of a broken config sets the gauge PrometheusConfigReloadFailed reads to 0.
    writeFileSync(join(dir, 'prometheus/prometheus.yml'), 'global: [not, a, map]\n');
    const reload = await fetch(`${promURL}/-/reload`, { method: 'POST' });
    assert.equal(reload.status, 500);
    await eventually('prometheus_config_last_reload_successful == 0', async () =>
      (await query(`${PROMETHEUS_SELF_METRIC.configReloadSuccessful}{job="prometheus"} == 0`)).length === 1 ? true : undefined,
    );
  });
});
