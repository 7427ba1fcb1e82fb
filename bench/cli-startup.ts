/**
 * Start-up time of `llmwatch --help`: through tsx from the sources (how a
 * clone runs it) against the built dist/ (how the package runs it), alternated.
 *
 *   npm run build && npm run bench:startup            # 10 runs each
 *   npm run bench:startup -- --runs 20
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const RUNS = Number(args.runs);
const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../dist/cli.js', import.meta.url))) throw new Error('No dist/: run npm run build first');

const modes = { 'tsx (sources)': {}, 'dist (built)': { LLMWATCH_DIST: '1' } };
const times = new Map<string, number[]>(Object.keys(modes).map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [mode, env] of Object.entries(modes)) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['bin/llmwatch.js', '--help'], { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${mode}: exit ${r.status}`);
    times.get(mode)!.push(performance.now() - t0);
  }
}
console.log(`llmwatch --help start-up, ${RUNS} runs each, alternated (node ${process.version})`);
for (const [mode, xs] of times) {
  xs.sort((a, b) => a - b);
  console.log(`${mode}: median ${xs[Math.floor(xs.length / 2)]!.toFixed(0)} ms, min ${xs[0]!.toFixed(0)} ms, max ${xs.at(-1)!.toFixed(0)} ms`);
}
