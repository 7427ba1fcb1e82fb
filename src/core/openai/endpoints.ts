/**
 * The OpenAI endpoints llmwatch serves. The keys are the closed set of values
 * of the `endpoint` metric label.
 */
export const ENDPOINTS = {
  chat_completions: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
} as const;

export type Endpoint = keyof typeof ENDPOINTS;

export const ENDPOINT_NAMES = Object.freeze(Object.keys(ENDPOINTS) as Endpoint[]);

const BY_PATH: ReadonlyMap<string, Endpoint> = new Map(ENDPOINT_NAMES.map((e) => [ENDPOINTS[e], e]));

/** The endpoint served at `path`, or undefined. */
export function endpointForPath(path: string): Endpoint | undefined {
  return BY_PATH.get(path);
}
