import { DEFAULT_SIMULATOR_CONFIG } from '../core/config/simulator-config.ts';
import type { SimulatorConfig } from '../core/config/simulator-config.ts';
import { ReplicaDriverError } from '../responder/actions/scale-driver.ts';
import type { ReplicaDriver, ReplicaState } from '../responder/actions/scale-driver.ts';
import { startSimulator } from '../simulator/server.ts';
import type { SimulatorHandle } from '../simulator/server.ts';

export interface LocalReplicasOptions {
  /** The name playbooks scale (`params.deployment`), the article's `openllm`. */
  readonly deployment: string;
  readonly namespace: string;
  /** The gateway upstream whose endpoints the replicas are. */
  readonly upstream: string;
  readonly gatewayURL: string;
  readonly adminToken: string;
  /** Replica 1, started with the stack; never stopped by the driver. */
  readonly primary: SimulatorHandle;
  /** The driver's own ceiling: a write above it is refused, whatever a playbook's `max` says. */
  readonly maxReplicas: number;
  /** How long a replica taken out of the gateway may finish its requests before it is closed. */
  readonly drainMs?: number;
  /** The config replicas start from, on a free port: the primary's, so that each is a copy of it (default: the built-in one). */
  readonly simulator?: SimulatorConfig;
  /** Starts one more simulator (default: `simulator` on a free port). */
  readonly start?: () => Promise<SimulatorHandle>;
  readonly log?: (line: string) => void;
}

/**
 * The local stack's scale driver: `llmwatch up` runs one simulator, and the
 * responder's `scale` action starts more simulator replicas (in this process,
 * each on its own port, with the primary's current fault profiles: one
 * model server, several copies) and registers each with the gateway's
 * upstream through its admin API; scaling in takes the newest replica out
 * of the gateway first, lets it finish its requests, then closes it. The
 * primary is never stopped (at least 1 replica), and the driver refuses
 * counts above `maxReplicas`. Writes are serialized and conditional on the
 * version read, as the Kubernetes scale subresource's are. An admin call cut
 * midway (the action's timeout) is settled by an idempotent DELETE not bound
 * to that signal, so the gateway's endpoints and the replicas counted here
 * stay the same set.
 */
