import { durationMs } from '../core/config/duration.ts';
import { driftRecordedNames } from '../core/conventions/metrics.ts';
import { queryVector } from '../core/http/prometheus-api.ts';
import { eq, sel } from '../monitoring/promql.ts';
import type { StackInfo } from './stack-info.ts';

/**
 * The drift drill's own timing (docs/drift.md, "The drift drill"), from the
 * stack's spec: the local stack compresses the drift windows (a "week" of two
 * minutes, src/stack/timings.ts), so the drill first serves healthy answers
 * until the seasonal baseline exists, then switches the model's behaviour.
 */

const sec = (d: string) => durationMs(d) / 1000;

/** A sample waits for a scrape (two to show in a rate), then the recording rule, the alert rule and the evaluation that ends `for`. */
function tick(s: StackInfo): number {
  return 2 * sec(s.timings.scrapeInterval) + 3 * sec(s.timings.evaluationInterval);
}

/** The drift window: the alert fires at the latest once it holds only the changed answers, and resolves once they left it. */
export function driftWindow(s: StackInfo): number {
  return sec(s.spec.drift.window);
}

/**
 * Runs while the drill's healthy traffic flows, until the model's seasonal baseline (the signal
 * `baselineOffset` ago, with at least `minEvents` answers) and its rolling baseline exist, bounded
 * by the offset, the window and a few ticks; the drill is then a comparison with both, as in
 * production a week after deployment.
 */
export async function prepareDriftBaselines(s: StackInfo, model: string, log: (line: string) => void): Promise<string[]> {
  const d = s.spec.drift;
  const n = driftRecordedNames(s.spec.metricsPrefix, d.window, d.baselineOffset, d.rollingWindow);
  const minEvents = s.spec.alerts.RefusalDrift?.minEvents ?? 100;
  const m = eq('model', model);
  const seasonal = `${sel(n.answers, m)} offset ${d.baselineOffset} >= ${minEvents}`;
  const rolling = sel(n.signal('refused').rolling, m);
  const need = sec(d.baselineOffset) + sec(d.window) + tick(s);
  log(`drift: healthy answers first, until the seasonal baseline (${d.baselineOffset} ago, ${minEvents} answers at least) and the ${d.rollingWindow} rolling one exist: about ${need.toFixed(0)} s`);
  const deadline = Date.now() + (need + 30) * 1000;
  while (Date.now() < deadline) {
    const [a, b] = await Promise.all([queryVector(s.urls.prometheus, seasonal), queryVector(s.urls.prometheus, rolling)]);
    if (a.length > 0 && b.length > 0) {
      log('drift: both baselines in place');
      return [];
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return [`the seasonal baseline (${seasonal}) did not form within ${(need + 30).toFixed(0)} s of healthy traffic`];
}
