import { defineError } from '../errors.ts';

/** A config file that cannot be read. */
export const CFG_ERR_UNREADABLE = defineError('CFG_ERR_UNREADABLE', 400, 'invalid_request_error', 'config_unreadable');
/** A config file that is not valid YAML or JSON. */
export const CFG_ERR_SYNTAX = defineError('CFG_ERR_SYNTAX', 400, 'invalid_request_error', 'config_syntax');
/** A config that parses but breaks the schema; the message names each field. */
export const CFG_ERR_INVALID = defineError('CFG_ERR_INVALID', 400, 'invalid_request_error', 'config_invalid');
