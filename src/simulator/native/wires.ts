import { seconds } from '../engine.ts';
import type { EngineRequest } from '../engine.ts';
import type { GenerationWire } from '../generation.ts';
import type { GenerationPlan } from '../plan.ts';
import type { Usage } from '../responses.ts';

/*
 * The native APIs' answers, field for field as their projects document them:
 * - Ollama docs/api.md (0.x), as ollama-js 0.6.4 reads them: NDJSON objects, the last with `done: true`,
 *   `done_reason` and its counts and durations in nanoseconds.
 * - OpenAI Responses API (openai-node 6.x `ResponseStreamEvent`): named SSE events with `type` and
 *   `sequence_number`, `response.created` to `response.completed` (or `response.incomplete`); no `[DONE]`.
 * - TGI router/src/lib.rs (3.x): `data:` events `{index, token, generated_text, details}`, the last with
 *   `generated_text` and `details` (`finish_reason`, `generated_tokens`, `seed`, `input_length`).
 */

const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' } as const;
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as const;

/** Ollama's durations of one request, in nanoseconds, from the engine's record of it. */
function ollamaStats(req: EngineRequest, usage: Usage) {
  const now = seconds();
  const scheduled = req.scheduledAt ?? now;
  const first = req.firstTokenAt ?? now;
  const last = req.lastTokenAt ?? first;
  const ns = (s: number) => Math.max(0, Math.round(s * 1e9));
  // The simulator's models are always loaded: its nearest thing to a load is the wait for the engine.
  return {
    total_duration: ns(now - req.arrival),
    load_duration: ns(scheduled - req.arrival),
    prompt_eval_count: usage.prompt_tokens,
    prompt_eval_duration: ns(first - scheduled),
    eval_count: usage.completion_tokens,
    eval_duration: ns(last - first),
  };
}

/** `/api/chat` (`part` message) and `/api/generate` (`part` response). */
export function ollamaWire(part: 'message' | 'response', model: string, plan: GenerationPlan, usage: Usage): GenerationWire {
  const created = () => new Date().toISOString();
  const piece = (text: string) => (part === 'message' ? { message: { role: 'assistant', content: text } } : { response: text });
  const doneReason = plan.finishReason === 'length' ? 'length' : 'stop';
  const last = (text: string, req: EngineRequest) => ({ model, created_at: created(), ...piece(text), done: true, done_reason: doneReason, ...ollamaStats(req, usage) });
  return {
    streamHeaders: NDJSON_HEADERS,
    start: () => '',
    token: (token) => `${JSON.stringify({ model, created_at: created(), ...piece(token), done: false })}\n`,
    end: (_text, req) => `${JSON.stringify(last('', req))}\n`,
    complete: (text, req) => last(text, req),
  };
}

/** `/api/embed`'s answer. */
export function ollamaEmbedAnswer(model: string, embeddings: number[][], promptTokens: number, startedAt: number): object {
  const total = Math.max(0, Math.round((seconds() - startedAt) * 1e9));
  return { model, embeddings, total_duration: total, load_duration: 0, prompt_eval_count: promptTokens };
}

/** `/v1/responses`: the response object and its stream of semantic events. */
export function responsesWire(model: string, plan: GenerationPlan, usage: Usage, request: Record<string, unknown>): GenerationWire {
  const id = `resp_${plan.id}`;
  const itemId = `msg_${plan.id}`;
  const createdAt = Math.floor(Date.now() / 1000);
  const incomplete = plan.finishReason === 'length';
  let seq = 0;
  const event = (type: string, body: object) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...body })}\n\n`;
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const item = (text: string, status: string) => ({ id: itemId, type: 'message', status, role: 'assistant', content: text === '' && status === 'in_progress' ? [] : [part(text)] });
  const response = (status: string, text: string | undefined) => ({
    id,
    object: 'response',
    created_at: createdAt,
    status,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: typeof request.instructions === 'string' ? request.instructions : null,
    max_output_tokens: typeof request.max_output_tokens === 'number' ? request.max_output_tokens : null,
    model,
    output: text === undefined ? [] : [item(text, status === 'incomplete' ? 'incomplete' : 'completed')],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: typeof request.temperature === 'number' ? request.temperature : 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage:
      text === undefined
        ? null
        : {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: usage.completion_tokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.total_tokens,
          },
    metadata: {},
  });
  const final = incomplete ? 'incomplete' : 'completed';
  return {
    streamHeaders: SSE_HEADERS,
    start: () =>
      event('response.created', { response: response('in_progress', undefined) }) +
      event('response.in_progress', { response: response('in_progress', undefined) }) +
      event('response.output_item.added', { output_index: 0, item: item('', 'in_progress') }) +
      event('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: part('') }),
    token: (delta) => event('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] }),
    end: (text) =>
      event('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }) +
      event('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: part(text) }) +
      event('response.output_item.done', { output_index: 0, item: item(text, incomplete ? 'incomplete' : 'completed') }) +
      event(`response.${final}`, { response: response(final, text) }),
    complete: (text) => response(final, text),
  };
}

/** TGI's `/generate` and `/generate_stream`. */
export function tgiWire(plan: GenerationPlan, usage: Usage, details: boolean): GenerationWire {
  const finish = plan.finishReason === 'length' ? 'length' : 'eos_token';
  const streamDetails = { finish_reason: finish, generated_tokens: usage.completion_tokens, seed: null, input_length: usage.prompt_tokens };
  return {
    streamHeaders: SSE_HEADERS,
    start: () => '',
    token: (text, i) => `data:${JSON.stringify({ index: i + 1, token: { id: i + 1, text, logprob: -0.1, special: false }, generated_text: null, details: null })}\n\n`,
    // The last event: an end-of-sequence special token with the whole text and the details.
    end: (text) =>
      `data:${JSON.stringify({ index: usage.completion_tokens + 1, token: { id: 0, text: '', logprob: 0, special: true }, generated_text: text, details: streamDetails })}\n\n`,
    complete: (text) =>
      details ? { generated_text: text, details: { finish_reason: finish, generated_tokens: usage.completion_tokens, seed: null, prefill: [], tokens: [] } } : { generated_text: text },
  };
}

