import { groupKey, inhibitedBy, matchRoutes, routeMuted } from './noise-alertmanager.ts';
import type { AlertmanagerView, Labels, Route } from './noise-alertmanager.ts';
import type { AlertHistory } from './noise-history.ts';
import type { ActionCounts } from './noise-audit.ts';

/**
 * `llmwatch noise`: how noisy the alerts were over a range, per alert name, from
 * the alert history Prometheus recorded (`ALERTS`), replayed through an
 * Alertmanager config (its routing, grouping, inhibitions and mute times) and
 * joined with what the responder did (its audit). How each figure is counted
 * is in docs/noise.md.
 */

export interface NoiseOptions {
  /** An alert that resolves and fires again within this long flaps. */
  readonly flapWindowMs: number;
  /** The receivers whose notifications count as pages. */
  readonly pagers: ReadonlySet<string>;
}

/** The figures of one alert name over the range. */
export interface AlertNoise {
  readonly alertname: string;
  readonly severities: readonly string[];
  /** Label sets (models, instances, GPUs) it fired for. */
  readonly series: number;
  /** Firing episodes: each time it went from not firing to firing. */
  readonly fired: number;
  readonly firingSeconds: number;
  /** Episodes that began within the flap window after the same series resolved. */
  readonly flaps: number;
  /** Episodes inhibited from their first to their last evaluation: they notified no one. */
  readonly inhibited: number;
  /** Episodes not inhibited throughout, but muted (a maintenance window) whenever they were not. */
  readonly muted: number;
  /** Episodes that notified only by joining a notification group another alert had opened. */
  readonly grouped: number;
  /** Notification groups this alert opened on a pager receiver. */
  readonly pages: number;
  readonly pagesPerDay: number;
  /** The responder's actions about it, when an audit database was read. */
  readonly actions?: ActionCounts;
}

export interface NoiseReport {
  readonly start: string;
  readonly end: string;
  readonly stepSeconds: number;
  readonly days: number;
  readonly flapWindowSeconds: number;
  readonly pagers: readonly string[];
  readonly totals: Omit<AlertNoise, 'alertname' | 'severities' | 'series' | 'actions'> & { readonly actions?: ActionCounts };
  readonly alerts: readonly AlertNoise[];
}

/** The receivers a critical alert reaches under this config that notify someone: the default pagers. */
export function criticalReceivers(view: AlertmanagerView): string[] {
  return [...new Set(matchRoutes(view.route, { severity: 'critical' }).map((r) => r.receiver))].filter((r) => view.notifying.has(r));
}

interface Episode {
  readonly series: number;
  readonly startMs: number;
  lastMs: number;
  inhibitedSteps: number;
  steps: number;
  /** Steps at which it was neither inhibited nor muted on some notifying route. */
  notifiedSteps: number;
  opened: boolean;
  joined: boolean;
}

/** Splits each series' firing times into episodes: a gap of more than one step means it resolved. */
function episodesOf(history: AlertHistory): Episode[][] {
  const gap = history.stepMs * 1.5;
  return history.series.map((s, i) => {
    const out: Episode[] = [];
    for (const t of s.times) {
      const last = out.at(-1);
      if (last !== undefined && t - last.lastMs <= gap) last.lastMs = t;
      else out.push({ series: i, startMs: t, lastMs: t, inhibitedSteps: 0, steps: 0, notifiedSteps: 0, opened: false, joined: false });
    }
    return out;
  });
}

/**
 * Replays the history step by step through the config: at each evaluation, which
 * firing alerts are inhibited (by the others firing then), which routes are
 * muted, and which notification groups notify. A group lives while any of its
 * alerts fires; in one life it notifies once, at the first step at least
 * `group_wait` after its birth when one of its alerts is neither inhibited nor
 * muted: one incident on a pager (PagerDuty and Opsgenie deduplicate on the
 * group key). Alerts that join the open notification are "grouped".
 */
