// The AnomalyMeta dashboard: plain JS over the service's own JSON API (/api/...), routed by the URL's hash so every
// view (filters included) is a link: #/?date=...&tag=k=v, #/runs, #/series/{key}/{date}.
'use strict';

const $ = (selector) => document.querySelector(selector);

function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function fmt(value, digits = 3) {
  return value === null || value === undefined ? '–' : Number(value).toPrecision(digits);
}

function time(iso) {
  return iso.replace('T', ' ').replace(/:00(\.0+)?Z$|Z$/, '');
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body?.detail ?? `${path}: HTTP ${response.status}`);
  }
  return body;
}

function showError(error) {
  const box = $('#error');
  box.textContent = error ? String(error.message ?? error) : '';
  box.hidden = !error;
}

function show(view) {
  for (const section of document.querySelectorAll('main > section')) {
    section.hidden = section.id !== `view-${view}`;
  }
}

function seriesLink(key, date) {
  return `#/series/${encodeURIComponent(key)}/${date}`;
}

// ---- Anomalies of a day, filters, drill-down by tag -------------------------------------------------------------

let listQuery = new URLSearchParams();
let nextToken = null;
let drillKey = null;

function readFilters(query) {
  $('#f-date').value = query.get('date') ?? '';
  $('#f-cluster').value = query.get('cluster') ?? '';
  $('#f-tag').value = query.get('tag') ?? '';
  $('#f-min-score').value = query.get('minScore') ?? '';
  $('#f-q').value = query.get('q') ?? '';
}

function filtersFromForm() {
  const query = new URLSearchParams();
  for (const [name, id] of [['date', '#f-date'], ['cluster', '#f-cluster'], ['tag', '#f-tag'], ['minScore', '#f-min-score'], ['q', '#f-q']]) {
    const value = $(id).value.trim();
    if (value) {
      query.set(name, value);
    }
  }
  return query;
}

function anomalyRow(item, rank) {
  const tags = Object.entries(item.tags ?? {}).map(([k, v]) => `<span class="tag">${escapeHtml(k)}=${escapeHtml(v)}</span>`).join('');
  const cluster = item.clusterId === null ? '–' : `${item.clusterId}`;
  return `<tr class="clickable" data-series="${escapeHtml(item.seriesKey)}" data-date="${item.asOf}">
    <td class="num">${rank}</td>
    <td><a href="${seriesLink(item.seriesKey, item.asOf)}">${escapeHtml(item.seriesKey)}</a></td>
    <td>${escapeHtml(time(item.ts))}</td>
    <td class="num score">${item.score.toFixed(3)}</td>
    <td class="num">${fmt(item.value, 4)}</td>
    <td class="num">${fmt(item.forecast, 4)}</td>
    <td class="num">${fmt(item.lowerBand, 4)} … ${fmt(item.upperBand, 4)}</td>
    <td class="num">${cluster}</td>
    <td>${tags}</td></tr>`;
}

async function loadAnomalies(query, append) {
  const params = new URLSearchParams(query);
  params.set('limit', '50');
  if (append && nextToken) {
    params.set('after', nextToken);
  }
  const page = await getJson(`/api/anomalies?${params}`);
  const body = $('#anomalies tbody');
  const start = append ? body.rows.length : 0;
  const rows = page.items.map((item, i) => anomalyRow(item, start + i + 1)).join('');
  if (append) {
    body.insertAdjacentHTML('beforeend', rows);
  } else {
    body.innerHTML = rows;
  }
  nextToken = page.next;
  $('#next-page').hidden = !page.next;
  $('#list-empty').hidden = body.rows.length > 0;
  $('#list-date').textContent = page.date ?? 'no scored day yet';
  if (page.date && !$('#f-date').value) {
    $('#f-date').value = page.date;
  }
  return page.date;
}

async function loadTagCounts(date) {
  const body = $('#tag-counts tbody');
  if (!date) {
    body.innerHTML = '';
    return;
  }
  const counts = await getJson(`/api/anomalies/tags?date=${date}`);
  const keys = [...new Set(counts.counts.map((c) => c.key))];
  if (!keys.includes(drillKey)) {
    drillKey = keys[0] ?? null;
  }
  $('#drill-key').innerHTML = keys.map((k) => `<option ${k === drillKey ? 'selected' : ''}>${escapeHtml(k)}</option>`).join('');
  $('#drill-totals').textContent = `${counts.anomalies} flags on ${counts.series} series` + (keys.length ? '' : '; no flagged series has tags');
  body.innerHTML = counts.counts.filter((c) => c.key === drillKey).map((c) =>
    `<tr class="clickable tag-value" data-tag="${escapeHtml(`${c.key}=${c.value}`)}">
      <td>${escapeHtml(c.value)}</td><td class="num">${c.anomalies}</td><td class="num">${c.series}</td></tr>`).join('');
}

