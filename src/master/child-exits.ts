// What a child's exit means, counted and said once: one the master asked for (a stop, a drain, a
// kill), the keeper's crash, a worker that never became ready (a failed boot), or a worker's
// crash after ready. The counts go to the crash ledgers, whose backoff holds the next fork; the
// requests an exited worker served are kept in the totals the admin API adds to the live ones'.

import { BOOT_FAILURE_EXITS, EXIT, codeOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { secondsText } from '../seconds-text.js';
import type { BootError, CrashLedger } from './crash-ledger.js';
import { NEVER_BEAT_GUESS, SILENT_BOOT_GUESS } from './child-killer.js';
import { causeFields, causeWords, type DeathCause } from './death-causes.js';
import { diedDraining } from './exit-reasons.js';
import { forkFailure } from './fork-failure.js';
import { keeperExitHint } from './keeper-boot-words.js';
import type { KeeperCrashLedger } from './keeper-crash-ledger.js';
import type { ChildRecord } from './registry.js';
import { notReplacedWords, outgoingFor } from './reload-successor.js';
import { failedOnProbation, probationFailure } from './settle.js';

export interface ChildExit {
  readonly record: ChildRecord;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The child was never created: fork(2) refused with this (fork-failure.ts). */
  readonly forkError?: Error;
}

/**
 * The Sheets counts exited processes reported last (the keeper's host tier, upstream calls and
 * refusals, the workers' L1s), named as their heartbeats name them: with the live ones', the
 * stats' cache figures and the corral_sheets_*_total counters cover the master's whole run.
 * Without them a reload replaced every worker and kept the keeper, and the hit ratio fell from
 * 0.999 to 0.5 with no change in traffic (the L1 hits went, the misses stayed); and /metrics lost
 * what a process counted between the last scrape and its exit.
 */
export const EXITED_SHEETS_COUNTS = [
  'cacheHits',
  'cacheMisses',
  'cacheStaleHits',
  'l1Hits',
  'l1Misses',
  'l1StaleFallbacks',
  'l1StaleHits',
  'upstreamCallsTotal',
  'journalAppendsRefused',
  'sharedReads',
  'aloneQuotaGrants',
] as const;
export type ExitedSheetsCounts = Record<(typeof EXITED_SHEETS_COUNTS)[number], number>;

/** What exited workers served, for the totals (their figures leave with them). */
export interface ServedTotals {
  requests: number;
  errors: number;
  refused: number;
  idleClosed: number;
  readonly sheets: ExitedSheetsCounts;
}

export function noneServed(): ServedTotals {
  const sheets = Object.fromEntries(EXITED_SHEETS_COUNTS.map((name) => [name, 0])) as ExitedSheetsCounts;
  return { requests: 0, errors: 0, refused: 0, idleClosed: 0, sheets };
}

export function addServed(totals: ServedTotals, c: ChildRecord): void {
  const extra = c.figures?.extra;
  for (const name of EXITED_SHEETS_COUNTS) {
    const v = extra?.[name];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) totals.sheets[name] += v;
  }
  if (c.role !== 'worker') return;
  totals.requests += c.figures?.requestsServed ?? 0;
  totals.errors += c.figures?.errorsServed ?? 0;
  totals.refused += c.figures?.connectionsRefused ?? 0;
  totals.idleClosed += c.figures?.idleConnectionsClosed ?? 0;
}

export interface ExitAccounts {
  readonly crashes: CrashLedger;
  readonly keeperCrashes: KeeperCrashLedger;
  readonly log: Logger;
  /** The master is stopping: nothing that exits is replaced. */
  readonly stopping?: boolean;
  /**
   * The generation a reload in progress boots: a worker of an older one that dies is not replaced
   * (the master forks the reload's generation only), and its line must not say "replacing".
   */
  readonly reloadingTo?: number;
  /**
   * Why it died, when its cgroup's counters say so for certain (death-causes.ts): said in place of
   * who commonly sends its signal, and added to its boot error (which reload.failed repeats).
   */
  readonly cause?: DeathCause;
}

/**
 * The boot error of a worker killed silent while booting, with the limit its cgroup's counters
 * name in place of the guess at why it was silent (others are as the worker or the killer said).
 */
function silentBootWithCause(e: BootError, cause: DeathCause | undefined): BootError {
  const guess = [SILENT_BOOT_GUESS, NEVER_BEAT_GUESS].find((g) => e.message.endsWith(g));
  if (!cause || e.code !== 'CORRAL_ERR_WORKER_TIMEOUT' || guess === undefined) return e;
  return withCause({ ...e, message: e.message.slice(0, -guess.length) }, cause);
}

