/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests
 * that assert exact samples. It throws on any line it does not understand.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      help.set(rest.slice(0, sp), rest.slice(sp + 1));
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (l === null) throw new Error(`bad labels in: ${line}`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = m[4]!;
    // Prometheus reads floats as Go does, case-insensitively: prom-client writes NaN as `Nan`
    // (an event-loop gauge before its first sample, for one).
    const lower = raw.toLowerCase();
    const value = lower === '+inf' || lower === 'inf' ? Infinity : lower === '-inf' ? -Infinity : lower === 'nan' ? NaN : Number(raw);
    if (Number.isNaN(value) && lower !== 'nan') throw new Error(`bad value in: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, help, samples };
}

/** The value of the one sample with this name and exactly these labels, or undefined. */
export function sampleValue(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.keys(labels).length;
  for (const s of exp.samples) {
    if (s.name !== name) continue;
    if (Object.keys(s.labels).length !== want) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return undefined;
}

/** Sum over every sample with this name whose labels include `labels`. */
export function sumSamples(exp: Exposition, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of exp.samples) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Every distinct series key (`name{a="b",...}`, labels sorted), for cardinality checks. */
export function seriesKeys(exp: Exposition): Set<string> {
  return new Set(
    exp.samples.map(
      (s) =>
        `${s.name}{${Object.keys(s.labels)
          .sort()
          .map((k) => `${k}="${s.labels[k]}"`)
          .join(',')}}`,
    ),
  );
}
