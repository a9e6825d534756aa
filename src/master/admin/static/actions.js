// corral /admin dashboard: the buttons (reload, +1 and −1 worker) and the message under them.
// Loaded before dashboard.js; shares the page's global scope (api, set, clock, refresh,
// TimeoutError are dashboard.js's, used only once the page runs).
/* global $, api, set, clock, refresh, TimeoutError, lastStats */
'use strict';

const ACTION_BUTTONS = ['btn-reload', 'btn-add', 'btn-remove'];
// A message older than this that no refresh showed done is marked as past: the state it spoke of
// may have changed since by other hands (a HUP, another page, `corral reload`).
const NOTE_FRESH_MS = 60_000;

// Disabled while a change is on its way, after one the master did not answer in time until it
// answers a refresh (it may still carry the change out: a second click would add a second worker),
// while the master stops (it answers 409 shutting_down to each: offering them there only invites
// a refusal), and while it does not answer at all (the page says UNREACHABLE).
const buttons = { sending: false, unanswered: false, stopping: false, unreachable: false };
// The button a change was asked with: disabled while it is sent, it lost the keyboard's focus to
// the page (a screen reader lost its place); given it back once the buttons are enabled again.
let focusBack = null;
function setButtons(change) {
  Object.assign(buttons, change);
  const disabled = buttons.sending || buttons.unanswered || buttons.stopping || buttons.unreachable;
  for (const id of ACTION_BUTTONS) $(id).disabled = disabled;
  if (!disabled && focusBack) {
    if (!document.activeElement || document.activeElement === document.body) focusBack.focus();
    focusBack = null;
  }
}

// The message stays on screen between refreshes and spoke of a moment: "generation 2 is booting"
// read as the state after two more reloads. It carries its time, and `follow` (the state a refresh
// shows when the change is carried out) turns it into "done" or marks it as past.
let note = null;

function showNote(n) {
  note = n;
  const el = $('action-result');
  if (!n) { el.textContent = ''; delete el.dataset.past; return; }
  if (n.past) el.dataset.past = 'true'; else delete el.dataset.past;
  el.textContent = n.past ? `earlier, at ${clock(n.at)}: ${n.text}` : n.done ? n.text : `${n.text} (at ${clock(n.at)})`;
}

/** What the reload or worker change announced: its state in each refresh's stats. */
function followReload(target, started) {
  return (s) => {
    if (s.master.generation > target) return { past: true };
    // A started reload whose workers cannot boot is rolled back: the generation goes back.
    if (started && s.master.generation < target) return { done: `reload to generation ${target} rolled back: its workers could not boot (reload.failed in the log); generation ${s.master.generation} serves` };
    const older = s.workers.some((w) => w.generation < target);
    if (s.master.generation === target && !older && s.workers_ready >= s.workers_expected) {
      return { done: `reload done: generation ${target} serves, no older worker left` };
    }
    return null;
  };
}

/**
 * After a change the master did not answer in time: whether the next answer shows it carried out,
 * judged against the stats before it (`before`): "may still carry it out" stayed on screen until it
 * aged, whether or not the change had happened.
 */
function followUnanswered(path, body, before) {
  if (!before) return null;
  if (path === '/api/admin/reload') {
    const target = before.master.generation + 1;
    return (s) =>
      s.master.generation >= target || (s.reload && s.reload.in_progress_generation !== null)
        ? { done: 'the reload was carried out after all', seen: 'the master answered' }
        : { done: `the reload was not carried out: generation ${s.master.generation} serves as before; reload again if you still want it`, seen: 'the master answered' };
  }
  const target = before.workers_expected + ((body && body.delta) || 0);
  return (s) =>
    s.workers_expected === target
      ? { done: `the change was carried out after all: workers → ${target}`, seen: 'the master answered' }
      : { done: `the change was not carried out: ${s.workers_expected} worker${s.workers_expected === 1 ? '' : 's'} expected as before; ask again if you still want it`, seen: 'the master answered' };
}

function followWorkers(target) {
  return (s) => {
    if (s.workers_expected !== target) return { past: true };
    if (s.workers_ready === target && s.workers.every((w) => w.state === 'ready')) {
      return { done: `${target} worker${target === 1 ? '' : 's'} ready, as asked` };
    }
    return null;
  };
}

/** Called with each refresh's stats (dashboard.js's renderStats). */
function followNote(s, now = new Date()) {
  // The master answers again: a change it had not answered was carried out before this, or not at all.
  setButtons({ stopping: Boolean(s.master.stopping), unreachable: false, ...(buttons.sending ? {} : { unanswered: false }) });
  if (!note) return;
  // Another master answers (corral restarted, or it crashed and systemd started it again): what the
  // change's master was doing is gone with it, and its generation starts over. Judged by the new
  // one's figures, a reload to generation 3 read "rolled back: its workers could not boot
  // (reload.failed in the log); generation 1 serves", sending the operator after a reload failure
  // that never happened rather than after the restart.
  if (note.follow && !note.past && note.masterPid !== undefined && s.master.pid !== note.masterPid) {
    showNote({ ...note, text: `${note.text}; corral was restarted since (master pid ${note.masterPid}, now ${s.master.pid}): this no longer applies`, follow: null, past: true });
  }
  if (note.follow && !note.past) {
    const seen = note.follow(s);
    if (seen && seen.done) showNote({ text: `${seen.done} (asked at ${clock(note.at)}, ${seen.seen || 'seen done'} at ${clock(now)})`, at: note.at, doneAt: now, done: true });
    else if (seen && seen.past) showNote({ ...note, follow: null, past: true });
  }
  ageNote(now);
}

// Done: true now, but no news a minute on, and dropped. Anything else: kept, marked as past.
function ageNote(now) {
  if (!note) return;
  if (note.done) { if (now - note.doneAt > NOTE_FRESH_MS) showNote(null); return; }
  if (!note.past && now - note.at > NOTE_FRESH_MS) showNote({ ...note, follow: null, past: true });
}

// A change asked of a busy master may be carried out after the page stopped waiting: the buttons
// stay disabled while one is on its way, and a timeout says it may still happen, so a second
// click does not add a second worker or a second reload.
async function action(path, body) {
  const asked = document.activeElement;
  if (asked && ACTION_BUTTONS.includes(asked.id)) focusBack = asked;
  const before = lastStats;
  // The master the change is asked of, as the last refresh saw it: followNote tells a restart apart.
  const masterPid = before ? before.master.pid : undefined;
  setButtons({ sending: true });
  showNote({ text: 'sent…', at: new Date() });
  try {
    const r = await api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) });
    const at = new Date();
    if (r.reload) showNote({ text: r.message, at, masterPid, follow: followReload(r.generation, r.reload === 'started') });
    else if (r.workers_expected !== undefined) showNote({ text: `workers → ${r.workers_expected}`, at, masterPid, follow: followWorkers(r.workers_expected) });
    else showNote({ text: r.message || 'ok', at });
  } catch (err) {
    const unanswered = err instanceof TimeoutError;
    showNote({
      text: unanswered ? `${err.message}: the master may still carry it out; the buttons come back once it answers again, and this says whether it did` : err.message,
      at: new Date(),
      ...(unanswered ? { masterPid, follow: followUnanswered(path, body, before) } : {}),
    });
    if (unanswered) setButtons({ unanswered: true });
  } finally {
    setButtons({ sending: false });
  }
  setTimeout(refresh, 1000);
}
