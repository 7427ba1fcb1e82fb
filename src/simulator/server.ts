import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimulatorConfig } from '../core/config/simulator-config.ts';
import { secretOf } from '../core/config/secrets.ts';
import { close, isLoopbackHost, listen } from '../core/http/listen.ts';
import { parseJsonObject, readBody } from '../core/http/read-body.ts';
import { sendJson } from '../core/http/send.ts';
import { serve, serverURL } from '../core/http/serve.ts';
import type { MetricsSource, Route } from '../core/http/serve.ts';
import { ENDPOINT_NAMES, ENDPOINTS } from '../core/openai/endpoints.ts';
import type { InferenceRequest } from '../core/openai/validate.ts';
import { validateInferenceRequest } from '../core/openai/validate.ts';
import { decodeModelPath, serveAdmin } from './admin.ts';
import type { AdminTarget } from './admin.ts';
import { embeddingFormat, serveEmbeddings } from './embeddings.ts';
import { ModelEngines } from './engine.ts';
import { renderEngineMetrics } from './engine-metrics.ts';
import { serveGeneration } from './generation.ts';
import { SimulatedGpus, renderNvidiaSmiCsv } from './gpu.ts';
import { ProfileStore, unknownModel } from './profile.ts';
import { createRng } from './rng.ts';
import type { Rng } from './rng.ts';
import { closeSignal } from './timing.ts';
import { TOXIC_LEXICON } from './text.ts';
import { nativeRoutes } from './native/routes.ts';

/** Where to listen, over the config's `host` and `port` (a test passes port 0). */
export interface SimulatorOptions {
  port?: number;
  host?: string;
}

/** A running simulator. */
export interface SimulatorHandle {
  /** The bound port (the real one when listening on port 0). */
  readonly port: number;
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** The abusive words toxic outputs are salted with: a lexical safety scorer that knows them flags every toxic output. */
  readonly toxicTerms: readonly string[];
  /** Effective profiles, changeable in process as through `PUT /admin/profiles/{model}`. */
  readonly profiles: ProfileStore;
  /** Each model's engine cores (src/simulator/engine.ts), whose `vllm:*` metrics `/metrics` exports. */
  readonly engines: ReadonlyMap<string, ModelEngines>;
  /** The simulated GPUs, one per engine core, that `GET /nvidia-smi` reports (src/simulator/gpu.ts). */
  readonly gpus: SimulatedGpus;
  /** As `POST /admin/reset`: every profile back to configured, PRNG reseeded. */
  reset(): void;
  /** Stops listening and drops every connection, hung and streaming ones included. */
  close(): Promise<void>;
}

/**
 * Starts an OpenAI-compatible LLM stand-in with fault profiles.
 * @example
 * const sim = await startSimulator(simulatorConfig({ seed: 7 }), { port: 0 });
 * const client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'x' });
 */
export async function startSimulator(config: SimulatorConfig, options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const host = options.host ?? config.host;
  const simulator = new Simulator(config, isLoopbackHost(host));
  const server = serve({ part: 'simulator', routes: simulator.routes(), metrics: simulator.engineMetrics() });
  const port = await listen(server, options.port ?? config.port, host);
  return {
    port,
    url: serverURL(host, port),
    toxicTerms: TOXIC_LEXICON,
    profiles: simulator.profiles,
    engines: simulator.engines,
    gpus: simulator.gpus,
    reset: () => simulator.reset(),
    close: () => close(server),
  };
}

class Simulator implements AdminTarget {
  readonly profiles: ProfileStore;
  readonly maxBodyBytes: number;
  readonly adminToken: string | undefined;
  readonly loopback: boolean;
  readonly engines: ReadonlyMap<string, ModelEngines>;
  readonly gpus: SimulatedGpus;
  readonly #seed: number;
  readonly #created = Math.floor(Date.now() / 1000);
  #rng: Rng;

