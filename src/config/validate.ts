import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { CFG_ERR_INVALID, CFG_ERR_SYNTAX, CFG_ERR_UNREADABLE } from './errors.ts';

/**
 * Validates plain data against a schema, applies its defaults and freezes the
 * result. A failure names every field at fault: `models.llama.upstream: Required`.
 */
export function validateConfig<S extends z.ZodType>(schema: S, data: unknown, source = 'config'): Readonly<z.output<S>> {
  const result = schema.safeParse(data);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw CFG_ERR_INVALID(`Invalid ${source}:\n${lines.join('\n')}`, { cause: result.error });
  }
  return deepFreeze(result.data);
}

/** Reads a YAML or JSON file (YAML is a superset of JSON) and validates it. */
export function loadConfigFile<S extends z.ZodType>(schema: S, path: string): Readonly<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw CFG_ERR_UNREADABLE(`Cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw CFG_ERR_SYNTAX(`Config file ${path} is not valid YAML or JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateConfig(schema, data ?? {}, `config file ${path}`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
