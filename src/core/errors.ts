/**
 * The base of every llmwatch error. Each part keeps its own registry of codes
 * (`GW_ERR_*`, `SIM_ERR_*`, ...) built with {@link defineError}; callers branch
 * on `err.code`, never on the message. A retired code is never reused.
 */
export class LlmwatchError extends Error {
  /** Stable machine-readable code, e.g. `OAI_ERR_UNKNOWN_MODEL`. */
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

const REGISTRY = new Map<string, ErrorDefinition>();

/** Codes no longer sent, each with the code that took its meaning; never defined again. */
export const RETIRED_CODES: Readonly<Record<string, string>> = Object.freeze({
  GW_ERR_ADMIN_UNAUTHENTICATED: 'HTTP_ERR_UNAUTHORIZED',
  GW_ERR_ADMIN_FORBIDDEN: 'HTTP_ERR_FORBIDDEN',
  RSP_ERR_UNAUTHORIZED: 'HTTP_ERR_UNAUTHORIZED',
  RSP_ERR_FORBIDDEN: 'HTTP_ERR_FORBIDDEN',
  RSP_ERR_UNSUPPORTED_MEDIA_TYPE: 'HTTP_ERR_UNSUPPORTED_MEDIA_TYPE',
  GW_ERR_UNKNOWN_MODEL: 'OAI_ERR_UNKNOWN_MODEL',
  SIM_ERR_UNKNOWN_MODEL: 'OAI_ERR_UNKNOWN_MODEL',
  GW_ERR_ADMIN_DISABLED: 'HTTP_ERR_ADMIN_DISABLED',
  RSP_ERR_ADMIN_DISABLED: 'HTTP_ERR_ADMIN_DISABLED',
  SIM_ERR_INJECTED_400: 'SIM_ERR_CONTEXT_LENGTH',
});

/** Every error code defined so far, in definition order (docs/errors.md lists them all). */
export function registeredErrors(): ErrorDefinition[] {
  return [...REGISTRY.values()];
}

/**
 * Registers one error code.
 * @example
 * const OAI_ERR_UNKNOWN_MODEL = defineError('OAI_ERR_UNKNOWN_MODEL', 404, 'invalid_request_error', 'model_not_found');
 * throw OAI_ERR_UNKNOWN_MODEL(`The model 'x' does not exist`, { param: 'model' });
 */
export function defineError(code: string, status: number, type: string, publicCode: string): ErrorFactory {
  const def: ErrorDefinition = Object.freeze({ code, status, type, publicCode });
  // One code, one meaning: a code defined twice (two modules, or a copy) is a bug found at start-up.
  if (REGISTRY.has(code)) throw new Error(`error code ${code} is defined twice`);
  if (Object.hasOwn(RETIRED_CODES, code)) throw new Error(`error code ${code} is retired and never reused`);
  REGISTRY.set(code, def);
  const factory = (message: string, options?: { param?: string | null; cause?: unknown; headers?: Record<string, string> }) =>
    new LlmwatchError(def, message, options);
  return Object.assign(factory, { code, status });
}

/** True when `err` is an llmwatch error with the given code. */
export function hasCode(err: unknown, factory: { readonly code: string }): err is LlmwatchError {
  return err instanceof LlmwatchError && err.code === factory.code;
}

/** Anything thrown that is not an llmwatch error: a bug. Clients see a 500 that leaks nothing; the cause is logged. */
export const ERR_INTERNAL = defineError('ERR_INTERNAL', 500, 'server_error', 'internal_error');
