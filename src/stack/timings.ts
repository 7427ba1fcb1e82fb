import type { z } from 'zod';
import type { PlaybooksSchema } from '../core/config/playbook-spec.ts';
import { DRIFT_ALERTS } from '../core/conventions/alerts.ts';

/**
 * How fast the local stack moves: scrape and evaluation intervals, the rate
 * window of the recording rules, every alert's `for`, and Alertmanager's
 * grouping waits. Production uses the spec's own (15 s, 5 m windows, the
 * article's `for`s); locally things must happen while the user watches.
 */
export interface Timings {
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
  readonly rateWindow: string;
  readonly alertFor: string;
  readonly groupWait: string;
  readonly groupInterval: string;
  /** Alert tuning for the local stack, over the spec's. */
  readonly alerts: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /**
   * The drift windows (docs/drift.md, "The local stack"): a stack that lives minutes has no week
   * behind it, so the seasonal baseline's offset is compressed with everything else: a "week" of
   * a few minutes, a rolling baseline shorter still, a window of a few scrapes.
   */
  readonly drift: { readonly window: string; readonly baselineOffset: string; readonly rollingWindow: string };
}

/**
 * Requests in flight per replica at which SpareReplicas sees room for one replica fewer locally: half
 * of the stack's 8 slots per replica (the catalog's 32 is half the gateway's default 64).
 */
export const LOCAL_SPARE_PER_REPLICA = 4;

function tuned(alertFor: string, spareWindow: string): Timings['alerts'] {
  return {
    // Drill windows are seconds long and hold a few requests: a handful of events is enough here.
    HighInferenceLatency: { threshold: 1, for: alertFor, minEvents: 3 },
    HighTimeToFirstToken: { for: alertFor, minEvents: 3 },
    HighTimePerOutputToken: { for: alertFor, minEvents: 3 },
    HighEmbeddingLatency: { for: alertFor, minEvents: 3 },
    LowTokenThroughput: { for: alertFor },
    // Critical here, so its playbook may scale (a warning runs low-risk steps only): the local stack's
    // scale-out answers the queue, the capacity signal. In production it stays a warning.
    QueueBacklog: { for: alertFor, severity: 'critical' },
    // Scale-in's signal, a warning as in production: its stabilization window compressed with the rest.
    SpareReplicas: { for: alertFor, window: spareWindow, threshold: LOCAL_SPARE_PER_REPLICA },
    // Drill traffic is a few requests a second.
    HighErrorRate: { threshold: 0.05, for: alertFor, minRequestRate: 0.2, minEvents: 3 },
    ModelUnavailable: { for: alertFor },
    ClientErrorFlood: { for: alertFor, minRequestRate: 0.2 },
    // The drill measures the alert resolving within the rate window once the fault ends: no hold here.
    ModelServerUnreachable: { for: alertFor, keepFiringFor: '0s' },
    HighToxicityScore: { for: alertFor },
    LowCacheHitRate: { enabled: false },
    HighGpuMemoryUsage: { for: alertFor },
    HighCpuUsage: { for: '1m' },
    HighHostMemoryUsage: { for: '1m' },
    // A drill's drift window holds tens of answers, not hundreds.
    ...Object.fromEntries(DRIFT_ALERTS.map((a) => [a, { for: alertFor, minEvents: 10 }])),
  };
}

/** `llmwatch up`: every 2 s, 30 s windows, alerts after 10 s. */
export function localTimings(): Timings {
  return {
    scrapeInterval: '2s',
    evaluationInterval: '2s',
    rateWindow: '30s',
    alertFor: '10s',
    groupWait: '2s',
    groupInterval: '5s',
    alerts: tuned('10s', '30s'),
    drift: { window: '30s', baselineOffset: '2m', rollingWindow: '1m' },
  };
}

/** The CI end-to-end test: every second, 10 s windows, alerts after 2 s. */
export function compressedTimings(): Timings {
  return {
    scrapeInterval: '1s',
    evaluationInterval: '1s',
    rateWindow: '10s',
    alertFor: '2s',
    groupWait: '1s',
    groupInterval: '2s',
    // SpareReplicas' window is 20 s, not the 10 s rate window: the scale-in's cooldown is its window,
    // and must be longer than the scale-out's 15 s (localPlaybooks).
    alerts: tuned('2s', '20s'),
    drift: { window: '10s', baselineOffset: '40s', rollingWindow: '20s' },
  };
}

/**
 * What the local stack's `scale` action drives: simulator replicas behind the gateway's upstream
 * (src/stack/replicas.ts), at most `maxReplicas` of them, the article's `--replicas=3`.
 */
export const LOCAL_SCALE = { deployment: 'openllm', namespace: 'default', maxReplicas: 3 } as const;

/** SpareReplicas' stabilization window under these timings. */
export function spareWindow(t: Timings): string {
  return String(t.alerts.SpareReplicas?.window);
}

/**
 * The local stack's playbooks when llmwatch.yaml has none: the article's, a fallback switch for the
 * other model alerts, and the scale-in.
 */
export function localPlaybooks(t: Timings): z.input<typeof PlaybooksSchema> {
  return {
    ...LOCAL_PLAYBOOKS,
    // The article's loop: a queue over 20 scales the model server to 3 replicas in one step; the slots
    // they add drain the queue and the alert resolves. The guard reads the queue's peak over the rate
    // window, not one sample: closed-loop clients on a loaded machine re-send late, and a scrape that
    // caught the queue between an answer and the next request (16, say, of a steady 24) skipped the
    // scale-out the alert was right to ask for.
    QueueBacklog: {
      cooldown: '15s',
      steps: [
        {
          action: 'scale',
          if: { query: `sum(max_over_time(openllm_queue_length{model="{{ $labels.model }}"}[${t.rateWindow}]))`, above: 20 },
          params: { deployment: LOCAL_SCALE.deployment, namespace: LOCAL_SCALE.namespace, step: LOCAL_SCALE.maxReplicas - 1, max: LOCAL_SCALE.maxReplicas },
        },
      ],
    },
    // The scale-in, slower than the scale-out and apart from it: one replica per SpareReplicas episode,
    // never below the first simulator. The alert cannot fire again until a window after each step
    // (its count changed), so the steps are a window and a `for` apart; the cooldown, the window, is
    // longer than the scale-out's and only a backstop: it ends before the next episode is delivered,
    // and a scale-out never waits for it (action-specs.ts, `scale`'s cooldown keys).
    SpareReplicas: {
      cooldown: spareWindow(t),
      steps: [
        {
          action: 'scale',
          params: { deployment: LOCAL_SCALE.deployment, namespace: LOCAL_SCALE.namespace, direction: 'in', step: 1, min: 1, max: LOCAL_SCALE.maxReplicas },
        },
      ],
    },
  };
}

const LOCAL_PLAYBOOKS: z.input<typeof PlaybooksSchema> = {
  // The article's latency playbook without its scale step: locally the scale-out answers QueueBacklog
  // (below), so one queue is not scaled twice by two alerts racing for the same deployment.
  HighInferenceLatency: {
    cooldown: '15s',
    steps: [
      { action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true },
      { action: 'notify', always: true, params: { channel: 'chat' } },
    ],
  },
  // Recorded only: a dead server also raises the error rate, and switching here would cure the
  // symptom before ModelServerUnreachable, the cause, could fire (and act).
  HighErrorRate: { cooldown: '15s', steps: [{ action: 'noop' }] },
  ModelServerUnreachable: { cooldown: '15s', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true }] },
  HighToxicityScore: { cooldown: '15s', steps: [{ action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true }] },
};