async function showAnomalies(query) {
  show('anomalies');
  listQuery = query;
  readFilters(query);
  const date = await loadAnomalies(query, false);
  await loadTagCounts(date);
}

function navigate(hash) {
  if (location.hash === hash) {
    render(route);
  } else {
    location.hash = hash;
  }
}

$('#filters').addEventListener('submit', (event) => {
  event.preventDefault();
  navigate(`#/?${filtersFromForm()}`);
});
$('#f-clear').addEventListener('click', () => {
  location.hash = '#/';
});
$('#next-page').addEventListener('click', () => render(() => loadAnomalies(listQuery, true)));
$('#anomalies tbody').addEventListener('click', (event) => {
  const row = event.target.closest('tr[data-series]');
  if (row && !event.target.closest('a')) {
    location.hash = seriesLink(row.dataset.series, row.dataset.date);
  }
});
$('#drill-key').addEventListener('change', (event) => {
  drillKey = event.target.value;
  render(() => loadTagCounts($('#f-date').value));
});
$('#tag-counts tbody').addEventListener('click', (event) => {
  const row = event.target.closest('tr[data-tag]');
  if (row) {
    // Drill down: the list keeps its other filters and narrows to the tag value.
    const query = filtersFromForm();
    query.set('tag', row.dataset.tag);
    navigate(`#/?${query}`);
  }
});

// ---- Run ledger ---------------------------------------------------------------------------------------------------

async function showRuns() {
  show('runs');
  const runs = await getJson('/api/runs/statuses?limit=50');
  $('#runs tbody').innerHTML = runs.map(({ run, statusCounts, live }) => {
    const counts = Object.entries(statusCounts).map(([status, n]) => `<span class="status ${escapeHtml(status)}">${escapeHtml(status)} ${n}</span>`).join('');
    return `<tr data-run="${run.runId}">
      <td class="num">${run.runId}</td><td>${escapeHtml(run.kind)}</td>
      <td><a href="#/?date=${run.asOf}">${run.asOf}</a></td>
      <td><span class="status ${escapeHtml(run.status)}">${escapeHtml(run.status)}</span></td>
      <td class="status-counts">${counts}${live ? ' <span class="muted">(so far)</span>' : ''}</td>
      <td class="num">${run.anomaliesWritten}</td>
      <td class="num">${run.elapsedMs === null ? '–' : (run.elapsedMs / 1000).toFixed(1)}</td>
      <td>${escapeHtml(run.triggeredBy)}</td></tr>`;
  }).join('');
}

// ---- One series' day: window, forecast band, actual values, flags, status history --------------------------------

let chart = null;

