/**
 * The base of every llmwatch error. Each part keeps its own registry of codes
 * (`GW_ERR_*`, `SIM_ERR_*`, ...) built with {@link defineError}; callers branch
 * on `err.code`, never on the message. A retired code is never reused.
 */
export class LlmwatchError extends Error {
  /** Stable machine-readable code, e.g. `GW_ERR_UNKNOWN_MODEL`. */
  readonly code: string;
  /** HTTP status when the error reaches an HTTP client. */
  readonly status: number;
  /** OpenAI error `type` (`invalid_request_error`, `server_error`, ...). */
  readonly type: string;
  /** OpenAI error `param`: the request field at fault, if any. */
  readonly param: string | null;
  /** OpenAI error `code`: a snake_case public code for SDK users. */
  readonly publicCode: string;
  /** Extra response headers (e.g. Retry-After) that go with the error. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    def: ErrorDefinition,
    message: string,
    options: { param?: string | null; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LlmwatchError';
    this.code = def.code;
    this.status = def.status;
    this.type = def.type;
    this.publicCode = def.publicCode;
    this.param = options.param ?? null;
    this.headers = options.headers;
  }
}

export interface ErrorDefinition {
  readonly code: string;
  readonly status: number;
  readonly type: string;
  readonly publicCode: string;
}

/** A factory for one registered error code. */
export type ErrorFactory = ((
  message: string,
  options?: { param?: string | null; cause?: unknown; headers?: Record<string, string> },
) => LlmwatchError) & { readonly code: string; readonly status: number };

/**
 * Registers one error code.
 * @example
 * const GW_ERR_UNKNOWN_MODEL = defineError('GW_ERR_UNKNOWN_MODEL', 404, 'invalid_request_error', 'model_not_found');
 * throw GW_ERR_UNKNOWN_MODEL(`The model 'x' does not exist`, { param: 'model' });
 */
export function defineError(code: string, status: number, type: string, publicCode: string): ErrorFactory {
  const def: ErrorDefinition = Object.freeze({ code, status, type, publicCode });
  const factory = (message: string, options?: { param?: string | null; cause?: unknown; headers?: Record<string, string> }) =>
    new LlmwatchError(def, message, options);
  return Object.assign(factory, { code, status });
}

/** True when `err` is an llmwatch error with the given code. */
export function hasCode(err: unknown, factory: { readonly code: string }): err is LlmwatchError {
  return err instanceof LlmwatchError && err.code === factory.code;
}
