import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { STACK_ERR_NOISE_INPUT } from './errors.ts';

/** What the responder did about one alert in a range, by the outcome of each action it recorded. */
export interface ActionCounts {
  /** Actions that ran and succeeded. */
  readonly success: number;
  readonly failure: number;
  /** Planned under dry-run: recorded, not done. */
  readonly dryRun: number;
  /** Not run: a step's condition did not hold, or a cooldown, hold or kill switch stopped it. */
  readonly skipped: number;
  /** Interrupted, cancelled, abandoned or still running. */
  readonly other: number;
}

/**
 * Counts the responder's actions per alert name whose start falls in the range,
 * from its audit database (src/responder/audit-store.ts, schema version 1 or 2:
 * `actions` joined to the `decisions` that made them). Opened read-only, so a
 * running responder is never blocked or changed.
 */
export function readActions(path: string, startMs: number, endMs: number): Map<string, ActionCounts> {
  if (!existsSync(path)) throw STACK_ERR_NOISE_INPUT(`${path} does not exist; name the responder's audit database (its auditPath) with --audit, or leave --audit out`);
  let rows: Array<{ alertname: string; outcome: string; n: number }>;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      rows = db
        .prepare(
          `SELECT d.alertname AS alertname, a.outcome AS outcome, COUNT(*) AS n
           FROM actions a JOIN decisions d ON d.id = a.decision_id
           WHERE a.started_at >= ? AND a.started_at <= ?
           GROUP BY d.alertname, a.outcome`,
        )
        .all(startMs, endMs) as typeof rows;
    } finally {
      db.close();
    }
  } catch (err) {
    throw STACK_ERR_NOISE_INPUT(`${path} is not a responder audit database llmwatch can read (${(err as Error).message})`, { cause: err });
  }
  const counts = new Map<string, { success: number; failure: number; dryRun: number; skipped: number; other: number }>();
  for (const r of rows) {
    const c = counts.get(r.alertname) ?? { success: 0, failure: 0, dryRun: 0, skipped: 0, other: 0 };
    if (r.outcome === 'success') c.success += r.n;
    else if (r.outcome === 'failure') c.failure += r.n;
    else if (r.outcome === 'dry-run') c.dryRun += r.n;
    else if (r.outcome === 'skipped') c.skipped += r.n;
    else c.other += r.n;
    counts.set(r.alertname, c);
  }
  return counts;
}
