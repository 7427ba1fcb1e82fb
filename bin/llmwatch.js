#!/usr/bin/env node
// The llmwatch command.
// - Installed from the package (npm install llmwatch, the image): runs the built JavaScript in
//   dist/ with plain Node; the package ships no sources and no tsx.
// - In a source checkout (src/ beside this file, tsx installed as a dev dependency): runs the
//   TypeScript sources through tsx, so `npm start`, `npm run llmwatch` and the tests always run
//   what is in src/, never a stale build. LLMWATCH_DIST=1 runs dist/ from a checkout too
//   (after `npm run build`).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli.js', import.meta.url);
const fromSource = process.env.LLMWATCH_DIST !== '1' && existsSync(new URL('../src/cli.ts', import.meta.url));

if (fromSource) {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !existsSync(dist)) {
      console.error('llmwatch: this source checkout needs its dev dependencies (npm install) to run src/, or a build (npm run build) to run dist/.');
      throw err;
    }
  }
  if (tsx !== undefined) {
    tsx.register();
    await import('../src/cli.ts');
  } else {
    await import(dist.href);
  }
} else {
  await import(dist.href);
}
