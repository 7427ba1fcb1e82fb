import { defineError } from '../core/errors.ts';

/** The generator's error registry (`llmwatch generate` / `llmwatch check`). Codes are stable; a retired one is never reused. */

/** The spec is valid data but cannot be generated from (a threshold no test can cross, ...). */
export const GEN_ERR_INVALID_SPEC = defineError('GEN_ERR_INVALID_SPEC', 400, 'invalid_request_error', 'invalid_spec');
/** A writer would produce an empty file or folder. */
export const GEN_ERR_EMPTY_OUTPUT = defineError('GEN_ERR_EMPTY_OUTPUT', 500, 'server_error', 'empty_output');
/** Two rule groups share a name. */
export const GEN_ERR_DUPLICATE_GROUP = defineError('GEN_ERR_DUPLICATE_GROUP', 400, 'invalid_request_error', 'duplicate_group');
/** Two scrape jobs share a name. */
export const GEN_ERR_DUPLICATE_JOB = defineError('GEN_ERR_DUPLICATE_JOB', 400, 'invalid_request_error', 'duplicate_job');
/** Two alerts share a name where they must not (runbooks). */
export const GEN_ERR_DUPLICATE_ALERT = defineError('GEN_ERR_DUPLICATE_ALERT', 400, 'invalid_request_error', 'duplicate_alert');
/** An alert name that cannot be a file name. */
export const GEN_ERR_ALERT_NAME = defineError('GEN_ERR_ALERT_NAME', 400, 'invalid_request_error', 'alert_name');
/** An alert whose runbook_url does not point at its runbook. */
export const GEN_ERR_RUNBOOK_URL = defineError('GEN_ERR_RUNBOOK_URL', 400, 'invalid_request_error', 'runbook_url');
/** promtool or amtool is not installed. */
export const GEN_ERR_TOOL_MISSING = defineError('GEN_ERR_TOOL_MISSING', 500, 'server_error', 'tool_missing');
/** promtool or amtool rejected what was generated. */
export const GEN_ERR_CHECK_FAILED = defineError('GEN_ERR_CHECK_FAILED', 500, 'server_error', 'check_failed');
/** The generated files on disk differ from what the spec generates. */
export const GEN_ERR_STALE = defineError('GEN_ERR_STALE', 500, 'server_error', 'stale_output');
/** A generated file that cannot take a header (JSON) does not carry the generated mark in its content. */
export const GEN_ERR_UNMARKED = defineError('GEN_ERR_UNMARKED', 500, 'server_error', 'unmarked_output');
/** `llmwatch check` was pointed at a folder that holds no generated output. */
export const GEN_ERR_NO_OUTPUT = defineError('GEN_ERR_NO_OUTPUT', 400, 'invalid_request_error', 'no_output');
/** `check --strict`: a severity route (or the Watchdog's) reaches no receiver that tells anyone. */
export const GEN_ERR_UNREACHABLE_ROUTE = defineError('GEN_ERR_UNREACHABLE_ROUTE', 500, 'server_error', 'unreachable_route');
