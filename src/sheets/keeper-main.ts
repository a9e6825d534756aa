// The keeper process, forked by the master (child_process.fork with IPC), one per host, started by
// its entry (keeper-entry.ts, runKeeper): importing this file starts nothing, so that a reload can
// load it alone to see that a build loads (master/keeper-load-check.ts). Boot: settings → logger →
// backend → data dir lock → journal replay → local socket → `ready`. A heartbeat every second
// (heartbeatIntervalMs) from the settings on; `drain` flushes the journal as far as the quota
// allows and exits 0; a lost IPC channel (master gone) closes at once and exits.

import { dirname, join } from 'node:path';
import { readIdentity } from './../config/identity.js';
import { loadSettings } from '../config/load.js';
import type { Settings } from '../config/schema.js';
import { DataDirWriteError, describeError, EXIT, exitCodeFor, codeOf } from '../errors.js';
import { heartbeatIntervalMs } from '../heartbeat-interval.js';
import { childChannel } from '../ipc/channel.js';
import { startLoopLag } from '../loop-lag.js';
import { readMemory, type MemoryFigures } from '../process-memory.js';
import { createChildLogger } from '../log/child-logger.js';
import { flushAndExit } from '../log/flush-and-exit.js';
import { EXIT_DRAIN_WAIT_MS, type CorralLogger } from '../log/logger.js';
import { preferForOomKill } from '../oom-score.js';
import { openBackend } from './create-backend.js';
import { systemClock } from './keeper/clock.js';
import { Keeper } from './keeper/keeper.js';
import { keeperSocketPath, dataDirOf } from './keeper/socket-path.js';
import { logDrained } from './keeper/drained-log.js';
import { hurriedDrainDeadline, KEEPER_EXIT_MARGIN_MS } from './keeper/hurried-drain.js';
import { JOURNAL_FILE } from './keeper/journal-open.js';
import { EXIT_MARGIN_MS as MASTER_EXIT_MARGIN_MS } from '../master/drain.js';
import { KEEPER_STOP_MS } from '../master/stop-sequence.js';
import { masterGoneExit, startStackProbe } from '../stack-probe.js';

// MASTER_EXIT_MARGIN_MS, the master's margin past the graceful timeout (master/drain.ts
// EXIT_MARGIN_MS), is also its stop's deadline, by which its workers are gone (or killed) and it
// sends this keeper its drain, at the first tick past it. KEEPER_STOP_MS (master/stop-sequence.ts)
// is the time the master gives this keeper from that drain before it kills it: a keeper still
// undrained after the deadline and that time was signalled alone.

const channel = childChannel();
const identity = readIdentity();
let log: CorralLogger | undefined;
let keeper: Keeper | undefined;
let exiting = false;
/**
 * The journal as its open reads it (Keeper.start's onJournalProgress): boot heartbeats carry it
 * (bootProgress, and the size as journalBytes), so the master can tell a long replay that advances
 * from a boot that hangs, and say which it killed.
 */
let journalOpen: { read: number; total: number } | undefined;

let exited: Promise<never> | undefined;

/**
 * Exits once the lines that say why are in the log (flush-and-exit.ts): the file may still be
 * opening when the keeper exits at once (its master gone before it listened, a data dir that
 * cannot be made), and flushing it then wrote nothing. The first exit's code stands: one asked
 * for meanwhile (a SIGTERM, an exception) waits for it.
 */
function exit(code: number): Promise<never> {
  exited ??= flushAndExit(log, code);
  return exited;
}

function bootFailed(code: string, message: string, exitCode: number, stack?: string, where?: { path: string; errno: string | null }): Promise<never> {
  channel.send({ type: 'boot-failed', code, message, ...(stack ? { stack } : {}) });
  log?.logger.fatal({ code, event: 'keeper.boot_failed', ...where }, `keeper cannot start: ${message}`);
  return exit(exitCode);
}

/**
 * Errors that retrying cannot fix without an operator: bad credentials, an unusable data dir (one
 * that cannot be written, full among them: the lock and the journal's writes name the file),
 * damaged journal bytes that could not be saved before their removal, a journal of a newer format
 * than this build reads (a rollback: the newer build must run again, or drain it first). Logged as
 * keeper.boot_failed with the code; the master still restarts the keeper with its backoff (at most
 * 30 s apart), so it starts once fixed: for a newer journal, once the newer build is on disk again.
 */
