import { z } from 'zod';

/**
 * Maintenance windows of the monitoring spec (`alertmanager.maintenance`): named
 * sets of time intervals, written into the generated Alertmanager config as
 * `time_intervals` and muting every route but the Watchdog's
 * (`mute_time_intervals`). The fields are Alertmanager 0.25's, in camelCase:
 * https://prometheus.io/docs/alerting/0.25/configuration/#time_interval
 */

const WEEKDAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] as const;

/** `HH:MM`, 00:00 to 24:00 (the end of a day is `24:00`, as Alertmanager writes it). */
const CLOCK = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

function rangeOf(single: string): RegExp {
  return new RegExp(`^${single}(:${single})?$`);
}

/**
 * A range whose start is after its end is refused, as Alertmanager refuses it
 * (`saturday:sunday` is two ranges: `saturday`, `sunday`); days of the month of
 * opposite signs (`1:-1`) are a range from the first to the last day.
 */
function ordered(index: (s: string) => number) {
  return (value: string) => {
    const [a, b] = value.split(':');
    if (b === undefined) return true;
    const [x, y] = [index(a!), index(b)];
    return Math.sign(x) !== Math.sign(y) || x <= y;
  };
}
const byName = (names: readonly string[]) => (s: string) => (/^\d+$/.test(s) ? Number(s) : names.indexOf(s) + 1);

const Weekday = z
  .string()
  .regex(rangeOf(`(${WEEKDAY_NAMES.join('|')})`), `a weekday or range of them, such as monday or monday:friday`)
  .refine(ordered(byName(WEEKDAY_NAMES)), 'a range must run forward within a week (sunday is its first day): write saturday:sunday as saturday and sunday');
const DayOfMonth = z
  .string()
  .regex(rangeOf('-?([1-9]|[12]\\d|3[01])'), 'a day of the month or a range, such as 1, 1:7 or -1 (the last day)')
  .refine(ordered(Number), 'a range must run forward, such as 1:7 or -7:-1');
const Month = z
  .string()
  .regex(rangeOf(`(${MONTH_NAMES.join('|')}|[1-9]|1[0-2])`), 'a month or a range, such as january, 1:3 or june:august')
  .refine(ordered(byName(MONTH_NAMES)), 'a range must run forward within a year: write november:february as november:december and january:february');
const Year = z
  .string()
  .regex(rangeOf('\\d{4}'), 'a year or a range, such as 2026 or 2026:2027')
  .refine(ordered(Number), 'a range must run forward, such as 2026:2027');

/** An IANA time zone name that this Node.js knows (Alertmanager reads the same tz database). */
const Location = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone such as UTC or Europe/Berlin');

/** One time range within a day; `end` is exclusive and after `start`. */
const TimeRange = z
  .strictObject({ start: z.string().regex(CLOCK, 'HH:MM, such as 02:00'), end: z.string().regex(CLOCK, 'HH:MM, such as 04:00 (24:00 for the end of the day)') })
  .refine((r) => r.start < r.end, { message: 'end must be after start (split a range across midnight in two)', path: ['end'] });

/**
 * One time interval: the moments that match every field given (a field left out matches all).
 * A window of several intervals matches when any of them does.
 */
export const TimeIntervalSpecSchema = z
  .strictObject({
    /** Times of day, `HH:MM` to `HH:MM` (end exclusive), in `location`. */
    times: z.array(TimeRange).min(1).optional(),
    /** Weekdays or ranges (`monday:friday`). */
    weekdays: z.array(Weekday).min(1).optional(),
    /** Days of the month or ranges; negative counts from the month's end (`-1` the last day). */
    daysOfMonth: z.array(DayOfMonth).min(1).optional(),
    /** Months by name or number, or ranges. */
    months: z.array(Month).min(1).optional(),
    years: z.array(Year).min(1).optional(),
    /** The time zone the fields are read in; default UTC. */
    location: Location.optional(),
  })
  .refine((i) => Object.keys(i).some((k) => k !== 'location'), 'give at least one of times, weekdays, daysOfMonth, months, years (an empty interval would mute everything, always)');

export type TimeIntervalSpec = z.output<typeof TimeIntervalSpecSchema>;

/** Window names become Alertmanager `time_intervals` names. */
export const MaintenanceName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _');

/** The windows by name, each one or more intervals. */
export const MaintenanceSchema = z.record(MaintenanceName, z.array(TimeIntervalSpecSchema).min(1));

export { WEEKDAY_NAMES, MONTH_NAMES };
