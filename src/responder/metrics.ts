import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import { ACTION_OUTCOME, DECISION_WHY, RESPONDER_ACTIONS, RESPONDER_METRIC, WEBHOOK_RESULT } from '../core/conventions/metrics.ts';
import type { DecisionWhy, WebhookResult } from '../core/conventions/metrics.ts';
import type { ActionOutcome } from './types.ts';

/** The responder's instruments: webhooks, alerts, decisions, actions by type and outcome, their duration, and its switches. */
export class ResponderMetrics {
  readonly registry: Registry;
  readonly #webhooks: Counter<string>;
  readonly #alerts: Counter<string>;
  readonly #decisions: Counter<string>;
  readonly #actions: Counter<string>;
  readonly #duration: Histogram<string>;
  readonly breaker: Gauge<string>;
  readonly killSwitch: Gauge<string>;
  readonly dryRun: Gauge<string>;
  readonly pendingRuns: Gauge<string>;
  readonly auditBytes: Gauge<string>;

  constructor(registry: Registry) {
    this.registry = registry;
    const registers = [registry];
    this.#webhooks = new Counter({ name: RESPONDER_METRIC.webhooks, help: 'Webhook deliveries, by result.', labelNames: ['result'], registers });
    this.#alerts = new Counter({ name: RESPONDER_METRIC.alerts, help: 'Alerts received in accepted webhooks, by status.', labelNames: ['status'], registers });
    this.#decisions = new Counter({ name: RESPONDER_METRIC.decisions, help: 'Decisions about alerts: act or skip, and why.', labelNames: ['decision', 'why'], registers });
    this.#actions = new Counter({ name: RESPONDER_METRIC.actions, help: 'Action runs, by action and outcome.', labelNames: ['action', 'outcome'], registers });
    this.#duration = new Histogram({
      name: RESPONDER_METRIC.actionDuration,
      help: 'Time actions took.',
      labelNames: ['action'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers,
    });
    this.breaker = new Gauge({ name: RESPONDER_METRIC.breaker, help: '1 while the hourly action cap has tripped the breaker.', registers });
    this.killSwitch = new Gauge({ name: RESPONDER_METRIC.killSwitch, help: '1 while the kill switch refuses every action.', registers });
    this.dryRun = new Gauge({ name: RESPONDER_METRIC.dryRun, help: '1 when actions are only simulated.', registers });
    this.pendingRuns = new Gauge({ name: RESPONDER_METRIC.pendingActions, help: 'Playbook runs queued or running.', registers });
    this.auditBytes = new Gauge({ name: RESPONDER_METRIC.auditBytes, help: 'Size of the audit database file, in bytes.', registers });
    for (const r of WEBHOOK_RESULT) this.#webhooks.inc({ result: r }, 0);
    for (const s of ['firing', 'resolved']) this.#alerts.inc({ status: s }, 0);
    for (const why of DECISION_WHY) this.#decisions.inc({ decision: why === 'playbook' || why === 'revert' ? 'act' : 'skip', why }, 0);
    for (const a of RESPONDER_ACTIONS) for (const o of ACTION_OUTCOME) this.#actions.inc({ action: a, outcome: o }, 0);
    collectDefaultMetrics({ register: registry });
  }

  webhook(result: WebhookResult): void {
    this.#webhooks.inc({ result });
  }

  alert(status: 'firing' | 'resolved'): void {
    this.#alerts.inc({ status });
  }

  decision(why: DecisionWhy): void {
    this.#decisions.inc({ decision: why === 'playbook' || why === 'revert' ? 'act' : 'skip', why });
  }

  action(action: string, outcome: ActionOutcome, seconds: number): void {
    this.#actions.inc({ action, outcome });
    if (outcome !== 'skipped') this.#duration.observe({ action }, seconds);
  }
}
