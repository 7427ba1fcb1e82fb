import { reportedUsage } from './usage.ts';

/**
 * Answers up to this size are parsed whole (a few microseconds): the parse
 * checks the answer is a JSON object and its text is at hand.
 */
export const FULL_PARSE_BYTES = 64 * 1024;
/** Where a large answer's `usage` is looked for: its last bytes (OpenAI, vLLM and others put it last). */
const TAIL_BYTES = 4096;

/** What metering needs of a non-streamed answer, read with as little parsing as the answer allows. */
export interface AnswerRead {
  /** The whole answer, when it was parsed (small answers, or a large one without `usage` in its tail). */
  readonly parsed: Record<string, unknown> | undefined;
  readonly usage: { prompt: number; completion: number } | undefined;
}

/**
 * Reads a non-streamed answer for metering. A small answer is parsed whole; a
 * large one (a 1 MB completion) is not parsed at all when its tail holds the
 * `usage` object: its shape is checked (an object from first byte to last)
 * and only `usage` is parsed. Undefined when the answer is not a JSON object.
 * Without `usage` in the tail, a large answer is parsed whole, as the token
 * estimate needs its text anyway.
 */
export function readAnswer(buf: Buffer): AnswerRead | undefined {
  if (buf.length > FULL_PARSE_BYTES && looksLikeObject(buf)) {
    const usage = tailUsage(buf);
    if (usage !== undefined) return { parsed: undefined, usage };
  }
  let obj: unknown;
  try {
    obj = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const parsed = obj as Record<string, unknown>;
  return { parsed, usage: reportedUsage(parsed) };
}

/** Parses a whole answer (for its text, off the request's critical path); undefined when it is not a JSON object. */
export function parseAnswer(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const obj: unknown = JSON.parse(buf.toString('utf8'));
    return obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function looksLikeObject(buf: Buffer): boolean {
  let i = 0;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  let j = buf.length - 1;
  while (j > i && isSpace(buf[j]!)) j--;
  return buf[i] === 0x7b && buf[j] === 0x7d;
}

const USAGE_KEY = Buffer.from('"usage"');

/**
 * The top-level `usage` object in the answer's tail: the last `"usage"` key,
 * a colon, an object whose braces balance (strings skipped), and then only
 * the end of the enclosing object (`}`) or another member (`,`).
 */
function tailUsage(buf: Buffer): { prompt: number; completion: number } | undefined {
  const from = Math.max(0, buf.length - TAIL_BYTES);
  const at = buf.lastIndexOf(USAGE_KEY);
  if (at < from) return undefined;
  let i = at + USAGE_KEY.length;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  if (buf[i] !== 0x3a) return undefined;
  i++;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  if (buf[i] !== 0x7b) return undefined;
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) break;
  }
  if (depth !== 0) return undefined;
  let k = i + 1;
  while (k < buf.length && isSpace(buf[k]!)) k++;
  if (buf[k] !== 0x7d && buf[k] !== 0x2c) return undefined;
  let usage: unknown;
  try {
    usage = JSON.parse(buf.toString('utf8', start, i + 1));
  } catch {
    return undefined;
  }
  return reportedUsage({ usage });
}