export function analyseNoise(history: AlertHistory, view: AlertmanagerView, options: NoiseOptions, actions?: ReadonlyMap<string, ActionCounts>): NoiseReport {
  const { stepMs, startMs, endMs } = history;
  const episodes = episodesOf(history);
  const routes: Route[][] = history.series.map((s) => matchRoutes(view.route, s.labels).filter((r) => view.notifying.has(r.receiver)));
  const keys: string[][] = history.series.map((s, i) => routes[i]!.map((r) => groupKey(r, s.labels)));
  // Which series fire at each step, and the episode each is in.
  const firingAt = new Map<number, Array<{ series: number; episode: Episode }>>();
  episodes.forEach((list, series) => {
    // Times and episodes are both in order: one pass over each.
    let k = 0;
    for (const t of history.series[series]!.times) {
      while (t > list[k]!.lastMs) k++;
      const at = firingAt.get(t) ?? [];
      at.push({ series, episode: list[k]! });
      firingAt.set(t, at);
    }
  });
  // Maintenance windows are minute-grained: one calendar lookup per route and minute.
  const mutedCache = new Map<string, boolean>();
  const muted = (route: Route, t: number) => {
    if (route.muteTimeIntervals.length === 0) return false;
    const key = `${route.id}@${Math.floor(t / 60_000)}`;
    let m = mutedCache.get(key);
    if (m === undefined) mutedCache.set(key, (m = routeMuted(view, route, t / 1000)));
    return m;
  };
  const pagesBy = new Map<string, number>();
  /** Each notification group alive at the previous step: when its life began, and the series it has notified about. */
  let alive = new Map<string, { since: number; told: Set<number> | undefined }>();
  // Inhibition depends only on which alerts fire: computed again only when that set changes.
  let lastSet = '';
  let lastInhibited: boolean[] = [];
  for (const t of [...firingAt.keys()].sort((a, b) => a - b)) {
    const firing = firingAt.get(t)!;
    const labels = firing.map((f) => history.series[f.series]!.labels);
    const set = firing.map((f) => f.series).join(',');
    if (set !== lastSet) {
      lastSet = set;
      lastInhibited = labels.map((l) => inhibitedBy(view, l, labels));
    }
    /** Per group key: its route, every member firing now, and those it may notify about now. */
    const groups = new Map<string, { route: Route; members: number[]; notifiable: Episode[] }>();
    firing.forEach((f, i) => {
      const e = f.episode;
      e.steps++;
      const inhibited = lastInhibited[i]!;
      if (inhibited) e.inhibitedSteps++;
      let notified = false;
      routes[f.series]!.forEach((r, j) => {
        const key = keys[f.series]![j]!;
        const g = groups.get(key) ?? { route: r, members: [], notifiable: [] };
        g.members.push(f.series);
        if (!inhibited && !muted(r, t)) {
          g.notifiable.push(e);
          notified = true;
        }
        groups.set(key, g);
      });
      if (notified) e.notifiedSteps++;
    });
    // A group lives while any of its alerts fires, suppressed or not (Alertmanager's aggregation
    // group); a step with none of them firing ends its life.
    const contiguous = firingAt.has(t - stepMs);
    const next = new Map<string, { since: number; told: Set<number> | undefined }>();
    /** Episodes that paged at this step: one incident however many pager routes they opened. */
    const paged = new Set<Episode>();
    for (const [key, g] of groups) {
      const life = (contiguous ? alive.get(key) : undefined) ?? { since: t, told: undefined };
      next.set(key, life);
      // The first notification waits group_wait from the group's birth, and goes only if an alert
      // of the group is then neither inhibited nor muted; Alertmanager re-checks both at each flush.
      if (g.notifiable.length === 0 || t < life.since + g.route.groupWaitMs) continue;
      if (life.told === undefined) {
        const owner = [...g.notifiable].sort((a, b) => a.startMs - b.startMs || (history.series[a.series]!.labels.alertname ?? '').localeCompare(history.series[b.series]!.labels.alertname ?? ''))[0]!;
        owner.opened = true;
        life.told = new Set(g.notifiable.map((e) => e.series));
        for (const e of g.notifiable) if (e !== owner) e.joined = true;
        // A page: a critical alert's notification on a pager receiver.
        const ownerLabels = history.series[owner.series]!.labels;
        if (ownerLabels.severity === 'critical' && options.pagers.has(g.route.receiver) && !paged.has(owner)) {
          paged.add(owner);
          pagesBy.set(ownerLabels.alertname ?? '', (pagesBy.get(ownerLabels.alertname ?? '') ?? 0) + 1);
        }
      } else {
        // Later alerts ride on the open notification (same group key: the same incident on a pager).
        for (const e of g.notifiable) {
          if (life.told.has(e.series)) continue;
          life.told.add(e.series);
          e.joined = true;
        }
      }
    }
    alive = next;
  }

  const days = (endMs - startMs) / 86_400_000;
  const byName = new Map<string, { severities: Set<string>; series: Set<number>; list: Episode[] }>();
  episodes.forEach((list, i) => {
    const labels = history.series[i]!.labels;
    const name = labels.alertname ?? '';
    const entry = byName.get(name) ?? { severities: new Set(), series: new Set(), list: [] };
    if (labels.severity !== undefined) entry.severities.add(labels.severity);
    entry.series.add(i);
    entry.list.push(...list);
    byName.set(name, entry);
  });
  const alerts: AlertNoise[] = [...byName].map(([alertname, e]) => {
    // A flap: an episode that begins within the window after the previous one of its series ended.
    const flaps = [...e.series].reduce((n, i) => n + episodes[i]!.filter((ep, k) => k > 0 && ep.startMs - (episodes[i]![k - 1]!.lastMs + stepMs) <= options.flapWindowMs).length, 0);
    const pages = pagesBy.get(alertname) ?? 0;
    return {
      alertname,
      severities: [...e.severities].sort(),
      series: e.series.size,
      fired: e.list.length,
      firingSeconds: e.list.reduce((sum, ep) => sum + (ep.lastMs + stepMs - ep.startMs) / 1000, 0),
      flaps,
      inhibited: e.list.filter((ep) => ep.inhibitedSteps === ep.steps).length,
      muted: e.list.filter((ep) => ep.inhibitedSteps < ep.steps && ep.notifiedSteps === 0 && routes[ep.series]!.length > 0).length,
      grouped: e.list.filter((ep) => ep.joined && !ep.opened).length,
      pages,
      pagesPerDay: round(days > 0 ? pages / days : 0),
      ...(actions === undefined ? {} : { actions: actions.get(alertname) ?? { success: 0, failure: 0, dryRun: 0, skipped: 0, other: 0 } }),
    };
  });
  // Loudest first: pages, then episodes, then name.
  alerts.sort((a, b) => b.pages - a.pages || b.fired - a.fired || a.alertname.localeCompare(b.alertname));
  const sum = (f: (a: AlertNoise) => number) => alerts.reduce((s, a) => s + f(a), 0);
  const pages = sum((a) => a.pages);
  return {
    start: new Date(startMs).toISOString(),
    end: new Date(endMs).toISOString(),
    stepSeconds: stepMs / 1000,
    days: round(days),
    flapWindowSeconds: options.flapWindowMs / 1000,
    pagers: [...options.pagers].sort(),
    totals: {
      fired: sum((a) => a.fired),
      firingSeconds: sum((a) => a.firingSeconds),
      flaps: sum((a) => a.flaps),
      inhibited: sum((a) => a.inhibited),
      muted: sum((a) => a.muted),
      grouped: sum((a) => a.grouped),
      pages,
      pagesPerDay: round(days > 0 ? pages / days : 0),
      ...(actions === undefined ? {} : { actions: sumActions(alerts.map((a) => a.actions!)) }),
    },
    alerts,
  };
}

