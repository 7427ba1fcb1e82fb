import type { NativeEndpoint } from './endpoints.ts';
import { OAI_ERR_INVALID_PARAM, OAI_ERR_MISSING_PARAM } from '../openai/errors.ts';

/** The fields of a native request the gateway reads; the body passes upstream untouched (but for a renamed model). */
export interface NativeRequest {
  readonly endpoint: NativeEndpoint;
  /** The model named in the body; TGI's requests name none (its server serves one model). */
  readonly model: string | undefined;
  readonly stream: boolean;
  readonly body: Record<string, unknown>;
}

/**
 * Checks what the gateway depends on in a native request and names the field
 * at fault. Ollama streams unless told `stream: false` (its API's default);
 * the Responses API streams only with `stream: true`; TGI's path decides.
 */
export function parseNativeRequest(endpoint: NativeEndpoint, body: Record<string, unknown>): NativeRequest {
  switch (endpoint) {
    case 'responses':
      requireModel(body);
      if (body.input === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'input'", { param: 'input' });
      if (typeof body.input !== 'string' && !Array.isArray(body.input)) throw OAI_ERR_INVALID_PARAM("'input' must be a string or an array of input items", { param: 'input' });
      return { endpoint, model: body.model as string, stream: flag(body, false), body };
    case 'ollama_chat':
      requireModel(body);
      if (body.messages !== undefined && body.messages !== null && !Array.isArray(body.messages)) throw OAI_ERR_INVALID_PARAM("'messages' must be an array", { param: 'messages' });
      return { endpoint, model: body.model as string, stream: flag(body, true), body };
    case 'ollama_generate':
      requireModel(body);
      if (body.prompt !== undefined && body.prompt !== null && typeof body.prompt !== 'string') throw OAI_ERR_INVALID_PARAM("'prompt' must be a string", { param: 'prompt' });
      return { endpoint, model: body.model as string, stream: flag(body, true), body };
    case 'ollama_embed': {
      requireModel(body);
      const input = body.input;
      if (input === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'input'", { param: 'input' });
      if (typeof input !== 'string' && !(Array.isArray(input) && input.every((x) => typeof x === 'string'))) {
        throw OAI_ERR_INVALID_PARAM("'input' must be a string or an array of strings", { param: 'input' });
      }
      return { endpoint, model: body.model as string, stream: false, body };
    }
    case 'tgi_generate':
    case 'tgi_generate_stream': {
      if (body.inputs === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'inputs'", { param: 'inputs' });
      if (typeof body.inputs !== 'string') throw OAI_ERR_INVALID_PARAM("'inputs' must be a string", { param: 'inputs' });
      const model = body.model;
      if (model !== undefined && (typeof model !== 'string' || model === '')) throw OAI_ERR_INVALID_PARAM("'model' must be a non-empty string", { param: 'model' });
      return { endpoint, model, stream: endpoint === 'tgi_generate_stream', body };
    }
    default: {
      const never: never = endpoint;
      throw new Error(`unhandled endpoint ${String(never)}`);
    }
  }
}

function requireModel(body: Record<string, unknown>): void {
  if (body.model === undefined) throw OAI_ERR_MISSING_PARAM("Missing required parameter: 'model'", { param: 'model' });
  if (typeof body.model !== 'string' || body.model.length === 0) throw OAI_ERR_INVALID_PARAM("'model' must be a non-empty string", { param: 'model' });
}

function flag(body: Record<string, unknown>, byDefault: boolean): boolean {
  const v = body.stream;
  if (v === undefined || v === null) return byDefault;
  if (typeof v !== 'boolean') throw OAI_ERR_INVALID_PARAM("'stream' must be a boolean", { param: 'stream' });
  return v;
}
