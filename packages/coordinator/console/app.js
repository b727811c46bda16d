// The Tally console: one page, no build step. It reads the coordinator's state from
// /api/events (Server-Sent Events read with fetch, so the token travels in the
// Authorization header and never in a URL), and talks to no other origin (the
// server's Content-Security-Policy says connect-src 'self').
'use strict';

const TOKEN_KEY = 'tally-console-token';
const $ = (sel) => document.querySelector(sel);

/** The token: from the URL fragment once (then removed from the address bar), else this tab's storage. */
function takeToken() {
  const m = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

let token = takeToken();
/** Bumped when the token changes: an older stream stops. */
let generation = 0;
let state = null;
let receivedAt = 0;
const charts = new Map();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? '' : String(c)));
  return e;
}

function ago(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 2) return 'now';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function showAuth(why) {
  $('#app').hidden = true;
  $('#auth').hidden = false;
  if (why) $('#auth-why').textContent = why;
  setLive(false, 'no token');
}

function setLive(on, text) {
  const live = $('#live');
  live.className = `pill ${on ? 'on' : 'off'}`;
  live.textContent = text;
}

function authHeaders() {
  return { authorization: `Bearer ${token}` };
}

// ---- the event stream -------------------------------------------------------------

function restart() {
  generation++;
  stream(generation);
}

async function stream(gen) {
  if (gen !== generation) return;
  if (!token) return showAuth();
  const retry = () => setTimeout(() => stream(gen), 2000);
  let res;
  try {
    res = await fetch('/api/events', { headers: authHeaders(), cache: 'no-store' });
  } catch {
    setLive(false, 'offline: retrying');
    return retry();
  }
  if (gen !== generation) return res.body?.cancel();
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    return showAuth('The coordinator refused this token. Paste the current one.');
  }
  if (!res.ok || !res.body) {
    setLive(false, `error ${res.status}: retrying`);
    return retry();
  }
  setLive(true, 'live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gen !== generation) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        onBlock(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  } catch {
    // the coordinator went away; retry below
  }
  if (gen !== generation) return reader.cancel();
  setLive(false, 'offline: retrying');
  retry();
}

function onBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (event !== 'state' || data.length === 0) return;
  state = JSON.parse(data.join('\n'));
  receivedAt = Date.now();
  render();
}

// ---- rendering ---------------------------------------------------------------------

function render() {
  $('#auth').hidden = true;
  $('#app').hidden = false;
  const { task, progress } = state;
  $('#task-id').textContent = task.id;
  $('#round').textContent = `${progress.round} / ${task.rounds}`;
  $('#round').dataset.round = String(progress.round);
  $('#round').dataset.lastCommitted = String(progress.lastCommitted);
  $('#stage').textContent = progress.finished ? 'complete' : progress.stage;
  renderClock();
  renderSettings(task);
  renderShops(state.shops);
  renderHistory(state.history);
  renderCharts(task, state.history);
  $('#model-note').textContent = progress.lastCommitted > 0 ? `after round ${progress.lastCommitted}` : 'the initial model';
}

function renderClock() {
  if (!state) return;
  const p = state.progress;
  $('#stage-since').textContent = p.stageSince && !p.finished ? `for ${duration(Date.now() - Date.parse(p.stageSince))}` : '';
  const left = p.etaMs === null ? null : Math.max(0, p.etaMs - (Date.now() - receivedAt));
  $('#eta').textContent = p.finished ? 'done' : left === null ? 'after the first round' : duration(left);
  $('#per-round').textContent = p.msPerRound === null ? '' : `(${duration(p.msPerRound)} per round)`;
  for (const td of document.querySelectorAll('[data-seen]')) td.textContent = td.dataset.connected === 'true' ? 'now' : ago(td.dataset.seen);
}

function renderSettings(task) {
  const q = task.quant;
  const rows = [
    ['graph', `${task.graph}${task.k === null ? '' : `, k = ${task.k}`}`],
    ['threshold t', task.t === null ? '–' : task.t],
    ['cohort', `${task.cohortSize} offered, at least ${task.minClients}`],
    ['strategy', task.strategy],
    ['quantisation', `clip ${q.clipNorm}, weight ≤ ${q.weightBound}, ${q.fractionalBits} fractional bits, |metric| ≤ ${q.metricBound}`],
    ['mode', task.activeAdversary ? 'active adversary (consistency check)' : 'passive'],
    ['model', `${task.modelLength} weights`],
    ['metrics', task.metrics.length === 0 ? 'none' : task.metrics.join(', ')],
    ['deadlines', `train ${task.deadlines.trainMs} ms, stage ${task.deadlines.stageMs} ms`],
    ['differential privacy', task.dp ? `${task.dp.mechanism}: ε = ${task.dp.epsilon} at δ = ${task.dp.delta} over ${task.rounds} rounds (noise multiplier ${task.dp.noiseMultiplier.toPrecision(4)})` : 'off (sums are exact)'],
  ];
  $('#settings').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-setting': k }, v)]));
}

