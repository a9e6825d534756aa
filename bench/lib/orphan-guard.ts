// Every server a bench starts (bare, corral, gunicorn, an emulator) is a process of its own: a
// bench that dies half-way must not leave them behind to share the cores with the next run.

import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** SIGTERMs `proc` when this process exits, unless it exited first. */
export function killOnExit(proc: ChildProcess): void {
  const guard = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  };
  process.once('exit', guard);
  proc.once('exit', () => process.off('exit', guard));
}

/**
 * Turns SIGINT, SIGTERM and SIGHUP into an exit with the signal's status. Node's default for them
 * ends the process without its 'exit' event, so none of killOnExit's guards ran: a `kill` of the
 * bench (a CI job cancelled, `kill <pid>`) left every server it had started running.
 */
export function exitOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => process.exit(128 + constants.signals[signal]));
  }
}
