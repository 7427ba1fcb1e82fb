import type { ServerResponse } from 'node:http';
import type { Profile } from '../core/config/simulator-config.ts';
import { sendJson } from '../core/http/send.ts';
import { sseData, SSE_DONE } from '../core/openai/sse.ts';
import { estimatePromptTokens } from '../core/openai/tokens.ts';
import type { InferenceRequest } from '../core/openai/validate.ts';
import { seconds } from './engine.ts';
import type { EngineRequest, ModelEngines } from './engine.ts';
import { SIM_ERR_CONTEXT_LENGTH } from './errors.ts';
import { resetConnection, throwInjectedError } from './faults.ts';
import type { GenerationPlan } from './plan.ts';
import { planGeneration } from './plan.ts';
import { outputShape } from './responses.ts';
import type { OutputShape, Usage } from './responses.ts';
import type { Rng } from './rng.ts';
import { sleep } from './timing.ts';

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as const;

/**
 * Answers a chat or text completion as the profile says: after the drawn
 * delays, with the drawn output, or with the drawn fault. The request runs in
 * the model's engine (src/simulator/engine.ts): it waits in the queue until the
 * engine admits it, and pauses while preempted. With zero delays and room in the
 * engine it completes synchronously (no timer at all), for the benchmark baseline.
 * `signal` aborts when the client goes away or the server closes.
 */
export async function serveGeneration(
  res: ServerResponse,
  request: InferenceRequest & { endpoint: 'chat_completions' | 'completions' },
  profile: Profile,
  rng: Rng,
  signal: AbortSignal,
  engines: ModelEngines,
  wireOf: (plan: GenerationPlan, usage: Usage) => GenerationWire = (plan, usage) =>
    openAIWire(outputShape(request.endpoint, plan.id, request.model, Math.floor(Date.now() / 1000), request.includeUsage), plan.finishReason, usage, request.includeUsage),
  checksContext = true,
): Promise<void> {
  const plan = planGeneration(rng, profile, request.maxTokens);
  // A long-context workload (profile extraPromptTokens) without the client sending the document.
  const promptTokens = estimatePromptTokens(request.endpoint, request.body) + profile.extraPromptTokens;
  if (checksContext) refuseOverContext(promptTokens, request.maxTokens, engines.maxModelLen);
  throwInjectedError(plan.fault, profile);
  // A hung server answers nothing; the socket goes when the client gives up or the server closes.
  if (plan.fault === 'hang') return;
  const usage: Usage = {
    prompt_tokens: promptTokens,
    completion_tokens: plan.tokens.length,
    total_tokens: promptTokens + plan.tokens.length,
  };
  const wire = wireOf(plan, usage);
  const req = engines.add(promptTokens, promptText(request.body));
  let done = false;
  try {
    done = request.stream ? await stream(res, plan, wire, signal, req) : await answer(res, plan, wire, signal, req);
  } finally {
    // A reset, a client that left or a closing server: the engine sees an abort, as vLLM's does.
    req.engine.finish(req, done ? plan.finishReason : 'abort');
  }
}

/**
 * vLLM's check at the door (its OpenAI server, before the engine sees the request): a prompt whose
 * tokens and the `max_tokens` asked (0 when not asked) exceed `maxModelLen`, or a prompt that leaves
 * no room for one token, is a 400 in vLLM's current words, `param` as vLLM sets it. The body keeps the
 * OpenAI shape the simulator's every error has (vLLM's own says `type: BadRequestError`, `code: 400`).
 */
export function refuseOverContext(promptTokens: number, maxTokens: number | undefined, maxModelLen: number): void {
  const asked = maxTokens ?? 0;
  if (promptTokens + asked <= maxModelLen && promptTokens < maxModelLen) return;
  throw SIM_ERR_CONTEXT_LENGTH(
    `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${asked} output tokens and your prompt contains at least ${promptTokens} input tokens, for a total of at least ${promptTokens + asked} tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=${promptTokens})`,
    { param: 'input_tokens' },
  );
}

/** What the prefix cache hashes: the prompt as sent (messages or prompt). */
function promptText(body: Readonly<Record<string, unknown>>): string {
  const p = body.messages ?? body.prompt;
  return typeof p === 'string' ? p : JSON.stringify(p ?? '');
}

/** A reset cuts the output at about half the tokens. */
function cutAt(plan: GenerationPlan): number {
  return plan.fault === 'reset' ? Math.floor(plan.tokens.length / 2) : plan.tokens.length;
}

