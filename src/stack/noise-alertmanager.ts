import { parse as parseYaml } from 'yaml';
import { MONTH_NAMES, WEEKDAY_NAMES } from '../core/config/maintenance-spec.ts';
import { modelDurationMs } from '../core/config/duration.ts';
import { STACK_ERR_NOISE_INPUT } from './errors.ts';

/**
 * What `llmwatch noise` needs of an Alertmanager config (0.25 syntax): the route
 * tree with its grouping and mute times, the inhibit rules and the time
 * intervals, read from the YAML so the same analysis runs on the generated
 * config, on a hand-written one, or on the config without llmwatch's noise
 * rules. Semantics follow Alertmanager's own code: routing (dispatch/route.go
 * `Match`), inhibition (inhibit/inhibit.go), time intervals
 * (timeinterval/timeinterval.go).
 */

export type Labels = Readonly<Record<string, string>>;

/** One label matcher: `=`, `!=`, `=~`, `!~`. A missing label reads as the empty string, as in Alertmanager. */
export interface Matcher {
  readonly name: string;
  readonly type: '=' | '!=' | '=~' | '!~';
  readonly value: string;
  readonly test: (labels: Labels) => boolean;
}

export interface InhibitRule {
  readonly source: readonly Matcher[];
  readonly target: readonly Matcher[];
  readonly equal: readonly string[];
}

/** One node of the route tree, with what it inherits filled in. */
export interface Route {
  /** Position in the tree (`0`, `0.2`), which tells groups of different routes apart. */
  readonly id: string;
  readonly receiver: string;
  readonly groupBy: readonly string[] | 'all';
  /** How long a new group waits before its first notification (inherited; Alertmanager's default 30s). */
  readonly groupWaitMs: number;
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
  readonly muteTimeIntervals: readonly string[];
  readonly routes: readonly Route[];
}

/** One Alertmanager `time_interval`; fields absent match everything. */
export interface TimeInterval {
  readonly times?: ReadonlyArray<{ readonly startMinute: number; readonly endMinute: number }>;
  readonly weekdays?: ReadonlyArray<readonly [number, number]>;
  readonly daysOfMonth?: ReadonlyArray<readonly [number, number]>;
  readonly months?: ReadonlyArray<readonly [number, number]>;
  readonly years?: ReadonlyArray<readonly [number, number]>;
  readonly location: string;
}

export interface AlertmanagerView {
  readonly route: Route;
  readonly inhibitRules: readonly InhibitRule[];
  readonly timeIntervals: ReadonlyMap<string, readonly TimeInterval[]>;
  /** Receivers that notify someone: those with at least one integration (`*_configs`); `null` has none. */
  readonly notifying: ReadonlySet<string>;
}

/** A matcher string as Alertmanager writes it: `name="value"`, `name=~"re"`, unquoted values allowed. */
export function parseMatcher(text: string): Matcher {
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(text);
  if (m === null) throw new Error(`not a label matcher: ${text}`);
  const raw = m[3]!;
  const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  return matcher(m[1]!, m[2] as Matcher['type'], value);
}

function matcher(name: string, type: Matcher['type'], value: string): Matcher {
  // Regex matchers are anchored at both ends in Alertmanager.
  const re = type === '=~' || type === '!~' ? new RegExp(`^(?:${value})$`) : undefined;
  const test = (labels: Labels) => {
    const v = labels[name] ?? '';
    switch (type) {
      case '=':
        return v === value;
      case '!=':
        return v !== value;
      case '=~':
        return re!.test(v);
      case '!~':
        return !re!.test(v);
    }
  };
  return { name, type, value, test };
}

export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  return matchers.every((m) => m.test(labels));
}

/** Matchers of a route or rule: the `matchers` list plus the older `match` / `match_re` maps. */
function matchersOf(node: Record<string, unknown>, prefix: '' | 'source_' | 'target_'): Matcher[] {
  const list = (node[`${prefix}matchers`] as string[] | undefined) ?? [];
  const eq = (node[`${prefix}match`] as Record<string, string> | undefined) ?? {};
  const re = (node[`${prefix}match_re`] as Record<string, string> | undefined) ?? {};
  return [...list.map(parseMatcher), ...Object.entries(eq).map(([k, v]) => matcher(k, '=', String(v))), ...Object.entries(re).map(([k, v]) => matcher(k, '=~', String(v)))];
}

