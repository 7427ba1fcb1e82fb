import { defineError } from '../core/errors.ts';

/*
 * Errors of one nvidia-smi run. They never reach an HTTP client: the collector
 * turns each into a `reason` of `llmwatch_gpu_collector_last_error_info`
 * (see `reasonOf` in collector.ts), so the statuses only follow the registry's shape.
 */

/** nvidia-smi cannot be started: not on PATH, not at `--nvidia-smi`, or not executable. */
export const EXP_ERR_MISSING_BINARY = defineError('EXP_ERR_MISSING_BINARY', 503, 'server_error', 'nvidia_smi_missing');
/** nvidia-smi did not finish within `--timeout` and was killed (a hung driver, a GPU falling off the bus). */
export const EXP_ERR_TIMEOUT = defineError('EXP_ERR_TIMEOUT', 504, 'server_error', 'nvidia_smi_timeout');
/** nvidia-smi exited non-zero or was killed by a signal (no driver loaded, no device found). */
export const EXP_ERR_EXIT_CODE = defineError('EXP_ERR_EXIT_CODE', 502, 'server_error', 'nvidia_smi_failed');
/** nvidia-smi exited 0 but printed something that is not the CSV the query asks for. */
export const EXP_ERR_PARSE = defineError('EXP_ERR_PARSE', 502, 'server_error', 'nvidia_smi_unparsable');
