import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

/** Markdown text without fenced blocks (and, for links, code spans), where `](` is code, not a link. */
function prose(md: string, spans = false): string {
  const text = md.replace(/^```[\s\S]*?^```$/gm, '');
  return spans ? text : text.replace(/`[^`\n]*`/g, '');
}

function markdownFiles(): string[] {
  const docs = (dir: string): string[] => readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'images' ? [] : docs(join(dir, e.name))) : e.name.endsWith('.md') ? [join(dir, e.name)] : []));
  return ['README.md', ...docs('docs')];
}

/** Issue 20: a link in the docs that leads nowhere (a moved file, a renamed section) fails here. */
test('every relative link in README.md and docs/ reaches a file, and every #anchor a heading of it', () => {
  const files = markdownFiles();
  assert.ok(files.length > 10);
  const anchors = new Map(files.map((f) => [normalize(f), new Set([...prose(readFileSync(join(ROOT, f), 'utf8'), true).matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]!)))]));
  const broken: string[] = [];
  for (const f of files) {
    for (const m of prose(readFileSync(join(ROOT, f), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1]!;
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? normalize(f) : normalize(join(dirname(f), path));
      if (!existsSync(join(ROOT, target))) broken.push(`${f}: ${link} (no ${target})`);
      else if (anchor !== undefined && target.endsWith('.md') && !anchors.get(target)?.has(anchor)) broken.push(`${f}: ${link} (no heading #${anchor} in ${target})`);
    }
  }
  assert.deepEqual(broken, []);
});
