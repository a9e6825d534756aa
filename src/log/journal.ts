// Syslog priorities for lines written to systemd's journal.
//
// Why: journald rate-limits each unit (RateLimitBurst=10000 per 30 s by default, scaled up with
// free disk space) in separate pools by priority: emerg..crit, err, warning, notice+info, debug. A
// line without a priority prefix counts as info. With one access line per request, a site serving a
// few hundred requests a second filled the info pool, and journald dropped every line of the unit
// for the rest of the 30 s: a reload.failed, a worker.timeout, a master.uncaught. The systemd test's
// broken-settings reload check failed this way whenever it followed the client loop of the check
// before it. With a `<N>` prefix on each line (sd-daemon(3); journald reads and strips it,
// SyslogLevelPrefix=yes is systemd's default), errors and warnings are counted apart from
// everything else, and access lines are written as debug so that they never crowd out lifecycle
// lines: `journalctl -p info` is then the daemon's life without its traffic.

import { fstatSync } from 'node:fs';
import { readSystemdEnv, type JournalStreamId } from '../config/systemd-env.js';

/** Access lines: one per request, counted apart from the daemon's own lines. */
export const ACCESS_PRIORITY = '<7>';
/** Lines a child process wrote to stderr that are not ours (node's warnings, a crash before its logger existed). */
export const STDERR_PRIORITY = '<4>';

/**
 * The sd-daemon prefix for a pino line of ours, from its level label: lines start with
 * `{"level":"<label>"` (the level formatter in logger.ts), so one character tells them apart.
 */
export function priorityOf(line: string): string {
  switch (line.charCodeAt(10)) {
    case 0x66: // fatal
      return '<2>';
    case 0x65: // error
      return '<3>';
    case 0x77: // warn
      return '<4>';
    case 0x64: // debug
    case 0x74: // trace
      return '<7>';
    default: // info, and anything unexpected
      return '<6>';
  }
}

/**
 * The prefix for a line the master relays from a child's stderr to the journal. A child's stderr
 * is a pipe, so its own logger writes no prefix there; a pino line of ours (log.write_failed, an
 * error) keeps its level, as the master's own would: a flat STDERR_PRIORITY showed a worker's
 * error as a warning, missing from `journalctl -p err`. Anything else is a warning.
 */
export function relayedStderrPriority(line: string): string {
  return line.startsWith('{"level":"') ? priorityOf(line) : STDERR_PRIORITY;
}

/**
 * True when `fd` is the stream systemd connected to the journal: $JOURNAL_STREAM names its device
 * and inode. Its being set is not enough (systemd.exec(5)): a process started from a unit with
 * its output redirected elsewhere inherits the variable.
 */
export function isJournalFd(fd: number, stream: JournalStreamId | undefined = readSystemdEnv().journalStream): boolean {
  if (!stream) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === stream.dev && st.ino === stream.ino;
  } catch {
    return false;
  }
}

/** A command's refusal or failure on its stderr: what `journalctl -p err` shows. */
export const REFUSAL_PRIORITY = '<3>';
/** A command's warning on its stderr. */
export const WARNING_PRIORITY = '<4>';

/**
 * `text` with `priority` before each of its lines when stderr is the journal (a command run by
 * the unit: `corral start`, the `corral reload --wait` of ExecReload=), else as it is. A line
 * without a prefix counts as info: `corral start` refusing its settings (exit 78, not restarted)
 * or ExecReload= refusing an edit said why at info only, and `journalctl -u corral -p err` showed
 * systemd's "Failed to start" without it. A refusal spans lines (one per invalid setting), each
 * read by journald on its own, so each carries the prefix.
 */
export function onStderr(text: string, priority: string, journal: boolean = isJournalFd(2)): string {
  return journal ? text.replace(/^(?=[^\n])/gm, priority) : text;
}