function isPermanent(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (
    code === 'CORRAL_ERR_SHEETS_CREDENTIALS' ||
    code === 'CORRAL_ERR_SHEETS_AUTH' ||
    code === 'CORRAL_ERR_JOURNAL_QUARANTINE' ||
    code === 'CORRAL_ERR_JOURNAL_UNWRITABLE' ||
    code === 'CORRAL_ERR_JOURNAL_FORMAT' ||
    code === 'CORRAL_ERR_KEEPER_SOCKET_DIR'
  )
    return true;
  return typeof code === 'string' && ['EACCES', 'EPERM', 'ENOTDIR', 'EROFS', 'ENOSPC'].includes(code);
}

/**
 * `leaving`: the master is stopping, or a signal stopped the keeper (an operator's kill, or the
 * master's when it could not write to us): no keeper of this master follows on this data dir.
 */
async function shutdown(reason: string, gracefulMs: number, leaving: boolean, dataDir: string): Promise<void> {
  // Asked again while draining: a shorter time brings the drain's end forward (a fast stop after a
  // graceful one, as the workers do), within the master's margin so the cache is still handed
  // over (hurried-drain.ts); a longer one changes nothing.
  if (exiting) return keeper?.hurryDrain(hurriedDrainDeadline(systemClock.now(), gracefulMs));
  exiting = true;
  const journal = join(dataDir, JOURNAL_FILE);
  if (!keeper) {
    // Still booting: nothing is served yet and every journaled row is already on disk.
    log?.logger.info({ event: 'keeper.drained', reason, rowsLeftInJournal: null, journal, dataDir, leaving }, `keeper stopped while booting; its journal (${journal}) is left as it was`);
    return exit(EXIT.OK);
  }
  const started = Date.now();
  // The deadline on the keeper's own clock (keeper/clock.ts), which a system clock step does not move.
  const left = await keeper.drain(systemClock.now() + Math.max(0, gracefulMs - KEEPER_EXIT_MARGIN_MS)).catch((err) => {
    log?.logger.error({ event: 'keeper.drain_failed', code: codeOf(err, 'CORRAL_ERR_JOURNAL'), err: describeError(err) }, `keeper: drain failed; journaled rows not sent stay in ${journal}`);
    return -1;
  });
  if (log) logDrained(log.logger, { reason, left, held: keeper.heldRows(), unsure: keeper.unsureRows(), ms: Date.now() - started, journalPath: journal, dataDir, leaving });
  channel.send({ type: 'drained' });
  await log?.drained(EXIT_DRAIN_WAIT_MS);
  return exit(EXIT.OK);
}

/**
 * Beats from the start of the boot, not from `ready`: the master kills a child silent for
 * CORRAL_TIMEOUT, and a boot (journal replay, a lock still held, Google slow to answer) may take
 * that long.
 */
function startHeartbeat(intervalMs: number): void {
  const lag = startLoopLag();
  let memory: MemoryFigures | undefined;
  let told = false;
  const beat = async () => {
    // At its open-files limit process.memoryUsage() throws EMFILE: the beat, which swallows its
    // errors, was skipped, and beats skipped for CORRAL_TIMEOUT would have the master kill as stuck
    // a keeper that had only run out of descriptors (as the worker's crashed, worker/heartbeat.ts).
    memory = readMemory(memory, (err) => {
      if (!told) log?.logger.warn({ event: 'keeper.memory_unreadable', code: 'CORRAL_ERR_FD_LIMIT', err: describeError(err) }, `cannot read the keeper's memory use (${(err as Error).message}): its heartbeats carry the last RSS read; said once`);
      told = true;
    });
    const eventLoopLagMs = lag.takeMs();
    const k = keeper;
    const stats = k?.requestStats() ?? { requests: 0, errors: 0 };
    channel.send({
      type: 'heartbeat',
      figures: {
        ...memory,
        eventLoopLagMs,
        activeConnections: k ? await k.connections() : 0,
        requestsServed: stats.requests,
        errorsServed: stats.errors,
        latencyP99Ms: k?.takeLatencyP99() ?? 0,
        ...(k ? { extra: k.figures() } : journalOpen ? { bootProgress: journalOpen.read, extra: { journalBytes: journalOpen.total } } : {}),
      },
    });
  };
  const timer = setInterval(() => void beat().catch(() => undefined), intervalMs);
  timer.unref();
  void beat().catch(() => undefined);
}

/**
 * Another keeper took the data dir's lock while this one ran (lock-fence.ts): it waits for its
 * append to Google in flight, closes without a drain (it writes no journal any more) and exits
 * KEEPER_LOCK_TAKEN, which the master restarts as a crash; the restart waits for the lock. Found
 * while still starting, the start's end does it (keeper is not set yet).
 */
let lockTaken = false;
async function leaveToLockHolder(): Promise<void> {
  lockTaken = true;
  if (!keeper || exiting) return;
  exiting = true;
  await keeper.leave().catch(() => undefined);
  await exit(EXIT.KEEPER_LOCK_TAKEN);
}