export class LocalReplicas implements ReplicaDriver {
  readonly where = 'the local stack';
  readonly #opts: LocalReplicasOptions;
  readonly #extra: SimulatorHandle[] = [];
  #version = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: LocalReplicasOptions) {
    this.#opts = opts;
  }

  /** Replicas running now, the primary included. */
  get replicas(): number {
    return 1 + this.#extra.length;
  }

  /** The base URLs of the replicas, the primary's first. */
  get urls(): string[] {
    return [this.#opts.primary, ...this.#extra].map((s) => `${s.url}/v1`);
  }

  async read(target: { deployment: string; namespace: string }): Promise<ReplicaState> {
    this.#check(target);
    return { replicas: this.replicas, version: String(this.#version) };
  }

  write(target: { deployment: string; namespace: string }, replicas: number, version: string, signal: AbortSignal): Promise<void> {
    // One write at a time: the second sees the first's version and is a conflict, as on Kubernetes.
    const run = this.#queue.then(() => this.#write(target, replicas, version, signal));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops every replica but the primary (the stack's shutdown). */
  async stop(): Promise<void> {
    await this.#queue;
    await Promise.all(this.#extra.splice(0).map((s) => s.close()));
  }

  async #write(target: { deployment: string; namespace: string }, to: number, version: string, signal: AbortSignal): Promise<void> {
    this.#check(target);
    if (version !== String(this.#version)) throw new ReplicaDriverError('conflict', `deployment ${target.namespace}/${target.deployment} changed since it was read (version ${version}, now ${this.#version})`);
    if (!Number.isInteger(to) || to < 1) throw new ReplicaDriverError('forbidden', `the local stack keeps its first simulator: at least 1 replica, not ${to}`);
    if (to > this.#opts.maxReplicas) throw new ReplicaDriverError('forbidden', `the local stack runs at most ${this.#opts.maxReplicas} replicas, not ${to}`);
    this.#version++;
    while (this.replicas < to) {
      if (signal.aborted) throw signal.reason;
      const sim = await (this.#opts.start ?? (() => startSimulator(this.#opts.simulator ?? DEFAULT_SIMULATOR_CONFIG, { port: 0 })))();
      // A copy of the same server: the same models, under the faults the primary has now.
      for (const model of this.#opts.primary.profiles.models) sim.profiles.patch(model, this.#opts.primary.profiles.get(model));
      try {
        await this.#admin('POST', { url: `${sim.url}/v1` }, signal);
      } catch (err) {
        // A POST cut midway (the action's timeout) may have been applied: take it out again, or the
        // gateway would keep an endpoint whose server is gone, counted against maxEndpoints.
        await this.#admin('DELETE', { url: `${sim.url}/v1` }, AbortSignal.timeout(SETTLE_MS)).catch(() => {});
        await sim.close();
        throw err;
      }
      this.#extra.push(sim);
      this.#opts.log?.(`scale  replica ${this.replicas} of ${this.#opts.deployment} at ${sim.url}/v1`);
    }
    while (this.replicas > to) {
      const sim = this.#extra.pop()!;
      // Out of the gateway first, so it gets no new request; then it finishes what it has.
      try {
        await this.#admin('DELETE', { url: `${sim.url}/v1` }, signal);
      } catch (err) {
        // A DELETE cut midway may have been applied: settle it (DELETE is idempotent) before counting
        // the replica as running again, or the driver would count one the gateway no longer sends to.
        const settled = await this.#admin('DELETE', { url: `${sim.url}/v1` }, AbortSignal.timeout(SETTLE_MS)).then(() => true, () => false);
        if (!settled) {
          this.#extra.push(sim);
          throw err;
        }
        await drained(sim, this.#opts.drainMs ?? 30_000);
        await sim.close();
        throw err;
      }
      await drained(sim, this.#opts.drainMs ?? 30_000);
      await sim.close();
      this.#opts.log?.(`scale  stopped ${sim.url}/v1; ${this.replicas} replica${this.replicas === 1 ? '' : 's'} of ${this.#opts.deployment}`);
    }
  }

  #check(target: { deployment: string; namespace: string }): void {
    if (target.deployment !== this.#opts.deployment || target.namespace !== this.#opts.namespace) {
      throw new ReplicaDriverError('not-found', `the local stack runs deployment ${this.#opts.namespace}/${this.#opts.deployment} only, not ${target.namespace}/${target.deployment}`);
    }
  }

  async #admin(method: 'POST' | 'DELETE', body: { url: string }, signal: AbortSignal): Promise<void> {
    const base = `${this.#opts.gatewayURL}/admin/upstreams/${encodeURIComponent(this.#opts.upstream)}/endpoints`;
    const res = await fetch(method === 'DELETE' ? `${base}?url=${encodeURIComponent(body.url)}` : base, {
      method,
      headers: { authorization: `Bearer ${this.#opts.adminToken}`, 'content-type': 'application/json', 'x-llmwatch-actor': 'responder' },
      body: method === 'POST' ? JSON.stringify(body) : undefined,
      signal,
    });
    const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    if (!res.ok) throw new ReplicaDriverError('api-error', `the gateway answered ${res.status} to ${method} ${body.url}: ${answer.error?.message ?? 'no message'}`);
  }
}

/** How long an admin call that settles a cut one may take (it is not bound to the caller's signal). */
const SETTLE_MS = 5_000;

/** Waits until the replica's engines hold no request (running or waiting), for at most `ms`. */
async function drained(sim: SimulatorHandle, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  // A request the gateway sent just before the endpoint went may still be on its way in.
  await new Promise((r) => setTimeout(r, 100));
  const busy = () => [...sim.engines.values()].some((m) => m.cores.some((c) => c.load > 0));
  while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}
