// A worker's long poll of the keeper's change feed (keeper/change-feed.ts): the keeper answers it
// when a tab changed (an append, a refresh with new values), and the worker's L1 copies of that
// tab stop being served without asking the keeper.

import type { KeeperLink } from './keeper-link.js';
import type { WatchAnswer } from './keeper/change-feed.js';
import type { L1Cache } from './l1-cache.js';

export interface WatchOptions {
  /** Pause after an empty answer that came back at once (WATCH_IDLE_PAUSE_MS). */
  readonly idlePauseMs: number;
  /** Told how many tabs (or all, as one) each answer invalidated, for the worker's figures. */
  readonly invalidated: (count: number) => void;
}

/**
 * A keeper that is closing answers every /watch at once with nothing: without a pause the watch
 * loop would spin on the local socket until the keeper is gone.
 */
export const WATCH_IDLE_PAUSE_MS = 250;
/**
 * Pause before a long poll after one that failed (no keeper listening): a refused connect to the
 * local socket costs microseconds, and the copies keep their hold until a keeper answers.
 */
const WATCH_RETRY_MS = 200;
/** An empty answer faster than this did not wait for changes (a normal one waits WATCH_TIMEOUT_MS). */
const WATCH_QUICK_MS = 100;

/** Resolves after `ms`, or at once when `signal` aborts (close() must not wait for it). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Keeps one long poll open on the keeper's change feed until `signal` aborts, expiring or releasing
 * `l1`'s copies as the keeper says their tabs changed.
 */
export async function watchKeeper(link: KeeperLink, l1: L1Cache, signal: AbortSignal, o: WatchOptions): Promise<void> {
  let epoch = '';
  let version = 0;
  while (!signal.aborted) {
    try {
      const asked = Date.now();
      const a = await link.watch<WatchAnswer>(`/watch?since=${version}&epoch=${encodeURIComponent(epoch)}`, signal);
      // A new epoch is a new keeper: what changed meanwhile is unknown (an append acknowledged
      // by the old one while this worker's long poll was between two polls), but nothing says
      // rows did. The holds end; copies are still served if the new keeper is slow to answer.
      if (a.all && epoch !== '' && a.epoch !== epoch) l1.releaseAll();
      else if (a.all) l1.expireAll();
      // The first answer says where the feed stands, not what changed before it: a copy this
      // worker was answered earlier (while the keeper was away at its start, its reads went as the
      // master's keeper-ready woke them, its long poll up to WATCH_RETRY_MS later) may lack the
      // rows of another worker's append acknowledged in between, whose notice that version
      // already counts: held, it hid them for the whole TTL. Its hold ends, as for a new keeper.
      if (epoch === '') l1.releaseAll();
      for (const sheet of a.sheets) l1.expireSheet(sheet);
      o.invalidated(a.sheets.length + (a.all ? 1 : 0));
      const idle = a.sheets.length === 0 && !a.all && a.epoch === epoch;
      epoch = a.epoch;
      version = a.version;
      if (idle && Date.now() - asked < WATCH_QUICK_MS) await pause(o.idlePauseMs, signal);
    } catch {
      if (signal.aborted) return;
      // The keeper is gone (a crash, a restart) or the connection was cut. Copies keep their hold
      // until the keeper answers the next long poll: a restart alone does not change rows. Rows
      // come only through a keeper's journal, so none are acknowledged while no keeper listens,
      // and the notice of one acknowledged before is written to this long poll in the same turn
      // of the keeper's event loop as the writer's answer (the journal publishes as it
      // acknowledges). What this worker cannot be sure of is an append acknowledged while its
      // long poll was between two polls, or as the keeper died: the same keeper answers the next
      // poll from its history, and a new one with a new epoch ('all' above), which ends every
      // hold; each range's next read then asks the new keeper, whose answer merges the journal
      // it replayed. Until then such a copy is what a read got before too (the fallback while no
      // keeper answers); the poll is retried every WATCH_RETRY_MS, so the new keeper's answer
      // comes soon after it listens. Ending the holds here, as before, sent every read meanwhile
      // to a keeper that was not there, or was refilling from Google behind the read quota.
      await pause(WATCH_RETRY_MS, signal);
    }
  }
}
