import { z } from 'zod';
import { ACTION_IDS, actionSpec } from './action-specs.ts';
import { DEFAULT_PREFIX, metricName } from '../conventions/metrics.ts';
import { Duration } from './duration.ts';
import { promqlSyntaxError } from './promql-syntax.ts';


/** A condition read from Prometheus before a step runs: the first sample of an instant query against a bound. */
const Condition = z
  .strictObject({
    /** PromQL; `{{ $labels.x }}` is replaced by the alert's label (escaped for a PromQL string). */
    query: z.string().min(1),
    above: z.number().optional(),
    below: z.number().optional(),
  })
  .refine((c) => (c.above === undefined) !== (c.below === undefined), "give exactly one of 'above' or 'below'");

const Step = z.strictObject({
  /** The action plugin, from the registry (src/core/config/action-specs.ts): scale, switch-model, notify, exec or noop. */
  action: z.enum(ACTION_IDS),
  /** The action's parameters; string values may use `{{ $labels.x }}` (exec never expands them). */
  params: z.record(z.string(), z.unknown()).default({}),
  /** Run only when this holds. */
  if: Condition.optional(),
  /** After this step succeeds, skip the remaining steps (except `always` ones). */
  stopOnSuccess: z.boolean().default(false),
  /** Run whatever happened before (to notify the outcome). */
  always: z.boolean().default(false),
  /** When the alert resolves, undo this step (switch-model: back to the primary). */
  revertOnResolve: z.boolean().default(false),
});

/**
 * What the responder does about one alert: ordered steps, and the cooldown
 * that stops a flapping alert from acting on the same target again and again.
 * @example
 * HighInferenceLatency:
 *   cooldown: 10m
 *   steps:
 *     - { action: scale, if: { query: 'sum(openllm_queue_length{model="{{ $labels.model }}"})', above: 20 }, params: { deployment: vllm, max: 3 }, stopOnSuccess: true }
 *     - { action: switch-model, params: { model: '{{ $labels.model }}', target: fallback }, revertOnResolve: true }
 *     - { action: notify, always: true, params: { channel: chat } }
 */
export const PlaybookSchema = z
  .strictObject({
    cooldown: Duration.default('10m'),
    steps: z.array(Step).min(1),
  })
  .superRefine((p, ctx) => {
    p.steps.forEach((step, i) => {
      const spec = actionSpec(step.action)!;
      // Checked with every `{{ $labels.x }}` standing for a plain value: the schema judges the shape, the alert fills it in.
      const r = spec.params.safeParse(withSampleLabels(step.params));
      if (!r.success) {
        for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: ['steps', i, 'params', ...issue.path.map(String)], message: `${step.action}: ${issue.message}` });
      }
      if (step.revertOnResolve && !spec.revertible) {
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'revertOnResolve'], message: `${step.action} cannot undo itself; only ${revertibleIds().join(', ')} can` });
      }
      if (step.if !== undefined) {
        const err = promqlSyntaxError(String(withSampleLabels({ q: step.if.query }).q));
        if (err !== undefined) ctx.addIssue({ code: 'custom', path: ['steps', i, 'if', 'query'], message: `not valid PromQL (${err}): ${step.if.query}` });
      }
    });
  });

function revertibleIds(): string[] {
  return ACTION_IDS.filter((id) => actionSpec(id)!.revertible);
}

/** The params with each `{{ $labels.x }}` replaced by a sample value, for validation before any alert exists. */
function withSampleLabels(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const sample = (v: unknown): unknown =>
    typeof v === 'string'
      ? v.replace(/\{\{\s*\$labels\.[a-zA-Z_][a-zA-Z0-9_]*\s*\}\}/g, 'x')
      : Array.isArray(v)
        ? v.map(sample)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sample(x)]))
          : v;
  return sample(params) as Record<string, unknown>;
}

export const PlaybooksSchema = z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'an alert name'), PlaybookSchema);

export type Playbook = z.output<typeof PlaybookSchema>;
export type PlaybookStep = z.output<typeof Step>;
export type StepCondition = z.output<typeof Condition>;

/**
 * The source article's playbook for high latency (section 6.3): scale out when the model's queue is
 * long, else switch to the lighter fallback. As the default it runs on the latency pages users feel,
 * time to first token and time per output token, not on the article's end-to-end HighInferenceLatency:
 * that one grows with answer length, so long but healthy answers would switch the model.
 */
function articleLatencyPlaybook(metricsPrefix: string): z.input<typeof PlaybookSchema> {
  return {
    cooldown: '10m',
    steps: [
      {
        action: 'scale',
        if: { query: `sum(${metricName('queueLength', metricsPrefix)}{model="{{ $labels.model }}"})`, above: 20 },
        params: { deployment: 'openllm', namespace: 'default', max: 3 },
        stopOnSuccess: true,
      },
      { action: 'switch-model', params: { model: '{{ $labels.model }}', target: 'fallback' }, revertOnResolve: true },
      { action: 'notify', always: true, params: { channel: 'chat' } },
    ],
  };
}

/**
 * The default playbooks: the article's latency playbook on the two latency pages, its queue
 * condition reading the gateway's metrics under `metricsPrefix` (the spec's).
 */
export function articlePlaybooks(metricsPrefix: string = DEFAULT_PREFIX): z.input<typeof PlaybooksSchema> {
  const playbook = articleLatencyPlaybook(metricsPrefix);
  return { HighTimeToFirstToken: playbook, HighTimePerOutputToken: playbook };
}

/** The default playbooks under the default metric prefix (what `llmwatch responder` runs without any). */
export const ARTICLE_PLAYBOOKS: z.input<typeof PlaybooksSchema> = articlePlaybooks();
