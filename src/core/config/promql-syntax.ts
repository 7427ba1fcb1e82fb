import { parser } from '@prometheus-io/lezer-promql';

/**
 * Checks PromQL syntax with Prometheus' own grammar (the lezer parser its UI
 * uses); the first error's offset and the text there, or undefined when the
 * expression parses. Syntax only: metric names and functions' argument types
 * are Prometheus' to judge at query time.
 * @example promqlSyntaxError('sum(rate(x[5m])') // 'syntax error at offset 15: unexpected end of expression'
 */
export function promqlSyntaxError(expr: string): string | undefined {
  const tree = parser.parse(expr);
  let at: number | undefined;
  tree.iterate({
    enter(node) {
      if (at === undefined && node.type.isError) at = node.from;
      return at === undefined;
    },
  });
  if (at === undefined) return undefined;
  const near = expr.slice(at, at + 20);
  return `syntax error at offset ${at}: ${near === '' ? 'unexpected end of expression' : `near '${near}'`}`;
}