function routeOf(node: Record<string, unknown>, parent: Route | undefined, id: string): Route {
  const groupBy = node.group_by as string[] | undefined;
  const route: Route = {
    id,
    receiver: (node.receiver as string | undefined) ?? parent?.receiver ?? '',
    groupBy: groupBy === undefined ? (parent?.groupBy ?? []) : groupBy.includes('...') ? 'all' : groupBy,
    groupWaitMs: node.group_wait === undefined ? (parent?.groupWaitMs ?? 30_000) : modelDurationMs(String(node.group_wait)),
    matchers: matchersOf(node, ''),
    continue: node.continue === true,
    muteTimeIntervals: (node.mute_time_intervals as string[] | undefined) ?? [],
    routes: [],
  };
  const children = ((node.routes as Array<Record<string, unknown>> | undefined) ?? []).map((c, i) => routeOf(c, route, `${id}.${i}`));
  return { ...route, routes: children };
}

/**
 * The routes an alert with these labels reaches, as Alertmanager's `Route.Match`:
 * depth first, a matching child ends the search unless it has `continue`, and a
 * node none of whose children match takes the alert itself.
 */
export function matchRoutes(route: Route, labels: Labels): Route[] {
  if (!matchesAll(route.matchers, labels)) return [];
  const all: Route[] = [];
  for (const child of route.routes) {
    const matched = matchRoutes(child, labels);
    all.push(...matched);
    if (matched.length > 0 && !child.continue) break;
  }
  return all.length > 0 ? all : [route];
}

/** The group an alert joins on a route: the route and its `group_by` label values. */
export function groupKey(route: Route, labels: Labels): string {
  const names = route.groupBy === 'all' ? Object.keys(labels).sort() : route.groupBy;
  return `${route.id}{${names.map((n) => `${n}=${JSON.stringify(labels[n] ?? '')}`).join(',')}}`;
}

function ranges(list: readonly string[] | undefined, parse: (s: string) => number): Array<readonly [number, number]> | undefined {
  return list?.map((item) => {
    const [a, b] = String(item).split(':');
    const from = parse(a!);
    return [from, b === undefined ? from : parse(b)] as const;
  });
}

function named(names: readonly string[]): (s: string) => number {
  return (s) => {
    const i = names.indexOf(s.toLowerCase());
    if (i >= 0) return i;
    const n = Number(s);
    if (Number.isInteger(n)) return n;
    throw new Error(`not a ${names === WEEKDAY_NAMES ? 'weekday' : 'month'}: ${s}`);
  };
}

function minuteOfDay(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h! * 60 + m!;
}

function timeIntervalOf(raw: Record<string, unknown>): TimeInterval {
  const monthIndex = named(MONTH_NAMES);
  return {
    times: (raw.times as Array<{ start_time: string; end_time: string }> | undefined)?.map((t) => ({ startMinute: minuteOfDay(t.start_time), endMinute: minuteOfDay(t.end_time) })),
    weekdays: ranges(raw.weekdays as string[] | undefined, named(WEEKDAY_NAMES)),
    daysOfMonth: ranges(raw.days_of_month as string[] | undefined, Number),
    // Months by number are 1-12 in Alertmanager; by name, January is 1 too.
    months: ranges(raw.months as string[] | undefined, (s) => (/^\d+$/.test(s) ? Number(s) : monthIndex(s) + 1)),
    years: ranges(raw.years as string[] | undefined, Number),
    location: (raw.location as string | undefined) ?? 'UTC',
  };
}

