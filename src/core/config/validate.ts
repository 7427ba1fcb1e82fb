import { YAMLParseError, parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { CFG_ERR_INVALID, CFG_ERR_SYNTAX } from './errors.ts';
import { readTextFile } from './secrets.ts';

/**
 * Validates plain data against a schema, applies its defaults and freezes the
 * result. A failure names every field at fault on one line:
 * `Invalid config file gw.yaml: models.llama.upstream: Required; colour: unknown field, remove it or check its spelling`.
 */
export function validateConfig<S extends z.ZodType>(schema: S, data: unknown, source = 'config'): Readonly<z.output<S>> {
  const result = schema.safeParse(data);
  if (!result.success) {
    throw CFG_ERR_INVALID(`Invalid ${source}: ${zodProblems(result.error).join('; ')}`, { cause: result.error });
  }
  return deepFreeze(result.data);
}

/**
 * One line per field at fault, `path.to.field: why` (`(root)` for the value
 * itself); an unknown key is named itself, with the fix. Every zod failure a
 * user or a client sees is worded by this.
 */
export function zodProblems(error: z.ZodError): string[] {
  return error.issues.flatMap((i) => {
    const at = (key?: PropertyKey) => [...i.path, ...(key === undefined ? [] : [key])].map(String).join('.') || '(root)';
    // zod reports unknown keys on their parent; name each key itself, with the fix
    // (unless the schema gave its own message, such as the list of known alerts).
    if (i.code === 'unrecognized_keys' && i.message.startsWith('Unrecognized key')) return i.keys.map((k) => `${at(k)}: unknown field, remove it or check its spelling`);
    return [`${at()}: ${i.message}`];
  });
}

/**
 * Reads and parses a YAML or JSON file (YAML is a superset of JSON). A file
 * that cannot be read, or is not YAML, stops with a message naming the file,
 * and for a syntax error its line and column: `llmwatch.yaml:3:2: ...`.
 * An empty file is `{}`.
 */
export function readYamlFile(path: string): unknown {
  const text = readTextFile(path, 'config file', '; check the path');
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      // yaml appends " at line L, column C:" and a code frame; the position goes in front instead.
      const reason = err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim();
      const where = pos === undefined ? path : `${path}:${pos.line}:${pos.col}`;
      throw CFG_ERR_SYNTAX(`${where}: not valid YAML: ${reason}; fix the file there and run again`, { cause: err });
    }
    throw CFG_ERR_SYNTAX(`${path}: not valid YAML or JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a YAML or JSON file and validates it. */
export function loadConfigFile<S extends z.ZodType>(schema: S, path: string): Readonly<z.output<S>> {
  return validateConfig(schema, readYamlFile(path), `config file ${path}`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