/** A boot error with the cgroup limit the worker died of, when one was reached. */
export function withCause(e: BootError, cause: DeathCause | undefined): BootError {
  return cause ? { ...e, message: `${e.message}: ${causeWords(cause)}`, ...causeFields(cause) } : e;
}

// Who commonly sends the signals that end a booting worker, for the operator reading the log.
const SENDERS: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'the kernel\'s OOM killer (see dmesg) or an operator (kill -9)',
  SIGTERM: 'an operator or another supervisor',
  SIGINT: 'an operator (Ctrl-C)',
  SIGABRT: 'node itself aborting (V8 out of heap memory; a thread it could not create under the process or thread limit, TasksMax= or pids.max, with pthread_create or uv_thread_create on its stderr; a failed assertion in a native addon)',
  SIGSEGV: 'a crash in native code (an addon, node itself)',
  SIGBUS: 'a crash in native code (an addon, node itself)',
};

/**
 * Why a worker that sent no boot-failed message exited before ready. Only the named boot-failure
 * exits say the app (or its settings) is broken; a signal or any other code is a worker that died,
 * which must not read as CORRAL_ERR_APP_LOAD in reload.failed and boot.exhausted (an OOM kill is not
 * a broken app, and the operator's fix differs).
 */
export function bootErrorOfExit(code: number | null, signal: NodeJS.Signals | null, cause?: DeathCause): BootError {
  // Its cgroup's counters named the limit it died of: said for certain, not as who commonly sends the signal.
  if (cause) return withCause({ code: 'CORRAL_ERR_WORKER_DIED', message: signal !== null ? `worker was killed by signal ${signal} before it was ready` : `worker exited with code ${code} before it was ready` }, cause);
  if (signal !== null) {
    const by = SENDERS[signal] ?? 'another process';
    return { code: 'CORRAL_ERR_WORKER_DIED', message: `worker was killed by signal ${signal} before it was ready (commonly sent by ${by})` };
  }
  if (code === EXIT.APP_LOAD_ERROR) return { code: 'CORRAL_ERR_APP_LOAD', message: `worker exited with code ${code} (app load error) before it was ready` };
  if (code === EXIT.LISTEN_ERROR) return { code: 'CORRAL_ERR_LISTEN', message: `worker exited with code ${code} (listen error) before it was ready` };
  if (code === EXIT.CONFIG) return { code: 'CORRAL_ERR_CONFIG_INVALID', message: `worker exited with code ${code} (settings refused) before it was ready` };
  return { code: 'CORRAL_ERR_WORKER_DIED', message: `worker exited with code ${code} before it was ready, not with a boot-failure code (the app or a library called process.exit?)` };
}

/**
 * A worker that served died without the master asking (a crash, the OOM killer, a kill as stuck
 * while it served): one of the serving capacity lost, not a drain's end or a scale-down's.
 */
export function servingWorkerLost(c: ChildRecord): boolean {
  if (c.role !== 'worker' || c.readyAt === undefined || c.retire === 'scale-down') return false;
  return c.stopReason === undefined || (c.stopReason === 'timeout' && c.drainDeadline === undefined);
}

/**
 * For the exit line of a child that was serving: who commonly sends the signal it died of, as
 * bootErrorOfExit says it of one booting. "signal SIGKILL" alone left the operator to guess between
 * the OOM killer and a crash, and the fix differs (dmesg and memory, not the app's code).
 */
function senderOf(signal: NodeJS.Signals | null, code: number | null = null, cause?: DeathCause, drained = false): string {
  // Its cgroup's counters said why: no guess at who sent the signal.
  if (cause) return `: ${causeWords(cause)}`;
  // Exit 0 unasked after its drain ('drained' reported): the worker left by itself, as on a
  // SIGTERM of its own, which only a signal sent past the master gives it. Without a drain, its
  // own code ended it: an app's or a library's process.exit(0) was said as a SIGTERM from outside.
  if (signal === null && code === 0 && drained) return ' (a clean exit the master did not ask for: a SIGTERM sent to the worker itself, as `systemctl kill` without --kill-who=main or `kill -TERM -<pgid>` do; stop or reload through the master)';
  if (signal === null && code === 0) return ' (exit code 0 without a drain: the app or a library called process.exit(0))';
  return signal === null ? '' : ` (${signal} is commonly sent by ${SENDERS[signal] ?? 'another process'})`;
}

