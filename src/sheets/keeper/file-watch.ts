// The keeper's own files, checked every few seconds: its journal, its socket and its lock.
// Something other than corral may remove them while it runs (an `rm -rf` of the data dir, a
// cleanup job, tmpfiles.d on a data dir under /tmp): the open journal then took appends into a
// deleted file, acknowledged, that no restart would replay, and the removed socket took no new
// connection from a worker. The journal puts its memory back at its path (journal-file.ts); the
// socket is bound again
// (server.ts); the lock is written again (lock.ts), else a second corral started on the data dir
// meanwhile would take it and flush the same journal's rows a second time; one that took it first
// owns the journal from then on, and this keeper is fenced (lock-fence.ts). Appends check the
// journal too, before each write: this timer covers a quiet keeper, whose next restart would
// otherwise find the file gone.

import { describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { Journal } from './journal.js';
import type { KeeperLock } from './lock.js';
import { KeeperLockTakenError, type LockFence } from './lock-fence.js';
import type { KeeperServer } from './server.js';

export const FILE_CHECK_INTERVAL_MS = 2000;

export interface KeeperFiles {
  readonly journal: Journal;
  readonly server: KeeperServer | undefined;
  readonly socketPath: string | undefined;
  readonly logger: Logger;
  /** Undefined in tests of the journal and socket alone. */
  readonly lock?: KeeperLock;
  /** Told when the lock holds another keeper's line; with `lock`. */
  readonly fence?: LockFence;
}

/** Starts the checks; the returned function stops them. */
export function watchKeeperFiles(f: KeeperFiles, intervalMs = FILE_CHECK_INTERVAL_MS): () => void {
  /** Said once per run of failed checks, and once per socket held by another file: a check runs every 2 s. */
  let failing = false;
  let foreignSaid = false;
  let running = false;
  /** Set by the returned stop: a check in flight when the keeper closes fails on the closed journal, unsaid. */
  let stopped = false;
  const check = async () => {
    // Fenced: the files are another keeper's now, and this one is on its way out.
    if (running || stopped || f.fence?.taken) return;
    running = true;
    try {
      await f.journal.verifyFile();
      // Stopped meanwhile (the keeper closes): what follows would act on files the close is
      // letting go of, the lock above all, written back after its release (keeper.lock_restored,
      // said falsely, and the exited keeper's lock left behind).
      if (stopped) return;
      const socket = await f.server?.relistenIfRemoved();
      if (socket === 'rebound') {
        f.logger.error(
          { event: 'keeper.socket_rebound', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', socket: f.socketPath },
          `keeper: its socket ${f.socketPath} was removed while it ran (the data dir or the file deleted by something other than corral); listening on it again, so workers reach the keeper again: find what removes files there`,
        );
      } else if (socket === 'foreign' && !foreignSaid) {
        f.logger.error(
          { event: 'keeper.socket_taken', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', socket: f.socketPath },
          `keeper: ${f.socketPath} is no longer its socket (the file was replaced, another process bound it?): workers that reconnect reach whatever is there, not this keeper; restart corral (said once)`,
        );
      }
      foreignSaid = socket === 'foreign';
      if (stopped) return;
      const lock = await f.lock?.verify();
      if (lock?.state === 'restored') {
        f.logger.error(
          { event: 'keeper.lock_restored', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', lock: f.lock?.path },
          `keeper: its lock ${f.lock?.path} was removed while it ran (the data dir or the file deleted by something other than corral); written again, so no second keeper opens this journal: find what removes files there`,
        );
      } else if (lock?.state === 'taken') {
        // Final: no send starts from here on, and the keeper leaves (lock-fence.ts says it).
        f.fence?.fence(lock.holderPid);
        return;
      }
      if (failing) f.logger.info({ event: 'keeper.file_check_recovered' }, "keeper: its journal, socket and lock files are checked again");
      failing = false;
    } catch (err) {
      // The journal's check asked the lock first and found it another's: said by the fence.
      if (stopped || err instanceof KeeperLockTakenError) return;
      if (!failing) {
        f.logger.warn(
          { event: 'keeper.file_check_failed', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', err: describeError(err) },
          `keeper: cannot check or put back its journal and socket files (${(err as Error).message}); retried every ${intervalMs / 1000} s, said again once it works`,
        );
      }
      failing = true;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
