// No master, no worker: an orphan must never keep serving. node:cluster registers its own
// 'disconnect' listener before any of ours (lib/internal/cluster/child.js), and it exits with
// code 0 whenever the disconnect was not asked for through node:cluster: an orphan said nothing
// of its master being gone. Ahead of it, a channel lost exits EXIT.MASTER_GONE. Asked to stop (the
// master's 'drain', or SIGTERM) and draining, the worker first cuts what its drain still holds
// through the drain's forced close (worker.drain_forced, the access lines 499 with cut "drain"):
// node:cluster's exit 0 stood there, and a master killed mid-stop (kill -9, a stop timeout) had
// its workers' requests in flight cut with no line at all, the log ending at shutdown.start.
//
// The exit waits (bounded) for the log file to open before it flushes (log/flush-and-exit.ts), as
// the keeper's does: a worker whose master died while it booted exited with its file still
// opening, and worker.master_gone, the only line that said why, was lost. Waiting means telling
// node:cluster not to exit first: it takes the disconnect as asked for, as its own disconnect()
// does (worker.exitedAfterDisconnect). The wait is short when the file is open (the write in
// flight, if any), and the stack probe's thread still ends a worker whose loop is blocked meanwhile.
//
// Installed before the worker loads the rest of its code (entry.ts), whose graph takes 0.1 to 2 s
// to load: installed only once it ran, a channel lost meanwhile met node:cluster's listener alone,
// and the worker exited 0, silent. A master gone before the worker has a logger is said and exited
// on once it has one (logTo), as the keeper does when its master went while it loaded: the worker
// loads no app before that. Loaded ahead of corral's other code (src/own-code-load.ts says why),
// this file imports only node's builtins and errors.ts statically; the exit's flush is imported
// when it is needed, by then loaded already with the logger it flushes.

import cluster from 'node:cluster';
import { EXIT } from '../errors.js';
import type { CorralLogger } from '../log/logger.js';

export interface MasterGoneExit {
  /**
   * The worker was asked to stop and drains: a channel lost from now on runs `cut` (the drain's
   * forced close, bounded by CUT_WAIT_MS) before the exit, and the line says it was draining.
   */
  stopAsked(cut?: () => Promise<unknown>): void;
  /**
   * From now on the exit says so in `log` (worker.master_gone), and waits for the line to reach it;
   * a master gone already is said and exited on now.
   */
  logTo(log: CorralLogger): void;
  /**
   * Whether the channel to the master closed: a drain that ends after (cut by `stopAsked`'s cut)
   * exits EXIT.MASTER_GONE as this exit does, not 0, whichever of the two gets to exit first.
   */
  readonly gone: boolean;
}

/** How long the exit of a draining worker whose master is gone waits for the drain's forced close (its access lines). */
export const CUT_WAIT_MS = 2000;

/** Exits EXIT.MASTER_GONE when the IPC channel to the master closes; call first thing in the worker, before its modules load. */
export function exitWhenMasterGone(): MasterGoneExit {
  let stopAsked = false;
  let cut: (() => Promise<unknown>) | undefined;
  let log: CorralLogger | undefined;
  let gone = false;
  let exiting = false;
  const exit = (l: CorralLogger) => {
    if (exiting) return;
    exiting = true;
    if (stopAsked) l.logger.warn({ event: 'worker.master_gone', draining: true }, 'IPC channel to the master closed while this worker drained: what its drain still holds is cut now (worker.drain_forced says how many connections), then it exits');
    else l.logger.warn({ event: 'worker.master_gone' }, 'IPC channel to the master closed: exiting');
    const bound = new Promise<void>((resolve) => setTimeout(resolve, CUT_WAIT_MS));
    const cutDone = stopAsked && cut ? Promise.race([cut().catch(() => undefined), bound]) : Promise.resolve();
    void cutDone
      .then(() => import('../log/flush-and-exit.js'))
      .then(
        ({ flushAndExit }) => flushAndExit(l, EXIT.MASTER_GONE),
        () => process.exit(EXIT.MASTER_GONE),
      );
  };
  const masterGone = () => {
    gone = true;
    if (log) exit(log);
  };
  process.prependOnceListener('disconnect', () => {
    if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
    masterGone();
  });
  // Reached also when node:cluster did not exit (a disconnect asked for through it, which the
  // master never does): the worker exits as it always has.
  process.on('disconnect', masterGone);
  return {
    stopAsked: (c) => {
      stopAsked = true;
      cut ??= c;
    },
    logTo: (l) => {
      log = l;
      if (gone) exit(l);
    },
    get gone() {
      return gone;
    },
  };
}
