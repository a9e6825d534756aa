// No master, no worker: an orphan must never keep serving. node:cluster registers its own
// 'disconnect' listener before any of ours (lib/internal/cluster/child.js), and it exits with
// code 0 whenever the disconnect was not asked for through node:cluster: an orphan said nothing
// of its master being gone. Ahead of it, a channel lost while this worker was not asked to stop
// exits EXIT.MASTER_GONE. Asked to stop (the master's 'drain', or SIGTERM), node:cluster's exit
// 0 stands, as before: this worker was on its way out anyway.

import { EXIT } from '../errors.js';
import type { CorralLogger } from '../log/logger.js';

export interface MasterGoneExit {
  /** The worker was asked to stop: a disconnect from now on is node:cluster's to exit on. */
  stopAsked(): void;
  /** From now on the exit says so in `log` (worker.master_gone). */
  logTo(log: CorralLogger): void;
}

/** Exits EXIT.MASTER_GONE when the IPC channel to the master closes; call first thing in the worker. */
export function exitWhenMasterGone(): MasterGoneExit {
  let stopAsked = false;
  let log: CorralLogger | undefined;
  const masterGone = () => {
    if (log) {
      log.logger.warn({ event: 'worker.master_gone' }, 'IPC channel to the master closed: exiting');
      log.flush();
    }
    process.exit(EXIT.MASTER_GONE);
  };
  process.prependOnceListener('disconnect', () => {
    if (!stopAsked) masterGone();
  });
  // Reached only when node:cluster did not exit (a disconnect asked for through it, which the
  // master never does): the worker exits as it always has.
  process.on('disconnect', masterGone);
  return {
    stopAsked: () => void (stopAsked = true),
    logTo: (l) => void (log = l),
  };
}
