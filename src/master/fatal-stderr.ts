// A master that gives up at start (no worker could boot: an app that cannot be imported, a port
// in use), or exits after an uncaught exception of its own, says why in its log. With
// CORRAL_LOG_FILE set, that was all: an operator who ran `corral start` by hand saw no output and
// an exit code. The same one line (code and message)
// goes to stderr too, naming the file with the rest; without a log file the line is already on
// stdout, and is not said twice. Unless the level leaves the fatal line out of the log
// (CORRAL_LOG_LEVEL=silent): a failed start then said nothing at all, or named a file that held
// nothing of it; the line is said on stderr always, and names no file.

import { isJournalFd } from '../log/journal.js';

/** Why the master exits: the fatal line's code and message. */
export interface FatalReason {
  readonly code: string;
  readonly message: string;
}

/** The levels whose log holds a fatal line (pino's, lowest first); any other (silent) holds none. */
const LOGS_FATAL: ReadonlySet<string> = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/**
 * The line for stderr, or undefined when the log goes to stdout at a level that writes the fatal
 * line (the operator sees it there). `level`: the master's log level as it is at the exit.
 */
export function fatalStderrLine(fatal: FatalReason, logFile: string | undefined, level: string, journal = isJournalFd(2)): string | undefined {
  const logged = LOGS_FATAL.has(level);
  if (logFile === undefined && logged) return undefined;
  // Under systemd stderr is the journal: counted as critical, as the log line itself would be.
  const where = logged ? `; the full log is in ${logFile}` : `; CORRAL_LOG_LEVEL=${level} leaves this line out of the log`;
  return `${journal ? '<2>' : ''}corral start: [${fatal.code}] ${fatal.message}${where}\n`;
}
