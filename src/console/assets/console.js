// llmwatch console: draws the dashboard model from /api/dashboards with uPlot,
// reading Prometheus only through the console's own /api. Plain DOM, no framework.
'use strict';
(function consolePage() {
  const REFRESH_MS = 10_000;
  const TONES = { critical: '#d62728', warning: '#e8890c', info: '#1f77b4' };
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#d62728'];
  const state = { dashboards: [], variables: [], choice: {}, charts: new Map(), errors: new Map(), timer: null };

  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // ---- errors: a peer that does not answer goes to the banner, a failing query to its panel.
  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }
  async function api(path) {
    let res;
    try {
      res = await fetch(path, { headers: { accept: 'application/json' } });
    } catch (err) {
      setBanner('console', `The llmwatch console server is unreachable: ${err.message}`);
      throw new ApiError('the console server is unreachable', 0);
    }
    setBanner('console', null);
    const body = await res.json().catch(() => ({}));
    if (res.status === 502) {
      const msg = (body.error && body.error.message) || `HTTP 502 from ${path}`;
      setBanner(peerOf(path), msg);
      throw new ApiError(msg, 502);
    }
    if (path.startsWith('/api/query')) setBanner('prometheus', null);
    if (path.startsWith('/api/noise')) setBanner('noise', null);
    if (!res.ok || body.status === 'error') {
      throw new ApiError(body.error && body.error.message ? body.error.message : body.error || `HTTP ${res.status}`, res.status);
    }
    return body;
  }
  function peerOf(path) {
    return path.startsWith('/api/actions') ? 'responder' : path.startsWith('/api/noise') ? 'noise' : 'prometheus';
  }
  function setBanner(key, message) {
    if (message === null) state.errors.delete(key);
    else state.errors.set(key, message);
    const banner = $('banner');
    banner.textContent = [...state.errors.values()].join('\n');
    banner.hidden = state.errors.size === 0;
  }

  // ---- units
  function fmt(unit, v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    const n = (x, d) => Number(x.toFixed(d)).toString();
    const si = (x, units, base) => {
      let i = 0;
      while (Math.abs(x) >= base && i < units.length - 1) { x /= base; i++; }
      return `${n(x, 2)} ${units[i]}`;
    };
    switch (unit) {
      case 'seconds': return Math.abs(v) < 1 ? `${n(v * 1000, 1)} ms` : `${n(v, 2)} s`;
      case 'ratio': return `${n(v * 100, 2)}%`;
      case 'percent': return `${n(v, 1)}%`;
      case 'bytes': return si(v, ['B', 'KiB', 'MiB', 'GiB', 'TiB'], 1024);
      case 'bytesPerSecond': return `${si(v, ['B', 'KiB', 'MiB', 'GiB'], 1024)}/s`;
      case 'requestsPerSecond': return `${n(v, 2)} req/s`;
      case 'tokensPerSecond': return `${n(v, 1)} tok/s`;
      case 'perSecond': return `${n(v, 3)}/s`;
      case 'celsius': return `${n(v, 1)} °C`;
      case 'watts': return `${n(v, 1)} W`;
      default: return n(v, 2);
    }
  }

  // ---- variables: label values from Prometheus, substituted into `$name` in label matchers.
  const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  function substitute(expr) {
    return expr.replace(/\$(\w+)/g, (m, name) => {
      if (name === 'datasource') return m;
      const v = state.choice[name];
      return v === undefined || v === '' ? '.*' : escapeRegex(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    });
  }
  async function loadVariableValues(v, select) {
    let values = [];
    try {
      const body = await api(`/api/query?query=${encodeURIComponent(`group by (${v.labelName}) (${v.selector})`)}`);
      const capture = v.capture ? new RegExp(v.capture.replace(/^\/(.*)\/$/, '$1')) : null;
      values = body.data.result.map((r) => r.metric[v.labelName]).filter((x) => x !== undefined)
        .map((x) => (capture && capture.exec(x) ? capture.exec(x)[1] : x));
    } catch { /* shown by the banner */ }
    const current = select.value;
    select.replaceChildren(el('option', { value: '', text: 'All' }), ...[...new Set(values)].sort().map((x) => el('option', { value: x, text: x })));
    select.value = values.includes(current) ? current : '';
  }
  function renderVariables() {
    const seen = new Set();
    for (const d of state.dashboards) for (const v of d.variables) {
      if (v.kind !== 'labelValues' || seen.has(v.name)) continue;
      seen.add(v.name);
      state.variables.push(v);
    }
    const box = $('variables');
    for (const v of state.variables) {
      const select = el('select', { id: `var-${v.name}`, 'data-variable': v.name });
      select.append(el('option', { value: '', text: 'All' }));
      select.addEventListener('change', () => { state.choice[v.name] = select.value; refresh(); });
      box.append(el('label', {}, v.label, select));
      v.select = select;
    }
  }

  // ---- panels
  function renderDashboards() {
    const root = $('dashboards');
    for (const d of state.dashboards) {
      const section = el('section', { class: 'dashboard', id: d.uid }, el('h2', { text: d.title }));
      for (const row of d.rows) {
        section.append(el('h3', { text: row.title }));
        const grid = el('div', { class: 'grid' });
        for (const p of row.panels) {
          const card = el('div', { class: `panel ${p.kind}`, 'data-panel': `${d.uid}/${p.key}`, 'data-state': 'loading', title: p.description },
            el('h4', { text: p.title }), el('div', { class: 'plot' }), el('div', { class: 'note', text: 'loading…' }));
          card.style.gridColumn = `span ${Math.max(1, Math.min(24, p.width))}`;
          if (p.kind === 'timeseries') card.querySelector('.plot').style.minHeight = `${chartHeight(p)}px`;
          grid.append(card);
          p.card = card;
        }
        section.append(grid);
      }
      root.append(section);
    }
  }
  const chartHeight = (p) => Math.max(150, p.height * 24);
  function showState(card, s, note) {
    card.setAttribute('data-state', s);
    const n = card.querySelector('.note');
    n.textContent = note || '';
    n.hidden = !note;
  }
  function legendOf(template, metric) {
    return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] ?? '').trim() || JSON.stringify(metric);
  }
  function toneOf(p, v) {
    const t = p.threshold;
    if (p.valueText) { const m = p.valueText.find((x) => x.value === v); if (m) return m.tone; }
    if (!t || v === null) return 'ok';
    // As Grafana's step thresholds: the level itself is already beyond.
    return (t.direction === 'above' ? v >= t.value : v <= t.value) ? t.severity : 'ok';
  }

  async function drawStat(p) {
    try {
      const results = await Promise.all(p.queries.map((q) => api(`/api/query?query=${encodeURIComponent(substitute(q.expr))}`)));
      const values = results.flatMap((b, i) => b.data.result.map((r) => ({ legend: legendOf(p.queries[i].legend, r.metric), v: Number(r.value[1]) })))
        .filter(({ v }) => Number.isFinite(v));
      const plot = p.card.querySelector('.plot');
      if (values.length === 0) { plot.replaceChildren(); return showState(p.card, 'nodata', 'no data yet'); }
      plot.replaceChildren(...values.map(({ legend, v }) => {
        const text = p.valueText && p.valueText.find((x) => x.value === v);
        return el('div', { class: `value tone-${toneOf(p, v)}`, title: legend, text: text ? text.text : fmt(p.unit, v) });
      }));
      showState(p.card, 'data');
    } catch (err) {
      showState(p.card, 'error', err.status === 502 ? 'Prometheus unreachable' : `query failed: ${err.message}`);
    }
  }

  function thresholdPlugin(p) {
    const t = p.threshold;
    return {
      hooks: {
        draw: [(u) => {
          if (!t) return;
          const y = u.valToPos(t.value, 'y', true);
          if (!Number.isFinite(y)) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = TONES[t.severity] || TONES.warning;
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.restore();
        }],
      },
    };
  }

  async function drawSeries(p, start, end, step) {
    const plot = p.card.querySelector('.plot');
    let results;
    try {
      results = await Promise.all(p.queries.map((q) =>
        api(`/api/query_range?query=${encodeURIComponent(substitute(q.expr))}&start=${start}&end=${end}&step=${step}`)));
    } catch (err) {
      return showState(p.card, 'error', err.status === 502 ? 'Prometheus unreachable' : `query failed: ${err.message}`);
    }
    const series = results.flatMap((b, i) => b.data.result.map((r) => ({ label: legendOf(p.queries[i].legend, r.metric), values: r.values })));
    // Prometheus aligns every series on start + k*step; one shared x axis.
    const s0 = Number(results[0].data.result[0]?.values[0]?.[0] ?? start);
    const first = s0 - Math.ceil((s0 - start) / step) * step;
    const xs = [];
    for (let x = first; x <= end + 1e-9; x += step) xs.push(x);
    const index = new Map(xs.map((x, i) => [x.toFixed(3), i]));
    const data = [xs, ...series.map((s) => {
      const ys = new Array(xs.length).fill(null);
      // NaN (a quantile of no observations) and ±Inf are gaps, not points: uPlot cannot scale them.
      for (const [t, v] of s.values) { const i = index.get(Number(t).toFixed(3)); const n = Number(v); if (i !== undefined && Number.isFinite(n)) ys[i] = n; }
      return ys;
    })];
    const key = series.map((s) => s.label).join('\u0000');
    let chart = state.charts.get(p.card);
    if (data.slice(1).every((ys) => ys.every((y) => y === null))) {
      if (chart) { chart.u.destroy(); state.charts.delete(p.card); }
      plot.replaceChildren();
      return showState(p.card, 'nodata', 'no data yet');
    }
    if (chart && chart.key === key) {
      chart.u.setData(data);
    } else {
      if (chart) chart.u.destroy();
      plot.replaceChildren();
      const t = p.threshold;
      const opts = {
        width: Math.max(200, plot.clientWidth),
        height: chartHeight(p),
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false,
          value: (u, v) => fmt(p.unit, v) }))],
        axes: [{}, { size: 70, values: (u, ticks) => ticks.map((v) => fmt(p.unit, v)) }],
        scales: { y: { range: (u, min, max) => {
          const lo = Math.min(p.min ?? (min ?? 0), min ?? 0, t ? t.value : Infinity);
          const hi = Math.max(p.max ?? (max ?? 1), max ?? 0, t ? t.value : -Infinity);
          return hi > lo ? [lo, hi + (hi - lo) * 0.08] : [lo, lo + 1];
        } } },
        legend: { live: true },
        plugins: [thresholdPlugin(p)],
      };
      chart = { key, height: opts.height, u: new uPlot(opts, data, plot) };
      state.charts.set(p.card, chart);
    }
    showState(p.card, 'data');
  }

  // ---- alerts and actions
  function renderAlerts(body) {
    const box = $('alerts-body');
    const rows = body.prometheus.filter((a) => a.state === 'firing' || a.state === 'pending');
    const parts = [];
    if (rows.length === 0) parts.push(el('p', { class: 'muted', text: 'No alert is firing or pending.' }));
    else {
      parts.push(el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ...['alert', 'state', 'severity', 'labels', 'since', 'summary', 'runbook'].map((h) => el('th', { class: `col-${h}`, text: h })))),
        el('tbody', {}, ...rows.map((a) => el('tr', { 'data-alert': a.name, 'data-state': a.state },
          el('td', { text: a.name }),
          el('td', {}, el('span', { class: `badge ${a.state}`, text: a.state })),
          el('td', {}, el('span', { class: `badge ${a.severity}`, text: a.severity })),
          el('td', { class: 'col-labels', text: Object.entries(a.labels).filter(([k]) => !['alertname', 'severity'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ') }),
          el('td', { class: 'col-since', text: a.since ? new Date(a.since).toLocaleTimeString() : '' }),
          el('td', { class: 'col-summary', text: a.summary }),
          el('td', {}, a.runbookURL ? el('a', { class: 'runbook', href: a.runbookURL, target: '_blank', rel: 'noopener noreferrer', text: 'runbook' }) : '–'),
        ))))));
    }
    if (body.alertmanagerError) parts.push(el('p', { class: 'tone-critical', text: body.alertmanagerError }));
    else if (body.alertmanager) {
      const names = body.alertmanager.map((a) => `${a.name} (${a.state})`);
      parts.push(el('p', { class: 'muted', id: 'alertmanager-alerts', text: `In Alertmanager: ${names.length === 0 ? 'none' : names.join(', ')}` }));
    }
    box.className = '';
    box.replaceChildren(...parts);
  }
  function renderActions(body) {
    const box = $('actions-body');
    const actions = body.actions || [];
    if (actions.length === 0) { box.className = 'muted'; box.textContent = 'No action yet.'; return; }
    box.className = 'table-wrap';
    box.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ...['time', 'alert', 'action', 'target', 'outcome', 'detail'].map((h) => el('th', { text: h })))),
      el('tbody', {}, ...actions.map((a) => el('tr', { 'data-action': a.action },
        el('td', { text: new Date(a.startedAt).toLocaleTimeString() }),
        el('td', { text: `${a.alertname} (${a.alertStatus})` }),
        el('td', { text: a.dryRun ? `${a.action} (dry run)` : a.action }),
        el('td', { text: a.target }),
        el('td', { text: a.outcome }),
        el('td', { text: a.detail }),
      )))));
  }

  function renderDrills(body) {
    const box = $('drills-body');
    const results = body.results || [];
    if (results.length === 0) { box.className = 'muted'; box.textContent = body.error || 'No drill yet: run llmwatch drill all'; return; }
    const t = (v, bound) => (v === undefined || v === null ? `– (≤ ${Math.round(bound)} s)` : `${v.toFixed(1)} s (≤ ${Math.round(bound)} s)`);
    box.className = 'table-wrap';
    box.replaceChildren(
      el('p', { class: 'muted', text: `run at ${new Date(body.at).toLocaleString()}` }),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['scenario', 'alert', 'fire', 'action', 'resolve', 'result'].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...results.map((r) => el('tr', { 'data-drill': r.scenario },
          el('td', { text: r.scenario }),
          el('td', { text: r.alert }),
          el('td', { text: r.skipped ? '' : t(r.fire, r.fireBound) }),
          el('td', { text: r.skipped ? '' : t(r.action, r.actionBound) }),
          el('td', { text: r.skipped ? '' : t(r.resolve, r.resolveBound) }),
          el('td', {}, el('span', { class: `badge ${r.skipped ? 'info' : r.ok ? 'ok' : 'critical'}`, text: r.skipped ? 'skipped' : r.ok ? 'ok' : `failed: ${r.problems.join('; ')}` })),
        )))));
  }

  // The same figures as `llmwatch noise`, over the page's range.
  function renderNoise(body) {
    const box = $('noise-body');
    const alerts = body.alerts || [];
    const dur = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)}h` : s >= 60 ? `${Math.round(s / 60)}m` : `${Math.round(s)}s`);
    const acted = (a) => (a ? String(a.success + a.failure + a.dryRun) + (a.failure > 0 ? ` (${a.failure} failed)` : '') : '');
    const pagers = body.pagers && body.pagers.length > 0 ? body.pagers.join(', ') : 'no receiver';
    const note = el('p', { class: 'muted', text: `${new Date(body.start).toLocaleString()} – ${new Date(body.end).toLocaleString()}; pages: notification groups opened on ${pagers}; a flap re-fires within ${dur(body.flapWindowSeconds)}` });
    if (alerts.length === 0) { box.className = 'muted'; box.replaceChildren(note, el('p', { text: 'No alert fired in this range.' })); return; }
    const head = ['alert', 'severity', 'series', 'fired', 'firing', 'flaps', 'inhibited', 'muted', 'grouped', 'pages', 'pages/day', 'actions'];
    const cells = (a, name) => [name, (a.severities || []).join(','), a.series === undefined ? '' : String(a.series), String(a.fired), dur(a.firingSeconds), String(a.flaps), String(a.inhibited), String(a.muted), String(a.grouped), String(a.pages), String(a.pagesPerDay), acted(a.actions)];
    box.className = 'table-wrap';
    box.replaceChildren(note, el('table', {},
      el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { text: h })))),
      el('tbody', {},
        ...alerts.map((a) => el('tr', { 'data-noise': a.alertname }, ...cells(a, a.alertname).map((c) => el('td', { text: c })))),
        el('tr', { 'data-noise': 'total', class: 'total' }, ...cells(body.totals, 'total').map((c) => el('td', { text: c })))),
    ));
  }

  async function refresh() {
    clearTimeout(state.timer);
    const range = Number($('range').value);
    const end = Math.floor(Date.now() / 1000);
    const start = end - range;
    const step = Math.max(1, Math.ceil(range / 300));
    await Promise.all(state.variables.map((v) => loadVariableValues(v, v.select)));
    const jobs = [];
    for (const d of state.dashboards) for (const row of d.rows) for (const p of row.panels) {
      jobs.push(p.kind === 'stat' ? drawStat(p) : drawSeries(p, start, end, step));
    }
    jobs.push(api('/api/alerts').then(renderAlerts, (err) => {
      $('alerts-body').className = 'tone-critical';
      $('alerts-body').textContent = `Alerts unavailable: ${err.message}`;
    }));
    jobs.push(api('/api/drills').then(renderDrills, (err) => {
      $('drills-body').className = 'muted';
      $('drills-body').textContent = `Drill results unavailable: ${err.message}`;
    }));
    jobs.push(api(`/api/noise?range=${Math.max(60, range)}`).then(renderNoise, (err) => {
      $('noise-body').className = 'muted';
      $('noise-body').textContent = err.status === 404 ? 'No alert noise here: the console was started without a stack.' : `Alert noise unavailable: ${err.message}`;
    }));
    jobs.push(api('/api/actions').then(renderActions, (err) => {
      $('actions-body').className = 'muted';
      $('actions-body').textContent = err.status === 404 ? 'No responder configured.' : `Actions unavailable: ${err.message}`;
    }));
    await Promise.allSettled(jobs);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.setAttribute('data-refreshed', String(Date.now()));
    state.timer = setTimeout(refresh, REFRESH_MS);
  }

  async function start() {
    try {
      state.dashboards = (await api('/api/dashboards')).dashboards;
    } catch (err) {
      setBanner('console', `Cannot load the dashboards: ${err.message}`);
      return;
    }
    renderVariables();
    renderDashboards();
    $('range').addEventListener('change', refresh);
    let resizeTimer;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const [card, c] of state.charts) {
          c.u.setSize({ width: Math.max(200, card.querySelector('.plot').clientWidth), height: c.height });
        }
      }, 150);
    });
    await refresh();
  }
  start();
})();
