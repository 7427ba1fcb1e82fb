import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { MonitoringSpec } from '../core/config/monitoring-spec.ts';
import { buildModel } from './build.ts';
import { GEN_ERR_EMPTY_OUTPUT, GEN_ERR_UNMARKED } from './errors.ts';
import { GENERATED_MARK } from './model.ts';
import type { GeneratedFile } from './model.ts';
import { renderAlertmanager } from './writers/alertmanager.ts';
import { renderCompose } from './writers/compose.ts';
import { renderGrafana } from './writers/grafana.ts';
import { renderKubeDeploy } from './writers/kube-deploy.ts';
import { renderKubernetes } from './writers/kubernetes.ts';
import { renderPrometheusConfig } from './writers/prometheus-config.ts';
import { renderRunbooks } from './writers/runbooks.ts';
import { renderPromtoolTests, renderRules } from './writers/rules.ts';

export { GENERATED_MARK };

/**
 * The generator pipeline: spec -> model -> every writer -> files with the
 * DO NOT EDIT header, sorted by path. The same spec gives the same bytes.
 */
export function generate(spec: Readonly<MonitoringSpec>): GeneratedFile[] {
  const model = buildModel(spec);
  const files = [
    ...renderRules(model),
    ...renderPromtoolTests(model),
    ...renderPrometheusConfig(model),
    ...renderAlertmanager(model),
    ...renderRunbooks(model),
    ...renderKubernetes(model),
    ...renderKubeDeploy(model),
    ...renderCompose(model),
    ...renderGrafana(model),
  ];
  if (files.length === 0) throw GEN_ERR_EMPTY_OUTPUT('The spec generated no file');
  for (const f of files) {
    if (f.content.trim().length === 0) throw GEN_ERR_EMPTY_OUTPUT(`The generator produced an empty ${f.path}`);
  }
  return files.map((f) => ({ path: f.path, content: withHeader(f) })).sort((a, b) => (a.path < b.path ? -1 : 1));
}

function withHeader(f: GeneratedFile): string {
  if (f.path.endsWith('.md')) return `<!-- ${GENERATED_MARK} -->\n\n${f.content}`;
  if (f.path.endsWith('.json')) {
    // JSON has no comments: the writer puts the mark in the content (a dashboard's description),
    // and without it the file would never be found stale and removed.
    if (!f.content.includes(GENERATED_MARK)) throw GEN_ERR_UNMARKED(`${f.path} does not carry '${GENERATED_MARK}' in its content`);
    return f.content;
  }
  return `# ${GENERATED_MARK}\n${f.content}`;
}

/**
 * Writes the files under `dir`, and removes files there that carry the
 * generated mark but are no longer generated (a renamed alert's runbook).
 * Hand-written files in `dir` are left alone.
 */
export function writeGenerated(dir: string, files: readonly GeneratedFile[]): { written: number; removed: string[] } {
  const keep = new Set(files.map((f) => f.path));
  const removed: string[] = [];
  for (const path of listFiles(dir)) {
    if (!keep.has(path) && readFileSync(join(dir, path), 'utf8').includes(GENERATED_MARK)) {
      rmSync(join(dir, path));
      removed.push(path);
    }
  }
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.content);
  }
  return { written: files.length, removed };
}

/** Paths under `dir` that differ from what the spec generates: changed, missing, or stale generated files. */
export function diffGenerated(dir: string, files: readonly GeneratedFile[]): string[] {
  const want = new Map(files.map((f) => [f.path, f.content]));
  const differ: string[] = [];
  for (const [path, content] of want) {
    let have: string | undefined;
    try {
      have = readFileSync(join(dir, path), 'utf8');
    } catch {
      have = undefined;
    }
    if (have !== content) differ.push(path);
  }
  for (const path of listFiles(dir)) {
    if (!want.has(path) && readFileSync(join(dir, path), 'utf8').includes(GENERATED_MARK)) differ.push(path);
  }
  return differ.sort();
}

function listFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
}