  constructor(config: SimulatorConfig, loopback: boolean) {
    this.profiles = new ProfileStore(config);
    this.maxBodyBytes = config.maxBodyBytes;
    this.adminToken = secretOf(config.admin.token, config.admin.tokenFile, 'admin.tokenFile');
    this.loopback = loopback;
    this.engines = new Map(this.profiles.models.map((m) => [m, new ModelEngines(m, config.engine)]));
    this.gpus = new SimulatedGpus(this.engines, this.profiles, config.gpu);
    this.#seed = config.seed;
    this.#rng = createRng(config.seed);
  }

  reset(): void {
    this.profiles.resetAll();
    this.#rng = createRng(this.#seed);
  }

  /** `/metrics`: the engine models' vLLM-named metrics, rendered at each scrape. */
  engineMetrics(): MetricsSource {
    return {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: async () => renderEngineMetrics([...this.engines.values()].flatMap((e) => e.cores.map((c) => c.snapshot()))),
    };
  }

  /** Every path the simulator serves: the OpenAI endpoints, the model list, `/healthz`, `/nvidia-smi` and the admin API. */
  routes(): Route[] {
    return [
      ...ENDPOINT_NAMES.map((endpoint) => ({
        path: ENDPOINTS[endpoint],
        methods: {
          POST: async (req: IncomingMessage, res: ServerResponse) => {
            const body = parseJsonObject(await readBody(req, this.maxBodyBytes));
            await this.#infer(res, validateInferenceRequest(endpoint, body));
          },
        },
      })),
      { path: '/v1/models', methods: { GET: (_req, res) => sendJson(res, 200, { object: 'list', data: this.profiles.models.map((id) => this.#model(id)) }) } },
      {
        path: '/v1/models/',
        prefix: true,
        methods: {
          GET: (_req, res, { path }) => {
            const id = decodeModelPath(path.slice('/v1/models/'.length));
            if (this.profiles.get(id) === undefined) throw unknownModel(id);
            sendJson(res, 200, this.#model(id));
          },
        },
      },
      ...nativeRoutes({ maxBodyBytes: this.maxBodyBytes, profiles: this.profiles, engines: this.engines, seed: this.#seed, requestRng: () => this.#requestRng() }),
      { path: '/healthz', methods: { GET: (_req, res) => sendJson(res, 200, { status: 'ok' }) } },
      {
        // nvidia-smi over HTTP for the simulated GPUs: `--query-gpu` and `--format` as parameters (llmwatch exporter --csv-url).
        path: '/nvidia-smi',
        methods: {
          GET: (req, res) => {
            const params = new URL(req.url ?? '/', 'http://simulator').searchParams;
            const body = renderNvidiaSmiCsv(this.gpus.read(), params.get('query-gpu'), params.get('format'));
            res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': Buffer.byteLength(body) });
            res.end(body);
          },
        },
      },
      { path: '/admin/', prefix: true, any: (req, res, { path }) => serveAdmin(req, res, path, this) },
    ];
  }

  async #infer(res: ServerResponse, request: InferenceRequest): Promise<void> {
    const profile = this.profiles.get(request.model);
    if (profile === undefined) throw unknownModel(request.model);
    if (request.endpoint === 'embeddings') {
      const format = embeddingFormat(request.body);
      await serveEmbeddings(res, request, format, profile, this.#requestRng(), this.#seed, closeSignal(res));
    } else {
      await serveGeneration(res, { ...request, endpoint: request.endpoint }, profile, this.#requestRng(), closeSignal(res), this.engines.get(request.model)!);
    }
  }

  /**
   * One draw from the simulator's PRNG seeds a generator for the request alone:
   * the n-th valid request gets the same fate on every run, and its jitter and
   * words do not depend on how it interleaves with concurrent requests.
   */
  #requestRng(): Rng {
    return createRng(Math.floor(this.#rng.next() * 0x1_0000_0000));
  }

  #model(id: string) {
    return { id, object: 'model', created: this.#created, owned_by: 'llmwatch-simulator' };
  }
}
