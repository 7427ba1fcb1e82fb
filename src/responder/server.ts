import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { durationMs } from '../core/config/duration.ts';
import { readSecretFile, secretOf } from '../core/config/secrets.ts';
import type { ResponderConfig } from '../core/config/responder-config.ts';
import { hasCode } from '../core/errors.ts';
import type { LlmwatchError } from '../core/errors.ts';
import { basicCredentials, bearer, sameSecret } from '../core/http/auth.ts';
import { HTTP_ERR_ADMIN_DISABLED, HTTP_ERR_BODY_TOO_LARGE, HTTP_ERR_FORBIDDEN, HTTP_ERR_UNAUTHORIZED, HTTP_ERR_UNSUPPORTED_MEDIA_TYPE } from '../core/http/errors.ts';
import { close, isLoopbackHost, listen } from '../core/http/listen.ts';
import { parseJsonObject, readBody } from '../core/http/read-body.ts';
import { sendError, sendJson } from '../core/http/send.ts';
import { serve, serverURL } from '../core/http/serve.ts';
import type { Route } from '../core/http/serve.ts';
import type { WebhookResult } from '../core/conventions/metrics.ts';
import { createExecAction } from './actions/exec.ts';
import { noopAction } from './actions/noop.ts';
import { createNotifyAction } from './actions/notify.ts';
import { createSwitchModelAction } from './actions/switch-model.ts';
import { SqliteAuditStore } from './audit-store.ts';
import { Engine } from './engine.ts';
import type { Operator, RevertibleAction } from './engine.ts';
import { RSP_ERR_INVALID_PAYLOAD, RSP_ERR_NO_AUTH } from './errors.ts';
import { ResponderMetrics } from './metrics.ts';
import { queryNumber } from '../core/http/prometheus-api.ts';
import { parseWebhook } from './webhook.ts';
import { logger } from '../core/log.ts';

export interface ResponderHandle {
  readonly port: number;
  readonly url: string;
  readonly engine: Engine;
  readonly store: SqliteAuditStore;
  readonly metrics: ResponderMetrics;
  /** Stops taking webhooks, lets queued actions finish, closes the audit log. */
  close(): Promise<void>;
}

export interface ResponderOptions {
  readonly port?: number;
  readonly host?: string;
  /** Extra or replacement actions (the Kubernetes `scale` action is added by the command, which owns the kubeconfig). */
  readonly actions?: readonly RevertibleAction[];
  readonly registry?: Registry;
  readonly now?: () => number;
  /** Serve without credentials: allowed on a loopback address only (`llmwatch responder --insecure`). */
  readonly insecure?: boolean;
  /** Actions a playbook names that this responder cannot run, with why. */
  readonly unavailable?: ReadonlyMap<string, string>;
}

/**
 * The responder: `POST /alerts` takes Alertmanager's webhooks (authenticated,
 * size-limited, validated, every delivery recorded, refused ones too),
 * `GET /actions` lists the audit log, `/metrics` its own metrics, and
 * `POST /admin/kill-switch` / `POST /admin/breaker/reset` steer it (same credentials).
 */
