import { z } from 'zod';

// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The `scale` action's parameters. `max` defaults to 3, the source article's
 * ceiling; unknown keys are refused so that a typo in a playbook (`maxReplicas`)
 * is not silently ignored.
 */
export const scaleParamsSchema = z
  .object({
    deployment: z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a Kubernetes object name (lower-case DNS subdomain)'),
    namespace: z.string().max(63).regex(DNS_LABEL, 'must be a Kubernetes namespace name (lower-case DNS label)').default('default'),
    step: z.int().min(1).default(1),
    min: z.int().min(0).default(1),
    max: z.int().min(1).default(3),
    direction: z.enum(['out', 'in']).default('out'),
  })
  .strict()
  .refine((p) => p.min <= p.max, { message: 'min must not be greater than max', path: ['min'] });

export const switchModelParamsSchema = z.strictObject({
  /** The gateway's public model name, usually `{{ $labels.model }}`. */
  model: z.string().min(1),
  /** "fallback", "primary", an index, or "upstream/model". */
  target: z.union([z.string().min(1), z.int().min(0)]).default('fallback'),
});

export const notifyParamsSchema = z.strictObject({
  /** A channel name from the responder config's notify.webhooks / notify.slack. */
  channel: z.string().min(1).default('chat'),
  /** Overrides the default text; `{{ $labels.x }}` expanded. */
  text: z.string().max(4000).optional(),
});

export const execParamsSchema = z.strictObject({
  /** A name from the responder config's `commands`. */
  command: z.string().min(1),
});

export const noopParamsSchema = z.strictObject({});

/** What an action's target key may depend on: the alert instance (Alertmanager's fingerprint). */
export interface ActionAlert {
  readonly fingerprint: string;
}

/**
 * What the engine knows of an action, in one place: its parameters' schema,
 * its risk tier (a warning, P1, runs `low` ones only), whether running it
 * twice is harmless (then a step interrupted by a crash is run again on
 * restart), whether it can undo itself when its alert resolves, and the
 * target it touches: the key of its queue, its cooldown and revert ownership.
 * A target shared by several alerts (a Deployment, a model) makes them take
 * turns and share one cooldown; an action that touches nothing shared keys on
 * the alert instance, so one model's alert never mutes another's.
 */
/** The parts of the responder config an action's parameters may refer to (channels, commands by name). */
export interface ActionSettings {
  readonly notify: { readonly webhooks: Readonly<Record<string, string>>; readonly slack: Readonly<Record<string, string>> };
  readonly commands: Readonly<Record<string, unknown>>;
}

/** A step whose parameters name something the config lacks: the parameter at fault and why. */
export interface ParamsProblem {
  readonly param: string;
  readonly message: string;
}

export interface ActionSpec {
  readonly params: z.ZodType<Record<string, unknown>>;
  readonly risk: 'low' | 'high';
  readonly idempotent: boolean;
  readonly revertible: boolean;
  /** Label values are expanded into string params (`{{ $labels.x }}`); false for exec, whose labels reach the environment only. */
  readonly expandsLabels: boolean;
  target(params: Record<string, unknown>, alert: ActionAlert): string;
  /** What a step's parameters name that the responder config must define (a channel, a command); the config validator asks every step's action. */
  checkSettings?(params: Record<string, unknown>, settings: ActionSettings): ParamsProblem | undefined;
}

export const ACTION_SPECS = {
  scale: {
    params: scaleParamsSchema as z.ZodType<Record<string, unknown>>,
    risk: 'high',
    // It checkpoints the replica count it is about to write: an interrupted attempt is finished by
    // setting that count (a no-op when it is there already), never by stepping out again.
    idempotent: true,
    revertible: false,
    expandsLabels: true,
    target: (p) => `scale:${String(p.namespace ?? 'default')}/${String(p.deployment)}`,
  },
  'switch-model': {
    params: switchModelParamsSchema as z.ZodType<Record<string, unknown>>,
    risk: 'low',
    // Routing a model to the target it is on already changes nothing (the gateway answers changed: false).
    idempotent: true,
    revertible: true,
    expandsLabels: true,
    target: (p) => `switch-model:${String(p.model)}`,
  },
  notify: {
    params: notifyParamsSchema as z.ZodType<Record<string, unknown>>,
    risk: 'low',
    idempotent: false,
    revertible: false,
    expandsLabels: true,
    target: (p, a) => `notify:${String(p.channel ?? 'chat')}@${a.fingerprint}`,
    checkSettings: (p, s) => {
      // A channel nobody configured is a typo when some are configured; with none at all, notify is off (recorded as unavailable).
      const channels = [...Object.keys(s.notify.webhooks), ...Object.keys(s.notify.slack)];
      const channel = typeof p.channel === 'string' ? p.channel : 'chat';
      if (channels.length === 0 || channels.includes(channel)) return undefined;
      return { param: 'channel', message: `no notify channel '${channel}' is configured (notify.webhooks, notify.slack: ${channels.join(', ')})` };
    },
  },
  exec: {
    params: execParamsSchema as z.ZodType<Record<string, unknown>>,
    risk: 'high',
    // Unless the command is declared idempotent (it dedupes on LLMWATCH_ACTION_KEY): see commands.*.idempotent.
    idempotent: false,
    revertible: false,
    expandsLabels: false,
    target: (p, a) => `exec:${String(p.command)}@${a.fingerprint}`,
    checkSettings: (p, s) =>
      typeof p.command === 'string' && Object.hasOwn(s.commands, p.command)
        ? undefined
        : { param: 'command', message: `must name one of 'commands' (${Object.keys(s.commands).join(', ') || 'none defined'})` },
  },
  noop: {
    params: noopParamsSchema as z.ZodType<Record<string, unknown>>,
    risk: 'low',
    idempotent: true,
    revertible: false,
    expandsLabels: true,
    target: (_p, a) => `noop@${a.fingerprint}`,
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionId = keyof typeof ACTION_SPECS;
export const ACTION_IDS = Object.keys(ACTION_SPECS) as [ActionId, ...ActionId[]];

export function actionSpec(id: string): ActionSpec | undefined {
  return Object.hasOwn(ACTION_SPECS, id) ? (ACTION_SPECS as Record<string, ActionSpec>)[id] : undefined;
}
