import { createClient, ErrorReply } from 'redis';
import type { RouteStoreOp } from '../core/conventions/metrics.ts';
import type { RouteStoreMeter } from '../core/metering/gateway-metrics.ts';
import { GW_ERR_ROUTE_STORE_UNAVAILABLE } from './errors.ts';
import type { RouteStore, RouteStoreLog, RouteStoreStatus } from './route-store.ts';
import type { ModelRoute, Router, RouteSwitch } from './router.ts';

/** Options of {@link RedisRouteStore}. */
export interface RedisRouteStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  readonly url: string;
  /** Prepended to each model's key and to the change channel. */
  readonly keyPrefix: string;
  /** How often every route is re-read besides the change messages. */
  readonly reconcileMs: number;
  readonly meter: RouteStoreMeter;
  readonly log: RouteStoreLog;
  /** The most a read or a switch's write may wait for Redis. Default 1000 ms. */
  readonly commandTimeoutMs?: number;
  /** The most one connection attempt may take. Default 1000 ms. */
  readonly connectTimeoutMs?: number;
  /** The cap of the exponential reconnect backoff. Default 2000 ms. */
  readonly maxReconnectDelayMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;
/** The most of a hostile value echoed into a log line. */
const LOGGED_VALUE_CHARS = 80;
/** Who a switch learned from the store is logged as. */
const BY_STORE = 'route-store';

function buildClient(o: RedisRouteStoreOptions, offlineQueue: boolean) {
  const maxDelay = o.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  return createClient({
    url: o.url,
    // Reads and writes fail at once while Redis is down (the routes in force stay); only the
    // subscriber queues, its one SUBSCRIBE, so that it subscribes whenever Redis comes.
    disableOfflineQueue: !offlineQueue,
    maintNotifications: 'disabled',
    socket: {
      connectTimeout: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // As the cache's (cache/redis-store.ts): exponential, capped, jittered, never giving up.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) + Math.floor(Math.random() * 50),
    },
  });
}

/**
 * The active target of each model, shared by every gateway replica and worker
 * through Redis (`routes.store: redis`; docs/gateway.md#gateway-replicas-shared-routes).
 *
 * Layout: one string key per configured model, `keyPrefix + model`, holding
 * the id (`upstream/model`) of the target in force; absent (or empty) means
 * no decision: a replica starts on the config's primary. A switch SETs the key, then PUBLISHes the model's name on
 * `keyPrefix + 'changed'`. A message is only a hint: a replica that hears one
 * re-reads every route, so replies on one connection decide the order, never
 * the order two sockets deliver in. Every `reconcileMs` (and whenever either
 * connection comes back) each replica re-reads anyway: pub/sub is at-most-once,
 * and a message sent while a replica reconnects is lost. Keyspace notifications
 * were not used: they are off by default and often not allowed on managed Redis.
 *
 * Values are read with GETRANGE up to the longest configured id, so a huge
 * value costs no more than a valid one; a value naming no configured target of
 * its model (garbage, another config's target, a wrong type) is ignored,
 * counted and logged once per value: the route in force stays. A Redis that
 * does not answer leaves every replica on its last known routes (`route_store_up`
 * 0, one log line per outage), refuses admin switches (503; applied on one replica
 * they would hold on one of several), and is reconciled with when it answers again.
 * A Redis that came back empty is seeded with the routes that were decided (by a
 * switch, or read from the store) with SET NX, so that a Redis restart does not
 * undo a switch; a replica that only has the config's routes seeds nothing.
 */
