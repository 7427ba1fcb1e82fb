import { defineError } from '../core/errors.ts';

/*
 * The responder's error codes, in the `RSP_ERR_*` namespace. A plain list of
 * exports: append new codes at the end; a retired code is never reused.
 */

/**
 * The audit database cannot be opened at start-up: the file is not an SQLite
 * database or is corrupt, its directory cannot be created, or it is not
 * readable and writable. The message names the path and the fix.
 */
export const RSP_ERR_AUDIT_OPEN = defineError('RSP_ERR_AUDIT_OPEN', 500, 'server_error', 'audit_open_failed');
/** The audit database was written by a newer llmwatch (its schema version is above the one this build knows). */
export const RSP_ERR_AUDIT_SCHEMA = defineError('RSP_ERR_AUDIT_SCHEMA', 500, 'server_error', 'audit_schema_too_new');
/** A webhook body that is not Alertmanager's version 4 payload; the message lists each field at fault. */
export const RSP_ERR_INVALID_PAYLOAD = defineError('RSP_ERR_INVALID_PAYLOAD', 400, 'invalid_request_error', 'invalid_payload');
/** Started without webhook credentials (auth.token, auth.tokenFile or auth.basic) and without `--insecure` on a loopback address. */
export const RSP_ERR_NO_AUTH = defineError('RSP_ERR_NO_AUTH', 500, 'server_error', 'no_auth_configured');
/** A playbook that the registry or the generated rules refuse (its message names the playbook, step and field). */
export const RSP_ERR_PLAYBOOK = defineError('RSP_ERR_PLAYBOOK', 500, 'server_error', 'invalid_playbook');
/** `llmwatch responder log` found no audit database where it looked; the message names the paths and how to create one. */
export const RSP_ERR_NO_AUDIT_DB = defineError('RSP_ERR_NO_AUDIT_DB', 500, 'server_error', 'no_audit_database');
