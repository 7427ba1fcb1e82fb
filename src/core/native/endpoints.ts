import type { Endpoint } from '../openai/endpoints.ts';

/**
 * The native APIs an upstream may speak besides OpenAI's chat, completions
 * and embeddings (which every upstream is assumed to serve): the OpenAI
 * Responses API, Ollama's and TGI's own. An upstream lists the ones it serves
 * in `upstreams.<name>.apis`; only those are metered (and their series made).
 */
export const NATIVE_APIS = ['responses', 'ollama', 'tgi'] as const;

export type NativeApi = (typeof NATIVE_APIS)[number];

/**
 * Each native endpoint: the gateway path (the same under the upstream's root,
 * its base URL without `/v1`) and the API it belongs to. The keys join the
 * closed set of `endpoint` label values.
 * - Responses: https://platform.openai.com/docs/api-reference/responses (openai-node 6.x `client.responses`)
 * - Ollama: https://github.com/ollama/ollama/blob/main/docs/api.md (0.x; ollama-js 0.6.4)
 * - TGI: https://huggingface.github.io/text-generation-inference/ (router/src/server.rs, 3.x)
 */
export const NATIVE_ENDPOINTS = {
  responses: { path: '/v1/responses', api: 'responses' },
  ollama_chat: { path: '/api/chat', api: 'ollama' },
  ollama_generate: { path: '/api/generate', api: 'ollama' },
  ollama_embed: { path: '/api/embed', api: 'ollama' },
  tgi_generate: { path: '/generate', api: 'tgi' },
  tgi_generate_stream: { path: '/generate_stream', api: 'tgi' },
} as const satisfies Record<string, { path: string; api: NativeApi }>;

export type NativeEndpoint = keyof typeof NATIVE_ENDPOINTS;

export const NATIVE_ENDPOINT_NAMES = Object.freeze(Object.keys(NATIVE_ENDPOINTS) as NativeEndpoint[]);

/** `endpoint` label of requests passed through to an upstream on a path the gateway does not meter. */
export const ENDPOINT_OTHER = 'other';

/**
 * `model` label of passed-through requests that name no configured model
 * (an engine's admin path, `/tokenize` without a model): it cannot be a
 * configured name, which starts with a letter or digit.
 */
export const MODEL_NONE = '_none';

/** Every value the `endpoint` label of a routed request can take. */
export type EndpointLabel = Endpoint | NativeEndpoint | typeof ENDPOINT_OTHER;

/** The native endpoints of the APIs given, in the order of {@link NATIVE_ENDPOINTS}. */
export function nativeEndpointsOf(apis: Iterable<NativeApi>): NativeEndpoint[] {
  const set = new Set(apis);
  return NATIVE_ENDPOINT_NAMES.filter((e) => set.has(NATIVE_ENDPOINTS[e].api));
}

/** Endpoints that generate no tokens: no TTFT, TPOT or completion-size series. */
export function isEmbeddingEndpoint(e: EndpointLabel): boolean {
  return e === 'embeddings' || e === 'ollama_embed';
}
