import type { Endpoint } from './endpoints.ts';
import { OAI_ERR_INVALID_PARAM, OAI_ERR_MISSING_PARAM } from './errors.ts';

/** The fields of an OpenAI request that llmwatch reads; the rest pass through untouched. */
export interface InferenceRequest {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly stream: boolean;
  /** `stream_options.include_usage`: the client asked for a final usage chunk. */
  readonly includeUsage: boolean;
  /** `max_completion_tokens` or `max_tokens`, when given. */
  readonly maxTokens: number | undefined;
  readonly temperature: number | undefined;
  /** The parsed body, for whoever needs more of it. */
  readonly body: Record<string, unknown>;
}

/**
 * Checks the fields llmwatch depends on, for one endpoint, and names the
 * field at fault (`messages[2].role`), as OpenAI's own `param` does.
 * Hand-written rather than schema-driven: it runs on every request.
 */
export function validateInferenceRequest(endpoint: Endpoint, body: Record<string, unknown>): InferenceRequest {
  const model = body.model;
  if (model === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'model'", { param: 'model' });
  if (typeof model !== 'string' || model.length === 0) {
    throw OAI_ERR_INVALID_PARAM("'model' must be a non-empty string", { param: 'model' });
  }
  switch (endpoint) {
    case 'chat_completions':
      checkMessages(body.messages);
      break;
    case 'completions':
      checkPrompt(body.prompt);
      break;
    case 'embeddings':
      checkInput(body.input);
      break;
    default: {
      const never: never = endpoint;
      throw new Error(`unhandled endpoint ${String(never)}`);
    }
  }
  const stream = optionalBoolean(body, 'stream') ?? false;
  if (stream && endpoint === 'embeddings') {
    throw OAI_ERR_INVALID_PARAM("'stream' is not supported for embeddings", { param: 'stream' });
  }
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) {
      throw OAI_ERR_INVALID_PARAM("'stream_options' must be an object", { param: 'stream_options' });
    }
    const iu = (so as Record<string, unknown>).include_usage;
    if (iu !== undefined && typeof iu !== 'boolean') {
      throw OAI_ERR_INVALID_PARAM("'stream_options.include_usage' must be a boolean", { param: 'stream_options.include_usage' });
    }
    includeUsage = iu === true;
  }
  if (endpoint !== 'embeddings') {
    const n = optionalCount(body, 'n');
    // OpenAI: "How many chat completion choices to generate", minimum 1.
    if (n === 0) throw OAI_ERR_INVALID_PARAM("'n' must be at least 1", { param: 'n' });
  }
  const maxTokens = optionalCount(body, 'max_completion_tokens') ?? optionalCount(body, 'max_tokens');
  const temperature = optionalNumber(body, 'temperature');
  return { endpoint, model, stream, includeUsage, maxTokens, temperature, body };
}

function checkMessages(messages: unknown): void {
  if (messages === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'messages'", { param: 'messages' });
  if (!Array.isArray(messages)) throw OAI_ERR_INVALID_PARAM("'messages' must be an array", { param: 'messages' });
  if (messages.length === 0) throw OAI_ERR_INVALID_PARAM("'messages' must contain at least one message", { param: 'messages' });
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as unknown;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      throw OAI_ERR_INVALID_PARAM(`'messages[${i}]' must be an object`, { param: `messages[${i}]` });
    }
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      const got = typeof role === 'string' ? ` (got '${role.slice(0, 40)}')` : '';
      throw OAI_ERR_INVALID_PARAM(`'messages[${i}].role' must be one of ${[...ROLES].join(', ')}${got}`, { param: `messages[${i}].role` });
    }
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      throw OAI_ERR_INVALID_PARAM(`'messages[${i}].content' must be a string or an array of content parts`, {
        param: `messages[${i}].content`,
      });
    }
  }
}

/**
 * The roles of the Chat Completions API; anything else is refused here rather
 * than by the model server, with the field named.
 * https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages
 */
const ROLES: ReadonlySet<string> = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

function checkPrompt(prompt: unknown): void {
  if (prompt === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'prompt'", { param: 'prompt' });
  if (!isTextOrTokens(prompt)) {
    throw OAI_ERR_INVALID_PARAM("'prompt' must be a string, an array of strings, or an array of token arrays", { param: 'prompt' });
  }
}

function checkInput(input: unknown): void {
  if (input === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'input'", { param: 'input' });
  if (!isTextOrTokens(input)) {
    throw OAI_ERR_INVALID_PARAM("'input' must be a string, an array of strings, or an array of token arrays", { param: 'input' });
  }
}

function isTextOrTokens(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (!Array.isArray(v) || v.length === 0) return false;
  const first = v[0] as unknown;
  if (typeof first === 'string') return v.every((x) => typeof x === 'string');
  if (typeof first === 'number') return v.every((x) => Number.isInteger(x));
  return v.every((x) => Array.isArray(x) && x.every((t) => Number.isInteger(t)));
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw OAI_ERR_INVALID_PARAM(`'${key}' must be a boolean`, { param: key });
  return v;
}

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw OAI_ERR_INVALID_PARAM(`'${key}' must be a number`, { param: key });
  return v;
}

function optionalCount(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw OAI_ERR_INVALID_PARAM(`'${key}' must be a non-negative integer`, { param: key });
  }
  return v;
}
