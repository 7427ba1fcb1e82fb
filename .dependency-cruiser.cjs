/**
 * llmwatch's architecture, as rules (dependency-cruiser, run by `npm run lint:deps`
 * and by test/architecture.test.ts):
 *
 *   src/core/       the base layer: errors, conventions, HTTP toolkit, config, OpenAI
 *                   protocol, metering, Prometheus client, logger. It uses no part.
 *   src/<part>/     gateway, simulator, exporter, monitoring, responder, console,
 *                   instrument: each uses core/ and never another part.
 *   src/stack/, src/cli*.ts, src/index.ts
 *                   composition: they start and wire the parts together.
 *
 * See docs/architecture.md for the picture and where to add things.
 */
const PARTS = ['gateway', 'simulator', 'exporter', 'monitoring', 'responder', 'console', 'instrument'];
const part = `^src/(${PARTS.join('|')})/`;

module.exports = {
  forbidden: [
    {
      name: 'core-uses-no-part',
      comment: 'The base layer (src/core/) is what every part may use; it must not know any part or the composition above it.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: `^src/(?!core/)` },
    },
    {
      name: 'parts-are-siblings',
      comment:
        'A part (gateway, simulator, exporter, monitoring, responder, console, instrument) never imports another part: ' +
        'what two parts share belongs in src/core/, and wiring them together belongs in src/stack/ or src/cli.ts.',
      severity: 'error',
      from: { path: part },
      to: { path: part, pathNot: '^src/$1/' },
    },
    {
      name: 'parts-do-not-compose',
      comment: 'Parts never reach up into the composition layer (src/stack/, src/cli*.ts, src/index.ts).',
      severity: 'error',
      from: { path: `(${part})|^src/core/` },
      to: { path: '^src/(stack/|cli[^/]*\\.ts$|index\\.ts$)' },
    },
    {
      name: 'no-circular',
      comment: 'Flow runs one way: no module reaches itself again through its imports.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every relative import resolves to a file.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'], exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
