// strongroom dashboard: one page over the daemon's JSON API (docs/daemon.md).
//
// Plain ES2020, no framework, no build step. Every string that comes from the API reaches the
// page through textContent / createElement (never innerHTML). The bearer token lives in
// sessionStorage only; `/#token=T` stores it and removes the fragment from the address bar.
(() => {
  'use strict';

  const TOKEN_KEY = 'strongroom.token';
  const STATUS_EVERY_MS = 15000;
  const SLOW_EVERY_MS = 60000;
  const JOBS_SHOWN = 15;
  const TESTS_SHOWN = 10;
  const RESOLVED_ALERTS_SHOWN = 8;
  const CHART_HEIGHT = 190;

  const COLORS = {
    line: '#2f5d8a',
    band: 'rgba(47, 93, 138, 0.09)',
    bandEdge: '#8fa9c6',
    axis: '#5f6b7a',
    grid: '#eceff3',
    types: { full: '#2f5d8a', diff: '#b4702a', incr: '#4f8a5b', backup: '#2f5d8a' },
    extra: ['#7a5ea8', '#a0485f', '#3f8a8c'],
    anomaly: '#c2362c',
  };

  // ---------------------------------------------------------------------------------------
  // State

  const state = {
    token: null,
    generation: 0,       // bumped on sign-in / sign-out: answers to older requests are dropped
    timers: [],
    status: null,
    skewMs: 0,           // daemon clock minus browser clock
    jobs: null,
    alerts: null,
    restoreTests: null,
    backups: new Map(),  // source name -> backups, oldest first
    chartSource: null,
    chartType: null,
    charts: { size: null, duration: null, key: '' },
    errors: new Map(),   // what -> message, shown in the banner
    lastStatusAt: 0,
    lastSlowAt: 0,
    jobsExpanded: false,
    testsExpanded: false,
    logJob: null,
  };

  const $ = (sel) => document.querySelector(sel);

  // ---------------------------------------------------------------------------------------
  // DOM helpers (text only: no HTML parsing of data)

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'title') el.title = String(v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    appendAll(el, children);
    return el;
  }

  function appendAll(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ICONS = {
    ok: ['M4.5 8.4l2.3 2.3 4.7-4.9'],
    warning: ['M8 4.4v4.4', 'M8 11.4v.2'],
    critical: ['M5.4 5.4l5.2 5.2', 'M10.6 5.4l-5.2 5.2'],
    unknown: ['M6.2 6.3a1.9 1.9 0 1 1 2.6 1.7c-.5.3-.8.6-.8 1.2v.2', 'M8 11.4v.2'],
    running: ['M6.5 5.2v5.6l4.3-2.8z'],
    queued: ['M8 5v3.2l2.1 1.3'],
    cancelled: ['M5.2 10.8l5.6-5.6'],
  };

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 16 16');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    const circle = document.createElementNS(SVG_NS, 'circle');
    circle.setAttribute('cx', '8');
    circle.setAttribute('cy', '8');
    circle.setAttribute('r', '7');
    circle.setAttribute('class', 'icon-ring');
    svg.append(circle);
    for (const d of ICONS[name] || ICONS.unknown) {
      const p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', d);
      if (name === 'running') p.setAttribute('class', 'icon-solid');
      svg.append(p);
    }
    return svg;
  }

  // tone: ok | warning | critical | unknown | info
  function badge(tone, label, iconName) {
    return h('span', { class: `badge badge-${tone}` }, icon(iconName || tone), h('span', { text: label }));
  }

  const STATE_LABEL = { ok: 'OK', warning: 'Warning', critical: 'Critical', unknown: 'Unknown' };
  function stateBadge(s) {
    const tone = STATE_LABEL[s] ? s : 'unknown';
    return badge(tone, STATE_LABEL[tone]);
  }

  const JOB_STATE = {
    queued: ['unknown', 'Queued', 'queued'],
    running: ['info', 'Running', 'running'],
    ok: ['ok', 'OK', 'ok'],
    failed: ['critical', 'Failed', 'critical'],
    cancelled: ['unknown', 'Cancelled', 'cancelled'],
  };
  function jobBadge(s) {
    const [tone, label, ic] = JOB_STATE[s] || ['unknown', String(s ?? 'unknown'), 'unknown'];
    return badge(tone, label, ic);
  }

  const dash = () => h('span', { class: 'muted', text: '—' });

  // ---------------------------------------------------------------------------------------
  // Formatting

  const nfCache = new Map();
  function fmtNum(v, digits) {
    let nf = nfCache.get(digits);
    if (!nf) {
      nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
      nfCache.set(digits, nf);
    }
    return nf.format(v);
  }

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

  const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  function fmtBytes(n) {
    if (!isNum(n)) return '—';
    let v = Math.abs(n);
    let i = 0;
    while (v >= 1024 && i < BYTE_UNITS.length - 1) { v /= 1024; i++; }
    const digits = i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
    return (n < 0 ? '−' : '') + fmtNum(v, digits) + '\u00a0' + BYTE_UNITS[i];
  }

  function fmtDuration(s) {
    if (!isNum(s)) return '—';
    const a = Math.abs(s);
    const sign = s < 0 ? '−' : '';
    const nb = '\u00a0';
    if (a < 60) return sign + fmtNum(a, a < 10 ? 1 : 0) + nb + 's';
    if (a < 3600) { const m = a / 60; return sign + fmtNum(m, m < 10 ? 1 : 0) + nb + 'min'; }
    if (a < 2 * 86400) { const hr = a / 3600; return sign + fmtNum(hr, hr < 10 ? 1 : 0) + nb + 'h'; }
    const d = a / 86400;
    return sign + fmtNum(d, d < 10 ? 1 : 0) + nb + 'd';
  }

  function fmtMoney(v) {
    if (!isNum(v)) return '—';
    return fmtNum(v, v < 100 ? 2 : 0);
  }

  const parseTime = (iso) => {
    if (typeof iso !== 'string' || !iso) return null;
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : t;
  };

  const serverNow = () => Date.now() + state.skewMs;

  // Coarse relative time: "just now", "12 min ago", "3 h ago", "4 d ago", "in 2 h".
  function fmtRelative(ms) {
    if (ms == null) return '—';
    const diff = (serverNow() - ms) / 1000;
    const a = Math.abs(diff);
    if (a < 45) return diff >= 0 ? 'just now' : 'in a moment';
    let text;
    if (a < 90 * 60) text = Math.max(1, Math.round(a / 60)) + '\u00a0min';
    else if (a < 48 * 3600) text = Math.round(a / 3600) + '\u00a0h';
    else text = Math.round(a / 86400) + '\u00a0d';
    return diff >= 0 ? text + ' ago' : 'in ' + text;
  }

  const dtfShort = new Intl.DateTimeFormat(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  const dtfLong = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  const dtfFull = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    second: '2-digit', timeZoneName: 'short',
  });

  const dtfDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
  const dtfDayYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  function fmtDate(ms) {
    if (ms == null) return '—';
    const sameYear = new Date(ms).getFullYear() === new Date(serverNow()).getFullYear();
    return (sameYear ? dtfDay : dtfDayYear).format(ms);
  }

  function fmtDateTime(ms) {
    if (ms == null) return '—';
    const sameYear = new Date(ms).getFullYear() === new Date(serverNow()).getFullYear();
    return (sameYear ? dtfShort : dtfLong).format(ms);
  }

  // A time as "3 h ago" with the full local time and the UTC string in its tooltip.
  function timeEl(iso, { relative = true, cls = '' } = {}) {
    const ms = parseTime(iso);
    if (ms == null) return dash();
    return h('time', {
      class: cls || null,
      datetime: iso,
      title: dtfFull.format(ms) + '  (' + new Date(ms).toISOString().replace('.000Z', 'Z') + ')',
      text: relative ? fmtRelative(ms) : fmtDateTime(ms),
    });
  }

  const typeKey = (b) => (b && typeof b.type === 'string' && b.type) || 'backup';

  // ---------------------------------------------------------------------------------------
  // Token handling

  function readStoredToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; }
  }

  function storeToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) { /* storage disabled: the token lives for this page only */ }
  }

  // `#token=T` (or `#…&token=T`): keep T, and drop the fragment from the address bar.
  function takeTokenFromHash() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (!m) return null;
    history.replaceState(history.state, '', location.pathname + location.search);
    let token = m[1];
    try { token = decodeURIComponent(token); } catch (_) { /* keep it raw */ }
    return token.trim() || null;
  }

  // ---------------------------------------------------------------------------------------
  // API

  class ApiError extends Error {}
  class AuthError extends Error {}
  class StaleError extends Error {}

  async function api(path, { text = false } = {}) {
    const gen = state.generation;
    let res;
    try {
      res = await fetch(path, {
        headers: { Authorization: 'Bearer ' + state.token, Accept: text ? 'text/plain' : 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      if (gen !== state.generation) throw new StaleError();
      throw new ApiError('cannot reach the daemon');
    }
    if (gen !== state.generation) throw new StaleError();
    if (res.status === 401) {
      signOut('The daemon did not accept this token. Paste a valid one to continue.');
      throw new AuthError();
    }
    if (!res.ok) {
      let msg = `HTTP ${res.status}`;
      try {
        const body = await res.json();
        if (body && typeof body.error === 'string') msg += ': ' + body.error;
      } catch (_) { /* not JSON */ }
      throw new ApiError(msg);
    }
    const body = text ? await res.text() : await res.json();
    if (gen !== state.generation) throw new StaleError();
    return body;
  }

  function noteError(what, e) {
    if (e instanceof AuthError || e instanceof StaleError) return false;
    state.errors.set(what, e instanceof ApiError ? e.message : String((e && e.message) || e));
    renderBanner();
    return true;
  }

  function clearError(what) {
    if (state.errors.delete(what)) renderBanner();
  }

  function renderBanner() {
    const el = $('#banner');
    if (!state.errors.size) { el.hidden = true; el.replaceChildren(); return; }
    const items = [...state.errors].map(([what, msg]) => `${what}: ${msg}`);
    el.replaceChildren(
      h('strong', { text: 'Some data could not be loaded. ' }),
      h('span', { text: items.join(' · ') }),
      h('span', { class: 'muted', text: ' — retrying automatically.' }),
    );
    el.hidden = false;
  }

  // ---------------------------------------------------------------------------------------
  // Loading

  async function refreshStatus() {
    try {
      const s = await api('api/status');
      state.status = normaliseStatus(s);
      state.lastStatusAt = Date.now();
      const now = parseTime(state.status.daemon.now);
      state.skewMs = now == null ? 0 : now - Date.now();
      clearError('status');
      renderStatus();
      syncChartSources();
    } catch (e) {
      noteError('status', e);
    }
  }

  function normaliseStatus(s) {
    const o = s && typeof s === 'object' ? s : {};
    return {
      daemon: o.daemon && typeof o.daemon === 'object' ? o.daemon : {},
      sources: Array.isArray(o.sources) ? o.sources.filter((x) => x && typeof x === 'object') : [],
      repositories: Array.isArray(o.repositories) ? o.repositories.filter((x) => x && typeof x === 'object') : [],
      alerts: o.alerts && typeof o.alerts === 'object' ? o.alerts : {},
    };
  }

  const listOf = (body, key) => (body && Array.isArray(body[key]) ? body[key].filter((x) => x && typeof x === 'object') : []);

  async function loadJobs() {
    try {
      state.jobs = listOf(await api('api/jobs?limit=100'), 'jobs');
      clearError('jobs');
      renderJobs();
    } catch (e) { noteError('jobs', e); }
  }

  async function loadAlerts() {
    try {
      state.alerts = listOf(await api('api/alerts'), 'alerts');
      clearError('alerts');
      renderAlerts();
    } catch (e) { noteError('alerts', e); }
  }

  async function loadRestoreTests() {
    try {
      state.restoreTests = listOf(await api('api/restore-tests'), 'restore_tests');
      clearError('restore tests');
      renderRestoreTests();
    } catch (e) { noteError('restore tests', e); }
  }

  async function loadBackups(source) {
    if (!source) return;
    try {
      const body = await api('api/backups?source=' + encodeURIComponent(source) + '&limit=500');
      const list = listOf(body, 'backups').slice();
      list.sort((a, b) => (backupTime(a) ?? 0) - (backupTime(b) ?? 0));
      state.backups.set(source, list);
      clearError('backups');
      if (source === state.chartSource) renderCharts();
    } catch (e) { noteError('backups', e); }
  }

  const backupTime = (b) => parseTime(b.end) ?? parseTime(b.start);

  function refreshSlow() {
    state.lastSlowAt = Date.now();
    return Promise.all([loadJobs(), loadAlerts(), loadRestoreTests(), loadBackups(state.chartSource)]);
  }

  function refreshAll() {
    return Promise.all([refreshStatus(), refreshSlow()]);
  }

  function startPolling() {
    stopPolling();
    state.timers.push(setInterval(() => { if (!document.hidden) refreshStatus(); }, STATUS_EVERY_MS));
    state.timers.push(setInterval(() => { if (!document.hidden) refreshSlow(); }, SLOW_EVERY_MS));
  }

  function stopPolling() {
    for (const t of state.timers) clearInterval(t);
    state.timers = [];
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden || !state.token) return;
    const now = Date.now();
    if (now - state.lastStatusAt > STATUS_EVERY_MS) refreshStatus();
    if (now - state.lastSlowAt > SLOW_EVERY_MS) refreshSlow();
  });

  // ---------------------------------------------------------------------------------------
  // Sign-in / sign-out

  function showSignin(message) {
    $('#app-view').hidden = true;
    $('#signin-view').hidden = false;
    const msg = $('#signin-message');
    msg.textContent = message || '';
    msg.hidden = !message;
    const input = $('#token-input');
    input.value = '';
    input.focus();
  }

  function signIn(token) {
    state.token = token;
    storeToken(token);
    state.generation++;
    resetData();
    $('#signin-view').hidden = true;
    $('#app-view').hidden = false;
    // The status first: a refused token then costs one 401, not five.
    const gen = state.generation;
    refreshStatus().then(() => { if (gen === state.generation) refreshSlow(); });
    startPolling();
  }

  function signOut(message) {
    state.generation++;
    stopPolling();
    state.token = null;
    storeToken(null);
    resetData();
    const dlg = $('#log-dialog');
    if (dlg.open) dlg.close();
    showSignin(message);
  }

  function resetData() {
    destroyCharts();
    state.status = null;
    state.jobs = null;
    state.alerts = null;
    state.restoreTests = null;
    state.backups.clear();
    state.chartSource = null;
    state.chartType = null;
    state.errors.clear();
    renderBanner();
    for (const id of ['#sources-body', '#objectives-body', '#alerts-body', '#repos-body', '#jobs-body',
      '#rt-body', '#tiles', '#jobs-more', '#rt-more', '#chart-source', '#chart-type']) {
      $(id).replaceChildren();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Header, tiles, sources

  function renderStatus() {
    const s = state.status;
    if (!s) return;
    renderHeader(s);
    renderTiles(s);
    renderSources(s.sources);
    renderObjectives(s.sources);
    renderRepositories(s.repositories);
    if (state.alerts) renderAlerts();
  }

  function renderHeader(s) {
    const d = s.daemon;
    $('#hdr-host').textContent = d.host || 'strongroom';
    $('#hdr-version').textContent = d.version ? 'v' + d.version : '';
    document.title = (d.host ? d.host + ' · ' : '') + 'strongroom';

    const snap = $('#hdr-snapshot');
    const snapMs = parseTime(d.snapshot_at);
    snap.textContent = snapMs == null ? 'No snapshot yet' : 'Snapshot ' + fmtDateTime(snapMs) + ' · ' + fmtRelative(snapMs);
    snap.title = snapMs == null ? '' : 'Catalog snapshot taken ' + dtfFull.format(snapMs);

    const running = isNum(d.running_jobs) ? d.running_jobs : 0;
    const queued = isNum(d.queued_jobs) ? d.queued_jobs : 0;
    const jobs = $('#hdr-jobs');
    jobs.replaceChildren(
      icon(running ? 'running' : 'queued'),
      h('span', { text: `${running} running · ${queued} queued` }),
    );
    jobs.className = 'chip ' + (running ? 'chip-info' : 'chip-plain');
    jobs.title = isNum(d.max_concurrent_jobs) ? `At most ${d.max_concurrent_jobs} jobs run at once` : '';

    const a = s.alerts;
    const firing = isNum(a.firing) ? a.firing : 0;
    const alerts = $('#hdr-alerts');
    const tone = firing === 0 ? 'ok' : (a.critical > 0 ? 'critical' : 'warning');
    alerts.replaceChildren(
      icon(tone),
      h('span', { text: firing === 0 ? 'No alerts firing' : `${firing} alert${firing === 1 ? '' : 's'} firing` }),
    );
    alerts.className = 'chip chip-' + tone;
    alerts.title = firing ? `${a.critical || 0} critical, ${a.warning || 0} warning` : '';

    $('#footer-config').textContent = d.config ? 'Configuration ' + d.config : '';
    const started = parseTime(d.started);
    $('#footer-started').textContent = started == null ? '' : 'Daemon started ' + fmtDateTime(started) + ' (' + fmtRelative(started) + ')';
  }

  function tile(label, value, sub, tone) {
    return h('div', { class: 'tile' + (tone ? ' tile-' + tone : '') },
      h('div', { class: 'tile-label', text: label }),
      h('div', { class: 'tile-value', text: value }),
      h('div', { class: 'tile-sub', text: sub || '\u00a0' }));
  }

  function renderTiles(s) {
    const counts = { ok: 0, warning: 0, critical: 0, unknown: 0 };
    for (const src of s.sources) counts[STATE_LABEL[src.state] ? src.state : 'unknown']++;
    const n = s.sources.length;
    const parts = [];
    if (counts.critical) parts.push(`${counts.critical} critical`);
    if (counts.warning) parts.push(`${counts.warning} warning`);
    if (counts.unknown) parts.push(`${counts.unknown} unknown`);
    const srcTone = counts.critical ? 'critical' : counts.warning ? 'warning' : n && counts.ok === n ? 'ok' : null;

    let tested = 0;
    let passed = 0;
    for (const src of s.sources) {
      if (src.restore_test && typeof src.restore_test === 'object') {
        tested++;
        if (src.restore_test.passed === true) passed++;
      }
    }
    const rtTone = tested === 0 ? null : passed === tested ? 'ok' : 'critical';

    let bytes = 0;
    let cost = 0;
    let haveCost = false;
    for (const r of s.repositories) {
      if (isNum(r.size_bytes)) bytes += r.size_bytes;
      if (isNum(r.estimated_monthly_cost)) { cost += r.estimated_monthly_cost; haveCost = true; }
    }

    $('#tiles').replaceChildren(
      tile('Sources healthy', n ? `${counts.ok} of ${n}` : 'none', parts.join(' · ') || (n ? 'all within their limits' : 'no source configured'), srcTone),
      tile('Restore tests passing', tested ? `${passed} of ${tested}` : '—', tested ? 'latest test per source' : 'no restore test yet', rtTone),
      tile('Stored', fmtBytes(bytes), `in ${s.repositories.length} repositor${s.repositories.length === 1 ? 'y' : 'ies'}`),
      tile('Estimated cost', haveCost ? fmtMoney(cost) : '—', haveCost ? 'per month, all repositories' : 'no cost configured'),
    );
  }

  function renderSources(sources) {
    const body = $('#sources-body');
    const rows = [];
    for (const s of sources) {
      rows.push(sourceRow(s));
      const problems = Array.isArray(s.problems) ? s.problems.filter((p) => typeof p === 'string' && p) : [];
      if (problems.length) {
        // The first three; the rest (a WAL gap names every later backup) as a count.
        const shown = problems.slice(0, 3).map((p) => h('li', { text: p }));
        const total = Number.isInteger(s.problems_total) ? Math.max(s.problems_total, problems.length) : problems.length;
        if (total > shown.length) {
          shown.push(h('li', { class: 'problems-more', text: `… and ${total - shown.length} more (strongroom verify --source ${s.name} lists them all)` }));
        }
        rows.push(h('tr', { class: 'problems-row problems-' + (STATE_LABEL[s.state] ? s.state : 'unknown') },
          h('td', { colspan: 9 }, h('ul', { class: 'problems' }, shown))));
      }
    }
    if (!sources.length) rows.push(emptyRow(9, 'No sources are configured yet.'));
    body.replaceChildren(...rows);

    $('#sources-summary').textContent = sources.length ? `${sources.length} source${sources.length === 1 ? '' : 's'}` : '';
  }

  function emptyRow(span, text) {
    return h('tr', { class: 'empty-row' }, h('td', { colspan: span, text }));
  }

  function cellStack(main, ...subs) {
    return [h('div', { class: 'cell-main' }, main), ...subs.filter(Boolean).map((s) => h('div', { class: 'cell-sub' }, s))];
  }

  // "value / target" coloured by whether it meets the target, with a thin bar.
  function vsTarget(value, target, { higherIsBetter = false, fmt = fmtDuration } = {}) {
    if (!isNum(value) && !isNum(target)) return dash();
    if (!isNum(target)) return h('span', { class: 'num-text', text: fmt(value) });
    if (!isNum(value)) {
      return h('span', { class: 'vs vs-unknown' }, h('span', { text: '— / ' + fmt(target) }));
    }
    const ok = higherIsBetter ? value >= target : value <= target;
    const ratio = target > 0 ? value / target : (ok ? 1 : 2);
    const bar = h('span', { class: 'minibar' }, h('span', { class: 'minibar-fill' }));
    bar.firstChild.style.width = Math.max(2, Math.min(1, ratio) * 100) + '%';
    return h('span', { class: 'vs ' + (ok ? 'vs-ok' : 'vs-bad'), title: `${Math.round(ratio * 100)} % of target` },
      h('span', { class: 'vs-text' },
        h('span', { class: 'vs-mark', text: ok ? '✓' : '✕', 'aria-label': ok ? 'within target' : 'outside target' }),
        h('span', { text: fmt(value) }),
        h('span', { class: 'muted', text: ' / ' + fmt(target) })),
      bar);
  }

  function selectSourceButton(name) {
    return h('button', {
      type: 'button',
      class: 'link source-name',
      title: 'Show the backup history of ' + name,
      text: name,
      onclick: () => {
        selectChartSource(name);
        $('#history').scrollIntoView({ behavior: 'smooth', block: 'start' });
      },
    });
  }

  function sourceRow(s) {
    const name = typeof s.name === 'string' ? s.name : String(s.name ?? '');
    const tr = h('tr', { 'data-testid': 'source-row', 'data-source': name, 'data-state': s.state || 'unknown' });

    // Source: name, kind · type → repository
    const meta = [s.kind, s.type].filter((x) => typeof x === 'string' && x).join(' · ');
    tr.append(h('td', { class: 'col-source' }, cellStack(selectSourceButton(name),
      meta || s.repository ? h('span', {}, meta, s.repository ? h('span', { class: 'muted', text: (meta ? ' → ' : '→ ') + s.repository }) : null) : null)));

    tr.append(h('td', {}, stateBadge(s.state)));

    // Last backup: when, type, size, duration; a failed last job shows here too.
    const lb = s.last_backup && typeof s.last_backup === 'object' ? s.last_backup : null;
    const lj = s.last_job && typeof s.last_job === 'object' ? s.last_job : null;
    let failed = null;
    if (lj && lj.state === 'failed') {
      failed = h('span', { class: 'text-critical', title: lj.error || '' },
        `✕ last ${lj.job || 'job'} failed `, timeEl(lj.end));
    }
    if (lb) {
      const details = [lb.type, isNum(lb.size_bytes) ? fmtBytes(lb.size_bytes) : null,
        isNum(lb.duration_s) ? 'in ' + fmtDuration(lb.duration_s) : null].filter(Boolean).join(' · ');
      tr.append(h('td', {}, cellStack(timeEl(lb.end), details, failed)));
    } else {
      tr.append(h('td', {}, cellStack(h('span', { class: 'muted', text: 'never' }), failed)));
    }

    tr.append(h('td', {}, vsTarget(s.age_s, s.max_age_s)));

    // Next run
    const nr = s.next_run && typeof s.next_run === 'object' ? s.next_run : null;
    if (nr && parseTime(nr.at) != null) {
      const what = [nr.job, nr.type].filter(Boolean).join(' ');
      tr.append(h('td', {}, cellStack(timeEl(nr.at), what)));
    } else {
      tr.append(h('td', {}, dash()));
    }

    tr.append(h('td', {}, vsTarget(s.rpo_s, s.rpo_target_s)));

    const pw = s.pitr_window && typeof s.pitr_window === 'object' ? s.pitr_window : null;
    if (pw) {
      const since = parseTime(pw.start);
      tr.append(h('td', {}, cellStack(vsTarget(pw.seconds, pw.target_s, { higherIsBetter: true }),
        since == null ? null : h('span', { title: 'Oldest restorable point: ' + dtfFull.format(since), text: 'since ' + fmtDate(since) }))));
    } else {
      tr.append(h('td', {}, dash()));
    }

    const rt = s.restore_test && typeof s.restore_test === 'object' ? s.restore_test : null;
    if (rt) {
      const result = rt.passed === true ? badge('ok', 'Passed') : rt.passed === false ? badge('critical', 'Failed') : badge('unknown', 'Unknown');
      tr.append(h('td', {}, cellStack(h('span', { class: 'inline-gap' }, result, timeEl(rt.end)),
        isNum(rt.rto_s) || isNum(rt.rto_target_s) ? vsTarget(rt.rto_s, rt.rto_target_s) : null)));
    } else {
      tr.append(h('td', {}, h('span', { class: 'muted', text: 'never tested' })));
    }

    const st = s.streaming && typeof s.streaming === 'object' ? s.streaming : null;
    if (st) {
      const restarts = isNum(st.restarts) ? `${st.restarts} restart${st.restarts === 1 ? '' : 's'}` : null;
      const since = parseTime(st.since);
      const main = st.running
        ? h('span', { class: 'stream stream-on' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Running')
        : h('span', { class: 'stream stream-off' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Stopped');
      tr.append(h('td', {}, cellStack(main,
        since == null ? null : h('span', { title: (st.running ? 'Running since ' : 'Stopped since ') + dtfFull.format(since),
          text: 'for ' + fmtRelative(since).replace(/ ago$/, '') }),
        restarts)));
    } else {
      tr.append(h('td', {}, dash()));
    }
    return tr;
  }

  // ---------------------------------------------------------------------------------------
  // Recovery objectives: RPO, RTO (last restore test), PITR window

  function meterRow(name, value, target, { higherIsBetter = false, note = '' } = {}) {
    const known = isNum(value) && isNum(target);
    const ok = known ? (higherIsBetter ? value >= target : value <= target) : null;
    const ratio = known ? (target > 0 ? value / target : ok ? 1 : 2) : 0;
    const tone = ok === null ? 'unknown' : ok ? 'ok' : 'bad';
    const fill = h('span', { class: 'meter-fill' });
    fill.style.width = (known ? Math.max(2, Math.min(1, ratio) * 100) : 0) + '%';
    const pct = known ? Math.round(ratio * 100) + '\u00a0%' : '—';
    return h('div', { class: 'meter meter-' + tone, 'data-source': name },
      h('div', { class: 'meter-top' },
        h('span', { class: 'meter-name', text: name }),
        h('span', { class: 'meter-value' },
          h('span', { class: 'vs-mark', text: ok === null ? '?' : ok ? '✓' : '✕' }),
          h('span', { text: isNum(value) ? fmtDuration(value) : 'unknown' }),
          h('span', { class: 'muted', text: ' / ' + fmtDuration(target) }))),
      h('div', { class: 'meter-track', role: 'img', 'aria-label': `${name}: ${pct} of target` }, fill),
      h('div', { class: 'meter-note muted small', text: [pct + ' of target', note].filter(Boolean).join(' · ') }));
  }

  function renderObjectives(sources) {
    const groups = [];
    const rpo = sources.filter((s) => isNum(s.rpo_target_s));
    const rto = sources.filter((s) => s.restore_test && isNum(s.restore_test.rto_target_s));
    const pitr = sources.filter((s) => s.pitr_window && typeof s.pitr_window === 'object');

    groups.push(h('div', { class: 'obj-group' },
      h('h3', { class: 'obj-title', text: 'RPO' }, h('span', { class: 'muted small', text: ' data that could be lost now' })),
      rpo.length ? rpo.map((s) => meterRow(s.name, s.rpo_s, s.rpo_target_s)) : h('p', { class: 'muted small', text: 'No source has an RPO target.' })));

    groups.push(h('div', { class: 'obj-group' },
      h('h3', { class: 'obj-title', text: 'RTO' }, h('span', { class: 'muted small', text: ' measured by the last restore test' })),
      rto.length ? rto.map((s) => meterRow(s.name, s.restore_test.rto_s, s.restore_test.rto_target_s,
        { note: s.restore_test.end ? 'tested ' + fmtRelative(parseTime(s.restore_test.end)) : '' }))
        : h('p', { class: 'muted small', text: 'No restore test has run yet.' })));

    groups.push(h('div', { class: 'obj-group' },
      h('h3', { class: 'obj-title', text: 'PITR window' }, h('span', { class: 'muted small', text: ' how far back a database can be restored' })),
      pitr.length ? pitr.map((s) => {
        const pw = s.pitr_window;
        const start = parseTime(pw.start);
        const end = parseTime(pw.end);
        const note = start != null && end != null ? fmtDateTime(start) + ' → ' + fmtDateTime(end) : '';
        return isNum(pw.target_s)
          ? meterRow(s.name, pw.seconds, pw.target_s, { higherIsBetter: true, note })
          : h('div', { class: 'meter meter-unknown' },
            h('div', { class: 'meter-top' }, h('span', { class: 'meter-name', text: s.name }),
              h('span', { class: 'meter-value', text: fmtDuration(pw.seconds) })),
            h('div', { class: 'meter-note muted small', text: note || 'no target' }));
      }) : h('p', { class: 'muted small', text: 'No database with point-in-time recovery.' })));

    $('#objectives-body').replaceChildren(...groups);
  }

  // ---------------------------------------------------------------------------------------
  // Repositories

  function renderRepositories(repos) {
    const body = $('#repos-body');
    if (!repos.length) {
      body.replaceChildren(h('p', { class: 'empty', text: 'No repositories reported.' }));
      $('#repos-summary').textContent = '';
      return;
    }
    const maxSize = Math.max(1, ...repos.map((r) => (isNum(r.size_bytes) ? r.size_bytes : 0)));
    let total = 0;
    let totalCost = 0;
    let haveCost = false;
    const rows = repos.map((r) => {
      if (isNum(r.size_bytes)) total += r.size_bytes;
      if (isNum(r.estimated_monthly_cost)) { totalCost += r.estimated_monthly_cost; haveCost = true; }
      const bar = h('span', { class: 'sizebar' }, h('span', { class: 'sizebar-fill' }));
      bar.firstChild.style.width = (isNum(r.size_bytes) ? Math.max(1, (r.size_bytes / maxSize) * 100) : 0) + '%';
      let repl = dash();
      if (r.replicate_from) {
        repl = cellStack(
          h('span', {}, h('span', { class: 'muted', text: 'from ' }), String(r.replicate_from)),
          isNum(r.replication_lag_s) ? 'lag ' + fmtDuration(r.replication_lag_s) : 'lag unknown');
      }
      return h('tr', { 'data-testid': 'repository-row', 'data-repository': String(r.name ?? '') },
        h('td', {}, cellStack(h('strong', { text: String(r.name ?? '') }),
          r.url ? h('span', { class: 'mono url', title: String(r.url), text: String(r.url) }) : null)),
        h('td', { class: 'num' }, cellStack(h('span', { text: fmtBytes(r.size_bytes) }), bar,
          isNum(r.backups) ? `${r.backups} backup${r.backups === 1 ? '' : 's'}` : null)),
        h('td', { class: 'num' }, cellStack(h('span', { text: fmtMoney(r.estimated_monthly_cost) }),
          isNum(r.cost_per_gib_month) ? fmtNum(r.cost_per_gib_month, 4) + ' per GiB' : null)),
        h('td', {}, repl));
    });
    body.replaceChildren(h('div', { class: 'table-wrap' },
      h('table', { class: 'table repos-table' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'Repository' }),
          h('th', { scope: 'col', class: 'num', text: 'Stored' }),
          h('th', { scope: 'col', class: 'num', text: 'Cost / month' }),
          h('th', { scope: 'col', text: 'Replication' }))),
        h('tbody', {}, rows))));
    $('#repos-summary').textContent = fmtBytes(total) + (haveCost ? ' · ' + fmtMoney(totalCost) + ' per month' : '');
  }

  // ---------------------------------------------------------------------------------------
  // Alerts

  function renderAlerts() {
    const list = state.alerts || [];
    const firing = list.filter((a) => a.state === 'firing');
    const resolved = list.filter((a) => a.state !== 'firing');
    const sev = { critical: 0, warning: 1 };
    firing.sort((a, b) => (sev[a.severity] ?? 2) - (sev[b.severity] ?? 2) || (parseTime(b.since) ?? 0) - (parseTime(a.since) ?? 0));

    const item = (a, isFiring) => {
      const tone = !isFiring ? 'ok' : a.severity === 'critical' ? 'critical' : 'warning';
      const label = !isFiring ? 'Resolved' : a.severity === 'critical' ? 'Critical' : 'Warning';
      const meta = [];
      if (a.source) meta.push(h('span', { text: String(a.source) }));
      if (a.rule) meta.push(h('span', { class: 'mono', text: String(a.rule) }));
      if (isFiring) meta.push(h('span', {}, 'since ', timeEl(a.since)));
      else meta.push(h('span', {}, 'resolved ', timeEl(a.resolved_at)));
      if (isFiring && a.last_notified) meta.push(h('span', {}, 'notified ', timeEl(a.last_notified)));
      return h('li', { class: 'alert alert-' + (isFiring ? 'firing' : 'resolved'), 'data-testid': 'alert', 'data-severity': a.severity || '' },
        badge(tone, label, !isFiring ? 'ok' : tone),
        h('div', { class: 'alert-body' },
          h('div', { class: 'alert-summary', text: String(a.summary || a.rule || 'alert') }),
          h('div', { class: 'alert-meta muted small' }, meta)));
    };

    const parts = [];
    if (firing.length) parts.push(h('ul', { class: 'alert-list' }, firing.map((a) => item(a, true))));
    else parts.push(h('p', { class: 'all-clear' }, icon('ok'), h('span', { text: 'No alert is firing.' })));
    if (resolved.length) {
      parts.push(h('h3', { class: 'sub-title', text: 'Resolved in the last 7 days' }));
      parts.push(h('ul', { class: 'alert-list' }, resolved.slice(0, RESOLVED_ALERTS_SHOWN).map((a) => item(a, false))));
      if (resolved.length > RESOLVED_ALERTS_SHOWN) {
        parts.push(h('p', { class: 'muted small', text: `and ${resolved.length - RESOLVED_ALERTS_SHOWN} more` }));
      }
    }
    $('#alerts-body').replaceChildren(...parts);
    $('#alerts-summary').textContent = `${firing.length} firing · ${resolved.length} resolved`;
  }

  // ---------------------------------------------------------------------------------------
  // Jobs and their logs

  function renderJobs() {
    const jobs = state.jobs || [];
    const shown = state.jobsExpanded ? jobs : jobs.slice(0, JOBS_SHOWN);
    const rows = shown.map((j) => {
      const started = j.start || j.queued;
      let duration = isNum(j.duration_s) ? fmtDuration(j.duration_s) : '—';
      if (j.state === 'running' && !isNum(j.duration_s) && parseTime(j.start) != null) {
        duration = fmtDuration((serverNow() - parseTime(j.start)) / 1000) + ' so far';
      }
      const canLog = j.state !== 'queued' && j.id != null;
      return h('tr', { 'data-testid': 'job-row', 'data-job-id': String(j.id ?? ''), 'data-state': j.state || '' },
        h('td', { class: 'num mono', text: String(j.id ?? '') }),
        h('td', {}, h('strong', { text: String(j.job || '') }), j.type ? h('span', { class: 'muted', text: ' ' + j.type }) : null),
        h('td', { text: String(j.source || '—') }),
        h('td', { class: 'muted', text: String(j.trigger || '') }),
        h('td', {}, jobBadge(j.state)),
        h('td', {}, started ? cellStack(timeEl(started), fmtDateTime(parseTime(started))) : dash()),
        h('td', { class: 'num', text: duration }),
        h('td', { class: 'num', text: isNum(j.bytes) ? fmtBytes(j.bytes) : '—' }),
        h('td', { class: 'col-error' }, j.error ? h('span', { class: 'error-text', title: String(j.error), text: String(j.error) }) : null),
        h('td', { class: 'col-action' }, canLog
          ? h('button', { type: 'button', class: 'link', 'data-testid': 'job-log-link', text: 'Log', onclick: () => openLog(j) })
          : null));
    });
    if (!jobs.length) rows.push(emptyRow(10, 'No job has run yet.'));
    $('#jobs-body').replaceChildren(...rows);

    const running = jobs.filter((j) => j.state === 'running').length;
    const failed = jobs.filter((j) => j.state === 'failed').length;
    $('#jobs-summary').textContent = jobs.length
      ? `${jobs.length} most recent · ${running} running · ${failed} failed` : '';
    const more = $('#jobs-more');
    more.replaceChildren();
    if (jobs.length > JOBS_SHOWN) {
      more.append(h('button', {
        type: 'button', class: 'link',
        text: state.jobsExpanded ? 'Show fewer' : `Show all ${jobs.length}`,
        onclick: () => { state.jobsExpanded = !state.jobsExpanded; renderJobs(); },
      }));
    }
  }

  async function openLog(job) {
    state.logJob = job;
    const dlg = $('#log-dialog');
    $('#log-title').textContent = `Job #${job.id} · ${job.job || 'job'}${job.source ? ' · ' + job.source : ''}`;
    const meta = [job.state, job.trigger, job.start ? 'started ' + fmtDateTime(parseTime(job.start)) : null].filter(Boolean);
    $('#log-meta').textContent = meta.join(' · ');
    if (!dlg.open) dlg.showModal();
    await loadLog();
  }

  async function loadLog() {
    const job = state.logJob;
    if (!job) return;
    const dlg = $('#log-dialog');
    const pre = $('#log-text');
    dlg.dataset.state = 'loading';
    pre.classList.remove('log-empty', 'log-error');
    pre.textContent = 'Loading…';
    try {
      const text = await api('api/jobs/' + encodeURIComponent(String(job.id)) + '/log', { text: true });
      if (state.logJob !== job) return;
      if (text) {
        pre.textContent = text;
      } else {
        pre.textContent = 'The log is empty.';
        pre.classList.add('log-empty');
      }
      dlg.dataset.state = 'loaded';
      pre.scrollTop = pre.scrollHeight;
    } catch (e) {
      if (e instanceof AuthError || e instanceof StaleError) return;
      pre.textContent = 'Could not load the log: ' + (e.message || String(e));
      pre.classList.add('log-error');
      dlg.dataset.state = 'error';
    }
  }

  // ---------------------------------------------------------------------------------------
  // Restore tests

  function renderRestoreTests() {
    const tests = state.restoreTests || [];
    const shown = state.testsExpanded ? tests : tests.slice(0, TESTS_SHOWN);
    const rows = shown.map((t) => {
      const result = t.passed === true ? badge('ok', 'Passed') : t.passed === false ? badge('critical', 'Failed') : badge('unknown', 'Unknown');
      const vals = Array.isArray(t.validations) ? t.validations.filter((v) => v && typeof v === 'object') : [];
      const okCount = vals.filter((v) => v.passed === true).length;
      let checks = dash();
      if (vals.length) {
        const failed = vals.filter((v) => v.passed !== true);
        checks = h('details', { class: 'checks' },
          h('summary', {}, h('span', { class: failed.length ? 'text-critical' : '', text: `${okCount} of ${vals.length} passed` })),
          h('ul', { class: 'check-list' }, vals.map((v) => h('li', { class: v.passed === true ? 'check-ok' : 'check-bad' },
            h('span', { class: 'vs-mark', text: v.passed === true ? '✓' : '✕' }),
            h('span', { text: String(v.name ?? '') }),
            v.passed === true ? null : h('span', { class: 'muted', text: ` expected ${fmtValue(v.expect)}, got ${fmtValue(v.got)}` })))));
      }
      const target = [t.target, t.target_time ? fmtDateTime(parseTime(t.target_time)) : null].filter(Boolean).join(' · ');
      return h('tr', { 'data-testid': 'restore-test-row', 'data-source': String(t.source ?? '') },
        h('td', {}, cellStack(timeEl(t.end || t.start), fmtDateTime(parseTime(t.end || t.start)))),
        h('td', { text: String(t.source ?? '—') }),
        h('td', {}, t.backup_id ? h('span', { class: 'mono ellipsis', title: String(t.backup_id), text: String(t.backup_id) }) : dash()),
        h('td', { text: target || '—' }),
        h('td', {}, cellStack(result, t.error ? h('span', { class: 'error-text', title: String(t.error), text: String(t.error) }) : null)),
        h('td', {}, isNum(t.rto_s) || isNum(t.rto_target_s) ? vsTarget(t.rto_s, t.rto_target_s) : dash()),
        h('td', {}, checks));
    });
    if (!tests.length) rows.push(emptyRow(7, 'No restore test has run yet.'));
    $('#rt-body').replaceChildren(...rows);
    const failed = tests.filter((t) => t.passed === false).length;
    $('#rt-summary').textContent = tests.length ? `${tests.length} test${tests.length === 1 ? '' : 's'} · ${failed} failed` : '';
    const more = $('#rt-more');
    more.replaceChildren();
    if (tests.length > TESTS_SHOWN) {
      more.append(h('button', {
        type: 'button', class: 'link',
        text: state.testsExpanded ? 'Show fewer' : `Show all ${tests.length}`,
        onclick: () => { state.testsExpanded = !state.testsExpanded; renderRestoreTests(); },
      }));
    }
  }

  function fmtValue(v) {
    if (v == null) return '—';
    if (typeof v === 'string') return v;
    try { return JSON.stringify(v); } catch (_) { return String(v); }
  }

  // ---------------------------------------------------------------------------------------
  // Charts (uPlot)

  function syncChartSources() {
    const sources = state.status ? state.status.sources.map((s) => String(s.name ?? '')) : [];
    const sel = $('#chart-source');
    const current = [...sel.options].map((o) => o.value);
    if (current.join('\u0000') !== sources.join('\u0000')) {
      sel.replaceChildren(...sources.map((n) => h('option', { value: n, text: n })));
    }
    sel.disabled = sources.length === 0;
    if (!sources.includes(state.chartSource)) {
      // Prefer a source that has backups: a database first, then anything.
      const withBackup = state.status.sources.filter((s) => s.last_backup);
      const pick = withBackup.find((s) => s.kind === 'database') || withBackup[0] || state.status.sources[0];
      selectChartSource(pick ? String(pick.name ?? '') : null);
    } else {
      sel.value = state.chartSource;
      if (!state.charts.size) renderCharts();
    }
  }

  function selectChartSource(name) {
    const changed = name !== state.chartSource;
    state.chartSource = name;
    if (name != null) $('#chart-source').value = name;
    if (changed) state.chartType = null;
    renderCharts();
    if (name && (changed || !state.backups.has(name))) loadBackups(name);
  }

  function unitFor(max, units) {
    let pick = units[0];
    for (const u of units) if (max >= u[1] * u[2]) pick = u;
    return pick;
  }
  const SIZE_UNITS = [['B', 1, 1], ['KiB', 1024, 1], ['MiB', 1024 ** 2, 1], ['GiB', 1024 ** 3, 1], ['TiB', 1024 ** 4, 1]];
  const TIME_UNITS = [['s', 1, 1], ['min', 60, 2], ['h', 3600, 2], ['d', 86400, 2]];

  function renderCharts() {
    const sizeEl = $('#size-chart');
    const durEl = $('#duration-chart');
    if (typeof window.uPlot !== 'function') {
      $('#size-note').textContent = 'The chart library did not load.';
      return;
    }
    if ($('#app-view').hidden) return;

    const src = state.chartSource;
    const loaded = src != null && state.backups.has(src);
    const all = loaded ? state.backups.get(src) : [];

    // Types present, most frequent first; the default view is the most frequent type, since a
    // size band only means something within one type (a full and an incremental differ 100x).
    const freq = new Map();  // type -> count
    for (const b of all) freq.set(typeKey(b), (freq.get(typeKey(b)) || 0) + 1);
    const types = [...freq.keys()].sort((a, b) => freq.get(b) - freq.get(a) || a.localeCompare(b));
    const typeSel = $('#chart-type');
    const opts = (types.length > 1 ? ['all'] : []).concat(types);
    if (state.chartType == null || !opts.includes(state.chartType)) state.chartType = types[0] || null;
    const optKey = opts.join('\u0000');
    if (typeSel.dataset.key !== optKey) {
      typeSel.replaceChildren(...opts.map((t) => h('option', {
        value: t, text: t === 'all' ? `All types (${all.length})` : `${t} (${freq.get(t)})`,
      })));
      typeSel.dataset.key = optKey;
    }
    typeSel.disabled = opts.length <= 1;
    typeSel.closest('.control').hidden = opts.length === 0;
    if (state.chartType) typeSel.value = state.chartType;

    const mode = state.chartType === 'all' ? 'all' : 'one';
    const rows = mode === 'all' ? all : all.filter((b) => typeKey(b) === state.chartType);
    const xs = rows.map((b) => backupTime(b) / 1000);

    // Size: one series (with the anomaly band) for one type; one series per type for "all".
    let sizeSeries;
    let bands = [];
    let outside = 0;
    let haveBand = false;
    if (mode === 'all') {
      sizeSeries = types.map((t, i) => ({
        label: t,
        color: COLORS.types[t] || COLORS.extra[i % COLORS.extra.length],
        values: rows.map((b) => (typeKey(b) === t && isNum(b.size_bytes) ? b.size_bytes : null)),
      }));
    } else {
      const size = rows.map((b) => (isNum(b.size_bytes) ? b.size_bytes : null));
      const med = rows.map((b) => (isNum(b.size_median) ? b.size_median : null));
      const hi = med.map((m) => (m == null ? null : m * 1.5));
      const lo = med.map((m) => (m == null ? null : m * 0.5));
      haveBand = med.some((m) => m != null);
      const out = size.map((v, i) => (v != null && hi[i] != null && (v > hi[i] || v < lo[i]) ? v : null));
      outside = out.filter((v) => v != null).length;
      sizeSeries = [{ label: 'Size', color: COLORS.line, values: size, width: 2 }];
      if (haveBand) {
        sizeSeries.push({ label: 'Median × 1.5', color: COLORS.bandEdge, values: hi, dash: [5, 4], width: 1, points: false });
        sizeSeries.push({ label: 'Median × 0.5', color: COLORS.bandEdge, values: lo, dash: [5, 4], width: 1, points: false });
        bands = [{ series: [2, 3], fill: COLORS.band }];
        if (outside) sizeSeries.push({ label: 'Outside the band', color: COLORS.anomaly, values: out, pointsOnly: true });
      }
    }
    const durSeries = mode === 'all'
      ? types.map((t, i) => ({
        label: t,
        color: COLORS.types[t] || COLORS.extra[i % COLORS.extra.length],
        values: rows.map((b) => (typeKey(b) === t && isNum(b.duration_s) ? b.duration_s : null)),
      }))
      : [{ label: 'Duration', color: COLORS.line, values: rows.map((b) => (isNum(b.duration_s) ? b.duration_s : null)), width: 2 }];

    const maxOf = (series) => Math.max(0, ...series.flatMap((s) => s.values.filter(isNum)));
    const sizeUnit = unitFor(maxOf(sizeSeries), SIZE_UNITS);
    const timeUnit = unitFor(maxOf(durSeries), TIME_UNITS);

    // Note under the size chart.
    const note = $('#size-note');
    if (!loaded) note.textContent = src ? 'Loading…' : 'No source to show.';
    else if (!all.length) note.textContent = '';
    else if (mode === 'all') note.textContent = 'Choose one type to see its expected-size band.';
    else if (!haveBand) note.textContent = 'The expected-size band appears once there are 3 earlier backups of this type.';
    else {
      note.textContent = 'Shaded: expected size, 0.5 to 1.5 × the median of the previous backups of the same type.'
        + (outside ? ` ${outside} backup${outside === 1 ? '' : 's'} outside the band.` : ' Every backup is inside the band.');
    }

    // Until the backups are in, a placeholder (no canvas): the chart appears once, with data.
    if (!loaded) {
      destroyCharts();
      const text = src ? 'Loading…' : 'No source configured';
      sizeEl.append(h('div', { class: 'chart-empty', text }));
      durEl.append(h('div', { class: 'chart-empty', text }));
      return;
    }
    const emptyText = rows.length ? '' : 'No backups yet';
    const key = [src, emptyText, state.chartType, xs.length, xs[xs.length - 1], rows.length ? rows[rows.length - 1].id : '', sizeUnit[0], timeUnit[0], haveBand].join('|');
    if (key === state.charts.key && state.charts.size) return;
    destroyCharts();
    state.charts.key = key;

    state.charts.size = makeChart(sizeEl, xs, sizeSeries, bands, sizeUnit, fmtBytes, emptyText);
    state.charts.duration = makeChart(durEl, xs, durSeries, [], timeUnit, fmtDuration, emptyText);
  }

  function makeChart(el, xs, series, bands, unit, fmtFull, emptyText) {
    el.replaceChildren();
    const width = Math.max(200, Math.floor(el.clientWidth || 600));
    const [unitName, unitDiv] = unit;
    const data = [xs, ...series.map((s) => s.values.map((v) => (v == null ? null : v / unitDiv)))];
    const axisStyle = {
      stroke: COLORS.axis,
      grid: { stroke: COLORS.grid, width: 1 },
      ticks: { stroke: COLORS.grid, width: 1, size: 4 },
      font: '11px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    };
    const opts = {
      width,
      height: CHART_HEIGHT,
      padding: [10, 12, 0, 4],
      cursor: { drag: { x: true, y: false }, points: { size: 7 }, sync: { key: 'strongroom-backups' } },
      scales: {
        x: {
          time: true,
          // One backup: a day either side (uPlot would otherwise span years); else 2 % margins.
          range: (u, min, max) => {
            if (min == null || max == null) { const now = serverNow() / 1000; return [now - 7 * 86400, now]; }
            const first = u.data[0][0];
            const last = u.data[0][u.data[0].length - 1];
            if (first != null && last - first < 60) return [first - 86400, last + 86400];
            const pad = (max - min) * 0.02;
            return [min - pad, max + pad];
          },
        },
        y: { range: (u, min, max) => [0, max == null || !(max > 0) ? 1 : max * 1.08] },
      },
      legend: { show: true, live: true },
      series: [
        { label: 'Finished', value: (u, v) => (v == null ? '—' : fmtDateTime(v * 1000)) },
        ...series.map((s) => {
          const o = {
            label: s.label,
            stroke: s.color,
            width: s.width || 1.5,
            spanGaps: true,
            points: s.points === false ? { show: false } : { size: 5, fill: s.color, width: 1 },
            value: (u, v) => (v == null ? '—' : fmtFull(v * unitDiv)),
          };
          if (s.dash) o.dash = s.dash;
          if (s.pointsOnly) {
            o.paths = () => null;
            o.points = { show: true, space: 0, size: 8, width: 2, stroke: s.color, fill: '#ffffff' };
          }
          return o;
        }),
      ],
      bands,
      axes: [
        { ...axisStyle },
        {
          ...axisStyle,
          size: 64,
          values: (u, splits) => splits.map((v) => (v == null || emptyText ? '' : fmtNum(v, 2) + ' ' + unitName)),
        },
      ],
    };
    const chart = new window.uPlot(opts, data, el);
    if (emptyText) el.append(h('div', { class: 'chart-empty', text: emptyText }));
    return chart;
  }

  function destroyCharts() {
    for (const k of ['size', 'duration']) {
      if (state.charts[k]) { state.charts[k].destroy(); state.charts[k] = null; }
    }
    state.charts.key = '';
    $('#size-chart').replaceChildren();
    $('#duration-chart').replaceChildren();
  }

  // Keep the charts as wide as their panel.
  let resizePending = false;
  function resizeCharts() {
    if (resizePending) return;
    resizePending = true;
    requestAnimationFrame(() => {
      resizePending = false;
      for (const [k, id] of [['size', '#size-chart'], ['duration', '#duration-chart']]) {
        const c = state.charts[k];
        if (!c) continue;
        const w = Math.max(200, Math.floor($(id).clientWidth));
        if (Math.abs(w - c.width) >= 1) c.setSize({ width: w, height: CHART_HEIGHT });
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Wiring

  function init() {
    $('#signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      let token = $('#token-input').value.trim();
      const m = /#(?:.*&)?token=([^&]*)/.exec(token); // a pasted dashboard link
      if (m) { try { token = decodeURIComponent(m[1]); } catch (_) { token = m[1]; } }
      if (!token) {
        showSignin('Enter the API token.');
        return;
      }
      signIn(token);
    });
    $('#btn-signout').addEventListener('click', () => signOut('Signed out.'));
    $('#btn-refresh').addEventListener('click', () => refreshAll());
    $('#chart-source').addEventListener('change', (ev) => selectChartSource(ev.target.value));
    $('#chart-type').addEventListener('change', (ev) => { state.chartType = ev.target.value; renderCharts(); });

    const dlg = $('#log-dialog');
    $('#log-close').addEventListener('click', () => dlg.close());
    $('#log-reload').addEventListener('click', () => loadLog());
    dlg.addEventListener('click', (ev) => { if (ev.target === dlg) dlg.close(); }); // backdrop
    dlg.addEventListener('close', () => { state.logJob = null; });

    if (typeof ResizeObserver === 'function') {
      const ro = new ResizeObserver(resizeCharts);
      ro.observe($('#history'));
    } else {
      window.addEventListener('resize', resizeCharts);
    }

    // A link with #token=… opened in a tab that is already showing the page.
    window.addEventListener('hashchange', () => {
      const t = takeTokenFromHash();
      if (t) signIn(t);
    });

    const token = takeTokenFromHash() || readStoredToken();
    if (token) signIn(token);
    else showSignin('');
  }

  init();
})();
