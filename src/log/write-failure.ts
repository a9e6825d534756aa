// What a process does when its log file cannot be written (disk full, EIO, the filesystem gone).
//
// Why: pino's destination (sonic-boom 4) emits 'error' for a failed write. Unhandled, that is an
// uncaught exception in every process at its next line: the master stopped the whole site and a
// worker, logging its own uncaught exception into the same failed file, spun on it, growing. And
// sonic-boom's flushSync retries any error other than EAGAIN forever, 100 ms apart, so a master
// flushing before its exit (its own flush, and pino's exit hook on every destination) hung there
// with its pidfile already gone; flushSync is made a no-op while the file fails (as pino does on
// EPIPE). A full log disk must cost log lines, not the service: lines are dropped (the buffer is
// capped), the failure is said once on stderr (the journal, under systemd), writing resumes by
// itself when the file can be written again (space freed, or logrotate + USR1), and the first
// line after says how many were lost.

import { monotonicNow } from '../clock.js';
import { describeError } from '../errors.js';

/**
 * The most a destination holds while its file cannot be written (or is written slower than lines
 * come); later lines are dropped, and counted.
 */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
/** Lines dropped while the file is written, only too slowly, are said at most this often. */
export const DROP_REPORT_INTERVAL_MS = 60_000;
/**
 * While the file fails, what the destinations hold is tried again this often: sonic-boom tries
 * only at the next line, and a master that logs nothing for minutes left its lines unwritten, and
 * the file's recovery unsaid, until then.
 */
export const WRITE_RETRY_MS = 1000;

/** The part of a pino destination (SonicBoom) this watches. */
export interface WatchedDestination {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'write', listener: (n: number) => void): unknown;
  on(event: 'drop', listener: (data: unknown) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  write(data: string): boolean;
  flushSync(): void;
}

export interface WriteFailureReport {
  /** The failure, once per episode: written where it can still be read (stderr). */
  failed(err: ReturnType<typeof describeError>): void;
  /** Writing works again: how many lines were lost meanwhile, and for how long. */
  recovered(dropped: number, failedMs: number): void;
  /**
   * Lines dropped with no write failing: the buffer was full (a disk slower than the logging), or,
   * `oversized` of them, a line longer than the buffer's cap, which is never written however fast
   * the disk is. `relayed` of them were other processes' lines (a master's children's, relayed
   * to its stdout), told from this process's own by `ownMark` (0 without one).
   */
  dropped(dropped: number, oversized: number, relayed: number): void;
  /**
   * A reopen (USR1, a reload's new path) could not open the file: nothing is lost yet, the lines
   * keep going to the file open before (the rotated one). Once per destination set and failure.
   */
  reopenFailed(err: ReturnType<typeof describeError>): void;
}

export interface WriteFailureWatch {
  /** Adds a destination writing the same file: one failure state for all of them. */
  watch(d: WatchedDestination): void;
  /**
   * Says the lines dropped since the last report now, whatever DROP_REPORT_INTERVAL_MS: for a
   * deliberate exit, after which no write would say them (lines dropped within a minute of the
   * last report were never said). Nothing while writes fail: recovered() counts those.
   */
  sayDropped(): void;
}

/**
 * The lines in what a destination dropped: one pino line, or a relayed chunk of several
 * (relay-sink.ts); and how many of them lack `ownMark` (another process's, relayed).
 */
function linesIn(data: unknown, ownMark: string | undefined): { lines: number; relayed: number } {
  const text = typeof data === 'string' ? data : String(data);
  let lines = 0;
  let relayed = 0;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
    lines++;
    if (ownMark !== undefined && !text.slice(start, i).includes(ownMark)) relayed++;
    start = i + 1;
  }
  if (lines === 0) return { lines: 1, relayed: ownMark !== undefined && !text.includes(ownMark) ? 1 : 0 };
  return { lines, relayed };
}

/** What sonic-boom (4.x, utf8 mode) holds of the chunk whose write failed, and its count of bytes held. */
interface HeldChunk {
  _writingBuf?: unknown;
  _len?: unknown;
}

/**
 * The chunk a failed write holds, written again on a line of its own. Every process appends to
 * the one file, and the write that filled the disk may have been cut short: another process's
 * line left without its end, which goes out only when that process writes again. The first
 * process to write once there is room ran its first held line on from that part, and both were
 * lost to a JSON reader (a master's `worker.exit`, in a test). A newline first ends the other's
 * part there: its two pieces are the only lines that are not JSON, and an empty line is all it
 * costs when no write was cut. Not for a chunk of this destination's own that was cut short
 * (sonic-boom holds its rest as a Buffer, and that rest continues the line already written),
 * and once only: each retry that fails again comes here too.
 */
