import type { NativeEndpoint } from '../../native/endpoints.ts';
import { contentText } from '../../openai/tokens.ts';
import type { EventSink, NativeReader } from './frame-meter.ts';

/*
 * What each native API's answers say, field by field (docs/gateway.md, "Native APIs"):
 * - Ollama (docs/api.md, 0.x): `message.content` / `response` / `thinking` text; on the final
 *   object (`done: true`, or the whole answer) `prompt_eval_count`, `eval_count`, and durations in
 *   nanoseconds: `load_duration`, `eval_duration`; a line `{"error": "..."}` is an error.
 * - Responses (openai-node 6.x types, `ResponseStreamEvent`): `response.*.delta` events carry text;
 *   `response.completed` / `response.incomplete` end the stream with `response.usage`
 *   (`input_tokens`, `output_tokens`); `response.failed` and `error` are errors.
 * - TGI (router/src/lib.rs, 3.x): stream events `{token: {text, special}, generated_text, details}`,
 *   the final one with `generated_text` and `details.generated_tokens` (and `input_length`);
 *   `/generate` answers `{generated_text, details?: {generated_tokens, prefill}}`; `{"error": ...}` is an error.
 */

const NS = 1e9;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Ollama's final counts and durations, on the `done` object or a whole answer. */
function ollamaStats(e: Record<string, unknown>, sink: EventSink, embed: boolean): void {
  const evalCount = num(e.eval_count);
  const promptCount = num(e.prompt_eval_count);
  // Ollama leaves prompt_eval_count out when the whole prompt came from its cache: none evaluated.
  if (embed) sink.usage(promptCount, promptCount === undefined ? undefined : 0);
  else if (evalCount !== undefined) sink.usage(promptCount ?? 0, evalCount);
  else sink.usage(promptCount, undefined);
  const load = num(e.load_duration);
  const evalDuration = num(e.eval_duration);
  sink.timing(load === undefined ? undefined : load / NS, evalDuration !== undefined && evalCount !== undefined && evalCount > 0 ? evalDuration / NS / evalCount : undefined);
}

function ollamaReader(part: 'message' | 'response' | 'embed'): NativeReader {
  return {
    framing: 'ndjson',
    read(e, sink, whole) {
      if (typeof e.error === 'string') return sink.error(e.error);
      if (part === 'message') {
        const m = obj(e.message);
        if (m !== undefined) {
          sink.token(str(m.thinking) + str(m.content));
          if (Array.isArray(m.tool_calls)) sink.token(JSON.stringify(m.tool_calls));
        }
      } else if (part === 'response') {
        sink.token(str(e.thinking) + str(e.response));
      }
      if (e.done === true || whole) {
        ollamaStats(e, sink, part === 'embed');
        sink.finish();
      }
    },
    promptText(body) {
      if (part === 'message') {
        let text = '';
        if (Array.isArray(body.messages)) for (const m of body.messages) text += contentText(obj(m)?.content);
        return text;
      }
      if (part === 'response') return str(body.system) + str(body.prompt);
      const input = body.input;
      return typeof input === 'string' ? input : Array.isArray(input) ? input.filter((x) => typeof x === 'string').join('\n') : '';
    },
  };
}

const RESPONSE_TEXT_EVENTS: ReadonlySet<string> = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.reasoning_text.delta',
]);

function responsesUsage(r: Record<string, unknown> | undefined, sink: EventSink): void {
  const u = obj(r?.usage);
  if (u !== undefined) sink.usage(num(u.input_tokens), num(u.output_tokens));
}

const responsesReader: NativeReader = {
  framing: 'sse',
  read(e, sink, whole) {
    if (whole) {
      if (Array.isArray(e.output)) {
        for (const item of e.output) {
          const it = obj(item);
          if (it === undefined) continue;
          if (typeof it.arguments === 'string') sink.token(it.arguments);
          if (Array.isArray(it.content)) for (const c of it.content) sink.token(str(obj(c)?.text) + str(obj(c)?.refusal));
        }
      }
      responsesUsage(e, sink);
      sink.finish();
      return;
    }
    const type = str(e.type);
    if (RESPONSE_TEXT_EVENTS.has(type)) return sink.token(str(e.delta));
    switch (type) {
      case 'response.completed':
      case 'response.incomplete':
        responsesUsage(obj(e.response), sink);
        return sink.finish();
      case 'response.failed': {
        const err = obj(obj(e.response)?.error);
        return sink.error(str(err?.message) || 'response.failed');
      }
      case 'error':
        return sink.error(str(e.message) || str(obj(e.error)?.message) || 'error event');
      default:
    }
  },
  promptText(body) {
    let text = str(body.instructions);
    const input = body.input;
    if (typeof input === 'string') return text + input;
    if (Array.isArray(input)) for (const item of input) text += contentText(obj(item)?.content);
    return text;
  },
};

const tgiReader: NativeReader = {
  framing: 'sse',
  read(e, sink, whole) {
    if (typeof e.error === 'string') return sink.error(e.error);
    const token = obj(e.token);
    if (token !== undefined && token.special !== true) sink.token(str(token.text));
    if (whole) sink.token(str(e.generated_text));
    if (whole || typeof e.generated_text === 'string') {
      const d = obj(e.details);
      if (d !== undefined) {
        const prefill = Array.isArray(d.prefill) && d.prefill.length > 0 ? d.prefill.length : undefined;
        sink.usage(num(d.input_length) ?? prefill, num(d.generated_tokens));
      }
      sink.finish();
    }
  },
  promptText: (body) => str(body.inputs),
};

/** The reader of each native endpoint. */
export const NATIVE_READERS: Readonly<Record<NativeEndpoint, NativeReader>> = {
  responses: responsesReader,
  ollama_chat: ollamaReader('message'),
  ollama_generate: ollamaReader('response'),
  ollama_embed: ollamaReader('embed'),
  tgi_generate: tgiReader,
  tgi_generate_stream: tgiReader,
};
