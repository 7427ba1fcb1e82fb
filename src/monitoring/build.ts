import { sloLatencyThreshold } from '../core/config/monitoring-spec.ts';
import type { AlertTuning, MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { ALERT_LABEL, RULE_GROUP } from '../core/conventions/alerts.ts';
import { JOB, modelServerJob } from '../core/conventions/deploy.ts';
import { DCGM, GENAI_LABEL, GPU_METRIC, LABEL, NODE, metricName, recordedNames } from '../core/conventions/metrics.ts';
import type { Endpoint } from '../core/openai/endpoints.ts';
import type { Category, Severity } from '../core/conventions/alerts.ts';
import type { AlertContext, AlertDef, Recovery, Tuning } from './alert-def.ts';
import { catalogFor } from './catalog.ts';
import { engineRecordingGroups, engineRecordingTest } from './engines.ts';
import { metaCatalog } from './meta-catalog.ts';
import type { MetaAlertDef } from './meta-catalog.ts';
import { GEN_ERR_INVALID_SPEC } from './errors.ts';
import { expandTemplate, humanizeDuration, humanizePercentage } from './humanize.ts';
import type { Humanizer } from './humanize.ts';
import type { AlertInfo, AlertingRule, MonitoringModel, PromtoolTestFile, RuleGroup, Runbook } from './model.ts';
import { absent, anyOf, eq, nre, num, re, sel } from './promql.ts';
import { BURN_RATE_WINDOWS, RATE_WINDOW, recordingGroups } from './recording.ts';
import { histogramFamily, outputTokensFamily } from './families.ts';
import { driftRecordingGroup } from './drift.ts';
import { REPLICAS, counter, gauge, minutesOf, seriesOf } from './scenario.ts';
import type { InputSeries, Scenario } from './scenario.ts';

/** An alerting rule with what its tests need to expand its annotations. */
interface BuiltRule {
  readonly rule: AlertingRule;
  readonly humanizer: Humanizer;
  readonly scenarios: readonly Scenario[];
  /** Model the scenarios use, for the test name. */
  readonly subject: string;
}

interface BuiltAlert {
  readonly info: AlertInfo;
  readonly rules: readonly BuiltRule[];
  /** Minutes between the samples and evaluations of its promtool tests (1 unless the alert says). */
  readonly testStep?: number;
  /** The rule groups its tests load, in evaluation order (all, in no fixed order, unless the alert says). */
  readonly testGroups?: readonly string[];
}

/**
 * Builds the whole monitoring model from a validated spec: recording rules,
 * alert rules (per-model overrides as separate rules of the same alert), the
 * alert list for the writers, and a promtool test file per alert.
 */
export function buildModel(spec: Readonly<MonitoringSpec>): MonitoringModel {
  const names = recordedNames(spec.metricsPrefix, spec.rateWindow);
  const built: BuiltAlert[] = [];
  const problems: string[] = [];
  for (const def of catalogFor(spec)) built.push(...buildTunable(spec, names, def, problems));
  if (problems.length > 0) throw GEN_ERR_INVALID_SPEC(`The spec's alert tuning cannot be generated:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  built.push(buildTargetDown(spec), buildTargetAbsent(spec));
  built.push(...metaCatalog(spec.metricsPrefix).map((def) => buildMeta(spec, def)));
  if (spec.slo.enabled) built.push(...buildBurnRates(spec, names));

  const recording = [...recordingGroups(spec), driftRecordingGroup(spec), ...engineRecordingGroups(spec)];
  const byCategory = new Map<Category, AlertingRule[]>();
  for (const a of built) {
    for (const r of a.rules) {
      const list = byCategory.get(a.info.category) ?? [];
      list.push(r.rule);
      byCategory.set(a.info.category, list);
    }
  }
  const alertGroups: RuleGroup[] = [...byCategory].map(([category, rules]) => ({
    name: RULE_GROUP.alerts(category),
    file: `${category}-alerts`,
    rules,
  }));
  const groups = [...recording, ...alertGroups];
  const ruleFiles = groups.map((g) => `../rules/${g.file}.yml`);
  const fileOf = new Map(groups.map((g) => [g.name, `../rules/${g.file}.yml`]));
  const tests: PromtoolTestFile[] = built
    .filter((a) => a.rules.length > 0)
    .map((a) => ({ file: a.info.name, content: promtoolFile(a.testGroups === undefined ? ruleFiles : a.testGroups.map((g) => fileOf.get(g)!), a) }));
  tests.push({ file: 'recording', content: recordingTests(spec, ruleFiles) });
  const engineTest = engineRecordingTest(spec, ruleFiles);
  if (engineTest !== undefined) tests.push(engineTest);
  // The scenarios sample once a minute: a rate window under five minutes has too few samples
  // for them, so a spec with a shorter window (the local stack's) gets no promtool tests.
  const tested = spec.rateWindow === RATE_WINDOW;
  return { spec, groups, alerts: built.filter((a) => a.rules.length > 0).map((a) => a.info), tests: tested ? tests : [] };
}

/** An alert's tuning: its catalog defaults, then each spec layer in order (every model, one model). */
export function resolveTuning(def: AlertDef, ...layers: Array<AlertTuning | undefined>): Tuning {
  let t: Tuning = { enabled: true, minEvents: 0, ...def.defaults };
  for (const l of layers) if (l !== undefined) t = { ...t, ...stripUndefined(l) };
  return t;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function buildTunable(spec: Readonly<MonitoringSpec>, names: ReturnType<typeof recordedNames>, def: AlertDef, problems: string[]): BuiltAlert[] {
  const global = spec.alerts[def.name];
  const variants: Array<{ tuning: Tuning; matchers: string[]; subject: string; field: string }> = [];
  if (def.scope === 'model') {
    const overridden = Object.entries(spec.models)
      .filter(([, m]) => m.alerts[def.name as keyof typeof m.alerts] !== undefined)
      .map(([model]) => model)
      .sort();
    let subject = 'example-model';
    while (overridden.includes(subject)) subject += '-x';
    variants.push({
      tuning: resolveTuning(def, global),
      matchers: overridden.length === 0 ? [] : [nre(LABEL.model, anyOf(overridden))],
      subject,
      field: `alerts.${def.name}`,
    });
    for (const model of overridden) {
      const own = spec.models[model]!.alerts[def.name as keyof (typeof spec.models)[string]['alerts']];
      variants.push({ tuning: resolveTuning(def, global, own), matchers: [eq(LABEL.model, model)], subject: model, field: `models.${model}.alerts.${def.name}` });
    }
  } else {
    variants.push({ tuning: resolveTuning(def, global), matchers: [], subject: def.scope, field: `alerts.${def.name}` });
  }
  const rules: BuiltRule[] = [];
  for (const v of variants) {
    if (!v.tuning.enabled) continue;
    const c: AlertContext = { spec, names, tuning: v.tuning };
    const problem = def.validate?.(c);
    if (problem !== undefined) {
      problems.push(`${v.field}: ${problem}`);
      continue;
    }
    if (def.defaults.minEvents === undefined && v.tuning.minEvents > 0) {
      problems.push(`${v.field}.minEvents: ${def.name} is not a ratio or quantile alert, so a minimum of events has no meaning for it; remove it`);
      continue;
    }
    if (def.defaults.window === undefined && v.tuning.window !== undefined) {
      problems.push(`${v.field}.window: ${def.name} has no window of its own (its window is the spec's rateWindow); remove it`);
      continue;
    }
    const keepFiringFor = keptFor(v.tuning);
    if (keepFiringFor !== undefined && def.recovery === undefined) {
      problems.push(`${v.field}.keepFiringFor: ${def.name} does not take keep_firing_for (its signal is not noisy, and no generated test could show it holding); remove it`);
      continue;
    }
    const fill = (s: string) =>
      s.replaceAll('{threshold}', def.showThreshold(v.tuning.threshold)).replaceAll('{for}', v.tuning.for).replaceAll('{window}', v.tuning.window ?? spec.rateWindow);
    rules.push({
      rule: {
        alert: def.name,
        expr: def.expr(c, v.matchers),
        for: v.tuning.for,
        ...(keepFiringFor === undefined ? {} : { keepFiringFor }),
        labels: staticLabels(spec, v.tuning.severity, def.category),
        annotations: {
          summary: fill(def.summary),
          description: fill(def.description),
          runbook_url: runbookURL(spec, def.name),
        },
      },
      humanizer: def.humanizer,
      scenarios: [
        ...withOtherModel(def.scenarios(c, v.subject), def.scope === 'model' && v === variants[0], v.subject, spec),
        ...recoveryScenarios(def.recovery?.(c, v.subject), keepFiringFor),
      ],
      subject: v.subject,
    });
  }
  return [
    {
      info: {
        ...alertInfo(spec, def.name, def.category, rules, def.identity, def.summary, def.runbook),
        ...(def.keepFiringForWhy !== undefined && rules.some((r) => r.rule.keepFiringFor !== undefined) ? { keepFiringForWhy: withPrefix(def.keepFiringForWhy, spec.metricsPrefix) } : {}),
      },
      rules,
      ...(def.testStep === undefined ? {} : { testStep: def.testStep(spec) }),
      ...(def.testGroups === undefined ? {} : { testGroups: def.testGroups }),
    },
  ];
}

/**
 * A model's scenarios plus one with two models (issue 14, point 10): the model of the first
 * firing scenario as it is there, and a second model fed the healthy scenario's series beside
 * it. The alert must fire for the bad model only, with its labels: a rule that aggregated the
 * model away, or matched the healthy one, fails it. Only the default rule of an alert gets it
 * (the healthy model is not one of the per-model overrides).
 */
function withOtherModel(scenarios: readonly Scenario[], add: boolean, subject: string, spec: Readonly<MonitoringSpec>): Scenario[] {
  if (!add) return [...scenarios];
  const firing = scenarios.find((s) => s.name.startsWith('firing') && s.expect.length > 0);
  const healthy = scenarios.find((s) => s.name === 'healthy');
  if (firing === undefined || healthy === undefined) return [...scenarios];
  let other = `${subject}-healthy`;
  while (spec.models[other] !== undefined) other += '-x';
  return [...scenarios, twoModels(firing, healthy, subject, other)];
}

/** `bad`'s series and expected alerts, beside `good`'s series relabelled to the model `other`. */
export function twoModels(bad: Scenario, good: Scenario, subject: string, other: string): Scenario {
  // The model is `model` on llmwatch's series, `gen_ai_request_model` on the OpenTelemetry families.
  const label = new RegExp(`([{,])(${LABEL.model}|${GENAI_LABEL.requestModel})="${subject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`);
  const moved = good.series.map((x) => {
    if (!label.test(x.series)) throw new Error(`scenario series without model="${subject}": ${x.series}`);
    return { ...x, series: x.series.replace(label, `$1$2="${other}"`) };
  });
  return { name: `two models: ${subject} ${bad.name}, ${other} healthy`, series: [...bad.series, ...moved], at: bad.at, expect: bad.expect };
}

/** The tuning's `keep_firing_for`, undefined when absent or zero. */
function keptFor(t: Tuning): string | undefined {
  return t.keepFiringFor === undefined || t.keepFiringFor === '0s' ? undefined : t.keepFiringFor;
}

/**
 * What an alert does once its signal recovers, from its {@link AlertDef.recovery}:
 * without `keep_firing_for` it resolves at once; with it, it still fires in the
 * last minute of `keep_firing_for` while its expression returns nothing, and has
 * resolved a minute later. Prometheus keeps an alert while less than
 * `keep_firing_for` has passed since the first evaluation that did not return it
 * (rules/alerting.go, `KeepFiringSince`). The resolved checks come a minute
 * late: promtool evaluates rule groups in no fixed order, so an alert reading a
 * recording rule may see the recovery one evaluation after `clearsAt`.
 */
export function recoveryScenarios(r: Recovery | undefined, keepFiringFor: string | undefined): Scenario[] {
  if (r === undefined) return [];
  if (keepFiringFor === undefined) {
    return [{ name: 'resolves once the signal recovers', series: r.series, at: r.clearsAt + 1, expect: [], exprSilentAt: r.clearsAt + 1 }];
  }
  const held = minutesOf(keepFiringFor);
  return [
    { name: `held by keep_firing_for ${keepFiringFor} after the signal recovers`, series: r.series, at: r.clearsAt + held - 1, expect: r.expect, exprSilentAt: r.clearsAt + held - 1 },
    { name: `resolves once keep_firing_for ${keepFiringFor} has passed`, series: r.series, at: r.clearsAt + held + 1, expect: [] },
  ];
}

function staticLabels(spec: Readonly<MonitoringSpec>, severity: Severity, category: Category): Record<string, string> {
  return { [ALERT_LABEL.severity]: severity, [ALERT_LABEL.service]: spec.service, [ALERT_LABEL.category]: category };
}

function runbookURL(spec: Readonly<MonitoringSpec>, alert: string): string {
  return `${spec.runbookBaseURL.replace(/\/+$/, '')}/${alert}.md`;
}

function alertInfo(
  spec: Readonly<MonitoringSpec>,
  name: string,
  category: Category,
  rules: readonly BuiltRule[],
  identity: readonly string[],
  summary: string,
  runbook: Runbook,
): AlertInfo {
  const severities = [...new Set(rules.map((r) => r.rule.labels[ALERT_LABEL.severity] as Severity))];
  const named = (text: string) => withPrefix(text, spec.metricsPrefix);
  return {
    name,
    category,
    severities,
    identity,
    summary,
    runbook: { meaning: named(runbook.meaning), impact: named(runbook.impact), diagnosis: runbook.diagnosis.map(named), mitigation: runbook.mitigation.map(named) },
    runbookURL: runbookURL(spec, name),
  };
}

/**
 * The catalog's runbook texts name llmwatch's metrics as `{prefix}requests_total`,
 * never under one prefix: the model names them under the spec's.
 */
export function withPrefix(text: string, metricsPrefix: string): string {
  return text.replaceAll('{prefix}', metricsPrefix);
}

/** Every scrape job the spec deploys, with the severity of losing it. */
function jobs(spec: Readonly<MonitoringSpec>): Array<{ job: string; severity: Severity }> {
  const list: Array<{ job: string; severity: Severity }> = [{ job: JOB.gateway, severity: 'critical' }];
  if (spec.targets.nodeExporter.length > 0) list.push({ job: JOB.node, severity: 'warning' });
  if (spec.targets.gpuExporter.targets.length > 0) list.push({ job: JOB.gpu, severity: 'warning' });
  if (spec.targets.responder.length > 0) list.push({ job: JOB.responder, severity: 'warning' });
  for (const server of spec.targets.modelServers) list.push({ job: modelServerJob(server.name), severity: 'warning' });
  // The self-scrape jobs: without them the meta alerts read nothing.
  if (spec.targets.prometheus.length > 0) list.push({ job: JOB.prometheus, severity: 'warning' });
  list.push({ job: JOB.alertmanager, severity: 'warning' });
  return list;
}

/** A meta alert (the Watchdog, Prometheus' and Alertmanager's own failures): one fixed rule, its scenarios, and its recovery where it keeps firing. */
function buildMeta(spec: Readonly<MonitoringSpec>, def: MetaAlertDef): BuiltAlert {
  const rule: BuiltRule = {
    rule: {
      alert: def.name,
      expr: def.expr,
      for: def.for,
      ...(def.keepFiringFor === undefined ? {} : { keepFiringFor: def.keepFiringFor }),
      labels: staticLabels(spec, def.severity, 'meta'),
      annotations: { summary: def.summary, description: def.description, runbook_url: runbookURL(spec, def.name) },
    },
    humanizer: def.humanizer,
    scenarios: [...def.scenarios, ...recoveryScenarios(def.recovery, def.keepFiringFor)],
    subject: def.identity.includes('instance') ? 'self' : 'pipeline',
  };
  return {
    info: {
      ...alertInfo(spec, def.name, 'meta', [rule], def.identity, def.summary, def.runbook),
      ...(def.keepFiringForWhy === undefined ? {} : { keepFiringForWhy: withPrefix(def.keepFiringForWhy, spec.metricsPrefix) }),
    },
    rules: [rule],
  };
}

const TARGET_DOWN_RUNBOOK: Runbook = {
  meaning: 'Prometheus cannot scrape a target it is configured to scrape: the process is down, or unreachable from Prometheus.',
  impact: 'A down gateway drops every request sent to it; a down exporter blinds the alerts that read its metrics.',
  diagnosis: ['Prometheus → Status → Targets shows the scrape error.', '`curl http://<instance>/metrics` from the Prometheus host.'],
  mitigation: ['Restart the process; check the firewall and the address in the Prometheus config. Alerts about the same instance are inhibited while this one fires.'],
};

const TARGET_ABSENT_RUNBOOK: Runbook = {
  meaning: 'Prometheus has no target at all for a job the spec deploys: rules that read its metrics would stay silent, however bad things get.',
  impact: 'Monitoring is blind for this part.',
  diagnosis: ['Is the job in prometheus.yml? Does service discovery find the target? Prometheus → Status → Service Discovery.'],
  mitigation: ['Deploy the exporter or gateway, or remove it from the spec (`targets`).'],
};

/**
 * The deployed jobs grouped by the severity of losing them: one rule per severity, so no two rules
 * of an alert share its name and labels (promtool's duplicate-rules lint), each job's scenarios
 * run against the rule that holds it.
 */
function jobsBySeverity(spec: Readonly<MonitoringSpec>): Array<{ severity: Severity; jobs: string[] }> {
  const groups = new Map<Severity, string[]>();
  for (const { job, severity } of jobs(spec)) groups.set(severity, [...(groups.get(severity) ?? []), job]);
  return [...groups].map(([severity, list]) => ({ severity, jobs: list }));
}

function buildTargetDown(spec: Readonly<MonitoringSpec>): BuiltAlert {
  const rules: BuiltRule[] = [];
  for (const { severity, jobs: group } of jobsBySeverity(spec)) {
    const scenarios = group.flatMap((job): Scenario[] => {
      const firing: Scenario = {
        name: `${job}: firing`,
        series: [gauge('up', { job, instance: 'target-1:9000' }, 0), gauge('up', { job, instance: 'target-2:9000' }, 1)],
        at: 5,
        expect: [{ labels: { job, instance: 'target-1:9000' }, value: 0 }],
      };
      const healthy: Scenario = { name: `${job}: healthy`, series: [gauge('up', { job, instance: 'target-1:9000' }, 1)], at: 5, expect: [] };
      // Idle and healthy are the same for a target: it is up.
      return [firing, healthy, { ...healthy, name: `${job}: idle` }];
    });
    rules.push({
      rule: {
        alert: 'TargetDown',
        expr: `${sel('up', group.length === 1 ? eq('job', group[0]!) : re('job', anyOf(group)))} == 0`,
        for: '1m',
        labels: staticLabels(spec, severity, 'availability'),
        annotations: {
          summary: 'Target {{ $labels.instance }} of job {{ $labels.job }} is down',
          description: 'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 1m.',
          runbook_url: runbookURL(spec, 'TargetDown'),
        },
      },
      humanizer: 'humanize',
      scenarios,
      subject: severity,
    });
  }
  return { info: alertInfo(spec, 'TargetDown', 'availability', rules, ['job', 'instance'], 'Target {{ $labels.instance }} of job {{ $labels.job }} is down', TARGET_DOWN_RUNBOOK), rules };
}

function buildTargetAbsent(spec: Readonly<MonitoringSpec>): BuiltAlert {
  const rules: BuiltRule[] = [];
  const all = jobs(spec);
  for (const { severity, jobs: group } of jobsBySeverity(spec)) {
    const scenarios = group.flatMap((job): Scenario[] => {
      // Every other job is there, so only the job under test can be absent.
      const others = all.filter((j) => j.job !== job).map((j) => gauge('up', { job: j.job, instance: 'target-1:9000' }, 1));
      const present = [...others, gauge('up', { job, instance: 'target-1:9000' }, 1)];
      return [
        { name: `${job}: firing`, series: others, at: 10, expect: [{ labels: { job }, value: 1 }] },
        { name: `${job}: healthy`, series: present, at: 10, expect: [] },
        { name: `${job}: idle`, series: present, at: 10, expect: [] },
      ];
    });
    rules.push({
      rule: {
        alert: 'TargetAbsent',
        // One absent() per job: absent() takes its labels from equality matchers only, so each names its job.
        expr: group.map((job) => absent(sel('up', eq('job', job)))).join(' or '),
        for: '5m',
        labels: staticLabels(spec, severity, 'availability'),
        annotations: {
          summary: 'No target of job {{ $labels.job }} is scraped',
          description: 'Prometheus has had no target for job {{ $labels.job }} for 5m: every rule reading its metrics is blind.',
          runbook_url: runbookURL(spec, 'TargetAbsent'),
        },
      },
      humanizer: 'humanize',
      scenarios,
      subject: severity,
    });
  }
  return { info: alertInfo(spec, 'TargetAbsent', 'availability', rules, ['job'], 'No target of job {{ $labels.job }} is scraped', TARGET_ABSENT_RUNBOOK), rules };
}

/**
 * Error and latency budget burn, multiwindow and multi-burn-rate: a page when
 * either fast pair of windows burns (14.4x over 1h and 5m, or 6x over 6h and
 * 30m), a ticket when the slow pair does (1x over 3d and 6h).
 */
function buildBurnRates(spec: Readonly<MonitoringSpec>, names: ReturnType<typeof recordedNames>): BuiltAlert[] {
  const requests = metricName('requests', spec.metricsPrefix);
  const threshold = sloLatencyThreshold(spec.slo);
  const ttftIndicator = spec.slo.latencyIndicator === 'ttft';
  // The objective's histogram in the spec's naming (llmwatch's or OpenTelemetry's).
  const judged = histogramFamily(spec, ttftIndicator ? 'ttft' : 'latency');
  const duration = judged.metric;
  const judgedLabels = (instance: string, extra: Record<string, string> = {}) => ({ job: JOB.gateway, instance, ...judged.labels(model, 'chat_completions'), ...extra });
  const le = num(threshold);
  const model = 'example-model';
  const kinds = [
    {
      name: 'ErrorBudgetBurn',
      objective: spec.slo.availability,
      ratio: names.errorRatio,
      events: names.judgedEvents,
      what: 'failed',
      // One request a minute on one replica, one of them (at minute 60) failed.
      lowTraffic: (): InputSeries[] => [
        counter(requests, { job: JOB.gateway, instance: REPLICAS[0], model, endpoint: 'chat_completions', status: 'success', code: '2xx' }, 1),
        { series: seriesOf(requests, { job: JOB.gateway, instance: REPLICAS[0], model, endpoint: 'chat_completions', status: 'error', code: '5xx' }), values: '0x60 1x120' },
      ],
      // Traffic where a share `bad` of requests fail.
      series: (bad: number) =>
        REPLICAS.flatMap((instance) => [
          counter(requests, { job: JOB.gateway, instance, model, endpoint: 'chat_completions', status: 'success', code: '2xx' }, 1000 * (1 - bad)),
          counter(requests, { job: JOB.gateway, instance, model, endpoint: 'chat_completions', status: 'error', code: '5xx' }, 1000 * bad),
        ]),
    },
    {
      name: 'LatencyBudgetBurn',
      objective: spec.slo.latency,
      ratio: names.slowRatio,
      events: names.latencyEvents,
      what: ttftIndicator ? `waited longer than ${humanizeDuration(threshold)} for their first token` : `took longer than ${humanizeDuration(threshold)}`,
      // One answer a minute on one replica, one of them (at minute 60) slow.
      lowTraffic: (): InputSeries[] => [
        { series: seriesOf(`${duration}_bucket`, judgedLabels(REPLICAS[0], { le })), values: '0+1x59 59+1x121' },
        { series: seriesOf(`${duration}_count`, judgedLabels(REPLICAS[0])), values: '0+1x180' },
      ],
      // Traffic where a share `bad` of requests is slower than the objective.
      series: (bad: number) =>
        REPLICAS.flatMap((instance) => [
          counter(`${duration}_bucket`, judgedLabels(instance, { le }), 1000 * (1 - bad)),
          counter(`${duration}_count`, judgedLabels(instance), 1000),
        ]),
    },
  ] as const;
  return kinds.map((k) => {
    // Rounded: 1 - 0.999 is 0.0010000000000000009 in binary floating point.
    const budget = Number((1 - k.objective).toPrecision(12));
    const condition = (w: (typeof BURN_RATE_WINDOWS)[number]) =>
      `(${k.ratio(w.long)} > ${num(w.burnRate)} * ${num(budget)} and ${k.ratio(w.short)} > ${num(w.burnRate)} * ${num(budget)} and ${k.events(w.long)} >= ${num(burnMinEvents(spec, w.burnRate, budget))})`;
    const page = BURN_RATE_WINDOWS.filter((w) => w.severity === 'critical');
    const ticket = BURN_RATE_WINDOWS.filter((w) => w.severity === 'warning');
    // Fast burn: 20x the budget. Slow burn: 2x, which only the 3-day pair sees.
    const fastBad = Math.min(1, budget * 20);
    const slowBad = budget * 2;
    const objective = humanizePercentage(k.objective);
    const annotations = (window: string, severity: string) => ({
      summary: `{{ $labels.model }} is burning its ${k.name === 'ErrorBudgetBurn' ? 'error' : 'latency'} budget ${severity === 'critical' ? 'fast' : 'slowly'}`,
      description: `{{ $value | humanizePercentage }} of requests to model {{ $labels.model }} ${k.what} over the last ${window}, against an objective of ${objective}: the 30-day budget will not last.`,
      runbook_url: runbookURL(spec, k.name),
    });
    const m = { [LABEL.model]: model };
    // Both rules share the alert name, so each scenario lists what both do: a fast burn
    // also fires the ticket (Alertmanager's inhibition keeps it quiet), a slow one only the ticket.
    const scenarios: Scenario[] = [
      {
        name: 'fast burn',
        series: k.series(fastBad),
        at: 70,
        expect: [
          { labels: m, value: fastBad, severity: 'critical' },
          { labels: m, value: fastBad, severity: 'warning' },
        ],
      },
      { name: 'slow burn', series: k.series(slowBad), at: 120, expect: [{ labels: m, value: slowBad, severity: 'warning' }] },
      { name: 'healthy', series: k.series(0), at: 120, expect: [] },
      { name: 'idle', series: k.series(0).map((s) => ({ ...s, values: '0+0x180' })), at: 120, expect: [] },
      // Without the minimum of events this pages: one bad request (at minute 61) among the sixty of the last hour is 1.6%.
      ...(burnMinEvents(spec, BURN_RATE_WINDOWS[0].burnRate, budget) > 65 ? [{ name: 'one bad request at one a minute', series: k.lowTraffic(), at: 65, expect: [] }] : []),
    ];
    // Two models, one burning fast and one healthy: only the burning one, with its labels.
    scenarios.push(twoModels(scenarios[0]!, scenarios[2]!, model, `${model}-healthy`));
    // Prometheus 3 normalises a whole-number bound on ingestion (le="2" is stored as le="2.0"): the rules read both.
    if (k.name === 'LatencyBudgetBurn' && Number.isInteger(threshold)) {
      const as3 = (x: InputSeries) => ({ ...x, series: x.series.replace(`le="${le}"`, `le="${le}.0"`) });
      scenarios.push({ ...scenarios[0]!, name: `fast burn, stored as Prometheus 3 does (le="${le}.0")`, series: scenarios[0]!.series.map(as3) });
    }
    const rules: BuiltRule[] = [
      {
        rule: {
          alert: k.name,
          expr: page.map(condition).join(' or '),
          for: '2m',
          labels: staticLabels(spec, 'critical', 'slo'),
          annotations: annotations('hour', 'critical'),
        },
        humanizer: 'humanizePercentage',
        scenarios,
        subject: model,
      },
      {
        rule: {
          alert: k.name,
          expr: ticket.map(condition).join(' or '),
          for: '1h',
          labels: staticLabels(spec, 'warning', 'slo'),
          annotations: annotations('3 days', 'warning'),
        },
        humanizer: 'humanizePercentage',
        scenarios: [],
        subject: model,
      },
    ];
    const runbook: Runbook = {
      meaning: `Requests that ${k.what} are spending the ${objective} objective's 30-day error budget faster than it can last (Google SRE workbook, multiwindow multi-burn-rate alerts). Critical: 2% of the budget in an hour or 5% in six hours. Warning: 10% in three days.`,
      impact: 'Users see failures or slowness; at this rate the objective will be missed this month.',
      diagnosis: ['Start from the matching symptom alerts (HighErrorRate, HighInferenceLatency) and their runbooks.', 'Which window is burning: compare the ratios over 5m, 1h, 6h and 3d in the recording rules.'],
      mitigation: ['As for the symptom alerts; a slow burn is a ticket for the team, not a page.'],
    };
    return { info: alertInfo(spec, k.name, 'slo', rules, [LABEL.model], annotations('hour', 'critical').summary, runbook), rules };
  });
}

/**
 * The fewest events the long window of a burn-rate pair must hold: the spec's
 * `slo.minEvents`, or with `auto` the fewest at which one bad event stays within
 * the pair's burn threshold (1 / (burn rate x budget): 70 for 14.4x at 99.9%).
 */
export function burnMinEvents(spec: Readonly<MonitoringSpec>, burnRate: number, budget: number): number {
  return spec.slo.minEvents === 'auto' ? Math.ceil(1 / (burnRate * budget) - 1e-9) : spec.slo.minEvents;
}

/** One promtool test per rule and scenario, each in its own test group. */
function promtoolFile(ruleFiles: readonly string[], a: BuiltAlert): Record<string, unknown> {
  const step = `${a.testStep ?? 1}m`;
  const tests = a.rules.flatMap((r) =>
    r.scenarios.map((s) => ({
      name: `${a.info.name} (${r.rule.labels[ALERT_LABEL.severity]}, ${r.subject}): ${s.name}`,
      interval: step,
      input_series: s.series.map((x) => ({ series: x.series, values: x.values })),
      ...(s.exprSilentAt === undefined ? {} : { promql_expr_test: [{ expr: r.rule.expr, eval_time: `${s.exprSilentAt}m`, exp_samples: [] }] }),
      alert_rule_test: [
        {
          eval_time: `${s.at}m`,
          alertname: a.info.name,
          exp_alerts: s.expect
            .map((e) => {
              const source = e.severity === undefined ? r : (a.rules.find((x) => x.rule.labels[ALERT_LABEL.severity] === e.severity) ?? r);
              const labels = { ...e.labels, ...source.rule.labels };
              return {
                exp_labels: sortKeys(labels),
                exp_annotations: sortKeys(
                  Object.fromEntries(Object.entries(source.rule.annotations).map(([k, v]) => [k, expandTemplate(v, labels, e.value)])),
                ),
              };
            }),
        },
      ],
    })),
  );
  // Where several rules of one alert share a test, the others must be silent in it: promtool
  // checks all rules of the alert name, so a scenario lists only what it expects.
  return { rule_files: [...ruleFiles], evaluation_interval: step, ...(a.testGroups === undefined ? {} : { group_eval_order: [...a.testGroups] }), tests };
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** promql tests of the article's recorded names, with exact values. */
function recordingTests(spec: Readonly<MonitoringSpec>, ruleFiles: readonly string[]): Record<string, unknown> {
  const p = spec.metricsPrefix;
  const n = recordedNames(p, spec.rateWindow);
  const model = 'example-model';
  const gw = (instance: string, extra: Record<string, string>) => ({ job: JOB.gateway, instance, model, ...extra });
  const outputTokens = outputTokensFamily(spec);
  const series = [
    ...REPLICAS.flatMap((instance) => [
      counter(metricName('requests', p), gw(instance, { endpoint: 'chat_completions', status: 'success', code: '2xx' }), 570),
      counter(metricName('requests', p), gw(instance, { endpoint: 'chat_completions', status: 'error', code: '5xx' }), 30),
      // Generated tokens in the spec's naming; under otel, input tokens beside them must not count.
      counter(outputTokens.metric, { job: JOB.gateway, instance, ...outputTokens.labels(model, 'chat_completions') }, 1200),
      ...(spec.metricsNaming === 'otel'
        ? [counter(outputTokens.metric, { job: JOB.gateway, instance, ...outputTokens.labels(model, 'chat_completions'), [GENAI_LABEL.tokenType]: 'input' }, 6000)]
        : []),
      counter(metricName('tokensProcessed', p), gw(instance, { kind: 'prompt', source: 'usage' }), 6000),
      counter(metricName('cacheRequests', p), gw(instance, { result: 'hit' }), 15),
      counter(metricName('cacheRequests', p), gw(instance, { result: 'miss' }), 45),
      counter(metricName('cacheRequests', p), gw(instance, { result: 'bypass' }), 540),
    ]),
    ...[0, 1].flatMap((cpu) => [
      counter('node_cpu_seconds_total', { job: JOB.node, instance: 'node-1:9100', cpu: String(cpu), mode: 'idle' }, 15),
      counter('node_cpu_seconds_total', { job: JOB.node, instance: 'node-1:9100', cpu: String(cpu), mode: 'user' }, 45),
    ]),
    gauge('node_memory_MemTotal_bytes', { job: JOB.node, instance: 'node-1:9100' }, 16e9),
    gauge('node_memory_MemAvailable_bytes', { job: JOB.node, instance: 'node-1:9100' }, 4e9),
  ];
  const at = '10m';
  const expect = (expr: string, labels: Record<string, string>, value: number) => ({
    expr,
    eval_time: at,
    exp_samples: [{ labels: sel(expr.includes('{') ? expr.slice(0, expr.indexOf('{')) : expr, ...Object.entries(labels).map(([k, v]) => eq(k, v))), value }],
  });
  return {
    rule_files: [...ruleFiles],
    evaluation_interval: '1m',
    tests: [
      {
        name: "the article's derived names, summed over three gateway replicas",
        interval: '1m',
        input_series: series,
        promql_expr_test: [
          // 3 x 600 requests a minute: 30 per second, 5% failed.
          expect(n.requestRate, { model }, 30),
          expect(n.errorRate, { model }, 0.05),
          // 3 x 1200 completion tokens a minute: 60 per second (prompt tokens are not throughput).
          expect(n.tokenThroughput, { model }, 60),
          // 15 hits and 45 misses per replica a minute: 25%, bypassed requests left out.
          expect(n.cacheHitRate, { model }, 0.25),
          // 2 cores, each idle a quarter of the time: 75%.
          expect('node_cpu_usage_percent', { instance: 'node-1:9100' }, 75),
          expect('node_memory_usage_bytes', { job: JOB.node, instance: 'node-1:9100' }, 12e9),
          expect('instance:node_memory_utilisation:ratio', { job: JOB.node, instance: 'node-1:9100' }, 0.75),
        ],
      },
      histogramRecordingTest(spec, expect),
      gpuRecordingTest(spec, expect),
    ],
  };
}

/**
 * The latency, time-to-first-token and time-per-output-token rules over the spec's naming
 * (llmwatch's histograms, or the OpenTelemetry families relabelled to `model` and
 * `endpoint`): per replica, 60 answers a minute, all in the histogram's third bucket, so the
 * median is that bucket's middle. Under otel, failed operations beside them must not count.
 */
function histogramRecordingTest(
  spec: Readonly<MonitoringSpec>,
  expect: (expr: string, labels: Record<string, string>, value: number) => Record<string, unknown>,
): Record<string, unknown> {
  const n = recordedNames(spec.metricsPrefix, spec.rateWindow);
  const model = 'example-model';
  const endpoint: Endpoint = 'chat_completions';
  const families = [
    { family: histogramFamily(spec, 'latency'), count: n.latencyCount, p50: n.latencyQuantile('p50') },
    { family: histogramFamily(spec, 'ttft'), count: n.ttftCount, p50: n.ttftQuantile('p50') },
    { family: histogramFamily(spec, 'tpot'), count: n.tpotCount, p50: n.tpotQuantile('p50') },
  ];
  const histogram = (metric: string, bounds: readonly number[], labels: Record<string, string>, perMinute: number) => [
    ...[...bounds.map(num), '+Inf'].map((le, i) => counter(`${metric}_bucket`, { ...labels, le }, i >= 2 ? perMinute : 0)),
    counter(`${metric}_count`, labels, perMinute),
  ];
  const input = REPLICAS.flatMap((instance) =>
    families.flatMap(({ family }) => [
      ...histogram(family.metric, family.bounds, { job: JOB.gateway, instance, ...family.labels(model, endpoint) }, 60),
      // A failed operation's duration (OpenTelemetry counts every operation; the latency rules read successes).
      ...(spec.metricsNaming === 'otel' && family.matchers.length > 0
        ? histogram(family.metric, family.bounds, { job: JOB.gateway, instance, ...family.labels(model, endpoint), [GENAI_LABEL.errorType]: 'error_5xx' }, 30)
        : []),
    ]),
  );
  const labels = { [LABEL.model]: model, [LABEL.endpoint]: endpoint };
  return {
    name: `the latency, TTFT and TPOT rules over ${spec.metricsNaming === 'otel' ? 'the OpenTelemetry GenAI families' : "the gateway's histograms"}, summed over three replicas`,
    interval: '1m',
    input_series: input,
    promql_expr_test: families.flatMap(({ family, count, p50 }) => [
      // 3 x 60 answers a minute: 3 per second.
      expect(count, labels, 3),
      // All in the third bucket: the median is its middle.
      expect(p50, labels, family.bounds[1]! + (family.bounds[2]! - family.bounds[1]!) * 0.5),
    ]),
  };
}

/**
 * The GPU names, from the spec's GPU exporter: llmwatch's own (the ratio over its
 * series), or dcgm-exporter's series mapped onto the same names and labels,
 * with a GPU shared by two pods that must stay one GPU.
 */
function gpuRecordingTest(
  spec: Readonly<MonitoringSpec>,
  expect: (expr: string, labels: Record<string, string>, value: number) => Record<string, unknown>,
): Record<string, unknown> {
  const MIB = 1024 * 1024;
  const source = spec.targets.gpuExporter.source;
  switch (source) {
    case 'llmwatch': {
      const gpu = { job: JOB.gpu, instance: 'gpu-host-1:9835', gpu: '0', uuid: 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70', name: 'NVIDIA H100 80GB HBM3' };
      return {
        name: 'GPU memory use from the llmwatch exporter',
        interval: '1m',
        input_series: [gauge(GPU_METRIC.memoryUsage, gpu, 40_000 * MIB), gauge(GPU_METRIC.memoryTotal, gpu, 80_000 * MIB)],
        promql_expr_test: [expect(NODE.gpuMemoryUtilisation, gpu, 0.5)],
      };
    }
    case 'dcgm': {
      const L = DCGM.label;
      const dcgm = (gpu: string, uuid: string, extra: Record<string, string>) => ({
        job: JOB.gpu,
        instance: 'gpu-host-1:9400',
        [L.gpu]: gpu,
        [L.uuid]: uuid,
        pci_bus_id: `00000000:1${gpu}:00.0`,
        device: `nvidia${gpu}`,
        [L.modelName]: 'NVIDIA H100 80GB HBM3',
        [L.hostname]: 'gpu-host-1',
        DCGM_FI_DRIVER_VERSION: '550.90.12',
        ...extra,
      });
      // GPU 0 is time-sliced between two pods: dcgm-exporter gives one series per pod, the same readings in each.
      const shared = [{ container: 'vllm', namespace: 'llm', pod: 'vllm-0' }, { container: 'vllm', namespace: 'llm', pod: 'vllm-1' }];
      const gpu0 = shared.map((pod) => dcgm('0', 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70', pod));
      const gpu1 = dcgm('1', 'GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', {});
      const readings = (labels: Record<string, string>, used: number, free: number, util: number, temp: number, power: number) => [
        gauge(DCGM.fbUsed, labels, used),
        gauge(DCGM.fbFree, labels, free),
        gauge(DCGM.gpuUtil, labels, util),
        gauge(DCGM.gpuTemp, labels, temp),
        gauge(DCGM.powerUsage, labels, power),
      ];
      const mapped = (gpu: string, uuid: string) => ({ job: JOB.gpu, instance: 'gpu-host-1:9400', gpu, uuid, name: 'NVIDIA H100 80GB HBM3', hostname: 'gpu-host-1' });
      const m0 = mapped('0', 'GPU-8f6e3a1c-5b2d-4c7e-9a10-2b3c4d5e6f70');
      const m1 = mapped('1', 'GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d');
      return {
        name: "dcgm-exporter's series under the llmwatch exporter's names: MiB to bytes, total = used + free, percent to a ratio",
        interval: '1m',
        input_series: [...gpu0.flatMap((l) => readings(l, 73_000, 8_081, 97, 71, 612.5)), ...readings(gpu1, 0, 81_081, 0, 29, 35.25)],
        promql_expr_test: [
          expect(sel(GPU_METRIC.memoryUsage, eq('gpu', '0')), m0, 73_000 * MIB),
          expect(sel(GPU_METRIC.memoryTotal, eq('gpu', '0')), m0, 81_081 * MIB),
          expect(sel(NODE.gpuMemoryUtilisation, eq('gpu', '0')), m0, (73_000 * MIB) / (81_081 * MIB)),
          expect(sel(GPU_METRIC.utilisation, eq('gpu', '0')), m0, 97 / 100),
          expect(sel(GPU_METRIC.temperature, eq('gpu', '0')), m0, 71),
          expect(sel(GPU_METRIC.power, eq('gpu', '0')), m0, 612.5),
          expect(sel(GPU_METRIC.memoryUsage, eq('gpu', '1')), m1, 0),
          expect(sel(NODE.gpuMemoryUtilisation, eq('gpu', '1')), m1, 0),
          expect(sel(GPU_METRIC.utilisation, eq('gpu', '1')), m1, 0),
          expect(sel(GPU_METRIC.power, eq('gpu', '1')), m1, 35.25),
        ],
      };
    }
    default: {
      const never: never = source;
      throw new Error(`unexpected GPU exporter source: ${String(never)}`);
    }
  }
}
