// The only place that creates pino loggers. Every line carries role, worker id, pid and
// generation; all processes may share one file (O_APPEND, whole lines per write).
// Its neighbours: the log file's mode and the check that it can be opened (log-file.ts), when a
// destination's open or reopen has settled (destination-open.ts), what is said when writes
// fail (write-failure.ts), and how a child's lines move from stdout to the file it could not open
// at its start (switch-stream.ts).

import { once } from 'node:events';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { flushBounded } from './bounded-flush.js';
import { readStdoutJournal } from '../config/identity.js';
import type { StdoutSink } from '../master/stdout-relay.js';
import { describeError } from '../errors.js';
import { makeDirsSync } from '../make-dirs.js';
import { openOutcome, reopenDestination, reopenFailure, REOPEN_WAIT_MS, settledOpen, type Destination } from './destination-open.js';
import { ACCESS_PRIORITY, isJournalFd, priorityOf } from './journal.js';
import { assertLogFileWritable, LOG_DIR_MODE, LOG_FILE_MODE } from './log-file.js';
import { relaySink } from './relay-sink.js';
import { switchStream, type SwitchStream } from './switch-stream.js';
import { LOG_BUFFER_MAX_BYTES, watchWriteFailures, type WriteFailureReport } from './write-failure.js';

export type Role = 'master' | 'worker' | 'keeper' | 'cli';

export interface LogIdentity {
  readonly role: Role;
  readonly worker?: number;
  readonly generation?: number;
}

export interface LogSettings {
  readonly CORRAL_LOG_FILE: string | undefined;
  readonly CORRAL_LOG_LEVEL: string;
}

export interface CorralLogger {
  readonly logger: Logger;
  /**
   * The logger for access lines (created on first use): same format and destination, written in
   * batches. One write per line costs about as much as the request it records; batched, lines
   * reach the file within ACCESS_FLUSH_MS. A process killed outright loses at most that much.
   */
  access(): Logger;
  /** The file this logger writes to now (a reload may have moved it), or undefined for stdout. */
  file(): string | undefined;
  /**
   * Reopens the log file after logrotate moved it (USR1). No-op on stdout. Resolves true once this
   * process's lines go to the file at its path again, false when it could not be opened (said as
   * log.reopen_failed; the lines keep going to the file open before), undefined when neither was
   * known within REOPEN_WAIT_MS: what the master says of a removed file must be what happened.
   * On stdout for want of a file (LoggerOptions.unavailableFile), it tries that file, and moves
   * this process's lines to it once it opens (log.file_available).
   */
  reopen(): Promise<boolean | undefined>;
  /** The descriptor this process's own lines are written to, for file-watch.ts; undefined on stdout or while none is open. */
  fd(): number | undefined;
  /** Writes out buffered lines; call before a deliberate exit (after drained(), where it can wait). */
  flush(): void;
  /**
   * For a deliberate exit, before flush(): lets the write each destination has in flight finish,
   * starts no other, and resolves once none is in flight (or after `timeoutMs`). flush() writes
   * synchronously, around a write libuv may still have in flight: on a pipe that write may be cut
   * short (a slow reader), and the rest of its last line, sent once it completed, was lost at the
   * exit; the next line ran on from the cut (about once in 13,000 lines with a reader of 4 KB
   * every 2 ms, the master's buffer then megabytes deep). After this, flush() writes the rest in
   * order from a line boundary. Lines dropped since the last log.dropped are said first (the
   * once-a-minute limit would leave them unsaid for good).
   */
  drained(timeoutMs: number): Promise<void>;
  /**
   * Resolves once the log file is open in every destination (at once on stdout), or after
   * `timeoutMs`. pino opens a file asynchronously: a process that exits sooner (a worker whose app fails to import within
   * milliseconds) loses the lines it logged, and pino's exit hook throws "sonic boom is not ready
   * yet", which then reads as the reason the process failed.
   */
  opened(timeoutMs: number): Promise<void>;
  /**
   * Applies the log settings a reload read (the master outlives reloads; children get theirs at
   * spawn). The level always; a new file in place of the old one. False when the file cannot
   * change in place (between stdout and a file): that takes a restart.
   */
  configure(settings: LogSettings): boolean;
  /**
   * Where the master relays its children's stdout (master/stdout-relay.ts): without a log file,
   * the destination its own lines go through, so that fd 1 has one writer and lines are never
   * merged, with room its access lines cannot take (relay-sink.ts); with one (children's stdout is
   * then an app's stray output), process.stdout.
   */
  stdoutSink(): StdoutSink;
}

