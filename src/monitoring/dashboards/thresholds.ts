import type { TunableAlert } from '../../core/conventions/alerts.ts';
import { resolveTuning } from '../build.ts';
import { catalogFor } from '../catalog.ts';
import { humanize, humanizeDuration, humanizePercentage } from '../humanize.ts';
import type { MonitoringModel } from '../model.ts';
import type { Threshold, Unit } from '../../core/dashboard-model.ts';

/**
 * The level an alert fires at, as the spec tunes it for every model or host
 * (`alerts.<Alert>` over the catalog's defaults, through the rule builder's
 * own `resolveTuning`), with the models tuned apart listed beside it. Undefined
 * when the alert is disabled or not generated for this spec (the collector
 * alert under dcgm-exporter): a panel then draws no level that nothing watches.
 */
export function alertThreshold(model: MonitoringModel, alert: TunableAlert, direction: Threshold['direction']): Threshold | undefined {
  const def = catalogFor(model.spec).find((d) => d.name === alert);
  const info = model.alerts.find((a) => a.name === alert);
  if (def === undefined || info === undefined) return undefined;
  const global = resolveTuning(def, model.spec.alerts[alert]);
  if (!global.enabled) return undefined;
  const perModel: Array<{ model: string; value: number }> = [];
  if (def.scope === 'model') {
    for (const [name, m] of Object.entries(model.spec.models).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const own = resolveTuning(def, model.spec.alerts[alert], m.alerts[alert as keyof typeof m.alerts]);
      if (own.enabled && own.threshold !== global.threshold) perModel.push({ model: name, value: own.threshold });
    }
  }
  return { value: global.threshold, direction, severity: global.severity, alert: { name: alert, runbookURL: info.runbookURL, perModel } };
}

/**
 * A sentence naming the alert behind a threshold and its level, per-model
 * levels included, for a panel's description; empty without an alert.
 * @example
 * thresholdNote(t, 'seconds'); // " Line: HighInferenceLatency (critical) at 2s; llama-3.2-1b-instruct at 1s."
 */
export function thresholdNote(t: Threshold | undefined, unit: Unit): string {
  if (t?.alert === undefined) return '';
  const own = t.alert.perModel.map((m) => `; ${m.model} at ${showValue(m.value, unit)}`).join('');
  return ` Line: ${t.alert.name} (${t.severity}) at ${showValue(t.value, unit)}${own}.`;
}

/** A value in its unit, written as the alerts' annotations write it (Prometheus' humanize filters). */
export function showValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'seconds':
      return humanizeDuration(value);
    case 'ratio':
      return humanizePercentage(value);
    case 'percent':
      return `${humanize(value)}%`;
    case 'bytes':
      return `${humanize(value)}B`;
    case 'bytesPerSecond':
      return `${humanize(value)}B/s`;
    case 'requestsPerSecond':
      return `${humanize(value)} requests/s`;
    case 'tokensPerSecond':
      return `${humanize(value)} tokens/s`;
    case 'perSecond':
      return `${humanize(value)}/s`;
    case 'celsius':
      return `${humanize(value)} °C`;
    case 'watts':
      return `${humanize(value)} W`;
    case 'count':
      return humanize(value);
  }
}