export async function startResponder(config: ResponderConfig, opts: ResponderOptions = {}): Promise<ResponderHandle> {
  const host = opts.host ?? config.host;
  const insecure = opts.insecure === true;
  const registry = opts.registry ?? new Registry();
  const token = secretOf(config.auth.token, config.auth.tokenFile, 'auth.tokenFile');
  const basic =
    config.auth.basic === undefined
      ? undefined
      : { username: config.auth.basic.username, password: config.auth.basic.password ?? readSecretFile(config.auth.basic.passwordFile!, 'auth.basic.passwordFile') };
  if (token === undefined && basic === undefined && !insecure) {
    throw RSP_ERR_NO_AUTH(
      "The responder changes production: it needs credentials for its webhook. Set auth.token, auth.tokenFile or auth.basic (and the same in Alertmanager's http_config), or start it with --insecure on a loopback address.",
    );
  }
  if (insecure && !isLoopbackHost(host)) throw RSP_ERR_NO_AUTH(`--insecure is allowed on a loopback address only, not ${host}: set auth.token or auth.tokenFile instead.`);
  const responderAdminToken = secretOf(config.adminAuth.token, config.adminAuth.tokenFile, 'adminAuth.tokenFile');
  const metrics = new ResponderMetrics(registry);
  // Checkpoints off the event loop: a burst's commits never wait for an fsync (docs/responder.md, Performance).
  const store = new SqliteAuditStore(config.auditPath, { checkpointEveryMs: 200 });
  const adminToken = secretOf(config.gateway.adminToken, config.gateway.adminTokenFile, 'gateway.adminTokenFile');
  const actions = new Map<string, RevertibleAction>(
    [
      createSwitchModelAction({ gatewayURL: config.gateway.url, adminToken }),
      createNotifyAction(config.notify),
      createExecAction(config.commands),
      noopAction,
      ...(opts.actions ?? []),
    ].map((a) => [a.id, a]),
  );
  const engine = new Engine({ config, store, actions, metrics, unavailable: opts.unavailable, query: (q, signal) => queryNumber(config.prometheusURL, q, signal), now: opts.now });

  /** Alertmanager's credentials (the webhook; also enough to read the audit log). */
  function authenticate(req: IncomingMessage): void {
    if (token === undefined && basic === undefined) return; // only with --insecure on loopback, checked at start
    const header = req.headers.authorization;
    if (header === undefined) throw HTTP_ERR_UNAUTHORIZED('This responder needs credentials: set Alertmanager http_config authorization (Bearer) or basic_auth');
    if (token !== undefined) {
      const given = bearer(header);
      if (given !== undefined && sameSecret(given, token)) return;
    }
    const given = basic === undefined ? undefined : basicCredentials(header);
    if (given !== undefined && sameSecret(given.username, basic!.username) && sameSecret(given.password, basic!.password)) return;
    throw HTTP_ERR_FORBIDDEN('Wrong credentials');
  }

  /** The admin token, never Alertmanager's credential: the webhook's secret cannot pull the kill switch. */
  function authenticateAdmin(req: IncomingMessage): void {
    if (responderAdminToken === undefined) {
      if (insecure) return;
      throw HTTP_ERR_ADMIN_DISABLED('No admin token is configured: set adminAuth.token or adminAuth.tokenFile to use /admin/*');
    }
    const header = req.headers.authorization;
    if (header === undefined) throw HTTP_ERR_UNAUTHORIZED('/admin/* needs the admin token: Authorization: Bearer <adminAuth token>');
    const given = bearer(header);
    if (given === undefined || !sameSecret(given, responderAdminToken)) throw HTTP_ERR_FORBIDDEN('Wrong admin credentials');
  }

  /** The audit log: the admin token or Alertmanager's credentials. */
  function authenticateReader(req: IncomingMessage): void {
    if (responderAdminToken !== undefined) {
      const given = bearer(req.headers.authorization);
      if (given !== undefined && sameSecret(given, responderAdminToken)) return;
    }
    authenticate(req);
  }

  function requireJson(req: IncomingMessage): void {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw HTTP_ERR_UNSUPPORTED_MEDIA_TYPE(`Send the body as content-type: application/json (got ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))})`);
    }
  }

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const refuse = (result: WebhookResult, err: LlmwatchError, body = '') => {
      store.recordWebhook({ receivedAt, status: 'rejected', reason: `${err.code}: ${err.message}`, remoteAddress: req.socket.remoteAddress, body });
      metrics.webhook(result);
      if (hasCode(err, HTTP_ERR_BODY_TOO_LARGE)) res.setHeader('connection', 'close');
      sendError(res, err);
    };
    try {
      authenticate(req);
    } catch (err) {
      return refuse(hasCode(err, HTTP_ERR_UNAUTHORIZED) ? 'unauthorized' : 'forbidden', err as LlmwatchError);
    }
    try {
      requireJson(req);
    } catch (err) {
      res.setHeader('connection', 'close');
      return refuse('unsupported_media_type', err as LlmwatchError);
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, config.maxBodyBytes);
    } catch (err) {
      return refuse('too_large', err as LlmwatchError);
    }
    // Parsing and deciding a batch is synchronous work: it waits for its slice like every step does.
    while (engine.slice.over) await engine.slice.next;
    let parsed: Record<string, unknown>;
    try {
      parsed = parseJsonObject(raw);
    } catch (err) {
      return refuse('invalid_json', err as LlmwatchError, raw.toString('utf8'));
    }
    const r = await parseWebhook(parsed, engine.slice);
    if (!r.ok) return refuse('invalid_payload', RSP_ERR_INVALID_PAYLOAD(`Not an Alertmanager webhook (version 4): ${r.reason}`), raw.toString('utf8'));
    // The webhook, its decisions and their runs have committed before Alertmanager gets its answer.
    const { webhookId, decisions } = await engine.accept({ receivedAt, status: 'accepted', remoteAddress: req.socket.remoteAddress, body: raw.toString('utf8') }, r.alerts);
    metrics.webhook('accepted');
    sendJson(res, 200, { webhook: webhookId, dryRun: engine.dryRun, killSwitch: engine.killSwitch, decisions });
  }

  /** Every path the responder serves; `/metrics` is added by `serve`. */
  const routes: Route[] = [
    { path: '/alerts', methods: { POST: receive } },
    {
      path: '/actions',
      methods: {
        GET: (req, res) => {
          authenticateReader(req);
          const url = new URL(req.url ?? '/', 'http://responder');
          const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
          const since = url.searchParams.get('since');
          const alertname = url.searchParams.get('alertname') ?? undefined;
          const sinceMs = since === null ? undefined : Date.parse(since);
          if (Number.isNaN(sinceMs)) throw RSP_ERR_INVALID_PAYLOAD(`'since' must be an ISO date such as 2026-11-29T04:00:00Z, not ${JSON.stringify(since!.slice(0, 64))}`, { param: 'since' });
          sendJson(res, 200, { actions: store.listActions({ limit, since: sinceMs, alertname }) });
        },
      },
    },
    { path: '/healthz', methods: { GET: (_req, res) => sendJson(res, 200, { status: 'ok', dryRun: engine.dryRun, killSwitch: engine.killSwitch, breaker: store.breaker(), pending: engine.pending }) } },
    {
      path: '/admin/kill-switch',
      methods: {
        POST: async (req, res) => {
          authenticateAdmin(req);
          requireJson(req);
          const body = parseJsonObject(await readBody(req, 4096));
          if (typeof body.on !== 'boolean') throw RSP_ERR_INVALID_PAYLOAD("Send {\"on\": true} or {\"on\": false}", { param: 'on' });
          engine.setKillSwitch(body.on, operator(req, body));
          sendJson(res, 200, { killSwitch: engine.killSwitch, ...store.killSwitch() });
        },
      },
    },
    {
      path: '/admin/breaker/reset',
      methods: {
        POST: async (req, res) => {
          authenticateAdmin(req);
          requireJson(req);
          const raw = await readBody(req, 4096);
          engine.resetBreaker(operator(req, raw.length === 0 ? {} : parseJsonObject(raw)));
          sendJson(res, 200, { breaker: store.breaker() });
        },
      },
    },
  ];

  /** Who did an admin operation: the `by` of the body or the `x-llmwatch-actor` header (else "admin"), and from where. */
  function operator(req: IncomingMessage, body: Record<string, unknown>): Operator {
    const header = req.headers['x-llmwatch-actor'];
    const named = typeof body.by === 'string' ? body.by : typeof header === 'string' ? header : undefined;
    const who = (named ?? 'admin').replace(/[^\x20-\x7e]/g, '?').slice(0, 128);
    return { who, remote: req.socket.remoteAddress, ...(typeof body.reason === 'string' && { reason: body.reason.slice(0, 1024) }) };
  }

  const server = serve({ part: 'responder', routes, metrics: registry, beforeScrape: () => metrics.auditBytes.set(store.sizeBytes()) });
  const port = await listen(server, opts.port ?? config.port, host);
  const prune = () => {
    try {
      store.prune({ before: Date.now() - durationMs(config.retention.maxAge), maxBytes: config.retention.maxBytes });
      metrics.auditBytes.set(store.sizeBytes());
    } catch (err) {
      logger('responder').warn({ err: (err as Error).message }, 'pruning the audit log failed');
    }
  };
  prune();
  const pruner = setInterval(prune, durationMs(config.retention.every));
  pruner.unref();
  const resumed = engine.resume();
  if (resumed.resumed + resumed.abandoned > 0) logger('responder').info(resumed, `outbox at start-up: ${resumed.resumed} run(s) resumed, ${resumed.abandoned} abandoned (too old)`);
  return {
    port,
    url: serverURL(host, port),
    engine,
    store,
    metrics,
    close: async () => {
      clearInterval(pruner);
      await close(server);
      await engine.idle();
      store.close();
    },
  };
}