function sumActions(list: readonly ActionCounts[]): ActionCounts {
  return list.reduce((s, a) => ({ success: s.success + a.success, failure: s.failure + a.failure, dryRun: s.dryRun + a.dryRun, skipped: s.skipped + a.skipped, other: s.other + a.other }), {
    success: 0,
    failure: 0,
    dryRun: 0,
    skipped: 0,
    other: 0,
  });
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

/** The report as a terminal table, loudest alert first, with a totals line and what pages means here. */
export function renderNoiseTable(r: NoiseReport): string {
  const withActions = r.totals.actions !== undefined;
  const acted = (a: ActionCounts | undefined) => (a === undefined ? '' : `${a.success + a.failure + a.dryRun}${a.failure > 0 ? ` (${a.failure} failed)` : ''}`);
  const head = ['alert', 'severity', 'series', 'fired', 'firing', 'flaps', 'inhibited', 'muted', 'grouped', 'pages', 'pages/day', ...(withActions ? ['actions'] : [])];
  const rows = r.alerts.map((a) => [
    a.alertname,
    a.severities.join(','),
    String(a.series),
    String(a.fired),
    duration(a.firingSeconds),
    String(a.flaps),
    String(a.inhibited),
    String(a.muted),
    String(a.grouped),
    String(a.pages),
    String(a.pagesPerDay),
    ...(withActions ? [acted(a.actions)] : []),
  ]);
  const t = r.totals;
  rows.push(['total', '', '', String(t.fired), duration(t.firingSeconds), String(t.flaps), String(t.inhibited), String(t.muted), String(t.grouped), String(t.pages), String(t.pagesPerDay), ...(withActions ? [acted(t.actions)] : [])]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `alert noise ${r.start} .. ${r.end} (${r.days} days, step ${r.stepSeconds}s, flap window ${duration(r.flapWindowSeconds)})`,
    `pages: notification groups opened on ${r.pagers.length > 0 ? r.pagers.join(', ') : 'no receiver (none notifies anyone for critical alerts; name them with --pager)'}`,
    '',
    line(head),
    ...rows.slice(0, -1).map(line),
    line(widths.map((w) => '-'.repeat(w))),
    line(rows.at(-1)!),
    ...(r.alerts.length === 0 ? ['', 'no alert fired in this range'] : []),
  ].join('\n');
}
