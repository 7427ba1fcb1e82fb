import { CONSOLE_ERR_BAD_PARAM } from './errors.ts';

/**
 * Limits on what the page may ask Prometheus for: one panel at most
 * `MAX_POINTS` points per series over at most `MAX_RANGE_S`, never finer than
 * `MIN_STEP_S`. Prometheus itself refuses over 11,000 points per series; the
 * console stays far below so a wide range cannot load it.
 */
export const QUERY_BOUNDS = Object.freeze({ MAX_POINTS: 1_000, MIN_STEP_S: 1, MAX_RANGE_S: 7 * 24 * 3600, MAX_QUERY_CHARS: 4_000 });

/** A `query_range` request after its bounds are applied. */
export interface RangeParams {
  readonly query: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** Validates `query`; a missing or oversized one is a 400. */
export function queryParam(params: URLSearchParams): string {
  const query = params.get('query') ?? '';
  if (query.trim() === '') throw CONSOLE_ERR_BAD_PARAM('query is required', { param: 'query' });
  if (query.length > QUERY_BOUNDS.MAX_QUERY_CHARS) throw CONSOLE_ERR_BAD_PARAM(`query is longer than ${QUERY_BOUNDS.MAX_QUERY_CHARS} characters`, { param: 'query' });
  return query;
}

/**
 * Parses `start`, `end` (Unix seconds or RFC 3339) and `step` (seconds) and
 * coarsens the step so the range holds at most `MAX_POINTS` points: a too-fine
 * step is raised, not refused, so a chart still draws.
 * @example rangeParams(new URLSearchParams('query=up&start=0&end=3600&step=1')).step // 4
 */
export function rangeParams(params: URLSearchParams): RangeParams {
  const query = queryParam(params);
  const start = time(params, 'start');
  const end = time(params, 'end');
  if (end < start) throw CONSOLE_ERR_BAD_PARAM('end is before start', { param: 'end' });
  if (end - start > QUERY_BOUNDS.MAX_RANGE_S) throw CONSOLE_ERR_BAD_PARAM(`the range is over ${QUERY_BOUNDS.MAX_RANGE_S} s`, { param: 'start' });
  const asked = Number(params.get('step') ?? '');
  if (!Number.isFinite(asked) || asked <= 0) throw CONSOLE_ERR_BAD_PARAM('step must be a positive number of seconds', { param: 'step' });
  const step = Math.max(asked, QUERY_BOUNDS.MIN_STEP_S, Math.ceil((end - start) / QUERY_BOUNDS.MAX_POINTS));
  return { query, start, end, step };
}

/**
 * The range of a noise report: `range` seconds back from now (its end rounded
 * down to 10 s, so refreshes within 10 s ask for the same range), or `start`
 * and `end`; at most `MAX_RANGE_S` long.
 */
export function noiseRange(params: URLSearchParams, nowMs = Date.now()): { start: number; end: number } {
  if (params.has('range')) {
    const raw = params.get('range') ?? '';
    const range = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(range >= 60 && range <= QUERY_BOUNDS.MAX_RANGE_S)) throw CONSOLE_ERR_BAD_PARAM(`range must be a whole number of seconds from 60 to ${QUERY_BOUNDS.MAX_RANGE_S}`, { param: 'range' });
    const end = Math.floor(nowMs / 10_000) * 10;
    return { start: end - range, end };
  }
  const start = time(params, 'start');
  const end = time(params, 'end');
  if (end <= start) throw CONSOLE_ERR_BAD_PARAM('end must be after start', { param: 'end' });
  if (end - start > QUERY_BOUNDS.MAX_RANGE_S) throw CONSOLE_ERR_BAD_PARAM(`the range is over ${QUERY_BOUNDS.MAX_RANGE_S} s`, { param: 'start' });
  return { start, end };
}

/** An optional evaluation time for `/api/query`. */
export function optionalTime(params: URLSearchParams): number | undefined {
  return params.has('time') ? time(params, 'time') : undefined;
}

function time(params: URLSearchParams, name: string): number {
  const raw = params.get(name) ?? '';
  const n = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : Date.parse(raw) / 1000;
  if (raw === '' || !Number.isFinite(n)) throw CONSOLE_ERR_BAD_PARAM(`${name} must be Unix seconds or an RFC 3339 time`, { param: name });
  return n;
}
