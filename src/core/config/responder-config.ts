import { z } from 'zod';
import { actionSpec } from './action-specs.ts';
import { Duration } from './duration.ts';
import { ARTICLE_PLAYBOOKS, PlaybooksSchema } from './playbook-spec.ts';
import { LOG_LEVELS } from '../log.ts';
import { TokenSchema } from './secrets.ts';

/**
 * The responder's config: where it listens, how Alertmanager authenticates,
 * its safety limits, and how it reaches Prometheus, the gateway, Kubernetes
 * and the chat. Playbooks come from the monitoring spec (`llmwatch.yaml`), so an
 * alert and its response live together; a responder config may carry its own
 * for a standalone responder.
 */
export const ResponderConfigSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.int().min(0).max(65535).default(9095),
    /** Largest webhook body accepted; Alertmanager batches, so allow a few hundred alerts. */
    maxBodyBytes: z.int().min(1024).default(1024 * 1024),
    /** Alertmanager's http_config can send a bearer token or basic auth; set one of them to require it. */
    auth: z
      .strictObject({
        token: z.string().min(16, 'at least 16 characters').optional(),
        tokenFile: z.string().min(1).optional(),
        basic: z.strictObject({ username: z.string().min(1), password: z.string().min(8).optional(), passwordFile: z.string().min(1).optional() }).optional(),
      })
      .prefault({}),
    /** The bearer token of `/admin/*` (kill switch, breaker reset), separate from Alertmanager's; without one, admin calls are refused. */
    adminAuth: TokenSchema.prefault({}),
    /** Decide and record everything, run nothing. */
    dryRun: z.boolean().default(false),
    /** The log level (fatal, error, warn, info, debug, trace, silent); `LLMWATCH_LOG_LEVEL` overrides it. Default info. */
    logLevel: z.enum(LOG_LEVELS).optional(),
    /** Start with every action refused (toggled at run time through /admin/kill-switch). */
    killSwitch: z.boolean().default(false),
    limits: z
      .strictObject({
        /** Actions run in any hour before the breaker trips and refuses more until reset. */
        maxActionsPerHour: z.int().min(1).default(20),
        /** Longest time one action may take; past it, the action is aborted (exec: its whole process group killed). */
        actionTimeoutMs: z.int().min(100).default(30_000),
        /** Playbook runs in progress at once; actions on one target always run one at a time, in order. */
        concurrency: z.int().min(1).max(1024).default(32),
        /** At start-up, unfinished runs received longer ago than this are abandoned (recorded with the reason) instead of resumed. */
        resumeMaxAge: Duration.default('1h'),
        /** `target`: one cooldown per target across alerts (a shared Deployment is not scaled by two alerts within it); `alert`: per (alert, target). */
        cooldownScope: z.enum(['target', 'alert']).default('target'),
      })
      .prefault({}),
    /** How long the audit log keeps decisions, actions and deliveries, and how large it may grow; pruned at start-up and every `every`. */
    retention: z
      .strictObject({
        maxAge: Duration.default('30d'),
        /** Live data in bytes; past it, the oldest decisions go first. */
        maxBytes: z.int().min(1024 * 1024).default(512 * 1024 * 1024),
        every: Duration.default('10m'),
      })
      .prefault({}),
    /** The SQLite file of the audit log, cooldowns and idempotency keys. */
    auditPath: z.string().min(1).default('.llmwatch/responder.db'),
    /** Where `if` conditions are queried. */
    prometheusURL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:9090'),
    gateway: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8000'),
        adminToken: z.string().min(16).optional(),
        adminTokenFile: z.string().min(1).optional(),
      })
      .prefault({}),
    kubernetes: z
      .strictObject({
        /** A kubeconfig file; absent, the in-cluster service account, else ~/.kube/config. */
        kubeconfig: z.string().min(1).optional(),
      })
      .prefault({}),
    notify: z
      .strictObject({
        /** Generic JSON webhooks by channel name (`chat`, `pager`, ...). */
        webhooks: z.record(z.string(), z.url()).default({}),
        /** Slack-compatible incoming webhooks by channel name. */
        slack: z.record(z.string(), z.url()).default({}),
      })
      .prefault({}),
    /** Commands the `exec` action may run, by name: argv only, never a shell. */
    commands: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.strictObject({ argv: z.array(z.string().min(1)).min(1), timeoutMs: z.int().min(100).default(10_000), idempotent: z.boolean().default(false) })).default({}),
    playbooks: PlaybooksSchema.prefault(ARTICLE_PLAYBOOKS),
  })
  .superRefine((c, ctx) => {
    if (c.auth.token !== undefined && c.auth.tokenFile !== undefined) ctx.addIssue({ code: 'custom', path: ['auth'], message: "give either 'token' or 'tokenFile'" });
    if (c.auth.basic !== undefined && (c.auth.basic.password === undefined) === (c.auth.basic.passwordFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'basic'], message: "give exactly one of 'password' or 'passwordFile'" });
    }
    for (const [alert, p] of Object.entries(c.playbooks)) {
      p.steps.forEach((s, i) => {
        // Each action says what of the config its parameters name (notify a channel, exec a command).
        const problem = actionSpec(s.action)?.checkSettings?.(s.params, c);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['playbooks', alert, 'steps', i, 'params', problem.param], message: problem.message });
      });
    }
  });

export type ResponderConfig = z.output<typeof ResponderConfigSchema>;