/** Reads an alertmanager.yml; `source` names it in errors. */
export function readAlertmanagerConfig(yaml: string, source: string): AlertmanagerView {
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(yaml) as Record<string, unknown>;
    if (doc === null || typeof doc !== 'object' || typeof doc.route !== 'object') throw new Error('no route');
    const intervals = new Map<string, TimeInterval[]>();
    // `mute_time_intervals` at the top is the pre-0.24 spelling of `time_intervals`.
    for (const key of ['time_intervals', 'mute_time_intervals'] as const) {
      for (const t of (doc[key] as Array<{ name: string; time_intervals: Array<Record<string, unknown>> }> | undefined) ?? []) {
        intervals.set(t.name, (t.time_intervals ?? []).map(timeIntervalOf));
      }
    }
    const rules = ((doc.inhibit_rules as Array<Record<string, unknown>> | undefined) ?? []).map((r) => ({
      source: matchersOf(r, 'source_'),
      target: matchersOf(r, 'target_'),
      equal: (r.equal as string[] | undefined) ?? [],
    }));
    const notifying = new Set(
      ((doc.receivers as Array<Record<string, unknown>> | undefined) ?? [])
        .filter((r) => Object.entries(r).some(([k, v]) => k.endsWith('_configs') && Array.isArray(v) && v.length > 0))
        .map((r) => String(r.name)),
    );
    return { route: routeOf(doc.route as Record<string, unknown>, undefined, '0'), inhibitRules: rules, timeIntervals: intervals, notifying };
  } catch (err) {
    throw STACK_ERR_NOISE_INPUT(`${source} is not an Alertmanager config llmwatch can read (${(err as Error).message}); name the generated one with --alertmanager-config`, { cause: err });
  }
}

const PARTS_CACHE = new Map<string, Intl.DateTimeFormat>();

/** Year, month (1-12), day, weekday (0 = Sunday), minute of day and days in the month of an instant, in a time zone. */
function calendar(unixSeconds: number, location: string) {
  let fmt = PARTS_CACHE.get(location);
  if (fmt === undefined) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: location, year: 'numeric', month: 'numeric', day: 'numeric', weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    PARTS_CACHE.set(location, fmt);
  }
  const parts = Object.fromEntries(fmt.formatToParts(new Date(unixSeconds * 1000)).map((p) => [p.type, p.value]));
  const year = Number(parts.year);
  const month = Number(parts.month);
  return {
    year,
    month,
    day: Number(parts.day),
    weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday!),
    minute: Number(parts.hour) * 60 + Number(parts.minute),
    daysInMonth: new Date(Date.UTC(year, month, 0)).getUTCDate(),
  };
}

function inRanges(value: number, list: ReadonlyArray<readonly [number, number]> | undefined): boolean {
  return list === undefined || list.some(([a, b]) => value >= a && value <= b);
}

/** Whether an instant falls in a time interval: every field given must match (Alertmanager's `ContainsTime`). */
export function intervalContains(i: TimeInterval, unixSeconds: number): boolean {
  const c = calendar(unixSeconds, i.location);
  if (i.times !== undefined && !i.times.some((t) => c.minute >= t.startMinute && c.minute < t.endMinute)) return false;
  if (!inRanges(c.weekday, i.weekdays)) return false;
  if (i.daysOfMonth !== undefined) {
    // Negative days count from the month's end: -1 is its last day.
    const abs = (d: number) => (d < 0 ? c.daysInMonth + d + 1 : d);
    if (!i.daysOfMonth.some(([a, b]) => c.day >= abs(a) && c.day <= abs(b))) return false;
  }
  return inRanges(c.month, i.months) && inRanges(c.year, i.years);
}

/** Whether a route is muted at an instant: any of its `mute_time_intervals` holds it. */
export function routeMuted(view: AlertmanagerView, route: Route, unixSeconds: number): boolean {
  return route.muteTimeIntervals.some((name) => (view.timeIntervals.get(name) ?? []).some((i) => intervalContains(i, unixSeconds)));
}

/**
 * The rules that inhibit `target` given the alerts firing with it: a rule holds when
 * the target matches its target matchers and another firing alert matches its
 * source matchers with the same values (or both absent) for every `equal` label.
 */
export function inhibitedBy(view: AlertmanagerView, target: Labels, firing: readonly Labels[]): boolean {
  return view.inhibitRules.some(
    (rule) =>
      matchesAll(rule.target, target) &&
      firing.some((source) => source !== target && matchesAll(rule.source, source) && rule.equal.every((l) => (source[l] ?? '') === (target[l] ?? ''))),
  );
}
