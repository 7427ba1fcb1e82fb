import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearer, sameSecret } from '../core/http/auth.ts';
import { HTTP_ERR_ADMIN_DISABLED, HTTP_ERR_FORBIDDEN, HTTP_ERR_METHOD_NOT_ALLOWED, HTTP_ERR_NOT_FOUND, HTTP_ERR_UNAUTHORIZED } from '../core/http/errors.ts';
import { parseJsonObject, readBody } from '../core/http/read-body.ts';
import { redactUrl } from '../core/http/redact.ts';
import { sendJson } from '../core/http/send.ts';
import { URL_CREDENTIALS_MESSAGE } from '../core/config/gateway-config.ts';
import { hasUrlCredentials } from '../core/config/secrets.ts';
import { GW_ERR_ADMIN_BAD_ENDPOINT, GW_ERR_ADMIN_ENDPOINT_LIMIT, GW_ERR_ADMIN_WORKERS } from './errors.ts';
import { EndpointClashError } from './upstream.ts';
import type { Upstream } from './upstream.ts';

const BODY_LIMIT = 16 * 1024;
const URL_LIMIT = 2048;

/**
 * The upstream half of the admin API, for a scale driver registering
 * replicas: `GET /admin/upstreams` lists every upstream's endpoints with
 * their load and health; `POST /admin/upstreams/{name}/endpoints` with
 * `{"url": "http://host:port/v1"}` adds one; `DELETE
 * /admin/upstreams/{name}/endpoints?url=...` removes one (it finishes the
 * requests it has). Both are idempotent (`changed: false` when there was
 * nothing to do). Same bearer token as the rest of the admin API.
 */
export async function serveUpstreamAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  upstreams: ReadonlyMap<string, Upstream>,
  token: string | undefined,
  changeable: boolean,
): Promise<void> {
  if (token === undefined) throw HTTP_ERR_ADMIN_DISABLED('The admin API is off; set admin.token or admin.tokenFile in the gateway config');
  const given = bearer(req.headers.authorization);
  if (given === undefined) throw HTTP_ERR_UNAUTHORIZED('The admin API needs Authorization: Bearer <admin token>');
  if (!sameSecret(given, token)) throw HTTP_ERR_FORBIDDEN('Wrong admin token');

  if (path === '/admin/upstreams') {
    if (req.method !== 'GET') throw HTTP_ERR_METHOD_NOT_ALLOWED('Use GET for /admin/upstreams', { headers: { allow: 'GET' } });
    return sendJson(res, 200, { upstreams: [...upstreams.values()].map(describe) });
  }
  if (!path.startsWith('/admin/upstreams/')) throw HTTP_ERR_NOT_FOUND(`Unknown admin path: ${path.slice(0, 200)}`);
  const rest = path.slice('/admin/upstreams/'.length);
  const [encoded, sub, ...more] = rest.split('/');
  let name: string;
  try {
    name = decodeURIComponent(encoded ?? '');
  } catch {
    name = encoded ?? '';
  }
  const upstream = upstreams.get(name);
  if (upstream === undefined || more.length > 0 || (sub !== undefined && sub !== 'endpoints')) {
    throw HTTP_ERR_NOT_FOUND(upstream === undefined ? `No upstream '${name.slice(0, 128)}' on this gateway (known: ${[...upstreams.keys()].join(', ')})` : `Unknown admin path: ${path.slice(0, 200)}`);
  }
  if (sub === undefined) {
    if (req.method !== 'GET') throw HTTP_ERR_METHOD_NOT_ALLOWED(`Use GET for ${path}`, { headers: { allow: 'GET' } });
    return sendJson(res, 200, describe(upstream));
  }
  let url: string;
  let add: boolean;
  switch (req.method) {
    case 'GET':
      return sendJson(res, 200, describe(upstream));
    case 'POST':
      url = endpointURL(parseJsonObject(await readBody(req, BODY_LIMIT)).url);
      add = true;
      break;
    case 'DELETE':
      url = endpointURL(new URL(req.url ?? '/', 'http://gateway').searchParams.get('url') ?? undefined);
      add = false;
      break;
    default:
      throw HTTP_ERR_METHOD_NOT_ALLOWED(`Use GET, POST or DELETE for ${path}`, { headers: { allow: 'GET, POST, DELETE' } });
  }
  if (!changeable) {
    throw GW_ERR_ADMIN_WORKERS('This gateway runs several workers (--workers), each with its own endpoints: list them in the config and restart, or run one worker');
  }
  let changed: boolean;
  try {
    changed = add ? upstream.addEndpoint(url) : upstream.removeEndpoint(url);
  } catch (err) {
    if (err instanceof RangeError) throw GW_ERR_ADMIN_ENDPOINT_LIMIT(err.message, { param: 'url' });
    if (err instanceof EndpointClashError) throw GW_ERR_ADMIN_BAD_ENDPOINT(err.message, { param: 'url' });
    throw err;
  }
  sendJson(res, add && changed ? 201 : 200, { ...describe(upstream), changed });
}

/** A base URL to add or remove: http(s), bounded, without credentials, never logged with them. */
function endpointURL(v: unknown): string {
  const shown = typeof v === 'string' ? ` (got ${redactUrl(v.slice(0, 200))})` : '';
  const u = typeof v === 'string' && v.length <= URL_LIMIT && URL.canParse(v) ? new URL(v) : undefined;
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    throw GW_ERR_ADMIN_BAD_ENDPOINT(`'url' must be an http:// or https:// base URL such as http://127.0.0.1:3001/v1${shown}`, { param: 'url' });
  }
  if (hasUrlCredentials(v as string)) throw GW_ERR_ADMIN_BAD_ENDPOINT(`'url' ${URL_CREDENTIALS_MESSAGE}${shown}`, { param: 'url' });
  return v as string;
}

function describe(u: Upstream) {
  return {
    upstream: u.name,
    maxEndpoints: u.config.maxEndpoints,
    maxConcurrencyPerEndpoint: u.config.maxConcurrency,
    slots: u.limiter.max,
    inFlight: u.limiter.active,
    queued: u.limiter.waiting,
    endpoints: u.endpoints,
  };
}
