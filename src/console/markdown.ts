/**
 * The Markdown the runbook writer produces, as HTML: headings, paragraphs,
 * tables, numbered and bulleted lists (with indented continuation lines and
 * code blocks inside items), fenced code, inline code and links. Not a general
 * Markdown renderer: everything is escaped, and only http(s) and relative
 * links become `href`s.
 */
export function markdownToHtml(markdown: string, title: string): string {
  const lines = markdown.replace(/<!--.*?-->\n*/gs, '').split('\n');
  const out: string[] = [];
  let i = 0;
  let list: 'ol' | 'ul' | undefined;
  const closeList = () => {
    if (list !== undefined) out.push(`</li></${list}>`);
    list = undefined;
  };
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = /^(\s*)```(\w*)$/.exec(line);
    if (fence !== null) {
      const indent = fence[1]!.length;
      const code: string[] = [];
      i++;
      while (i < lines.length && !/^\s*```$/.test(lines[i]!)) code.push(lines[i++]!.slice(indent));
      i++;
      if (indent === 0) closeList();
      out.push(`<pre><code${fence[2] ? ` class="language-${fence[2]}"` : ''}>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    const heading = /^(#{1,3}) (.*)$/.exec(line);
    if (heading !== null) {
      closeList();
      const level = heading[1]!.length;
      out.push(`<h${level}>${inline(heading[2]!)}</h${level}>`);
      i++;
      continue;
    }
    if (line.startsWith('|')) {
      closeList();
      const rows: string[][] = [];
      while (i < lines.length && lines[i]!.startsWith('|')) {
        const cells = splitRow(lines[i]!);
        if (!cells.every((c) => /^-+$/.test(c))) rows.push(cells);
        i++;
      }
      const [head, ...body] = rows;
      out.push(
        '<table>',
        `<thead><tr>${head!.map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead>`,
        `<tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</tbody>`,
        '</table>',
      );
      continue;
    }
    const item = /^(\d+\.|-) (.*)$/.exec(line);
    if (item !== null) {
      const kind = item[1] === '-' ? 'ul' : 'ol';
      if (list !== kind) {
        closeList();
        out.push(`<${kind}><li>`);
        list = kind;
      } else out.push('</li><li>');
      out.push(inline(item[2]!));
      i++;
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (list !== undefined && /^\s+/.test(line)) {
      out.push(`<p>${inline(line.trim())}</p>`);
      i++;
      continue;
    }
    closeList();
    const para: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '' && !/^(#|\||```|\d+\. |- )/.test(lines[i]!)) para.push(lines[i++]!.trim());
    out.push(`<p>${inline(para.join(' '))}</p>`);
  }
  closeList();
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<link rel="stylesheet" href="/assets/console.css">',
    '</head><body class="runbook-page"><main>',
    ...out,
    '<p><a href="/">Console</a></p>',
    '</main></body></html>',
    '',
  ].join('\n');
}

function splitRow(row: string): string[] {
  const cells: string[] = [];
  let cur = '';
  const body = row.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let k = 0; k < body.length; k++) {
    if (body[k] === '\\' && body[k + 1] === '|') {
      cur += '|';
      k++;
    } else if (body[k] === '|') {
      cells.push(cur.trim());
      cur = '';
    } else cur += body[k];
  }
  cells.push(cur.trim());
  return cells;
}

function inline(text: string): string {
  // Code spans first, so nothing inside them is read as a link.
  return text
    .split(/(`[^`]*`)/)
    .map((part) => {
      if (part.startsWith('`') && part.endsWith('`') && part.length >= 2) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      return escapeHtml(part).replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_m, label: string, href: string) =>
        safeHref(href) ? `<a href="${href}">${label}</a>` : `${label} (${href})`,
      );
    })
    .join('');
}

function safeHref(href: string): boolean {
  return /^https?:\/\//.test(href) || /^[A-Za-z0-9_./-]+(\?[^"<>\s]*)?$/.test(href);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