function renderShops(shops) {
  const connected = shops.filter((s) => s.connected).length;
  $('#shop-count').textContent = `${connected} of ${shops.length} connected`;
  $('#shops tbody').replaceChildren(
    ...shops.map((s) =>
      el(
        'tr',
        { class: s.connected ? 'connected' : 'absent', 'data-shop-id': s.id, 'data-connected': s.connected },
        el('td', {}, s.id),
        el('td', {}, s.name),
        el('td', {}, el('span', { class: `pill ${s.connected ? 'connected' : 'absent'}` }, s.connected ? 'connected' : 'absent')),
        el('td', { 'data-seen': s.lastSeen, 'data-connected': s.connected }, s.connected ? 'now' : ago(s.lastSeen)),
        el('td', {}, s.roundsContributed),
        el('td', {}, s.lastDrop ? `round ${s.lastDrop.round}, ${s.lastDrop.stage}: ${s.lastDrop.reason}` : '–'),
      ),
    ),
  );
}

/** ε as the audit log writes it (∞ becomes null in JSON). */
function eps(e) {
  return e === null ? '∞' : e.toPrecision(3);
}

function renderHistory(history) {
  const rows = history.slice(-50).reverse();
  $('#history tbody').replaceChildren(
    ...rows.map((h) =>
      el(
        'tr',
        { class: h.status, 'data-round': h.round },
        el('td', {}, h.round),
        el('td', { class: h.status, title: h.reason || '' }, h.status === 'aborted' && h.reason ? `aborted: ${h.reason}` : h.status),
        el('td', {}, h.offered),
        el('td', {}, h.accepted),
        el('td', {}, h.survivors),
        el('td', {}, Object.entries(h.dropsByStage).map(([k, v]) => `${k} ${v}`).join(', ') || '–'),
        el('td', {}, h.clippedCount === null ? '–' : h.clippedCount),
        el('td', { title: h.dp ? `at δ = ${h.dp.delta}; with all survivors' noise: ${eps(h.dp.epsilonSurvivors)} in all` : '' }, h.dp ? `${eps(h.dp.epsilonRound)} / ${eps(h.dp.epsilon)}` : '–'),
        el('td', {}, Object.entries(h.timings).map(([k, v]) => `${k} ${v}`).join(', ')),
        el('td', {}, ago(h.endedAt)),
      ),
    ),
  );
}

const COLOURS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2'];

function renderCharts(task, history) {
  if (typeof uPlot === 'undefined') return;
  const done = history.filter((h) => h.status === 'committed');
  const xs = done.map((h) => h.round);
  const series = [
    ...task.metrics.map((name) => ({ key: `metric-${name}`, title: name, values: done.map((h) => (h.metrics ? h.metrics[name] ?? null : null)) })),
    { key: 'survivors', title: 'survivors', values: done.map((h) => h.survivors) },
  ];
  const box = $('#charts');
  series.forEach((s, i) => {
    let c = charts.get(s.key);
    const data = [xs, s.values];
    if (!c) {
      const holder = el('div', { class: 'chart', id: `chart-${s.key}`, 'data-chart': s.title });
      box.append(holder);
      const width = Math.max(320, Math.min(560, holder.clientWidth - 16 || 480));
      const plot = new uPlot(
        {
          title: s.title,
          width,
          height: 200,
          scales: { x: { time: false } },
          legend: { show: false },
          // Whole rounds on the x axis.
          axes: [{ label: 'round', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] }, {}],
          series: [{ label: 'round' }, { label: s.title, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: true } }],
        },
        data,
        holder,
      );
      c = { plot };
      charts.set(s.key, c);
    } else {
      c.plot.setData(data);
    }
  });
}

// ---- actions -------------------------------------------------------------------------

$('#auth-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('#auth-token').value.trim();
  if (!t) return;
  token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  $('#auth-token').value = '';
  restart();
});

// A new #token=... in the address bar (same page, no reload) replaces the token.
window.addEventListener('hashchange', () => {
  const t = takeToken();
  if (t && t !== token) {
    token = t;
    restart();
  }
});

$('#audit-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  searchAudit();
});

async function searchAudit() {
  const q = $('#audit-q').value;
  const res = await fetch(`/api/audit?limit=100&q=${encodeURIComponent(q)}`, { headers: authHeaders(), cache: 'no-store' });
  if (res.status === 401) return showAuth('The coordinator refused this token.');
  const body = await res.json();
  $('#audit-count').textContent = `${body.total} record(s)${body.total > body.records.length ? `, newest ${body.records.length} shown` : ''}`;
  $('#audit-results').replaceChildren(...body.records.map((r) => el('li', { 'data-round': r.round }, JSON.stringify(r))));
}

$('#download-model').addEventListener('click', async () => {
  const res = await fetch('/api/model', { headers: authHeaders(), cache: 'no-store' });
  if (res.status === 401) return showAuth('The coordinator refused this token.');
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '')?.[1] || 'model.f32';
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  $('#model-note').textContent = `downloaded ${name} (sha256 ${(res.headers.get('x-tally-model-sha256') || '').slice(0, 16)}…)`;
});

setInterval(renderClock, 1000);
if (token) restart();
else showAuth();
