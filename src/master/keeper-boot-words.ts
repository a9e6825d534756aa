// What the master says of a keeper that did not boot in time or that died: a keeper runs no app,
// so the worker's words ("the app blocks the event loop at import or in createApp?") sent
// operators to look at the app while the keeper was replaying a large write journal (audit F3).
// What it was doing comes from its last boot heartbeat (keeper-main.ts: the journal's size and the
// bytes read so far).

import type { ChildRecord } from './registry.js';

const mib = (bytes: number): string => `${Math.round((bytes / 1048576) * 10) / 10} MiB`;

/** The keeper's journal as its last heartbeat told it: its size and, while booting, the bytes read. */
function journalFigures(c: Pick<ChildRecord, 'figures'>): { bytes: number | undefined; read: number | undefined } {
  const extra = c.figures?.extra;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return { bytes: num(extra?.journalBytes), read: num(c.figures?.bootProgress) };
}

/** "replaying its write journal (648 MiB, 120 MiB read)", or what is known of it. */
function replaying(c: Pick<ChildRecord, 'figures'>): string {
  const { bytes, read } = journalFigures(c);
  if (bytes === undefined) return 'taking its data dir lock or replaying its write journal (its size not reported yet)';
  if (read !== undefined && read < bytes) return `replaying its write journal of ${mib(bytes)}, ${mib(read)} read`;
  return `its write journal of ${mib(bytes)} read, replaying and rewriting it`;
}

const FIX = 'a large journal is rows Google has not taken (see journal.backlog_full, sheets.append_failed, SHEETS_JOURNAL_MAX_MB); to let this one boot, raise CORRAL_TIMEOUT and reload or restart';

/** The boot error of a keeper killed as silent for `seconds` while booting. */
export function keeperSilentBooting(c: Pick<ChildRecord, 'figures'>, seconds: number): string {
  return `keeper silent for ${seconds} s while booting (${replaying(c)}): its event loop was blocked for longer than CORRAL_TIMEOUT; ${FIX}`;
}

/** The boot error of a keeper beating but not ready after `seconds`. */
export function keeperNotReady(c: Pick<ChildRecord, 'figures'>, seconds: number, sinceProgressS: number): string {
  return `keeper not ready after ${seconds} s, its boot not advancing for ${sinceProgressS} s (${replaying(c)}); ${FIX}`;
}

/**
 * What a keeper's unexpected exit by `signal` likely was. V8 aborts a process out of heap
 * (`FATAL ERROR: Reached heap limit`, SIGABRT) with its message on stderr only, so the log line is
 * where an operator learns of it.
 */
export function keeperExitHint(c: Pick<ChildRecord, 'figures'>, signal: NodeJS.Signals | null): string | undefined {
  if (signal !== 'SIGABRT') return undefined;
  const { bytes } = journalFigures(c);
  const heap = c.figures ? `, ${mib(c.figures.heapUsedBytes)} of heap in use at its last heartbeat` : '';
  const journal = bytes !== undefined ? `, its journal ${mib(bytes)}` : '';
  return (
    `likely out of heap memory (V8's "Reached heap limit" goes to stderr only${heap}${journal}): ` +
    'raise the heap with NODE_OPTIONS=--max-old-space-size=<MiB> in the environment corral starts with, or lower SHEETS_JOURNAL_MAX_MB (a backlog of rows Google has not taken is held in memory); ' +
    'with pthread_create or uv_thread_create on its stderr instead, a thread it could not create under the process or thread limit (TasksMax=, pids.max): raise that'
  );
}
