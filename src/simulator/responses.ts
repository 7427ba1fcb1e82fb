/** OpenAI `usage` of a completion. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The response bodies of one chat or text completion, in OpenAI's exact shapes. */
export interface OutputShape {
  /** The whole non-streaming answer. */
  complete(text: string, finishReason: string, usage: Usage): object;
  /** One streamed token; the first chat chunk also carries the role. */
  chunk(token: string, first: boolean): object;
  /** The chunk that ends the choice. */
  finish(finishReason: string): object;
  /** The last chunk when `stream_options.include_usage` is set: empty `choices`, then `usage`. */
  usage(usage: Usage): object;
}

/**
 * Builds the shapes for one response. With `include_usage`, OpenAI puts
 * `usage: null` on every chunk but the last, so clients can rely on the key.
 * https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 */
export function outputShape(
  endpoint: 'chat_completions' | 'completions',
  hex: string,
  model: string,
  created: number,
  includeUsage: boolean,
): OutputShape {
  const usageNull = includeUsage ? { usage: null } : {};
  if (endpoint === 'chat_completions') {
    const head = { id: `chatcmpl-${hex}`, object: 'chat.completion.chunk', created, model } as const;
    return {
      complete: (content, finish_reason, usage) => ({
        id: head.id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason }],
        usage,
      }),
      chunk: (content, first) => ({
        ...head,
        choices: [{ index: 0, delta: first ? { role: 'assistant', content } : { content }, logprobs: null, finish_reason: null }],
        ...usageNull,
      }),
      finish: (finish_reason) => ({ ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason }], ...usageNull }),
      usage: (usage) => ({ ...head, choices: [], usage }),
    };
  }
  const head = { id: `cmpl-${hex}`, object: 'text_completion', created, model } as const;
  return {
    complete: (text, finish_reason, usage) => ({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason }], usage }),
    chunk: (text) => ({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: null }], ...usageNull }),
    finish: (finish_reason) => ({ ...head, choices: [{ index: 0, text: '', logprobs: null, finish_reason }], ...usageNull }),
    usage: (usage) => ({ ...head, choices: [], usage }),
  };
}
