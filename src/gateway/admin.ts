import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_ERR_METHOD_NOT_ALLOWED, HTTP_ERR_NOT_FOUND } from '../core/http/errors.ts';
import { parseJsonObject, readBody } from '../core/http/read-body.ts';
import { sendJson } from '../core/http/send.ts';
import { bearer, sameSecret } from '../core/http/auth.ts';
import { HTTP_ERR_ADMIN_DISABLED, HTTP_ERR_FORBIDDEN, HTTP_ERR_UNAUTHORIZED } from '../core/http/errors.ts';
import { GW_ERR_ADMIN_BAD_TARGET, GW_ERR_ADMIN_WORKERS } from './errors.ts';
import type { ModelRoute, Router } from './router.ts';
import type { RouteStore } from './route-store.ts';

const ADMIN_BODY_LIMIT = 16 * 1024;

/**
 * The admin API: `GET /admin/routes` lists every model's targets and the
 * active one; `PUT /admin/routes/{model}` with `{"target": "fallback" |
 * "primary" | index | "upstream/model"}` switches it; `DELETE` sends it back
 * to its primary. Bearer token required: 401 without one, 403 with a wrong one.
 * Switches go through `routes`: with a shared store they hold on every
 * replica, and are refused (503) while the store does not answer.
 */
export async function serveAdmin(req: IncomingMessage, res: ServerResponse, path: string, router: Router, token: string | undefined, routes: RouteStore, switchable = true): Promise<void> {
  if (token === undefined) throw HTTP_ERR_ADMIN_DISABLED('The admin API is off; set admin.token or admin.tokenFile in the gateway config');
  const given = bearer(req.headers.authorization);
  if (given === undefined) throw HTTP_ERR_UNAUTHORIZED('The admin API needs Authorization: Bearer <admin token>');
  if (!sameSecret(given, token)) throw HTTP_ERR_FORBIDDEN('Wrong admin token');

  if (path === '/admin/routes') {
    if (req.method !== 'GET') throw HTTP_ERR_METHOD_NOT_ALLOWED('Use GET for /admin/routes', { headers: { allow: 'GET' } });
    return sendJson(res, 200, { routes: routes.status(), models: [...router.models].map(describe) });
  }
  if (!path.startsWith('/admin/routes/')) throw HTTP_ERR_NOT_FOUND(`Unknown admin path: ${path}`);
  const name = decodeURIComponent(path.slice('/admin/routes/'.length));
  const model = router.get(name);
  if (model === undefined) throw GW_ERR_ADMIN_BAD_TARGET(`No model '${name}' on this gateway`, { param: 'model' });
  let index: number;
  switch (req.method) {
    case 'PUT':
    case 'POST': {
      const body = parseJsonObject(await readBody(req, ADMIN_BODY_LIMIT));
      index = targetIndex(model, body.target);
      break;
    }
    case 'DELETE':
      index = 0;
      break;
    case 'GET':
      return sendJson(res, 200, describe(model));
    default:
      throw HTTP_ERR_METHOD_NOT_ALLOWED(`Use GET, PUT or DELETE for ${path}`, { headers: { allow: 'GET, PUT, DELETE' } });
  }
  if (!switchable) {
    throw GW_ERR_ADMIN_WORKERS('This gateway runs several workers (--workers), each routing on its own: share the routes through redis (routes.store: redis), switch routes in the config and restart, or run one worker');
  }
  const by = typeof req.headers['x-llmwatch-actor'] === 'string' ? `admin:${req.headers['x-llmwatch-actor']}` : 'admin';
  const change = await routes.switch(model, index, by);
  sendJson(res, 200, { ...describe(model), changed: change !== undefined });
}

function targetIndex(model: ModelRoute, target: unknown): number {
  if (target === 'primary') return 0;
  if (target === 'fallback') {
    if (model.targets.length < 2) throw GW_ERR_ADMIN_BAD_TARGET(`Model '${model.name}' has no fallback target`, { param: 'target' });
    return 1;
  }
  if (typeof target === 'number' && Number.isInteger(target) && target >= 0 && target < model.targets.length) return target;
  if (typeof target === 'string') {
    const i = model.targets.findIndex((t) => t.id === target);
    if (i !== -1) return i;
  }
  throw GW_ERR_ADMIN_BAD_TARGET(
    `'target' must be "primary", "fallback", an index below ${model.targets.length}, or one of ${model.targets.map((t) => `"${t.id}"`).join(', ')}`,
    { param: 'target' },
  );
}

function describe(model: ModelRoute) {
  return {
    model: model.name,
    active: model.active,
    activeTarget: model.targets[model.active]!.id,
    failover: model.config.failover,
    targets: model.targets.map((t) => ({ index: t.index, id: t.id, upstream: t.upstream.name, model: t.upstreamModel })),
  };
}
