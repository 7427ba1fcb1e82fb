import { modelTargets } from '../core/config/gateway-config.ts';
import type { GatewayConfig, ModelConfig } from '../core/config/gateway-config.ts';
import type { GatewayMetrics, ModelMeter, TargetMeter } from '../core/metering/gateway-metrics.ts';
import type { QueueObserver } from './limiter.ts';
import type { Upstream } from './upstream.ts';

/** One place a model can be served, with what the proxy needs to use it. */
export interface RouteTarget {
  readonly index: number;
  readonly upstream: Upstream;
  /** The model's name on the upstream. */
  readonly upstreamModel: string;
  /** True when the upstream knows the model by another name: the body must be rewritten. */
  readonly rename: boolean;
  /** `upstream/model`: identifies the target in logs, the admin API and cache keys. */
  readonly id: string;
  readonly meter: TargetMeter;
  readonly queue: QueueObserver;
}

/** A public model: its targets in order, which one serves now, and its policies. */
export interface ModelRoute {
  readonly name: string;
  readonly config: ModelConfig;
  readonly targets: readonly RouteTarget[];
  readonly meter: ModelMeter;
  /** Index of the target that serves new requests. */
  active: number;
}

/** One route change, as logged and as the admin API reports it. */
export interface RouteSwitch {
  readonly event: 'route_switch';
  readonly time: string;
  readonly model: string;
  readonly from: string;
  readonly to: string;
  readonly by: string;
}

/**
 * Which target serves each model. Starts on each model's first target; the
 * admin API moves a model to another (for example a lighter fallback) and
 * back. Every switch is counted, exported as `route_active`, and logged.
 * Where the switches come from, and who else hears of them, is the route
 * store's business (`route-store.ts`).
 */
export class Router {
  readonly #models = new Map<string, ModelRoute>();
  readonly #log: (entry: RouteSwitch) => void;

  constructor(config: GatewayConfig, upstreams: ReadonlyMap<string, Upstream>, metrics: GatewayMetrics, log: (entry: RouteSwitch) => void) {
    this.#log = log;
    for (const [name, m] of Object.entries(config.models)) {
      const meters = metrics.targets(name);
      const targets = modelTargets(name, m).map((t, index): RouteTarget => {
        const meter = meters[index]!;
        return {
          index,
          upstream: upstreams.get(t.upstream)!,
          upstreamModel: t.model,
          rename: t.model !== name,
          id: `${t.upstream}/${t.model}`,
          meter,
          queue: {
            queued: () => meter.queueLength.inc(),
            dequeued: (waitedMs) => {
              meter.queueLength.dec();
              meter.queueWait.observe(waitedMs / 1000);
            },
          },
        };
      });
      this.#models.set(name, { name, config: m, targets, meter: metrics.route(name, 'chat_completions')!.perModel, active: 0 });
    }
  }

  get(model: string): ModelRoute | undefined {
    return this.#models.get(model);
  }

  get models(): IterableIterator<ModelRoute> {
    return this.#models.values();
  }

  /**
   * Routes `model` to its target `index`; returns the switch, or undefined
   * when it already was there. `counted` false for a switch this replica
   * learned from the shared route store: `route_switches_total` counts each
   * admin switch once, on the replica that took it, so it sums right.
   */
  switch(model: ModelRoute, index: number, by: string, counted = true): RouteSwitch | undefined {
    if (index === model.active) return undefined;
    const from = model.targets[model.active]!;
    const to = model.targets[index]!;
    from.meter.active.set(0);
    to.meter.active.set(1);
    model.active = index;
    if (counted) model.meter.routeSwitches.inc();
    const entry: RouteSwitch = { event: 'route_switch', time: new Date().toISOString(), model: model.name, from: from.id, to: to.id, by };
    this.#log(entry);
    return entry;
  }
}