/**
 * A serving keeper the master killed as stuck (silent past CORRAL_TIMEOUT: child-killer.ts), not
 * told to stop before: one drained (a restart, a stop) or sent SIGTERM while booting was on its
 * way out, and one killed silent while booting has its boot error and is counted as a failed start.
 */
export function keeperKilledStuck(c: Pick<ChildRecord, 'role' | 'stopReason' | 'readyAt' | 'drainDeadline'>): boolean {
  return c.role === 'keeper' && c.stopReason === 'timeout' && c.readyAt !== undefined && c.drainDeadline === undefined;
}

/**
 * Counts a keeper killed as stuck as the crash it is: its next start waits for the backoff. Said
 * as an expected exit ("exited (timeout)") and counted nowhere, a keeper that hung soon after every
 * start (a call that holds its loop, a data dir on a dead mount) was started again at the next tick.
 */
function keeperStuckExit(c: ChildRecord, now: number, a: ExitAccounts, fields: Record<string, unknown>): void {
  const readyAt = c.readyAt ?? c.startedAt;
  // Its silence began at its last beat (a keeper that never beat after its ready: at its ready).
  const silentFrom = Math.max(0, c.lastBeatAt - readyAt);
  const error: BootError = {
    code: 'CORRAL_ERR_WORKER_TIMEOUT',
    message: `keeper stopped beating ${secondsText(silentFrom)} after it was ready, and was killed as stuck at CORRAL_TIMEOUT`,
  };
  const delay = a.keeperCrashes.exited(c.readyAt, error, now, Math.max(c.lastBeatAt, readyAt));
  a.log.error(
    { ...fields, code: error.code, boot_error: null, crash_loop: a.keeperCrashes.quickCrashes, respawn_in_ms: delay },
    `keeper ${c.id} (pid ${c.handle.pid}) was killed as stuck, silent past CORRAL_TIMEOUT from ${secondsText(silentFrom)} after it was ready (keeper.timeout); restarting it in ${delay} ms`,
  );
}

/**
 * A serving worker the master killed as stuck, not told to stop before (one drained by a reload,
 * a recycle or a scale-down was on its way out; one killed silent while booting is a failed boot).
 */
export function workerKilledStuck(c: Pick<ChildRecord, 'role' | 'stopReason' | 'readyAt' | 'drainDeadline' | 'crashCounted'>): boolean {
  return c.role === 'worker' && c.stopReason === 'timeout' && c.readyAt !== undefined && c.drainDeadline === undefined && !c.crashCounted;
}

/**
 * Counts a serving worker killed as stuck as the crash it is, from its last beat (the time it hung
 * is not a life that served). Said as an expected exit and counted nowhere, an app that blocked its
 * loop soon after every ready had its workers forked again at every kill, one every CORRAL_TIMEOUT
 * for good. The arbiter counts it at the kill, so that its replacement's fork waits for the backoff.
 */
export function countStuckCrash(c: ChildRecord, crashes: CrashLedger, now: number): NonNullable<ChildRecord['stuckCrash']> {
  c.stuckCrash ??= { ...crashes.crashed(c, now, Math.max(c.lastBeatAt, c.readyAt ?? c.startedAt)), crashLoop: crashes.quickCrashes };
  return c.stuckCrash;
}

/** The exit of a serving worker killed as stuck: its crash step, counted at the kill, and the wait it put on the next fork. */
function workerStuckExit(c: ChildRecord, now: number, a: ExitAccounts, fields: Record<string, unknown>): void {
  const silentFrom = Math.max(0, c.lastBeatAt - (c.readyAt ?? c.startedAt));
  const { delay, sharedWith, crashLoop } = countStuckCrash(c, a.crashes, now);
  const outgoing = outgoingFor(c, a.reloadingTo);
  const wait = outgoing !== undefined ? `; ${notReplacedWords(outgoing)}` : delay > 0 ? `; its replacement is forked ${delay} ms after the kill (crash backoff)` : '';
  a.log.info(
    { ...fields, uptime_ms: silentFrom, crash_loop: crashLoop, respawn_in_ms: outgoing !== undefined ? null : delay, crash_counted: sharedWith === undefined },
    `worker ${c.id} exited (timeout): it stopped beating ${secondsText(silentFrom)} after its ready (crash_loop ${crashLoop}${sharedWith === undefined ? '' : `, counted once with worker ${sharedWith}`})${wait}`,
  );
}

