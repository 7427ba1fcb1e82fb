import { defineError } from '../../core/errors.ts';

/**
 * The safety scorers' error registry. Codes are stable; a retired one is never
 * reused.
 */

/**
 * The moderation classifier could not score an output: refused or broken
 * connection, timeout, an HTTP error, or an answer not in OpenAI's moderation
 * shape. `cause` holds the underlying error; `classifierFailureReason` (classifier-scorer.ts)
 * tells a timeout from the rest.
 */
export const SAFETY_ERR_CLASSIFIER = defineError('SAFETY_ERR_CLASSIFIER', 502, 'server_error', 'safety_classifier_error');
