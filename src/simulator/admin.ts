import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearer, sameSecret } from '../core/http/auth.ts';
import { HTTP_ERR_ADMIN_DISABLED, HTTP_ERR_FORBIDDEN, HTTP_ERR_METHOD_NOT_ALLOWED, HTTP_ERR_NOT_FOUND, HTTP_ERR_UNAUTHORIZED } from '../core/http/errors.ts';
import { parseJsonObject, readBody } from '../core/http/read-body.ts';
import { sendJson } from '../core/http/send.ts';
import { unknownModel } from './profile.ts';
import type { ProfileStore } from './profile.ts';

/** What the admin API acts on. */
export interface AdminTarget {
  readonly profiles: ProfileStore;
  readonly maxBodyBytes: number;
  /** The bearer token writes need (`admin.token`); without one, writes are open on loopback only. */
  readonly adminToken: string | undefined;
  /** Whether the simulator listens on a loopback address only. */
  readonly loopback: boolean;
  /** Every profile back to configured and the PRNG reseeded. */
  reset(): void;
}

const PROFILES = '/admin/profiles';

/**
 * The run-time control API, so a drill can change a model's behaviour without
 * a restart:
 * - `GET /admin/profiles`, `GET /admin/profiles/{model}`: effective profiles
 * - `PUT /admin/profiles/{model}`: merge a partial profile over the current one
 * - `DELETE /admin/profiles/{model}`: back to the configured profile
 * - `POST /admin/reset`: every profile back, PRNG reseeded
 * Writes need the bearer token when `admin.token` is set; without one they are
 * refused unless the simulator listens on loopback. Reads are open.
 * @example curl -X PUT localhost:3000/admin/profiles/llama-3.1-8b-instruct -d '{"ttftMs":3000}'
 */
export async function serveAdmin(req: IncomingMessage, res: ServerResponse, path: string, target: AdminTarget): Promise<void> {
  const method = req.method ?? 'GET';
  if (path === '/admin/reset') {
    allow(method, ['POST']);
    authorizeWrite(req, target);
    target.reset();
    sendJson(res, 200, { status: 'ok', profiles: target.profiles.all() });
    return;
  }
  if (path === PROFILES) {
    allow(method, ['GET']);
    sendJson(res, 200, { profiles: target.profiles.all() });
    return;
  }
  if (!path.startsWith(PROFILES + '/')) throw notFound(path);
  // Model names may hold '/' (`meta-llama/Llama-3.1-8B`), encoded or not: take the whole rest.
  const model = decodeModelPath(path.slice(PROFILES.length + 1));
  switch (allow(method, ['GET', 'PUT', 'DELETE'])) {
    case 'GET': {
      const profile = target.profiles.get(model);
      if (profile === undefined) throw unknownModel(model);
      sendJson(res, 200, { model, profile });
      return;
    }
    case 'PUT': {
      authorizeWrite(req, target);
      const patch = parseJsonObject(await readBody(req, target.maxBodyBytes));
      sendJson(res, 200, { model, profile: target.profiles.patch(model, patch) });
      return;
    }
    case 'DELETE':
      authorizeWrite(req, target);
      sendJson(res, 200, { model, profile: target.profiles.reset(model) });
      return;
  }
}

/** A write changes the faults every client sees: the token when there is one, else loopback only. */
function authorizeWrite(req: IncomingMessage, target: AdminTarget): void {
  if (target.adminToken === undefined) {
    if (target.loopback) return;
    throw HTTP_ERR_ADMIN_DISABLED('The admin API takes no writes on a non-loopback address without a token; set admin.token or admin.tokenFile in the simulator config');
  }
  const given = bearer(req.headers.authorization);
  if (given === undefined) throw HTTP_ERR_UNAUTHORIZED('The admin API needs Authorization: Bearer <admin token> to change profiles');
  if (!sameSecret(given, target.adminToken)) throw HTTP_ERR_FORBIDDEN('Wrong admin token');
}

function allow<M extends string>(method: string, allowed: readonly M[]): M {
  if ((allowed as readonly string[]).includes(method)) return method as M;
  throw HTTP_ERR_METHOD_NOT_ALLOWED(`Method ${method} is not allowed here; use ${allowed.join(' or ')}`, {
    headers: { allow: allowed.join(', ') },
  });
}

/** A model name from a URL path; a malformed escape is a 404 rather than a 500. */
export function decodeModelPath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw HTTP_ERR_NOT_FOUND(`Malformed model name in path: ${segment}`);
  }
}

function notFound(path: string) {
  return HTTP_ERR_NOT_FOUND(`No admin route ${path}`);
}
