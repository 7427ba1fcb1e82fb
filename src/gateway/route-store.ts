import type { ModelRoute, Router, RouteSwitch } from './router.ts';

/** What a route store logs: start-up notes and outages, one line each (pino's signature). */
export interface RouteStoreLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What the admin API shows of the store: where the routes live and, when shared, whether it answers. */
export interface RouteStoreStatus {
  readonly store: 'local' | 'redis';
  /** Shared stores only: false while this gateway keeps its last known routes. */
  readonly connected?: boolean;
}

/**
 * Where route switches are made, and who else hears of them. The admin API
 * switches through it; the {@link Router} keeps what is in force in this
 * process. `local` is this process alone; `redis` (redis-route-store.ts) is
 * every replica and worker sharing one Redis.
 */
export interface RouteStore {
  readonly kind: 'local' | 'redis';
  /** True when a switch made here holds on every gateway sharing the store (admin switches under `--workers` need it). */
  readonly shared: boolean;
  /** Loads the shared routes, if any, before the first request; never rejects (a store that does not answer is logged and counted). */
  start(): Promise<void>;
  /**
   * Switches `model` to its target `index` wherever the store reaches, then
   * here; returns the switch, or undefined when it already was there.
   */
  switch(model: ModelRoute, index: number, by: string): Promise<RouteSwitch | undefined>;
  status(): RouteStoreStatus;
  close(): Promise<void>;
}

/**
 * Routes kept in this process only, as a single gateway always did: a switch
 * holds on the replica that took it, and a restart goes back to the config.
 * Says so at start-up, so that a second replica added later is not a surprise.
 */
export class LocalRouteStore implements RouteStore {
  readonly kind = 'local';
  readonly shared = false;
  readonly #router: Router;
  readonly #log: RouteStoreLog;

  constructor(router: Router, log: RouteStoreLog) {
    this.#router = router;
    this.#log = log;
  }

  async start(): Promise<void> {
    this.#log.info(
      { routes: 'local' },
      'routes are local to this gateway (routes.store: local): an admin switch holds on this process only and a restart goes back to the config; with several replicas or workers set routes.store: redis (docs/gateway.md#gateway-replicas-shared-routes)',
    );
  }

  async switch(model: ModelRoute, index: number, by: string): Promise<RouteSwitch | undefined> {
    return this.#router.switch(model, index, by);
  }

  status(): RouteStoreStatus {
    return { store: 'local' };
  }

  async close(): Promise<void> {}
}
