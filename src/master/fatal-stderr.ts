// A master that gives up at start (no worker could boot: an app that cannot be imported, a port
// in use), or exits after an uncaught exception of its own, says why in its log. With
// CORRAL_LOG_FILE set, that was all: an operator who ran `corral start` by hand saw no output and
// an exit code. The same one line (code and message)
// goes to stderr too, naming the file with the rest; without a log file the line is already on
// stdout, and is not said twice.

import { isJournalFd } from '../log/journal.js';

/** Why the master exits: the fatal line's code and message. */
export interface FatalReason {
  readonly code: string;
  readonly message: string;
}

/** The line for stderr, or undefined when the log goes to stdout (the operator sees it there). */
export function fatalStderrLine(fatal: FatalReason, logFile: string | undefined, journal = isJournalFd(2)): string | undefined {
  if (logFile === undefined) return undefined;
  // Under systemd stderr is the journal: counted as critical, as the log line itself would be.
  return `${journal ? '<2>' : ''}corral start: [${fatal.code}] ${fatal.message}; the full log is in ${logFile}\n`;
}