export class RedisRouteStore implements RouteStore {
  readonly kind = 'redis';
  readonly shared = true;
  readonly #router: Router;
  readonly #models: readonly ModelRoute[];
  readonly #o: RedisRouteStoreOptions;
  readonly #client: ReturnType<typeof buildClient>;
  readonly #subscriber: ReturnType<typeof buildClient>;
  readonly #channel: string;
  readonly #readBytes: number;
  readonly #timeoutMs: number;
  /** Models whose route in force was decided (switched, or read from the store), not only the config's. */
  readonly #decided = new Set<string>();
  /** The last ignored value per model, so that one bad value is logged once, not every second. */
  readonly #lastInvalid = new Map<string, string>();
  #reconciling: Promise<void> | undefined;
  #again = false;
  /** True while a read sent to Redis has not been settled by the driver: never more than one batch waits on a hung Redis. */
  #readOutstanding = false;
  #writesInFlight = 0;
  #writes = 0;
  #up = false;
  #outage = false;
  #subscriberOutage = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(router: Router, options: RedisRouteStoreOptions) {
    this.#router = router;
    this.#models = [...router.models];
    this.#o = options;
    this.#timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#channel = `${options.keyPrefix}changed`;
    // One byte more than the longest valid id: a longer value is invalid whatever follows.
    this.#readBytes = Math.max(...this.#models.flatMap((m) => m.targets.map((t) => Buffer.byteLength(t.id)))) + 1;
    this.#client = buildClient(options, false);
    this.#subscriber = buildClient(options, true);
    // An 'error' without a listener would end the process; the driver emits one per failed attempt.
    this.#client.on('error', (err: unknown) => {
      if (!this.#outage) this.#failed('connect', err);
    });
    this.#client.on('ready', () => this.#reconcileSoon());
    this.#subscriber.on('error', (err: unknown) => {
      if (this.#closed || this.#subscriberOutage) return;
      this.#subscriberOutage = true;
      this.#o.meter.errors.connect.inc();
      this.#o.log.warn({ err: messageOf(err) }, 'route store: change messages are not heard; routes are re-read every reconcileMs until they are');
    });
    this.#subscriber.on('ready', () => {
      this.#subscriberOutage = false;
      // Messages published while it was away are lost: read what they said. Only on a command
      // connection that is ready: at start-up this one can be ready first, and a read then would count
      // a failure and log an outage that is not one; the command connection reads when it is ready.
      if (this.#client.isReady) this.#reconcileSoon();
    });
  }

  /**
   * Connects both connections, subscribes, and reads every route, each step
   * bounded by the connect or command timeout. Redis down at start-up: the
   * config's routes serve until it answers (logged, `route_store_up` 0).
   */
  async start(): Promise<void> {
    if (this.#closed) return;
    this.#client.connect().catch((err: unknown) => this.#failed('connect', err));
    this.#subscriber.connect().catch(() => undefined);
    const subscribed = this.#subscriber.subscribe(this.#channel, () => this.#reconcileSoon()).catch(() => undefined);
    await firstAttempt(this.#client);
    await Promise.race([subscribed, delay(this.#o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)]);
    if (this.#client.isReady) {
      this.#reconcileSoon();
      await this.#reconciling;
    }
    if (this.#up) {
      this.#o.log.info({ routes: 'redis', keyPrefix: this.#o.keyPrefix }, 'routes are shared through redis (routes.store: redis): a switch on any replica holds on all of them');
    } else {
      this.#o.log.warn({ routes: 'redis' }, "route store (redis) does not answer at start-up: serving the config's routes until it does");
    }
    this.#timer = setInterval(() => this.#reconcileSoon(), this.#o.reconcileMs);
    this.#timer.unref();
  }

  async switch(model: ModelRoute, index: number, by: string): Promise<RouteSwitch | undefined> {
    if (!this.#client.isReady) {
      throw GW_ERR_ROUTE_STORE_UNAVAILABLE('The shared route store (redis) does not answer: a switch now would hold on this replica only. Retry when it answers (route_store_up)');
    }
    const id = model.targets[index]!.id;
    this.#writes++;
    this.#writesInFlight++;
    try {
      await withTimeout(this.#client.set(this.#key(model.name), id), this.#timeoutMs);
    } catch (err) {
      this.#o.meter.errors.write.inc();
      throw GW_ERR_ROUTE_STORE_UNAVAILABLE(
        `The shared route store (redis) did not take the switch (${messageOf(err)}); GET /admin/routes shows what is in force, as it may still land`,
        { cause: err },
      );
    } finally {
      this.#writesInFlight--;
    }
    this.#decided.add(model.name);
    this.#lastInvalid.delete(model.name);
    const change = this.#router.switch(model, index, by);
    // A lost message is made up by the other replicas' next periodic read.
    this.#client.publish(this.#channel, model.name).catch(() => this.#o.meter.errors.write.inc());
    return change;
  }

  status(): RouteStoreStatus {
    return { store: 'redis', connected: this.#up };
  }

  /** Stops re-reading and closes both connections, also when Redis is down or hung. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#reconciling;
    for (const c of [this.#client, this.#subscriber]) {
      try {
        if (c.isOpen) c.destroy();
      } catch {
        // Already closed by the driver itself.
      }
    }
  }

  #key(model: string): string {
    return this.#o.keyPrefix + model;
  }

  /** Starts a re-read, or asks the one running for another pass: one at a time, however many messages arrive. */
  #reconcileSoon(): void {
    if (this.#closed) return;
    if (this.#reconciling !== undefined) {
      this.#again = true;
      return;
    }
    this.#reconciling = this.#reconcileLoop().finally(() => {
      this.#reconciling = undefined;
    });
  }

  async #reconcileLoop(): Promise<void> {
    do {
      this.#again = false;
      await this.#reconcileOnce();
    } while (this.#again && !this.#closed);
  }

  async #reconcileOnce(): Promise<void> {
    if (this.#readOutstanding) return;
    if (!this.#client.isReady) {
      if (!this.#outage) this.#failed('read', new Error('not connected'));
      return;
    }
    const writes = this.#writes;
    const sent = Promise.allSettled(this.#models.map((m) => this.#client.getRange(this.#key(m.name), 0, this.#readBytes - 1)));
    this.#readOutstanding = true;
    void sent.finally(() => {
      this.#readOutstanding = false;
    });
    let results: Awaited<typeof sent>;
    try {
      results = await withTimeout(sent, this.#timeoutMs);
    } catch (err) {
      this.#failed('read', err);
      return;
    }
    const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof ErrorReply));
    if (lost !== undefined) {
      this.#failed('read', lost.reason);
      return;
    }
    // A switch of ours went out while this read was under way: what it read may predate it. The
    // switch re-reads once it is done.
    if (this.#writesInFlight > 0 || writes !== this.#writes) {
      this.#again = true;
      return;
    }
    this.#answering();
    results.forEach((r, i) => {
      const model = this.#models[i]!;
      if (r.status === 'rejected') this.#invalid(model, '(not a string: WRONGTYPE)');
      else this.#apply(model, r.value ?? '');
    });
  }

  #apply(model: ModelRoute, value: string): void {
    // GETRANGE answers "" for a key that does not exist (and no id is empty).
    if (value === '') {
      // Absent: nobody decided, or Redis lost its data. Hand back what was decided here.
      if (this.#decided.has(model.name)) {
        const id = model.targets[model.active]!.id;
        this.#client.set(this.#key(model.name), id, { condition: 'NX' }).then(
          (done) => {
            if (done !== null) this.#client.publish(this.#channel, model.name).catch(() => undefined);
          },
          () => this.#o.meter.errors.write.inc(),
        );
      }
      return;
    }
    const index = model.targets.findIndex((t) => t.id === value);
    if (index === -1) return this.#invalid(model, value);
    this.#lastInvalid.delete(model.name);
    this.#decided.add(model.name);
    this.#router.switch(model, index, BY_STORE, false);
  }

  #invalid(model: ModelRoute, value: string): void {
    this.#o.meter.invalid(model.name);
    if (this.#lastInvalid.get(model.name) === value) return;
    this.#lastInvalid.set(model.name, value);
    this.#o.log.warn(
      { model: model.name, value: JSON.stringify(value.slice(0, LOGGED_VALUE_CHARS)), key: this.#key(model.name), targets: model.targets.map((t) => t.id) },
      `route store: ignored a value that names no target of ${model.name}; its route stays ${model.targets[model.active]!.id}`,
    );
  }

  #answering(): void {
    if (this.#up) return;
    this.#up = true;
    this.#o.meter.up.set(1);
    if (this.#outage) this.#o.log.info({ routes: 'redis' }, 'route store answers again: routes reconciled with it');
    this.#outage = false;
  }

  #failed(op: RouteStoreOp, err: unknown): void {
    if (this.#closed) return;
    this.#o.meter.errors[op].inc();
    this.#up = false;
    this.#o.meter.up.set(0);
    if (this.#outage) return;
    this.#outage = true;
    this.#o.log.warn({ routes: 'redis', op, err: messageOf(err) }, 'route store (redis) does not answer: keeping the last known routes, admin switches refused until it does');
  }
}

/** Resolves once the client is ready or its first attempt failed, whichever comes first. */
function firstAttempt(client: ReturnType<typeof buildClient>): Promise<void> {
  if (client.isReady) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      client.off('ready', done).off('error', done).off('end', done);
      resolve();
    };
    client.on('ready', done).on('error', done).on('end', done);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis did not reply within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
