// Signalling the master, or asking whether this user may: a master run by another user (the
// service account) refuses with EPERM, said as what to do instead. A file of its own: stop and
// reload signal the master once master-process.ts has found it.

import { CorralError } from '../errors.js';

/**
 * Sends `signal` to the master. A master run by another user (the service account) refuses with
 * EPERM: say how to reach it instead of a stack trace.
 */
export function signalMaster(pid: number, signal: NodeJS.Signals): void {
  sendOrDeny(pid, signal, signal);
}

/**
 * Throws CORRAL_ERR_SIGNAL_DENIED, as signalMaster(pid, signal) would, when this user may not
 * signal the master; sends nothing (signal 0). For a command that has more to judge before it
 * signals, and whose judgement would be this user's, not the master's.
 */
export function assertMaySignal(pid: number, signal: NodeJS.Signals): void {
  sendOrDeny(pid, 0, signal);
}

function sendOrDeny(pid: number, sent: NodeJS.Signals | 0, named: NodeJS.Signals): void {
  try {
    process.kill(pid, sent);
  } catch (err) {
    // Found alive a moment ago, gone at the signal: it exited meanwhile (a stop already under
    // way). Not running, as the pidfile would now say, rather than an internal error with a stack.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
      throw new CorralError('CORRAL_ERR_NOT_RUNNING', `corral is not running (master pid ${pid} exited before ${named} reached it)`, { cause: err });
    }
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    throw new CorralError(
      'CORRAL_ERR_SIGNAL_DENIED',
      `not allowed to send ${named} to the master (pid ${pid}): it runs as another user. Run this as that user (sudo -u <user> corral ...) or as root, or use systemctl (systemctl reload|stop corral)`,
    );
  }
}
