import type { ServerResponse } from 'node:http';
import type { Profile } from '../core/config/simulator-config.ts';
import { sendJson } from '../core/http/send.ts';
import { sseData, SSE_DONE } from '../core/openai/sse.ts';
import { estimatePromptTokens } from '../core/openai/tokens.ts';
import type { InferenceRequest } from '../core/openai/validate.ts';
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
 * delays, with the drawn output, or with the drawn fault. With zero delays it
 * completes synchronously (no timer at all), for the benchmark baseline.
 * `signal` aborts when the client goes away or the server closes.
 */
export async function serveGeneration(
  res: ServerResponse,
  request: InferenceRequest & { endpoint: 'chat_completions' | 'completions' },
  profile: Profile,
  rng: Rng,
  signal: AbortSignal,
): Promise<void> {
  const plan = planGeneration(rng, profile, request.maxTokens);
  throwInjectedError(plan.fault, profile);
  // A hung server answers nothing; the socket goes when the client gives up or the server closes.
  if (plan.fault === 'hang') return;
  const promptTokens = estimatePromptTokens(request.endpoint, request.body);
  const usage: Usage = {
    prompt_tokens: promptTokens,
    completion_tokens: plan.tokens.length,
    total_tokens: promptTokens + plan.tokens.length,
  };
  const shape = outputShape(request.endpoint, plan.id, request.model, Math.floor(Date.now() / 1000), request.includeUsage);
  if (request.stream) await stream(res, plan, shape, request.includeUsage ? usage : undefined, signal);
  else await answer(res, plan, shape, usage, signal);
}

/** A reset cuts the output at about half the tokens. */
function cutAt(plan: GenerationPlan): number {
  return plan.fault === 'reset' ? Math.floor(plan.tokens.length / 2) : plan.tokens.length;
}

async function answer(res: ServerResponse, plan: GenerationPlan, shape: OutputShape, usage: Usage, signal: AbortSignal): Promise<void> {
  const events = plan.fault === 'reset' ? cutAt(plan) : plan.delays.length;
  let total = 0;
  for (let i = 0; i < events; i++) total += plan.delays[i]!;
  if (total > 0 && !(await sleep(total, signal))) return;
  if (plan.fault === 'reset') {
    resetConnection(res);
    return;
  }
  sendJson(res, 200, shape.complete(plan.tokens.join(''), plan.finishReason, usage));
}

async function stream(
  res: ServerResponse,
  plan: GenerationPlan,
  shape: OutputShape,
  usage: Usage | undefined,
  signal: AbortSignal,
): Promise<void> {
  res.writeHead(200, SSE_HEADERS);
  // Headers go now, as vLLM and OpenAI send them, so the first data event marks the first token.
  res.flushHeaders();
  // Events due at the same moment go out in one write: with zero delays the whole stream is one write.
  let pending = '';
  const cut = cutAt(plan);
  for (let i = 0; i < cut; i++) {
    const wait = plan.delays[i]!;
    if (wait > 0) {
      if (pending.length > 0) res.write(pending);
      pending = '';
      if (!(await sleep(wait, signal))) return;
    }
    pending += sseData(shape.chunk(plan.tokens[i]!, i === 0));
  }
  if (plan.fault === 'reset') {
    // Let the tokens so far reach the client before the RST, which would discard unsent data.
    if (pending.length > 0) res.write(pending, () => resetConnection(res));
    else resetConnection(res);
    return;
  }
  if (cut === 0 && plan.delays[0]! > 0 && !(await sleep(plan.delays[0]!, signal))) return;
  pending += sseData(shape.finish(plan.finishReason));
  if (usage !== undefined) pending += sseData(shape.usage(usage));
  res.end(pending + SSE_DONE);
}