function startsOnNewLine(d: WatchedDestination): void {
  const held = d as unknown as HeldChunk;
  if (typeof held._writingBuf !== 'string' || held._writingBuf === '' || held._writingBuf.startsWith('\n') || typeof held._len !== 'number') return;
  held._writingBuf = `\n${held._writingBuf}`;
  held._len += 1;
}

/**
 * `ownMark`: text every line this process logs holds and no other process's does (its `"pid":N,`):
 * on stdout the master writes its children's lines too, and log.dropped says whose were lost.
 * `sharesFile`: other processes append to the same file (CORRAL_LOG_FILE), and a failed write's
 * chunk goes out again on a line of its own (startsOnNewLine); stdout has this process alone
 * writing to it, where that would only add an empty line (an empty journal entry).
 */
export function watchWriteFailures(report: WriteFailureReport, now: () => number = monotonicNow, ownMark?: string, sharesFile = true): WriteFailureWatch {
  let failingSince: number | undefined;
  let dropped = 0;
  let oversized = 0;
  let relayed = 0;
  let reopenFailing = false;
  let lastDropReport = -Infinity;
  let retry: NodeJS.Timeout | undefined;
  const watched = new Map<WatchedDestination, () => void>();
  const noFlush = () => {};
  return {
    watch(d) {
      watched.set(d, d.flushSync);
      d.on('ready', () => {
        reopenFailing = false;
      });
      d.on('error', (err) => {
        const syscall = (err as NodeJS.ErrnoException).syscall;
        // A failed reopen leaves sonic-boom's "close the old fd once the new one is ready"
        // listener in place (destination-open.ts removes it once it knows the open failed, not
        // when that took longer than it waits); the next reopen that works adds another, and the
        // second close of the same fd fails with EBADF. Nothing is lost: the old file is closed
        // either way.
        if (syscall === 'close') return;
        // sonic-boom keeps its old fd when an open fails: writing goes on, to the old file. A
        // reopen creates the directory first (mkdir: true), so its failure (EEXIST: the path is a
        // file; EACCES) is a failed reopen too, not a failed write: said as one, it read "lines are
        // dropped" then "recovered, 0 lost", and the reopen's failure was never named.
        if (syscall === 'open' || syscall === 'mkdir') {
          if (!reopenFailing) report.reopenFailed(describeError(err));
          reopenFailing = true;
          // Lines logged while the open was in flight wait in the buffer, and sonic-boom starts no
          // write after a failed open: they stayed there until the process logged again, which an
          // idle worker may not do for hours (its own reopen_failed line among them, when its other
          // destination failed first). An empty write starts one, to the old file.
          d.write('');
          return;
        }
        if (sharesFile) startsOnNewLine(d);
        if (failingSince !== undefined) return;
        failingSince = now();
        dropped = 0;
        relayed = 0;
        for (const w of watched.keys()) w.flushSync = noFlush;
        report.failed(describeError(err));
        // An empty write makes sonic-boom write what it holds (nothing new is added).
        retry = setInterval(() => {
          for (const w of watched.keys()) w.write('');
        }, WRITE_RETRY_MS);
        retry.unref();
      });
      d.on('drop', (data) => {
        const n = linesIn(data, ownMark);
        dropped += n.lines;
        relayed += n.relayed;
        // Said apart: "lines came faster than the file was written" sent the operator to the disk
        // for a line (a whole request body logged) that no disk would have taken.
        if (typeof data === 'string' && data.length > LOG_BUFFER_MAX_BYTES / 4 && Buffer.byteLength(data) > LOG_BUFFER_MAX_BYTES) oversized++;
      });
      d.on('write', (n) => {
        // Nothing written proves nothing: sonic-boom's periodic flush of an empty buffer (the
        // access lines' destination) writes 0 bytes, which succeeds on a full disk, and each read
        // as a recovery, then the next line's failure as a new one, said once a second.
        if (!(n > 0)) return;
        if (failingSince === undefined) {
          if (dropped > 0 && now() - lastDropReport >= DROP_REPORT_INTERVAL_MS) {
            lastDropReport = now();
            report.dropped(dropped, oversized, relayed);
            dropped = 0;
            oversized = 0;
            relayed = 0;
          }
          return;
        }
        const failedMs = now() - failingSince;
        failingSince = undefined;
        clearInterval(retry);
        retry = undefined;
        for (const [w, flushSync] of watched) w.flushSync = flushSync;
        report.recovered(dropped, failedMs);
        dropped = 0;
        oversized = 0;
        relayed = 0;
      });
    },
    sayDropped() {
      if (failingSince !== undefined || dropped === 0) return;
      lastDropReport = now();
      report.dropped(dropped, oversized, relayed);
      dropped = 0;
      oversized = 0;
      relayed = 0;
    },
  };
}