/** Waits until `req` runs with room for its next token; false when the client or the server went first. */
async function turn(req: EngineRequest, signal: AbortSignal): Promise<boolean> {
  while (!req.engine.reserve(req)) {
    if (!(await req.admitted(signal))) return false;
  }
  return true;
}

/**
 * Non-streamed: the tokens are timed in runs that fit the KV blocks the request holds, one timer per
 * run, so the engine sees the context grow (and may preempt) without a timer per token.
 */
async function answer(res: ServerResponse, plan: GenerationPlan, wire: GenerationWire, signal: AbortSignal, req: EngineRequest): Promise<boolean> {
  const events = plan.fault === 'reset' ? cutAt(plan) : plan.tokens.length;
  const engine = req.engine;
  if (req.state !== 'running' && !(await req.admitted(signal))) return false;
  for (let i = 0; i < events; ) {
    if (!engine.reserve(req) && !(await turn(req, signal))) return false;
    const end = Math.min(events, i + engine.room(req));
    let total = 0;
    for (let k = i; k < end; k++) total += plan.delays[k]!;
    if (total > 0) {
      if (!(await sleep(total, signal))) return false;
      // Preempted while it slept: the run is recomputed once the engine takes it back.
      if (req.state !== 'running') continue;
    }
    let at = seconds() - total / 1000;
    for (let k = i; k < end; k++) engine.emit(req, (at += plan.delays[k]! / 1000));
    i = end;
  }
  // An empty answer still spends its time to first token.
  if (events === 0 && plan.delays[0]! > 0 && !(await sleep(plan.delays[0]!, signal))) return false;
  if (plan.fault === 'reset') {
    resetConnection(res);
    return false;
  }
  sendJson(res, 200, wire.complete(plan.tokens.join(''), req));
  return true;
}

async function stream(res: ServerResponse, plan: GenerationPlan, wire: GenerationWire, signal: AbortSignal, req: EngineRequest): Promise<boolean> {
  res.writeHead(200, wire.streamHeaders);
  // Headers go now, as vLLM and OpenAI send them, so the first data event marks the first token.
  res.flushHeaders();
  const engine = req.engine;
  // Events due at the same moment go out in one write: with zero delays the whole stream is one write.
  let pending = wire.start();
  const flush = () => {
    if (pending.length > 0) res.write(pending);
    pending = '';
  };
  const cut = cutAt(plan);
  for (let i = 0; i < cut; ) {
    if (!engine.reserve(req)) {
      flush();
      if (!(await turn(req, signal))) return false;
    }
    const wait = plan.delays[i]!;
    if (wait > 0) {
      flush();
      if (!(await sleep(wait, signal))) return false;
      // Preempted while it slept: this token is recomputed once the engine takes the request back.
      if (req.state !== 'running') continue;
    }
    engine.emit(req);
    pending += wire.token(plan.tokens[i]!, i);
    i++;
  }
  if (plan.fault === 'reset') {
    // Let the tokens so far reach the client before the RST, which would discard unsent data.
    if (pending.length > 0) res.write(pending, () => resetConnection(res));
    else resetConnection(res);
    return false;
  }
  if (cut === 0) {
    if (req.state !== 'running' && !(await req.admitted(signal))) return false;
    if (plan.delays[0]! > 0 && !(await sleep(plan.delays[0]!, signal))) return false;
  }
  res.end(pending + wire.end(plan.tokens.join(''), req));
  return true;
}

/**
 * How one API frames a generated answer: the stream's headers and framing
 * (its opening events, one frame per token, its closing events) and the
 * whole answer. `req` is the engine's record of the request, for the timings
 * a native API reports (Ollama's durations).
 */
export interface GenerationWire {
  readonly streamHeaders: Readonly<Record<string, string>>;
  start(): string;
  token(token: string, index: number): string;
  end(text: string, req: EngineRequest): string;
  complete(text: string, req: EngineRequest): object;
}

/** OpenAI's chat and text completions (src/simulator/responses.ts shapes), with a usage chunk when asked. */
function openAIWire(shape: OutputShape, finishReason: string, usage: Usage, includeUsage: boolean): GenerationWire {
  return {
    streamHeaders: SSE_HEADERS,
    start: () => '',
    token: (token, i) => sseData(shape.chunk(token, i === 0)),
    end: () => sseData(shape.finish(finishReason)) + (includeUsage ? sseData(shape.usage(usage)) : '') + SSE_DONE,
    complete: (text) => shape.complete(text, finishReason, usage),
  };
}