/** Access lines are written once this many bytes are waiting... */
export const ACCESS_BATCH_BYTES = 8192;
/** ...or after this long, whichever comes first. */
export const ACCESS_FLUSH_MS = 1000;

let isoMs = -1;
let isoText = '';

/**
 * An Error as pino says it (type, message, stack, its own fields); anything else as given: the
 * plain `{ type, message, code, stack }` of describeError(), whose `type` pino's serializer
 * replaced by "Object" (every such line said `"type":"Object"`).
 */
function serializeError(err: unknown): unknown {
  return err instanceof Error ? pino.stdSerializers.err(err) : err;
}

/** pino's isoTime, formatted once per millisecond instead of once per line. */
function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoText;
}

export interface LoggerOptions {
  /**
   * Write every line before the logging call returns, access lines included (no batching). For
   * readers of the file that cannot wait: flush() cannot complete a write already in flight.
   */
  readonly sync?: boolean;
  /**
   * Begin each line with its syslog priority (`<3>{"level":"error",...`), which journald reads and
   * strips (see journal.ts). Default: when the lines go to stdout and stdout is the journal (a
   * child's stdout is a pipe to the master, which says so in the child's env).
   */
  readonly journal?: boolean;
  /**
   * The log file this process was to write to but could not open at its start (child-logger.ts,
   * with CORRAL_LOG_FILE unset in `settings`): its lines go to stdout until a reopen (USR1) opens
   * that file, and from then on to the file, as if it had opened at the start.
   */
  readonly unavailableFile?: string;
}

/** How long a deliberate exit waits for the log's write in flight (drained()) before it flushes. */
export const EXIT_DRAIN_WAIT_MS = 1000;

/**
 * Where a failure of the log itself is said. stderr can fail too: under `nohup corral start` (or
 * `>>out.log 2>&1`) it is a file on the disk that just filled. sonic-boom emits a failed write as
 * 'error', and pino's own listener handles EPIPE alone: unhandled, ENOSPC was an uncaught exception
 * at the first failed log write, and the master's handler stopped every worker and exited 70. The
 * line is dropped instead; an EAGAIN (a full pipe) is not slept on and retried in a loop, which
 * would block the process for as long as its reader does not read.
 */
function stderrDestination(): Destination {
  const d = pino.destination({ dest: 2, sync: true, retryEAGAIN: () => false });
  d.on('error', () => {});
  return d;
}

const accessPriority = (line: string) => ACCESS_PRIORITY + line;
const withPriority = (line: string) => priorityOf(line) + line;

