import type { Query, Row, Unit } from '../../core/dashboard-model.ts';
import { resolveTuning } from '../build.ts';
import { DRIFT_CATALOG, DRIFT_SIGNALS, driftNames } from '../drift.ts';
import type { MonitoringModel } from '../model.ts';
import { num, sel } from '../promql.ts';
import { panel } from './common.ts';

/**
 * The behaviour row of the overview (docs/drift.md): each drift signal per model, with its two
 * baselines (the same window a week earlier, the rolling mean before it) and the band around the
 * seasonal baseline beyond which its alert fires (the spec's threshold for every model; a model
 * tuned apart keeps its own band in its rule). The alert fires only when the signal also leaves the
 * band around the rolling baseline, the same way.
 */
export function behaviourRow(model: MonitoringModel, modelMatcher: string): Row {
  const { spec } = model;
  const names = driftNames(spec);
  const d = spec.drift;
  return {
    title: 'Behaviour',
    panels: DRIFT_SIGNALS.map((s) => {
      const n = names.signal(s.signal);
      const def = DRIFT_CATALOG.find((x) => x.name === s.alert)!;
      const t = resolveTuning(def, spec.alerts[s.alert]);
      const cur = sel(n.current, modelMatcher);
      const seasonal = `${sel(n.current, modelMatcher)} offset ${d.baselineOffset}`;
      const queries: Query[] = [
        { expr: cur, legend: '{{model}}' },
        { expr: seasonal, legend: `{{model}} ${d.baselineOffset} ago` },
        { expr: sel(n.rolling, modelMatcher), legend: `{{model}} ${d.rollingWindow} mean` },
      ];
      if (t.enabled) {
        for (const edge of bandEdges(s.band, t.threshold, d.ratioFloor)) queries.push({ expr: edge.of(seasonal), legend: `{{model}} band (${edge.name})` });
      }
      const unit: Unit = s.signal === 'outputLength' ? 'count' : 'ratio';
      return panel('timeseries', {
        key: `drift-${s.signal}`,
        title: s.signal === 'outputLength' ? 'Mean output length (tokens)' : `Share of answers: ${s.what}`,
        description:
          `${s.what[0]!.toUpperCase()}${s.what.slice(1)} per model over ${d.window} (\`${n.current}\`), the same ${d.window} ${d.baselineOffset} earlier, ` +
          `and its mean over the ${d.rollingWindow} before (\`${n.rolling}\`), with the band around the earlier one beyond which ${s.alert} fires ` +
          `(${t.enabled ? `threshold ${num(t.threshold)}` : 'disabled'}; it fires only when the ${d.rollingWindow} mean is left behind too, the same way, for ${t.for}).`,
        unit,
        queries,
        min: 0,
        ...(unit === 'ratio' ? { max: 1 } : {}),
        width: s.signal === 'outputLength' ? 24 : 6,
        height: 8,
      });
    }),
  };
}

/** The band's edges around a baseline, as PromQL on it. */
function bandEdges(band: (typeof DRIFT_SIGNALS)[number]['band'], t: number, floor: number): Array<{ name: string; of: (baseline: string) => string }> {
  switch (band) {
    case 'pointsUp':
      return [{ name: 'above', of: (b) => `${b} + ${num(t)}` }];
    case 'pointsBoth':
      return [
        { name: 'above', of: (b) => `${b} + ${num(t)}` },
        { name: 'below', of: (b) => `${b} - ${num(t)}` },
      ];
    case 'factorUp':
      return [{ name: 'above', of: (b) => `clamp_min(${b}, ${num(floor)}) * ${num(t)}` }];
    case 'relativeBoth':
      return [
        { name: 'above', of: (b) => `${b} * ${num(1 / (1 - t))}` },
        { name: 'below', of: (b) => `${b} * ${num(1 - t)}` },
      ];
    default: {
      const never: never = band;
      throw new Error(`unhandled band ${String(never)}`);
    }
  }
}

