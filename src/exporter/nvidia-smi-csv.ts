import { EXP_ERR_PARSE } from './errors.ts';

/** The fields the exporter asks nvidia-smi for, in column order (`nvidia-smi --help-query-gpu`). */
export const QUERY_FIELDS = ['index', 'uuid', 'name', 'memory.used', 'memory.total', 'utilization.gpu', 'temperature.gpu', 'power.draw'] as const;

/** nvidia-smi's arguments: one CSV line per GPU, no header, no units (MiB, %, °C, W). */
export const QUERY_ARGS: readonly string[] = Object.freeze([`--query-gpu=${QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits']);

/** One GPU's readings; a value nvidia-smi could not give is `undefined`, never 0. */
export interface GpuReading {
  /** nvidia-smi's index, the `gpu` label. */
  readonly index: string;
  readonly uuid: string;
  /** Product name, e.g. `NVIDIA H100 80GB HBM3`. */
  readonly name: string;
  readonly memoryUsedBytes: number | undefined;
  readonly memoryTotalBytes: number | undefined;
  /** 0..1. */
  readonly utilisation: number | undefined;
  readonly temperatureCelsius: number | undefined;
  readonly powerWatts: number | undefined;
}

const MIB = 1024 * 1024;
const NUMBER = /^-?\d+(\.\d+)?$/;
const INDEX = /^\d+$/;
/** Columns after `name`: memory.used, memory.total, utilization.gpu, temperature.gpu, power.draw. */
const TRAILING = QUERY_FIELDS.length - 3;

/**
 * True for what nvidia-smi prints in place of a value it cannot read: `[N/A]`,
 * `[Not Supported]`, `[Unknown Error]`, `[GPU requires reset]`, any other
 * bracketed note, a bare `N/A` (older drivers), or nothing at all.
 */
export function isUnavailable(cell: string): boolean {
  return cell === '' || cell === 'N/A' || (cell.startsWith('[') && cell.endsWith(']'));
}

/**
 * Parses the output of `nvidia-smi` run with {@link QUERY_ARGS}. nvidia-smi's
 * CSV has no quoting (`0, GPU-8f6e..., NVIDIA H100 80GB HBM3, 1234, 81559, 12, 35, 70.50`),
 * so a comma in a product name cannot be told from a separator by splitting:
 * the first two and the last five columns are fixed, and whatever lies between
 * them is the name. Output that is not this CSV is refused whole
 * (`EXP_ERR_PARSE`), never half-read.
 * @example
 * parseNvidiaSmiCsv('0, GPU-8f6e, NVIDIA H100 80GB HBM3, 1234, 81559, [N/A], 35, 70.50\n')
 * // [{ index: '0', ..., memoryUsedBytes: 1293942784, utilisation: undefined, ... }]
 */
export function parseNvidiaSmiCsv(stdout: string): GpuReading[] {
  const readings: GpuReading[] = [];
  const seen = new Set<string>();
  const lines = stdout.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const reading = parseLine(line, i + 1);
    if (seen.has(reading.index)) throw EXP_ERR_PARSE(`line ${i + 1}: GPU index ${reading.index} appears twice`);
    seen.add(reading.index);
    readings.push(reading);
  });
  if (readings.length === 0) throw EXP_ERR_PARSE('nvidia-smi exited 0 but printed no GPU');
  return readings;
}

function parseLine(line: string, n: number): GpuReading {
  const commas = [...line.matchAll(/,/g)].map((m) => m.index);
  if (commas.length < QUERY_FIELDS.length - 1) {
    const found = commas.length + 1;
    throw EXP_ERR_PARSE(`line ${n}: ${found} column${found === 1 ? '' : 's'} where ${QUERY_FIELDS.length} were asked for: ${quote(line)}`);
  }
  const nameEnd = commas[commas.length - TRAILING]!;
  const index = line.slice(0, commas[0]).trim();
  const uuid = line.slice(commas[0]! + 1, commas[1]).trim();
  const name = line.slice(commas[1]! + 1, nameEnd).trim();
  const [used, total, util, temp, power] = line
    .slice(nameEnd + 1)
    .split(',')
    .map((c) => c.trim()) as [string, string, string, string, string];
  if (!INDEX.test(index)) throw EXP_ERR_PARSE(`line ${n}: index ${quote(index)} is not a GPU index: ${quote(line)}`);
  if (isUnavailable(uuid)) throw EXP_ERR_PARSE(`line ${n}: GPU ${index} has no UUID: ${quote(line)}`);
  const value = (cell: string, field: (typeof QUERY_FIELDS)[number]): number | undefined => {
    if (isUnavailable(cell)) return undefined;
    if (!NUMBER.test(cell)) throw EXP_ERR_PARSE(`line ${n}: ${field} of GPU ${index} is ${quote(cell)}, not a number: ${quote(line)}`);
    return Number(cell);
  };
  const usedMiB = value(used, 'memory.used');
  const totalMiB = value(total, 'memory.total');
  const utilPercent = value(util, 'utilization.gpu');
  return {
    index,
    uuid,
    name: isUnavailable(name) ? '' : name,
    memoryUsedBytes: usedMiB === undefined ? undefined : usedMiB * MIB,
    memoryTotalBytes: totalMiB === undefined ? undefined : totalMiB * MIB,
    utilisation: utilPercent === undefined ? undefined : utilPercent / 100,
    temperatureCelsius: value(temp, 'temperature.gpu'),
    powerWatts: value(power, 'power.draw'),
  };
}

/** A line quoted for an error message, cut short: garbage can be long. */
function quote(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}...` : s);
}