function drawChart(day) {
  const step = day.stepSeconds;
  const windowStart = Date.parse(day.windowStart) / 1000;
  const w = day.window.length;
  const n = w + day.actual.length;
  const xs = Array.from({ length: n }, (_, i) => windowStart + (i * step));
  const pad = new Array(w).fill(null);
  const flagged = new Array(n).fill(null);
  for (const flag of day.flags) {
    flagged[w + flag.index] = flag.value;
  }
  const data = [xs, [...day.window, ...day.actual], [...pad, ...day.forecast], [...pad, ...day.lower], [...pad, ...day.upper], flagged];
  const dayStart = Date.parse(day.dayStart) / 1000;
  const box = $('#chart-box');
  const layer = $('#flag-layer');

  const shadeWindow = (u) => {
    // The adaptation window: the K points the model adapted on before forecasting the day.
    const x0 = u.valToPos(windowStart, 'x', true);
    const x1 = u.valToPos(dayStart, 'x', true);
    u.ctx.save();
    u.ctx.fillStyle = 'rgba(120, 120, 120, 0.15)';
    u.ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
    u.ctx.restore();
  };
  const placeMarkers = (u) => {
    // One element per flag over its point, so a flag is visible (and findable) outside the canvas too.
    const over = u.over.getBoundingClientRect();
    const outer = box.getBoundingClientRect();
    layer.innerHTML = '';
    for (const flag of day.flags) {
      const i = w + flag.index;
      const marker = document.createElement('div');
      marker.className = 'flag-marker';
      marker.dataset.ts = flag.ts;
      marker.dataset.value = String(flag.value);
      marker.title = `${time(flag.ts)}: ${flag.value} (score ${flag.score.toFixed(3)})`;
      marker.style.left = `${over.left - outer.left + u.valToPos(xs[i], 'x')}px`;
      marker.style.top = `${over.top - outer.top + u.valToPos(flag.value, 'y')}px`;
      layer.appendChild(marker);
    }
  };

  const options = {
    width: Math.min(1100, document.body.clientWidth - 60),
    height: 380,
    scales: { x: { time: true } },
    series: [
      {},
      { label: 'actual', stroke: '#222', width: 1.5 },
      { label: 'forecast', stroke: '#1f77b4', width: 1.5, dash: [6, 4] },
      { label: 'lower', stroke: 'rgba(31, 119, 180, 0.35)', width: 1 },
      { label: 'upper', stroke: 'rgba(31, 119, 180, 0.35)', width: 1 },
      { label: 'flagged', stroke: '#d62728', fill: '#d62728', width: 0, paths: () => null, points: { show: true, size: 9, fill: '#d62728', stroke: '#d62728' } },
    ],
    bands: [{ series: [4, 3], fill: 'rgba(31, 119, 180, 0.18)' }],
    hooks: { drawClear: [shadeWindow], draw: [placeMarkers] },
  };
  if (chart) {
    chart.destroy();
  }
  chart = new uPlot(options, data, $('#chart'));
  window.anomalyChart = chart;
  box.dataset.flags = String(day.flags.length);
}

async function showSeries(key, date) {
  show('series');
  const day = await getJson(`/api/series/${encodeURIComponent(key)}/days/${date}`);
  $('#series-title').textContent = `${day.seriesKey} on ${day.date}`;
  $('#series-meta').textContent = `${day.status}${day.detail ? ` (${day.detail})` : ''}; ${day.runKind} run ${day.runId}; model ${day.model}; `
    + `window of ${day.seasonLength} points; ${day.flags.length} flagged; band ± ${fmt(day.bandHalfWidth, 4)}`;
  $('#series-back').href = `#/?date=${day.date}`;
  drawChart(day);
  $('#series-flags tbody').innerHTML = day.flags.map((f) =>
    `<tr><td>${escapeHtml(time(f.ts))}</td><td class="num">${fmt(f.value, 4)}</td><td class="num">${fmt(f.forecast, 4)}</td>
      <td class="num">${fmt(f.lowerBand, 4)} … ${fmt(f.upperBand, 4)}</td><td class="num">${f.score.toFixed(3)}</td><td class="num">${f.runId}</td></tr>`).join('');
  $('#series-history tbody').innerHTML = day.history.map((h) =>
    `<tr><td class="num">${h.runId}</td><td>${escapeHtml(h.kind)}</td><td>${h.asOf}</td><td><span class="status ${escapeHtml(h.status)}">${escapeHtml(h.status)}</span></td>
      <td>${escapeHtml(h.detail ?? '')}</td><td class="num">${h.pointsScored}</td><td class="num">${h.anomalyCount}</td></tr>`).join('');
}

// ---- Routing --------------------------------------------------------------------------------------------------------

// Runs one view change; body[data-ready] is 'false' while it runs and 'true' once it has rendered (or failed, with the
// error shown): what a browser test waits for.
async function render(work) {
  showError(null);
  document.body.dataset.ready = 'false';
  try {
    await work();
  } catch (error) {
    showError(error);
  } finally {
    document.body.dataset.ready = 'true';
  }
}

async function route() {
  const hash = location.hash || '#/';
  const series = hash.match(/^#\/series\/([^/]+)\/(\d{4}-\d{2}-\d{2})$/);
  if (series) {
    await showSeries(decodeURIComponent(series[1]), series[2]);
  } else if (hash.startsWith('#/runs')) {
    await showRuns();
  } else {
    const at = hash.indexOf('?');
    await showAnomalies(new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)));
  }
}

window.addEventListener('hashchange', () => render(route));
render(route);