/** Starts the keeper: the process is the keeper's from here on, and exits when it is drained or its master goes. */
export function runKeeper(): void {
  void main();
}

async function main(): Promise<void> {
  // Ctrl-C in a terminal reaches the whole process group: the master decides how children stop
  // (it drains the keeper over IPC after the workers), as workers do.
  process.on('SIGINT', () => {});
  // A hangup reaches the group too (see worker/main.ts): the master's HUP is a reload, which keeps
  // this keeper or drains it; SIGHUP's default action would kill it mid-write.
  process.on('SIGHUP', () => {});
  // USR2 as well: the master ignores it (see worker/main.ts).
  process.on('SIGUSR2', () => {});
  // USR1 reopens the log file here too; without a listener Node would open the V8 inspector on
  // 127.0.0.1:9229, open to every local user (see worker/main.ts).
  process.on('SIGUSR1', () => log?.reopen());
  let settings: Settings;
  try {
    // The key and the Redis CA are read where the backend opens, a failure there being
    // keeper.boot_failed, exit 7.
    settings = loadSettings({ readFiles: false }).settings;
    // A log file that cannot be opened now (a rotation gone wrong) sends the keeper's lines to its stdout.
    log = createChildLogger(settings, { role: 'keeper', worker: 0, generation: identity?.generation ?? 0 });
  } catch (err) {
    const d = describeError(err);
    return bootFailed(codeOf(d, 'CORRAL_ERR_CONFIG_INVALID'), d.message, exitCodeFor(err));
  }
  // As soon as the settings say how often (reading them is synchronous and quick).
  startHeartbeat(heartbeatIntervalMs(settings.CORRAL_TIMEOUT));
  const logger = log.logger;
  // The master raised it at the fork; checked here once the keeper can say that it failed
  // (src/oom-score.ts). Unlike a worker's, not before its code loads: one keeper boots at a time.
  const oom = preferForOomKill('keeper');
  if (!oom.ok) {
    logger.warn(
      { event: 'keeper.oom_score_unset', reason: oom.reason },
      `cannot raise the keeper's oom_score_adj (${oom.reason}): under memory pressure the kernel may kill the master before the keeper`,
    );
  }
  // Its orphan exit ends a keeper stuck when the master dies, as a worker's does; one whose close
  // (below) outlasts the grace is ended mid-close, as a crash would: its journal is replayed.
  startStackProbe(logger, masterGoneExit('keeper', { workerId: 0, generation: identity?.generation ?? 0 }, log.file()));

  // The master is gone (killed, crashed): nobody will restart or drain us. Appends in flight
  // become "unsure" in the journal and are read back by the next keeper before any resend.
  const masterGone = (): void => {
    logger.warn({ event: 'keeper.master_gone' }, 'keeper: IPC channel to the master closed; exiting');
    if (keeper) void keeper.close().finally(() => exit(EXIT.MASTER_GONE));
    else void exit(EXIT.MASTER_GONE);
  };
  process.on('disconnect', masterGone);
  // Gone already, while this keeper was still loading its code: the channel's 'disconnect' came
  // before anyone listened (a plain fork, not a cluster worker, has no listener of node's own),
  // and the keeper would have booted on as an orphan holding the data dir's lock.
  if (process.send !== undefined && !process.connected) masterGone();
  process.on('uncaughtException', (err) => {
    logger.fatal({ event: 'keeper.uncaught', err: describeError(err), code: 'CORRAL_ERR_UNCAUGHT' }, 'keeper: uncaught exception');
    if (keeper) void keeper.close().finally(() => exit(EXIT.UNCAUGHT));
    else void exit(EXIT.UNCAUGHT);
  });
  const dataDir = dataDirOf(settings);
  // The master's graceful timeout: the one this keeper was started with, until a reload changes it.
  let masterGracefulMs = settings.CORRAL_GRACEFUL_TIMEOUT * 1000;
  channel.listen({
    drain: (m) => void shutdown(m.reason, m.gracefulMs, m.hostStopping === true, dataDir),
    'reopen-logs': () => log?.reopen(),
    'graceful-timeout': (m) => {
      if (m.ms === masterGracefulMs) return;
      masterGracefulMs = m.ms;
      logger.info({ event: 'keeper.graceful_timeout', graceful_ms: m.ms }, `keeper: the master stops by a graceful timeout of ${m.ms / 1000} s now (a reload); a SIGTERM from outside waits for its drain by that`);
    },
  });
  // SIGTERM comes from the master itself (a keeper still booting) or from outside: an operator's
  // kill, or a stop sent to the whole process group (`kill -TERM -<pgid>`, an init that forwards
  // to the group such as dumb-init, `systemctl kill` without --kill-who=main, a unit with
  // KillMode=control-group); systemd with corral's unit (KillMode=mixed) signals only the master.
  // A ready keeper whose master is there leaves its stop to the master, which drains it after the
  // last worker: drained at the signal, as before, it left while the workers were still finishing
  // their requests, whose events then had no keeper to be journaled by (and the master logged a
  // keeper crash). If no drain comes by the time a stopping master would have drained it and then
  // killed it (the graceful timeout, the master's exit margin, the keeper's own time), it drains by
  // itself, so a kill of the keeper alone still stops it (and the master restarts it). Waiting only
  // the graceful timeout and the margin, the timer fired just before the master's drain (sent at
  // its first tick past the deadline) whenever a worker overran: the keeper drained by itself with
  // its whole graceful timeout, ignored the master's drain, and was killed by it mid-flush.
  let termDeferred = false;
  process.on('SIGTERM', () => {
    // As the master runs it: raised by a reload, the keeper's own fallback drained it while the
    // workers still had up to the new timeout to finish (their events then found no keeper).
    const gracefulMs = masterGracefulMs;
    if (!keeper || !process.connected) {
      void shutdown('SIGTERM', gracefulMs, true, dataDir);
      return;
    }
    if (termDeferred) return;
    termDeferred = true;
    const waitMs = gracefulMs + MASTER_EXIT_MARGIN_MS + KEEPER_STOP_MS;
    logger.info({ event: 'keeper.sigterm_deferred', wait_ms: waitMs }, `keeper: SIGTERM; waiting up to ${waitMs} ms for the master to drain it after its workers`);
    setTimeout(() => void shutdown('SIGTERM', gracefulMs, true, dataDir), waitMs).unref();
  });

  const socketPath = keeperSocketPath(dataDir);
  try {
    keeper = await Keeper.start({
      settings,
      logger,
      socketPath,
      unsureDelayMs: settings.SHEETS_UNSURE_DELAY * 1000,
      onJournalProgress: (read, total) => (journalOpen = { read, total }),
      // Said by keeper.lock_taken: the journal is the other keeper's, and this one leaves it.
      onLockTaken: () => void leaveToLockHolder(),
      openBackend: (beforeAttempt, afterAttempt) => openBackend(settings, logger, beforeAttempt, afterAttempt),
    });
  } catch (err) {
    const d = describeError(err);
    const where = err instanceof DataDirWriteError ? { path: err.path, errno: err.errno ?? null } : undefined;
    // The data dir's fix, as the write path's own lines say it (a full disk said no more than ENOSPC).
    const fix = err instanceof DataDirWriteError ? `; ${dataDirFix(err)}` : '';
    if (isPermanent(err)) return bootFailed(codeOf(d, 'CORRAL_ERR_JOURNAL'), d.message + fix, EXIT.KEEPER_BOOT_ERROR, d.stack, where);
    // Transient (a previous keeper still holds the data dir, Google unreachable): exit and let the
    // master restart us with its backoff.
    logger.error({ err: d, event: 'keeper.boot_error', code: codeOf(d, 'CORRAL_ERR_KEEPER_BOOT') }, `keeper could not start: ${d.message}`);
    return exit(EXIT.FAILURE);
  }
  // An exit asked for while it booted (its master gone, an exception) waits for the log: the keeper
  // it booted is not said ready, nor serves.
  if (exited) return exited;
  if (lockTaken) return leaveToLockHolder();
  logger.info(
    { event: 'keeper.ready', socket: socketPath, backend: keeper.backend.kind, ttl: settings.SHEET_CACHE_TTL, readsPerMinute: settings.SHEETS_READS_PER_MINUTE, writesPerMinute: settings.SHEETS_WRITES_PER_MINUTE, redis: keeper.sharedThrough },
    `keeper serving on ${socketPath}${keeper.sharedThrough ? `, the Sheets quota and cache shared through ${keeper.sharedThrough}` : ''}`,
  );
  channel.send({ type: 'ready', address: socketPath });
}

/** What frees a data dir file the keeper could not write at start; it is retried with the master's backoff. */
function dataDirFix(err: DataDirWriteError): string {
  const dir = dirname(err.path);
  switch (err.errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `free space in ${dir} (df -h ${dir}): the master restarts the keeper with its backoff, and it starts once there is room`;
    case 'EACCES':
    case 'EPERM':
      return `make ${dir} writable by the user corral runs as (chown -R <user> ${dir})`;
    case 'EROFS':
      return `${dir} is on a read-only file system: point CORRAL_DATA_DIR at a writable one, or remount it read-write`;
    default:
      return `make ${err.path} a writable file in a writable directory`;
  }
}
