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

/** How much harm a step can do: a warning (P1) runs `low` ones only, a critical (P0) any. */
export type Risk = 'low' | 'high';

/**
 * Where a step's cooldown is written and which cooldowns hold it back. By default both are its
 * target; an action whose steps differ in urgency keeps them apart (a scale-in waits, a scale-out
 * does not wait for a scale-in).
 */
export interface CooldownKeys {
  /** The key this step's cooldown is set on when it runs. */
  readonly sets: string;
  /** The keys whose cooldown, while it lasts, holds this step back. */
  readonly heldBy: readonly string[];
}

export interface ActionSpec {
  readonly params: z.ZodType<Record<string, unknown>>;
  /** Its risk tier, or a function of its (expanded) parameters when they decide how much it can change. */
  readonly risk: Risk | ((params: Record<string, unknown>) => Risk);
  readonly idempotent: boolean;
  readonly revertible: boolean;
  /** Label values are expanded into string params (`{{ $labels.x }}`); false for exec, whose labels reach the environment only. */
  readonly expandsLabels: boolean;
  target(params: Record<string, unknown>, alert: ActionAlert): string;
  /** Its cooldown keys when not just its target (see {@link CooldownKeys}). */
  cooldown?(params: Record<string, unknown>, target: string): CooldownKeys;
  /** What a step's parameters name that the responder config must define (a channel, a command); the config validator asks every step's action. */
  checkSettings?(params: Record<string, unknown>, settings: ActionSettings): ParamsProblem | undefined;
}

export const ACTION_SPECS = {
  scale: {
    params: scaleParamsSchema as z.ZodType<Record<string, unknown>>,
    // Out adds replicas (cost, and a runaway loop could exhaust a cluster): critical only. In takes
    // one `step` towards `min`, never below it, behind the playbook's `if` guard and cooldown, and the
    // alert that asks for it (SpareReplicas) fires only on an upstream idle enough to lose one: a
    // warning may run it. A missing direction is `out`, the schema's default.
    risk: (p) => (p.direction === 'in' ? 'low' : 'high'),
    // It checkpoints the replica count it is about to write: an interrupted attempt is finished by
    // setting that count (a no-op when it is there already), never by stepping out again.
    idempotent: true,
    revertible: false,
    expandsLabels: true,
    target: (p) => `scale:${String(p.namespace ?? 'default')}/${String(p.deployment)}`,
    // One queue for both directions (the target), but two cooldowns, as the Kubernetes HPA has a
    // scale-down stabilization and none for scale-up: a scale-in waits for the cooldown of any scale
    // of the Deployment, in or out; a scale-out waits for the last scale-out's only, so a burst right
    // after a scale-in is answered at once.
    // https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window
    cooldown: (p, target) => (p.direction === 'in' ? { sets: `${target}:in`, heldBy: [target, `${target}:in`] } : { sets: target, heldBy: [target] }),
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

/** A step's risk tier under its parameters. */
export function riskOf(spec: ActionSpec, params: Record<string, unknown>): Risk {
  return typeof spec.risk === 'function' ? spec.risk(params) : spec.risk;
}

/** A step's cooldown keys: its own, or its target for both. */
export function cooldownKeys(spec: ActionSpec | undefined, params: Record<string, unknown>, target: string): CooldownKeys {
  return spec?.cooldown?.(params, target) ?? { sets: target, heldBy: [target] };
}

export function actionSpec(id: string): ActionSpec | undefined {
  return Object.hasOwn(ACTION_SPECS, id) ? (ACTION_SPECS as Record<string, ActionSpec>)[id] : undefined;
}