export function accountExit(e: ChildExit, now: number, a: ExitAccounts): void {
  const { record: c, code, signal } = e;
  const { crashes, log, cause } = a;
  // Never created: its boot error says why, as a child's own report of its failure would, with
  // the limit the cgroup counted when it counted one.
  if (e.forkError) c.bootError ??= forkFailure(c.role, e.forkError, cause);
  // A child whose fork failed has no pid (its handle's -1).
  const fields = { event: `${c.role}.exit`, worker_id: c.id, worker_pid: c.handle.pid === -1 ? null : c.handle.pid, generation: c.generation, exit_code: code, signal, reason: c.stopReason ?? null, ...(cause ? causeFields(cause) : {}) };
  // A reload's new worker that died (or was killed as stuck) before it settled: a failed boot of
  // its generation, not a crash (settle.ts). Counted once: not as a quick crash as well.
  // One told to drain (a stop, a scale-down) and then killed as stuck was on its way out already.
  if (c.role === 'worker' && !c.crashCounted && c.drainDeadline === undefined && (c.stopReason === undefined || c.stopReason === 'timeout')) {
    const stuck = c.stopReason === 'timeout';
    const bootError = probationFailure(c, stuck ? { kind: 'stuck' } : { kind: 'exit', code, signal }, stuck ? c.lastBeatAt : now, a.reloadingTo);
    if (bootError) {
      failedOnProbation(c, stuck ? bootError : withCause(bootError, cause), now, crashes, log, fields);
      return;
    }
  }
  if (a.stopping !== true && keeperKilledStuck(c)) {
    keeperStuckExit(c, now, a, fields);
    return;
  }
  if (a.stopping !== true && workerKilledStuck(c)) {
    workerStuckExit(c, now, a, fields);
    return;
  }
  if (diedDraining(c, signal)) {
    log.error(
      { ...fields, code: 'CORRAL_ERR_WORKER_DIED' },
      `worker ${c.id} (pid ${c.handle.pid}) died while draining (${c.stopReason}), signal ${signal}${senderOf(signal, null, cause)}: any request it still held was cut`,
    );
    return;
  }
  if (c.stopReason !== undefined) {
    // Drained for an uncaught exception: the exit line says what was thrown, as its recycle did.
    const thrown = c.stopReason === 'uncaught' ? c.uncaught : undefined;
    log.info(thrown === undefined ? fields : { ...fields, error: thrown }, `${c.role} ${c.id} exited (${c.stopReason}${thrown === undefined ? '' : `: ${thrown}`})`);
    return;
  }
  if (c.role === 'keeper' && a.stopping === true && c.readyAt === undefined && (signal === 'SIGINT' || signal === 'SIGHUP')) {
    // The group's Ctrl-C (or hangup) that stops the master reached a keeper still in Node's own
    // start: it ignores those signals from its entry file's first line (src/group-signals.ts), so
    // it had run none of corral's code, opened no journal, and lost nothing. Not an error, which
    // a Ctrl-C just after `npm start` used to print.
    log.info({ ...fields, reason: 'shutdown', before_start: true }, `keeper ${c.id} exited (shutdown: the ${signal} sent to the process group reached it while node was starting)`);
    return;
  }
  if (c.role === 'keeper' && a.stopping === true) {
    // Drained last, after the workers: one that exits before its drain (a crash, the OOM killer,
    // a kill) is not restarted, and saying "restarting" with a respawn delay was false.
    // A limit its cgroup's counters name is certain; out of heap is a likelihood.
    const hint = cause ? undefined : keeperExitHint(c, signal);
    log.error(
      { ...fields, code: codeOf(c.bootError, 'CORRAL_ERR_KEEPER_DIED'), boot_error: c.bootError ?? null, respawn_in_ms: null, ...(hint ? { likely: 'out_of_heap' } : {}) },
      `keeper exited unexpectedly (code ${code}, signal ${signal})${hint ? `: ${hint}` : senderOf(signal, null, cause)} while the master is stopping; not restarted (journaled rows it had not sent stay in the journal for the next start)`,
    );
    return;
  }
  if (c.role === 'keeper' && code === EXIT.KEEPER_LOCK_TAKEN && signal === null) {
    // No crash: it found another keeper holding the data dir's lock, and that keeper's journal, and
    // left (lock-fence.ts). Its restart waits for the lock, failing its boot each lock wait while
    // the other keeper runs: the master's backoff spaces those, as for any keeper that cannot start.
    const left: BootError = { code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', message: "another keeper took the data dir's lock while this one ran (keeper.lock_taken): it left the journal to that keeper" };
    const delay = a.keeperCrashes.exited(c.readyAt, left, now);
    log.error(
      { ...fields, code: left.code, boot_error: null, crash_loop: a.keeperCrashes.quickCrashes, respawn_in_ms: delay, reason: 'lock_taken' },
      `keeper exited (code ${code}): another keeper took the data dir's lock while it ran (keeper.lock_taken), and it left the journal to that keeper; ` +
        `restarting it in ${delay} ms, and it waits for the lock (keeper.lock_wait) until the other keeper is gone: stop the other corral, or give each its own CORRAL_DATA_DIR`,
    );
    return;
  }
  if (c.role === 'keeper') {
    const delay = a.keeperCrashes.exited(c.readyAt, c.bootError ?? { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: `keeper exited with code ${code} signal ${signal}` }, now);
    // A limit its cgroup's counters name is certain; out of heap is a likelihood.
    const hint = cause ? undefined : keeperExitHint(c, signal);
    // A keeper that said why it could not start (keeper.boot_failed) did not exit "unexpectedly".
    const said = c.readyAt === undefined && c.bootError !== undefined && signal === null;
    log.error(
      { ...fields, code: codeOf(c.bootError, 'CORRAL_ERR_KEEPER_DIED'), boot_error: c.bootError ?? null, crash_loop: a.keeperCrashes.quickCrashes, respawn_in_ms: delay, ...(hint ? { likely: 'out_of_heap' } : {}) },
      said
        ? `keeper could not start (code ${code}): ${c.bootError?.message}; restarting it in ${delay} ms`
        : `keeper exited unexpectedly (code ${code}, signal ${signal})${hint ? `: ${hint}` : senderOf(signal, null, cause)}; restarting`,
    );
    return;
  }
  if (c.readyAt === undefined) {
    // A worker's own report (an app that failed to load) says why; an exit without one may be a
    // limit its cgroup's counters name, and so may a boot the master killed silent (a thread refused).
    const bootError = c.bootError ? silentBootWithCause(c.bootError, cause) : bootErrorOfExit(code, signal, cause);
    crashes.bootFailed(c.forkBatch, bootError, now);
    const kind = code !== null && BOOT_FAILURE_EXITS.has(code) ? 'cannot boot' : 'failed to boot';
    log.error({ ...fields, event: 'worker.boot_failed', code: bootError.code, failures: crashes.bootFailures, boot_error: bootError }, `worker ${c.id} ${kind}: ${bootError.message}`);
    return;
  }
  if (c.crashCounted) {
    // Its uncaught exception was counted when it was reported; it gave up waiting for the
    // master's drain (or died meanwhile). Counting the exit too would double its backoff.
    log.error(
      { ...fields, code: 'CORRAL_ERR_UNCAUGHT', crash_loop: crashes.quickCrashes, error: c.uncaught ?? null },
      `worker ${c.id} (pid ${c.handle.pid}) exited after an uncaught exception${c.uncaught === undefined ? '' : ` (${c.uncaught})`} (code ${code}, signal ${signal})`,
    );
    return;
  }
  const { uptime, delay, sharedWith } = crashes.crashed(c, now);
  const sender = c.role === 'worker' ? senderOf(signal, code, cause, c.drainedReported) : senderOf(signal, null, cause);
  const outgoing = outgoingFor(c, a.reloadingTo);
  const then = outgoing !== undefined ? notReplacedWords(outgoing) : 'replacing';
  log.error(
    { ...fields, code: 'CORRAL_ERR_WORKER_DIED', uptime_ms: uptime, crash_loop: crashes.quickCrashes, respawn_in_ms: outgoing !== undefined ? null : delay, crash_counted: sharedWith === undefined, ...(outgoing !== undefined ? { replaced_by_reload: outgoing } : {}) },
    sharedWith === undefined
      ? `worker ${c.id} (pid ${c.handle.pid}) died unexpectedly (code ${code}, signal ${signal})${sender}; ${then}`
      : `worker ${c.id} (pid ${c.handle.pid}) died unexpectedly (code ${code}, signal ${signal})${sender} along with worker ${sharedWith}, counted once; ${then}`,
  );
}
