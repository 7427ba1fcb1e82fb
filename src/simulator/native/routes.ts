import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Profile } from '../../core/config/simulator-config.ts';
import { parseJsonObject, readBody } from '../../core/http/read-body.ts';
import { sendJson } from '../../core/http/send.ts';
import type { Route } from '../../core/http/serve.ts';
import { NATIVE_ENDPOINTS, NATIVE_ENDPOINT_NAMES } from '../../core/native/endpoints.ts';
import type { NativeEndpoint } from '../../core/native/endpoints.ts';
import { parseNativeRequest } from '../../core/native/requests.ts';
import type { NativeRequest } from '../../core/native/requests.ts';
import { NATIVE_WIRES } from '../../core/native/wire.ts';
import { estimatePromptTokens } from '../../core/openai/tokens.ts';
import type { InferenceRequest } from '../../core/openai/validate.ts';
import { embed } from '../embeddings.ts';
import type { ModelEngines } from '../engine.ts';
import { seconds } from '../engine.ts';
import { resetConnection, throwInjectedError } from '../faults.ts';
import { serveGeneration } from '../generation.ts';
import { planEmbedding } from '../plan.ts';
import type { ProfileStore } from '../profile.ts';
import { unknownModel } from '../profile.ts';
import type { Rng } from '../rng.ts';
import { hash32 } from '../rng.ts';
import { closeSignal, sleep } from '../timing.ts';
import { ollamaEmbedAnswer, ollamaWire, responsesWire, tgiWire } from './wires.ts';

/** What the native routes need of the simulator. */
export interface NativeContext {
  readonly maxBodyBytes: number;
  readonly profiles: ProfileStore;
  readonly engines: ReadonlyMap<string, ModelEngines>;
  readonly seed: number;
  /** One draw of the simulator's PRNG per valid request (see Simulator#requestRng). */
  requestRng(): Rng;
}

/**
 * The native APIs' routes: Ollama's `/api/chat`, `/api/generate`, `/api/embed`,
 * the Responses API and TGI's `/generate` and `/generate_stream`, with the
 * same profiles, engine and faults as the OpenAI endpoints, and errors in each
 * API's own shape. TGI's requests name no model: the first profile's serves them.
 */
export function nativeRoutes(ctx: NativeContext): Route[] {
  return NATIVE_ENDPOINT_NAMES.map((endpoint) => {
    const wire = NATIVE_WIRES[NATIVE_ENDPOINTS[endpoint].api];
    return {
      path: NATIVE_ENDPOINTS[endpoint].path,
      methods: {
        POST: async (req: IncomingMessage, res: ServerResponse) => {
          try {
            const request = parseNativeRequest(endpoint, parseJsonObject(await readBody(req, ctx.maxBodyBytes)));
            await serveNative(res, request, ctx);
          } catch (err) {
            wire.sendError(res, err);
          }
        },
      },
    };
  });
}

async function serveNative(res: ServerResponse, request: NativeRequest, ctx: NativeContext): Promise<void> {
  const model = request.model ?? ctx.profiles.models[0]!;
  const profile = ctx.profiles.get(model);
  if (profile === undefined) throw unknownModel(model);
  const body = request.body;
  if (request.endpoint === 'ollama_embed') return serveOllamaEmbed(res, model, body, profile, ctx);
  const engines = ctx.engines.get(model)!;
  const signal = closeSignal(res);
  const rng = ctx.requestRng();
  const openai = asOpenAI(request.endpoint, model, request.stream, body);
  // Ollama cuts a prompt to its num_ctx rather than refusing it, and TGI refuses in its own words
  // (not modelled): only the Responses API, which vLLM serves, checks the context as vLLM does.
  switch (request.endpoint) {
    case 'ollama_chat':
      return serveGeneration(res, openai, profile, rng, signal, engines, (plan, usage) => ollamaWire('message', model, plan, usage), false);
    case 'ollama_generate':
      return serveGeneration(res, openai, profile, rng, signal, engines, (plan, usage) => ollamaWire('response', model, plan, usage), false);
    case 'responses':
      return serveGeneration(res, openai, profile, rng, signal, engines, (plan, usage) => responsesWire(model, plan, usage, body));
    case 'tgi_generate':
    case 'tgi_generate_stream': {
      const details = (body.parameters as { details?: unknown } | undefined)?.details === true;
      return serveGeneration(res, openai, profile, rng, signal, engines, (plan, usage) => tgiWire(plan, usage, details), false);
    }
    default: {
      const never: never = request.endpoint;
      throw new Error(`unhandled endpoint ${String(never)}`);
    }
  }
}

/** The native request as the OpenAI one the generator plans from: its prompt, its output cap, whether it streams. */
function asOpenAI(endpoint: Exclude<NativeEndpoint, 'ollama_embed'>, model: string, stream: boolean, body: Record<string, unknown>): InferenceRequest & { endpoint: 'chat_completions' | 'completions' } {
  const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
  const base = { model, stream, includeUsage: false, temperature: undefined };
  const options = (body.options ?? {}) as Record<string, unknown>;
  const parameters = (body.parameters ?? {}) as Record<string, unknown>;
  switch (endpoint) {
    case 'ollama_chat':
      return { ...base, endpoint: 'chat_completions', maxTokens: count(options.num_predict), body: { messages: Array.isArray(body.messages) ? body.messages : [] } };
    case 'ollama_generate':
      return { ...base, endpoint: 'completions', maxTokens: count(options.num_predict), body: { prompt: typeof body.prompt === 'string' ? body.prompt : '' } };
    case 'responses': {
      const input = body.input;
      const maxTokens = count(body.max_output_tokens);
      if (typeof input === 'string') return { ...base, endpoint: 'completions', maxTokens, body: { prompt: input } };
      const messages = (input as unknown[]).map((item) => ({ content: (item as { content?: unknown } | null)?.content ?? '' }));
      return { ...base, endpoint: 'chat_completions', maxTokens, body: { messages } };
    }
    case 'tgi_generate':
    case 'tgi_generate_stream':
      return { ...base, endpoint: 'completions', maxTokens: count(parameters.max_new_tokens), body: { prompt: body.inputs } };
    default: {
      const never: never = endpoint;
      throw new Error(`unhandled endpoint ${String(never)}`);
    }
  }
}

async function serveOllamaEmbed(res: ServerResponse, model: string, body: Record<string, unknown>, profile: Profile, ctx: NativeContext): Promise<void> {
  const startedAt = seconds();
  const plan = planEmbedding(ctx.requestRng(), profile);
  throwInjectedError(plan.fault, profile);
  if (plan.fault === 'hang') return;
  if (plan.delayMs > 0 && !(await sleep(plan.delayMs, closeSignal(res)))) return;
  if (plan.fault === 'reset') return resetConnection(res);
  const inputs = typeof body.input === 'string' ? [body.input] : (body.input as string[]);
  const seed = hash32(model, ctx.seed);
  const embeddings = inputs.map((text) => Array.from(embed(text, profile.embeddingDimensions, seed)));
  const promptTokens = estimatePromptTokens('embeddings', { input: body.input });
  sendJson(res, 200, ollamaEmbedAnswer(model, embeddings, promptTokens, startedAt));
}