export function createLogger(settings: LogSettings, identity: LogIdentity, o: LoggerOptions = {}): CorralLogger {
  let file = settings.CORRAL_LOG_FILE;
  assertLogFileWritable(file);
  // The file a reopen tries while the lines go to stdout for want of it, and when they began to.
  let unavailable = file === undefined ? o.unavailableFile : undefined;
  const unavailableSince = new Date().toISOString();
  const sync = o.sync ?? false;
  const journal = o.journal ?? (file === undefined && (isJournalFd(1) || readStdoutJournal()));
  // journald's priority prefix is for stdout: none once the lines move to the file.
  const onStdoutOnly = (add: (line: string) => string) => (unavailable === undefined ? add : (line: string) => (file === undefined ? add(line) : line));
  // A shared file is written with O_APPEND; each write is a buffer of whole lines, so lines from
  // several processes never interleave mid-line, but for a write the disk filling cut short (its
  // rest goes out once there is room, after others' lines: the README says so). That holds for a
  // file only: on a pipe a write
  // above PIPE_BUF is not atomic and a short write's rest goes out later, so on stdout the master
  // is the only writer, relaying its children's lines (master/stdout-relay.ts).
  const destinationFor = (path: string | undefined, batch: { minLength: number; periodicFlush: number } | undefined): Destination =>
    pino.destination({ dest: path ?? 1, ...(path ? { append: true, mkdir: true, mode: LOG_FILE_MODE } : {}), sync, maxLength: LOG_BUFFER_MAX_BYTES, ...(sync ? {} : batch) });
  const open = (batch: { minLength: number; periodicFlush: number } | undefined): Destination => watched(destinationFor(file, batch));
  const options = {
    level: settings.CORRAL_LOG_LEVEL,
    base: { role: identity.role, worker: identity.worker ?? null, pid: process.pid, gen: identity.generation ?? null },
    timestamp: isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: serializeError },
  };
  // Said on stderr (the journal under systemd; a child's stderr is relayed by the master), since
  // the file is what fails. Created on the first failure only.
  let stderrLogger: Logger | undefined;
  const toStderr = () => (stderrLogger ??= pino(isJournalFd(2) ? { ...options, hooks: { streamWrite: withPriority } } : options, stderrDestination()));
  // Without a log file the lines go to stdout: the messages say so, not "the log file" there is
  // none of. A worker's or the keeper's stdout is a pipe the master reads (master/stdout-relay.ts).
  const slowly = () =>
    file !== undefined
      ? 'lines came faster than the log file was written'
      : identity.role === 'master' || identity.role === 'cli'
        ? "lines came faster than stdout was read (the journal, or whatever reads corral's output)"
        : "lines came faster than the master read this process's stdout (it relays them to its own)";
  const report: WriteFailureReport = {
    failed(err) {
      const what = file !== undefined ? `CORRAL_LOG_FILE ${file}` : 'the log to stdout (CORRAL_LOG_FILE is unset)';
      toStderr().error({ event: 'log.write_failed', code: 'CORRAL_ERR_LOG_WRITE', file, err }, `cannot write ${what}: ${err.message}; log lines are dropped until ${file !== undefined ? 'it' : 'stdout'} can be written again (serving goes on)`);
    },
    reopenFailed(err) {
      const why = reopenFailure(err, file);
      toStderr().error({ event: 'log.reopen_failed', code: 'CORRAL_ERR_LOG_WRITE', file, err }, `cannot reopen CORRAL_LOG_FILE ${file ?? '(stdout)'}: ${why}; lines keep going to the file open before (the rotated one) until a reopen succeeds (fix it, then USR1 again)`);
      logger.error({ event: 'log.reopen_failed', code: 'CORRAL_ERR_LOG_WRITE', file, err }, `cannot reopen CORRAL_LOG_FILE ${file ?? '(stdout)'}: ${why}; lines keep going to this file until a reopen succeeds (fix it, then USR1 again)`);
    },
    dropped(dropped, oversized, relayed) {
      const slow = slowly();
      const why =
        oversized === dropped
          ? `each longer than the ${LOG_BUFFER_MAX_BYTES / 1048576} MiB a line may take (log less of what it carries, e.g. not a whole body)`
          : oversized > 0
            ? `${slow}, and ${oversized} of them were each longer than the ${LOG_BUFFER_MAX_BYTES / 1048576} MiB a line may take`
            : slow;
      // On stdout the master writes its children's lines too (relayed): said whose were lost.
      const whose = relayed === 0 ? 'of this process' : relayed === dropped ? "of the master's children (relayed to stdout)" : `(${relayed} of them the master's children's, relayed to stdout; ${dropped - relayed} its own)`;
      logger.warn(
        { event: 'log.dropped', code: 'CORRAL_ERR_LOG_WRITE', file, dropped, oversized, ...(file === undefined ? { relayed } : {}), buffer_bytes: LOG_BUFFER_MAX_BYTES },
        `${dropped} log ${dropped === 1 ? 'line' : 'lines'} ${whose} dropped: ${why}`,
      );
    },
    recovered(dropped, failedMs) {
      logger.warn({ event: 'log.write_recovered', code: 'CORRAL_ERR_LOG_WRITE', file, dropped, failed_ms: failedMs }, `${file !== undefined ? 'log file' : 'stdout'} writable again after ${failedMs} ms; ${dropped === 0 ? 'no line of this process was dropped' : `at least ${dropped} ${dropped === 1 ? 'line' : 'lines'} of this process were lost`}`);
    },
  };
  const watchFailures = () =>
    watchWriteFailures(
      report,
      Date.now,
      // Only on stdout does a destination carry other processes' lines (the master's relay).
      file === undefined ? `"pid":${process.pid},` : undefined,
      // Only a file has other processes appending to it: on stdout this process writes alone.
      file !== undefined,
    );
  // A new one when the lines move from stdout to the file: what it says of each differs.
  let failures = watchFailures();

  // Every destination opens asynchronously, the access one included: a worker creates it just
  // before listening, so a bind that fails at once exits with it still opening. Its exit must wait
  // for it (opened()), and pino's exit hook, which flushes every destination, must not throw
  // "sonic boom is not ready yet" from inside process.exit(): the worker then never exited, and
  // the master waited for it forever instead of retrying the boot or exiting 3.
  const openings: Promise<void>[] = [];
  /** `open`: `d` opened already (the file a reopen moved the lines to). */
  function watched(d: Destination, open = false): Destination {
    let isOpen = file === undefined || open;
    if (!open) {
      const opening = settledOpen(d).then((opened) => void (isOpen = opened));
      if (file !== undefined) openings.push(opening);
    }
    const flushSync = d.flushSync;
    d.flushSync = () => {
      // Before the open there is no fd to write to; after a failed open, none ever.
      if (!isOpen) return;
      const failed = flushBounded(() => flushSync.call(d));
      // Said as a failed write is: pino stops writing to a broken pipe, and write-failure.ts
      // turns the flushes off and says so on stderr.
      if (failed) d.emit('error', failed);
    };
    failures.watch(d);
    return d;
  }
  const destinations: Destination[] = [open(undefined)];
  // Those on stdout once the lines moved to the file (moveTo): flushed and drained at an exit for
  // what they held then, never reopened.
  const left: Destination[] = [];
  // Only a logger whose lines may move to a file writes through switch streams (switch-stream.ts).
  const lines: SwitchStream | undefined = unavailable === undefined ? undefined : switchStream(destinations[0] as Destination);
  let accessLines: SwitchStream | undefined;
  const logger = pino(journal ? { ...options, hooks: { streamWrite: onStdoutOnly(withPriority) } } : options, lines ?? (destinations[0] as Destination));
  let access: Logger | undefined;
  let relay: StdoutSink | undefined;

  /** Moves this process's lines from stdout to `path`, open as `d`: said as the last line on stdout and the first in the file. */
  function moveTo(path: string, d: Destination): void {
    const fields = { event: 'log.file_available', code: 'CORRAL_ERR_LOG_FILE', file: path, unavailable_since: unavailableSince };
    const words = () =>
      `CORRAL_LOG_FILE ${path} could be opened: this ${identity.role}'s lines go to it from now on; from ${unavailableSince} until now they went to its stdout, which the master relays to its own (the journal under systemd), as log.file_unavailable said there`;
    failures.sayDropped();
    logger.warn(fields, words());
    left.push(...destinations.splice(0));
    file = path;
    unavailable = undefined;
    failures = watchFailures();
    destinations.push(watched(d, true));
    lines?.switchTo(d);
    if (accessLines) {
      const batched = open({ minLength: ACCESS_BATCH_BYTES, periodicFlush: ACCESS_FLUSH_MS });
      destinations.push(batched);
      accessLines.switchTo(batched);
    }
    logger.warn(fields, words());
  }

  let fileOpening: Promise<boolean | undefined> | undefined;
  /**
   * The reopen of a logger on stdout for want of its file (`unavailable`): the file is tried, and
   * the lines move to it once it opens; else they stay on stdout, and the failure is said there.
   * Resolves as reopen() does.
   */
  function openUnavailable(path: string): Promise<boolean | undefined> {
    // Its directory is made as at start (log-file.ts); a failure is the open's to say.
    try {
      makeDirsSync(dirname(path), LOG_DIR_MODE);
    } catch {
      // said by the open below
    }
    const d = destinationFor(path, undefined);
    // Until it is open, pino's exit hook must not flush it: "sonic boom is not ready yet",
    // thrown from inside process.exit(), kept the process from exiting.
    const flushSync = d.flushSync;
    d.flushSync = () => {};
    const outcome = openOutcome(d).then((err) => {
      fileOpening = undefined;
      if (err !== undefined) {
        logger.error(
          { event: 'log.reopen_failed', code: 'CORRAL_ERR_LOG_WRITE', file: path, err: describeError(err) },
          `cannot open CORRAL_LOG_FILE ${path}: ${reopenFailure(err, path)}; this ${identity.role}'s lines keep going to its stdout (relayed by the master) until a reopen opens it (fix it, then USR1 again)`,
        );
        return false;
      }
      d.flushSync = flushSync;
      moveTo(path, d);
      return true;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, REOPEN_WAIT_MS, undefined);
      timer.unref();
    });
    return Promise.race([outcome, late]).finally(() => clearTimeout(timer));
  }

  return {
    logger,
    access() {
      if (!access) {
        // On stdout (a pipe or socket) one destination per process: two writing fd 1 from
        // libuv's thread pool could interleave their writes mid-line where a write is cut short,
        // as an O_APPEND file's never is. Lines logged while a write is in flight are written
        // together in the next one, which batches access lines under load.
        // There, as the master's relay does, they go through the sink that keeps the buffer's
        // last RESERVED_BYTES from them (relay-sink.ts): a worker whose master falls behind
        // reading its pipe still writes its own lines (worker.draining, its exit's) past a buffer
        // full of traffic.
        const batched = file === undefined ? undefined : open({ minLength: ACCESS_BATCH_BYTES, periodicFlush: ACCESS_FLUSH_MS });
        if (batched) destinations.push(batched);
        const stream = batched ?? (relay ??= relaySink(destinations[0] as Destination));
        // Moved to the file with the other lines, batched there (moveTo).
        if (!batched && unavailable !== undefined) accessLines = switchStream(stream);
        access = pino(journal ? { ...options, hooks: { streamWrite: onStdoutOnly(accessPriority) } } : options, accessLines ?? stream);
      }
      return access;
    },
    file: () => file,
    // process.stdout once failed (its reader gone: master/closed-output.ts) is written no more.
    stdoutSink: () => (file === undefined ? (relay ??= relaySink(destinations[0] as Destination)) : { write: (text) => (process.stdout.writable ? process.stdout.write(text) : false) }),
    reopen() {
      if (unavailable !== undefined) return (fileOpening ??= openUnavailable(unavailable));
      if (!file) return Promise.resolve(true);
      // Each settles after its reopen: one of an open still in flight is made at its 'ready', by a
      // listener sonic-boom added before reopenSettled's, and that open's 'ready' is not this reopen's.
      const settled = destinations.map((d) => reopenDestination(d));
      return settled[0] as Promise<boolean | undefined>;
    },
    fd() {
      const fd = (destinations[0] as unknown as { fd: number }).fd;
      return file !== undefined && fd >= 0 ? fd : undefined;
    },
    configure(next) {
      logger.level = next.CORRAL_LOG_LEVEL;
      if (access) access.level = next.CORRAL_LOG_LEVEL;
      if (next.CORRAL_LOG_FILE === file) return true;
      if (file === undefined || next.CORRAL_LOG_FILE === undefined) return false;
      file = next.CORRAL_LOG_FILE;
      for (const d of destinations) void reopenDestination(d, file);
      return true;
    },
    async opened(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(openings), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
    async drained(timeoutMs) {
      failures.sayDropped();
      // sonic-boom's own flag. With minLength out of reach, the write in flight completes (its rest
      // included, if it was cut short) and none follows it: 'drain' comes then, not after the
      // whole buffer, which a slow reader could take many seconds over.
      const busy = [...destinations, ...left].filter((d) => (d as unknown as { _writing?: unknown })._writing === true);
      for (const d of busy) (d as unknown as { minLength: number }).minLength = Number.MAX_SAFE_INTEGER;
      if (busy.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const drains = busy.map((d) => once(d, 'drain').then(() => undefined, () => undefined));
      await Promise.race([Promise.all(drains), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
    flush() {
      for (const d of [...destinations, ...left]) {
        try {
          d.flushSync();
        } catch {
          // flushSync throws while the stream is still opening; nothing is buffered then.
        }
      }
    },
  };
}

export type { Logger };
