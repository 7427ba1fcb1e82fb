import { hasCode } from '../core/errors.ts';
import { EXP_ERR_EXIT_CODE, EXP_ERR_PARSE, EXP_ERR_TIMEOUT } from './errors.ts';
import { QUERY_ARGS } from './nvidia-smi-csv.ts';
import { MAX_STDOUT, firstLine } from './nvidia-smi.ts';
import type { NvidiaSmiRun } from './nvidia-smi.ts';

/**
 * The URL one run GETs: `base` with each of nvidia-smi's `--name=value` arguments as a parameter,
 * so the source answers the exporter's own query and nothing else.
 * @example queryURL('http://127.0.0.1:3000/nvidia-smi')
 * // http://127.0.0.1:3000/nvidia-smi?query-gpu=index%2Cuuid%2C...&format=csv%2Cnoheader%2Cnounits
 */
export function queryURL(base: string): URL {
  const url = new URL(base);
  for (const arg of QUERY_ARGS) {
    const eq = arg.indexOf('=');
    url.searchParams.set(arg.slice(2, eq), arg.slice(eq + 1));
  }
  return url;
}

/**
 * nvidia-smi over HTTP: one GET of {@link queryURL}, its body read as nvidia-smi's stdout, with the
 * binary's failure modes mapped onto the same codes, so the collector, the parser, the metrics and
 * the `reason` label are the real path's: past `timeoutMs` (or on shutdown) the request is aborted
 * and the run is `EXP_ERR_TIMEOUT`; a source that cannot be reached, or answers other than 200, is
 * `EXP_ERR_EXIT_CODE` (the source failed, as a non-zero exit does); a body over 1 MiB is `EXP_ERR_PARSE`.
 * Nothing outlives an aborted request, so `exited` settles with `output`.
 */
export function fetchNvidiaSmi(base: string, timeoutMs: number, signal?: AbortSignal): NvidiaSmiRun {
  const output = fetchOnce(base, timeoutMs, signal);
  return { output, exited: output.then(noop, noop) };
}

async function fetchOnce(base: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
  const url = queryURL(base);
  const timeout = AbortSignal.timeout(timeoutMs);
  const abort = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
  const failed = (err: unknown): Error => {
    if (signal?.aborted === true) return EXP_ERR_TIMEOUT(`nvidia-smi (${base}) was stopped: the exporter is shutting down`);
    if (timeout.aborted) return EXP_ERR_TIMEOUT(`nvidia-smi (${base}) did not answer within ${timeoutMs / 1000}s and was abandoned`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return EXP_ERR_EXIT_CODE(`nvidia-smi (${base}) could not be reached: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  };
  let res: Response;
  try {
    res = await fetch(url, { signal: abort, redirect: 'error' });
  } catch (err) {
    throw failed(err);
  }
  let body = '';
  try {
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) {
      body += decoder.decode(chunk as Uint8Array, { stream: true });
      if (body.length > MAX_STDOUT) {
        await res.body?.cancel().catch(noop);
        throw EXP_ERR_PARSE(`nvidia-smi (${base}) answered more than ${MAX_STDOUT} bytes: not the CSV it was asked for`);
      }
    }
  } catch (err) {
    if (hasCode(err, EXP_ERR_PARSE)) throw err;
    throw failed(err);
  }
  if (res.status !== 200) {
    const said = firstLine(body);
    throw EXP_ERR_EXIT_CODE(`nvidia-smi (${base}) answered HTTP ${res.status}${said === '' ? '' : `: ${said}`}`);
  }
  return body;
}

function noop(): void {}
