// corral /admin dashboard: plain browser JS, no build step. Polls the admin API every 5 s with the
// bearer token of token.js. The charts are charts.js's (renderHistory, sizeCharts), the buttons and
// the message under them actions.js's (action, followNote, ageNote), the Connections card
// capacity.js's (renderConnections).
/* global renderHistory, sizeCharts, renderConnections, tokenProblem, takeTokenFromHash, token, AuthError, authRefusal, showTokenForm, showTokenUnset, TOKEN_KEY, action, followNote, ageNote, setButtons */
'use strict';

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

// Times on the page as 03:27:11 whatever the browser's locale: one form for every message.
const clock = (d) => [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');

class TimeoutError extends Error {}

// The master answers at once even when every worker is stuck; an answer this late means the admin
// API is not there, and the figures on the page must stop looking live.
const API_TIMEOUT_MS = 4000;

async function api(path, init = {}) {
  // One stored before this check existed, or by hand: said as a refused token, not as unreachable.
  const problem = tokenProblem(token());
  if (problem) throw new AuthError(problem);
  let res;
  // None stored: asked without one, so that a master with no token configured says so at once
  // rather than after a token typed in vain.
  const auth = token() ? { Authorization: `Bearer ${token()}` } : {};
  try {
    res = await fetch(path, { ...init, headers: { ...(init.headers || {}), ...auth }, cache: 'no-store', signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  } catch (err) {
    if (err && err.name === 'TimeoutError') throw new TimeoutError(`no answer within ${API_TIMEOUT_MS / 1000} s`);
    throw new Error('the admin API cannot be reached (is corral running?)');
  }
  if (res.status === 401 || res.status === 403) throw authRefusal(res.status, await res.json().catch(() => ({})));
  if (!res.ok) {
    // The API says why it refused (a reload with invalid settings, the last worker): show that.
    const body = await res.json().catch(() => ({}));
    throw new Error(body.message || `${path}: HTTP ${res.status}`);
  }
  return res.json();
}

const fmt = {
  int: (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US')),
  num: (n, d = 1) => (n === null || n === undefined ? '–' : Number(n).toFixed(d)),
  bytes(n) {
    if (n === null || n === undefined) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
  },
  dur(s) {
    if (s === null || s === undefined) return '–';
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
  },
};

function set(id, text) { const el = $(id); if (el) el.textContent = text; }

// The stats of the last refresh that answered: a change the master did not answer in time is
// judged against them once it answers again (actions.js).
let lastStats = null;

/**
 * Health's verdict beside the capacity status when it is not ok: the badge alone said LOW, in
 * green, while a worker or the keeper had stopped beating (the cards said so far down the page).
 * UNAVAILABLE is the capacity badge's already; a stop is said as STOPPING.
 */
function renderHealth(s, stopping) {
  const el = $('health');
  const degraded = !stopping && s.health === 'degraded';
  el.hidden = !degraded;
  if (!degraded) { el.textContent = ''; return; }
  const why = [];
  if (s.workers_not_beating > 0) why.push(`${s.workers_not_beating} worker${s.workers_not_beating === 1 ? '' : 's'} not beating`);
  else if (s.workers_ready < s.workers_expected) why.push(`${s.workers_ready}/${s.workers_expected} workers ready`);
  const k = s.keeper;
  if (k && k.heartbeat_late) why.push('keeper not beating');
  else if (k && k.state !== 'ready') why.push(`keeper ${k.state}`);
  else if (!k && (s.keeper_respawn || s.health_keeper === 'not_running')) why.push('keeper not running');
  if (s.health_journal === 'sync_stuck') why.push('journal write hangs (the data disk): events refused');
  else if (s.health_journal === 'not_writable' || (s.sheets && s.sheets.journal_writable === false)) why.push('journal cannot be written');
  else if (s.health_journal === 'full') why.push('journal full (SHEETS_JOURNAL_MAX_MB): events refused');
  el.textContent = `DEGRADED${why.length ? `: ${why.join(', ')}` : ' (GET /api/admin/health says why)'}`;
}

/**
 * The reload in progress, or the latest one that did not apply, whoever asked for it (a HUP,
 * `systemctl reload`, this page): a reload rolled back left the page as it was, generation and
 * all, and only the log said so. The master's own line, as systemd's status line and `corral
 * status` say it, until a reload completes. (A master older than the page sends no `reload`.)
 */
function renderReload(r) {
  const note = $('reload-note');
  const inProgress = r && r.in_progress_generation !== null;
  const failed = r && !inProgress && r.last && r.last.outcome !== 'completed';
  note.hidden = !inProgress && !failed;
  note.className = `banner ${inProgress ? 'reloading' : 'reload-failed'}`;
  note.textContent = inProgress ? `reload to generation ${r.in_progress_generation} in progress${r.queued ? ', another queued behind it' : ''}` : failed ? r.last.message : '';
}

function renderStats(s) {
  const c = s.capacity;
  const status = $('status');
  // With no worker ready the API's status is UNAVAILABLE, as health says: not LOW at 0 %, which
  // would read as all clear. Once a stop has begun it is UNAVAILABLE too, and the workers drain:
  // that is no outage but the master going away, said as STOPPING (`corral status`: "corral is
  // stopping"), with the buttons disabled (actions.js) since the master refuses them then.
  const stopping = Boolean(s.master.stopping);
  status.textContent = stopping ? 'STOPPING' : c.status;
  status.dataset.status = stopping ? 'STOPPING' : c.status;
  renderHealth(s, stopping);
  $('stopping-note').hidden = !stopping;
  renderReload(s.reload);
  renderConnections(c);
  set('generation', String(s.master.generation));
  set('master-pid', String(s.master.pid));
  set('master-uptime', fmt.dur(s.master.uptime_s));
  set('workers-ready', String(s.workers_ready));
  set('workers-expected', String(s.workers_expected));
  renderExits(s.exits && s.exits.worker);
  // Workers missing while the crash-loop or boot backoff holds the next fork: say why and for how long.
  const respawn = $('respawn');
  const wait = s.respawn;
  respawn.hidden = !wait;
  respawn.textContent = wait
    ? `respawning in ${Math.ceil(wait.in_ms / 1000)} s (${wait.boot_failures > 0 ? `${wait.boot_failures} failed boot${wait.boot_failures === 1 ? '' : 's'} in a row` : `crash loop ${wait.crash_loop}`})`
    : '';
  set('rps', fmt.num(s.totals.requests_per_second));
  // The lifetime total (as /metrics' corral_requests_total), which a worker replaced does not lower;
  // the live workers' share is the sum of the table's requests column.
  set('requests-total', fmt.int(s.totals.requests_served));
  set('requests-live', fmt.int(s.totals.requests_served_by_live_workers));
  // 5xx answers are the users' view of an incident (Google failing, the keeper down): red when any.
  set('errors-rate', fmt.num(s.totals.errors_per_second));
  $('errors').dataset.bad = String(s.totals.errors_per_second > 0);
  // At FULL the connection cap answers 503 before any request is read: those are neither requests
  // served nor 5xx answers, so a host turning hundreds away showed 0 req/s and 0 5xx/s.
  set('refused-rate', fmt.num(s.totals.connections_refused_per_second));
  set('refused-total', fmt.int(s.totals.connections_refused));
  $('refused').dataset.bad = String(s.totals.connections_refused_per_second > 0);
  set('cpu', s.host ? fmt.num(s.host.cpu_percent) : '–');
  set('ram', s.host ? fmt.num(s.host.ram_percent) : '–');
  // What the shares are of: under a cgroup CPU quota or memory limit (a container's --cpus and -m,
  // CPUQuota= and MemoryMax= of the unit) the quota's and the limit's, as the log's host.cpu_high
  // and host.ram_high say. "97.5% · 2 cores" sent an operator to `top`, which showed the machine's
  // 32 CPUs mostly idle.
  const cpus = s.host ? `${s.host.cpus} CPU${s.host.cpus === 1 ? '' : 's'}` : '–';
  set('cpu-of', s.host && s.host.cpu_from === 'cgroup' ? `of the cgroup's CPU quota: ${cpus}` : cpus);
  const [used, total] = s.host ? [fmt.bytes(s.host.ram_used_bytes), fmt.bytes(s.host.ram_total_bytes)] : ['–', '–'];
  set('ram-of', s.host && s.host.ram_from === 'cgroup' ? `${used} of the cgroup's memory limit, ${total}` : `${used} of ${total}`);
  // Host CPU/RAM that can no longer be measured keep their last figures in the stats: greyed here,
  // with their age, rather than shown as the host's state (the log says why: host.sample_failed).
  const hostStale = Boolean(s.host && s.host.stale);
  for (const id of ['cpu', 'ram']) {
    const card = $(`${id}-card`);
    if (hostStale) card.dataset.stale = 'true'; else delete card.dataset.stale;
    const note = $(`${id}-stale`);
    note.hidden = !hostStale;
    note.textContent = hostStale ? `not measured for ${Math.round(s.host.sampled_s_ago)} s: last figures read` : '';
  }
  const sh = s.sheets;
  set('sheets-hit-ratio', sh.cache_hit_ratio === null ? '–' : `${(sh.cache_hit_ratio * 100).toFixed(1)}%`);
  set('sheets-upstream', fmt.num(sh.upstream_calls_per_minute));
  // Reads waiting for a token: the minute's read quota is spent and requests that miss every copy
  // wait on it (or get 503 once they time out). "0 left" alone read the same as a quiet minute's end.
  const queued = sh.quota_reads_queued > 0 ? `; ${fmt.int(sh.quota_reads_queued)} read${sh.quota_reads_queued === 1 ? '' : 's'} waiting` : '';
  set('sheets-quota', `${fmt.int(sh.quota_reads_left)} / ${fmt.int(sh.quota_writes_left)}${queued}`);
  $('sheets-quota').dataset.bad = String(sh.quota_reads_queued > 0);
  // Rows stuck behind a failing append show their age; a busy minute's backlog has none worth showing.
  const backlog = sh.journal_oldest_seconds > 0 ? `${fmt.int(sh.journal_backlog)} (oldest ${fmt.int(sh.journal_oldest_seconds)}s)` : fmt.int(sh.journal_backlog);
  // Rows of another sheet (SHEET_ID changed while they waited) are never sent here: the operator's to settle.
  const held = sh.journal_held_rows > 0 ? `; ${fmt.int(sh.journal_held_rows)} held for another sheet` : '';
  // A journal that cannot be written (disk full) refuses every event: say it before the backlog.
  set('sheets-journal', (sh.journal_writable === false ? `cannot write: events refused (${fmt.int(sh.journal_appends_refused)}); ${backlog}` : backlog) + held);
  $('sheets-journal').dataset.bad = String(sh.journal_writable === false || sh.journal_held_rows > 0);
  set('sheets-failing', fmt.int(sh.ranges_failing));
  $('sheets-failing').dataset.bad = String(sh.ranges_failing > 0);
  set('sheets-stale', sh.max_stale_seconds === null ? '–' : `${sh.max_stale_seconds}s`);
  // Only with REDIS_URL: whether the quota and cache are shared with the sheet's other hosts now.
  const shared = sh.redis_connected !== null && sh.redis_connected !== undefined;
  $('sheets-redis-label').hidden = !shared;
  $('sheets-redis').hidden = !shared;
  // A Redis that answers but refuses (a wrong password, memory full) is not unreachable: its fix is in redis.misconfigured.
  const refused = { login: 'the login of REDIS_URL', database: 'the database in REDIS_URL', scripts: "the keeper's scripts", keys: "the keeper's keys", writes: 'writes (memory full?)', command: 'a command of the keeper' };
  const why = typeof sh.redis_refused === 'string' ? `Redis refuses ${refused[sh.redis_refused] ?? sh.redis_refused} (redis.misconfigured in the log)` : 'Redis unreachable';
  if (shared) set('sheets-redis', sh.redis_connected ? `yes (${fmt.int(sh.shared_reads)} ranges taken from it)` : `no: ${why}, this host reads Google and spends its share of the quota alone`);
  $('sheets-redis').dataset.bad = String(sh.redis_connected === false);

  // A worker whose loop is blocked sends no heartbeat: its row keeps the figures of its last one
  // until the master kills it (CORRAL_TIMEOUT), so the row and the card say it is not beating.
  const late = s.workers.filter((w) => w.heartbeat_late);
  const silent = $('silent');
  silent.hidden = late.length === 0;
  silent.textContent = late.length === 0 ? ''
    : `${late.length} not beating (blocked?) for ${fmt.num(Math.max(...late.map((w) => w.last_beat_s_ago)), 1)} s; figures are from the last beat`;
  const k = s.keeper;
  const kr = s.keeper_respawn;
  // A keeper killed as stuck or crashed is restarted within seconds and reads `ready` again: its
  // exits nobody asked for stay said (the stats' exits.keeper), in red, as the workers' are.
  const keeperUnasked = unaskedExits(s.exits && s.exits.keeper);
  const keeperExits = keeperUnasked.length ? `; exited unasked since the master started: ${saidExits(keeperUnasked)}` : '';
  set('keeper-state', (!k ? (kr ? `not running, restarting in ${fmt.num(kr.in_ms / 1000, 0)} s (crash loop ${kr.crash_loop})` : 'not running') : k.heartbeat_late ? `${k.state}, not beating for ${k.last_beat_s_ago} s` : k.state) + keeperExits);
  $('keeper-state').dataset.late = String(!k || k.heartbeat_late || keeperUnasked.length > 0);
  // A keeper not beating (its loop blocked, the process stopped) sent its quota, journal and cache
  // figures with its last beat: the card went on showing them as the Sheets layer's state now.
  // Greyed with their age, as the CPU and RAM cards' figures are when they cannot be measured.
  const keeperSilent = Boolean(k && k.heartbeat_late);
  const sheetsCard = $('sheets-card');
  if (keeperSilent) sheetsCard.dataset.stale = 'true'; else delete sheetsCard.dataset.stale;
  const beatNote = $('sheets-beat-note');
  beatNote.hidden = !keeperSilent;
  beatNote.textContent = keeperSilent ? `the keeper has not beaten for ${fmt.num(k.last_beat_s_ago, 1)} s: its figures here are those of its last beat` : '';

  const body = $('workers-body');
  const rows = s.workers.map((w) => {
    const tr = document.createElement('tr');
    tr.dataset.pid = String(w.pid);
    tr.dataset.state = w.state;
    if (w.heartbeat_late) tr.dataset.late = 'true';
    const beat = w.last_beat_s_ago === null ? '–' : `${fmt.num(w.last_beat_s_ago, 1)} s ago`;
    // A ready worker marked for replacement serves until its successor is ready: "ready" alone
    // hid that every worker was on its way out (after uncaught exceptions, say).
    const state = w.heartbeat_late ? `${w.state}, not beating` : w.retiring && w.state === 'ready' ? `ready, retiring (${w.retiring})` : w.state;
    // 0 is the API's "no request answered in the window" (no request takes under 5 µs): shown as
    // none, not as a 0.0 ms p99 that read as fast.
    const cells = [w.id, w.pid, w.generation, state, beat, fmt.dur(w.uptime_s), fmt.bytes(w.rss_bytes), fmt.bytes(w.heap_used_bytes),
      w.event_loop_lag_ms === null ? '–' : `${fmt.num(w.event_loop_lag_ms, 1)} ms`, fmt.int(w.active_connections), fmt.int(w.requests_served),
      !w.latency_p99_ms ? '–' : `${fmt.num(w.latency_p99_ms, 1)} ms`];
    for (const v of cells) { const td = document.createElement('td'); td.textContent = String(v); tr.appendChild(td); }
    return tr;
  });
  body.replaceChildren(...rows);
  set('updated', clock(lastUpdate));
  followNote(s);
}

// Exits since the master started, by reason (the stats' exits.worker): a worker killed as stuck or
// crashed is replaced within seconds and the count goes back to N / N, so without this the card
// kept no trace of it. Red: the exits nobody asked for (alert on them, as on
// corral_child_exits_total{reason=~"died|timeout|uncaught"}); the others are a reload's, a stop's,
// a recycle's, a scale-down's.
const EXIT_WORDS = {
  timeout: 'killed as stuck (timeout)', died: 'died', uncaught: 'uncaught exception', boot_failed: 'failed to boot', other: 'other',
  reload: 'reload', shutdown: 'stop', max_requests: 'max requests', memory: 'memory limit', scale_down: 'scaled down',
};
const UNASKED_EXITS = ['timeout', 'died', 'uncaught', 'boot_failed', 'other'];
/** [reason, count] of the exits counted, in EXIT_WORDS' order. */
function exitCounts(byReason) {
  const order = Object.keys(EXIT_WORDS);
  return Object.entries(byReason || {}).filter(([, n]) => n > 0).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
}
const unaskedExits = (byReason) => exitCounts(byReason).filter(([r]) => UNASKED_EXITS.includes(r));
const saidExits = (list) => list.map(([r, n]) => `${n} ${EXIT_WORDS[r] || r}`).join(', ');
function renderExits(byReason) {
  const unasked = unaskedExits(byReason);
  const asked = exitCounts(byReason).filter(([r]) => !UNASKED_EXITS.includes(r));
  set('exits-unasked', unasked.length ? saidExits(unasked) : asked.length ? 'none unexpected' : 'none');
  $('exits-unasked').dataset.bad = String(unasked.length > 0);
  set('exits-asked', asked.length ? `; asked for: ${saidExits(asked)}` : '');
}

// When a refresh fails the numbers on the page are the last ones received, not the current state:
// the badge says the API is unreachable, the figures are greyed out (main[data-stale]) and the
// header says since when, until an answer comes back. The header's generation, pid and uptime
// are as old as the rest: greyed and said to be the last known (header[data-stale]).
let lastUpdate = null;
function markStale(message) {
  const status = $('status');
  status.textContent = 'UNREACHABLE';
  status.dataset.status = 'UNREACHABLE';
  $('health').hidden = true;
  setStale(true);
  // A change asked of a master that does not answer only fails: the buttons come back with it.
  setButtons({ unreachable: true });
  const when = lastUpdate ? clock(lastUpdate) : 'no answer yet';
  set('stale-note', `not live: corral did not answer; the figures below are from ${when}`);
  set('updated', `failed: ${message}; figures shown are from ${when}`);
  ageNote(new Date());
}

function setStale(stale) {
  for (const el of [$('main'), document.querySelector('header')]) {
    if (stale) el.dataset.stale = 'true'; else delete el.dataset.stale;
  }
  $('stale-note').hidden = !stale;
}

// One refresh in flight at a time: a slow master answers late, and a refresh asked for meanwhile
// (after a button, a new token) runs once this one ends rather than beside it, so requests never
// pile up on the master and an older answer never paints over a newer one.
let timer;
let running = false;
let again = false;
async function refresh() {
  clearTimeout(timer);
  if (running) { again = true; return; }
  running = true;
  again = false;
  try {
    await refreshOnce();
  } finally {
    running = false;
  }
  if (again) refresh();
}

async function refreshOnce() {
  try {
    const [stats, hist] = await Promise.all([api('/api/admin/stats'), api('/api/admin/history')]);
    $('token-form').hidden = true;
    const wasHidden = $('main').hidden;
    $('main').hidden = false;
    // Resizes while it was hidden were skipped: the boxes may have another width now.
    if (wasHidden) sizeCharts();
    setStale(false);
    lastUpdate = new Date();
    lastStats = stats;
    renderStats(stats);
    renderHistory(hist.samples);
  } catch (err) {
    if (err instanceof AuthError && !err.unset) { showTokenForm(err.message); return; }
    // A master with no token configured is asked again: restarted with one, it brings the form.
    if (err instanceof AuthError) showTokenUnset(err.message); else markStale(err.message);
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const typed = $('token-input').value.trim();
    $('token-input').value = '';
    // Spaces alone were stored as no token and sent as none: a 401, and the form back blank.
    if (typed === '') { showTokenForm('type the token: CORRAL_ADMIN_TOKEN of this corral'); return; }
    const problem = tokenProblem(typed);
    if (problem) { showTokenForm(problem); return; }
    sessionStorage.setItem(TOKEN_KEY, typed);
    refresh();
  });
  $('btn-reload').addEventListener('click', () => { if (confirm('Reload all workers (zero downtime)?')) action('/api/admin/reload'); });
  $('btn-add').addEventListener('click', () => action('/api/admin/workers', { delta: 1 }));
  $('btn-remove').addEventListener('click', () => action('/api/admin/workers', { delta: -1 }));
  // With no token stored the page asks the API anyway: a refusal brings the form, and a master
  // with none configured says so instead of a form no token can get past.
  const refused = takeTokenFromHash();
  if (refused) showTokenForm(refused); else refresh();
  // A #token= put in the address of the page already open (the form showing, or a token rotated)
  // is a same-document navigation: no load, so none of the above ran. The page went on with its
  // form or its old token, and the new one stayed in the address bar and the history.
  window.addEventListener('hashchange', () => {
    if (!/(?:^#|&)token=./.test(location.hash)) return;
    const problem = takeTokenFromHash();
    if (problem) showTokenForm(problem); else refresh();
  });
});
