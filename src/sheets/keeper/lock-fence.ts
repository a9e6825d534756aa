// The fence of a keeper whose data dir lock another keeper took while it ran (its lock file removed
// by something other than corral, and a second corral's keeper started on the data dir meanwhile).
// That keeper opened the journal file as it was then, and sends its rows: this one must not send
// them too (every row would reach the sheet twice), nor write the file any more (each keeper's
// next write found the file grown or replaced by the other and wrote its own memory over it, so
// each dropped what the other had acknowledged). The lock's holder owns the journal now.
//
// So every write of the journal asks the lock first, and a group of appends asks again once it
// is durable, before it is acknowledged (one read of a line beside an fsync): no append is
// acknowledged, and no send record written, once the lock is another's. A send goes only after
// its send record is written (flusher.ts), so no append to Google starts after the check that
// found the lock taken; one in flight finishes. Every append this keeper acknowledged was durable
// while the lock was still its own, before the holder took it and so before the holder opened
// the file: the holder's journal has it. The 2 s file check (file-watch.ts) finds it too
// for a keeper with nothing to write. Found once, it is final: the keeper refuses appends as
// unavailable (the app answers 503), stops its flusher and exits (keeper-main.ts), and the master
// restarts it, which waits for the lock as a second corral's keeper does.

import { CorralError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { KeeperLock } from './lock.js';

/** The refusal of every write of the journal once another keeper holds the lock: the keeper is unavailable. */
export class KeeperLockTakenError extends CorralError {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | undefined,
    /**
     * The refused group was written and synced before the lock was found taken: the holder may
     * have read it, and then sends its rows. Its appends are not "nothing saved" (protocol.ts
     * WireError.written), unlike those refused before any write.
     */
    readonly written = false,
  ) {
    super(
      'CORRAL_ERR_KEEPER_UNAVAILABLE',
      `another keeper (pid ${holderPid ?? 'unknown'}) holds the data dir's lock ${lockPath}: this keeper writes no journal and sends no row any more; it leaves the journal to that keeper` +
        (written ? ' (this append was written to the journal just before: that keeper may have it)' : ''),
    );
    this.name = 'KeeperLockTakenError';
  }

  /** The same refusal of a group found written when the lock was asked again. */
  afterWrite(): KeeperLockTakenError {
    return new KeeperLockTakenError(this.lockPath, this.holderPid, true);
  }
}

export class LockFence {
  private takenBy: KeeperLockTakenError | undefined;
  private readonly listeners: Array<(taken: KeeperLockTakenError) => void> = [];

  constructor(
    private readonly lock: Pick<KeeperLock, 'path' | 'heldByAnother'>,
    private readonly logger: Logger,
  ) {}

  /** The refusal once the lock was found another's; undefined while it is this keeper's. */
  get taken(): KeeperLockTakenError | undefined {
    return this.takenBy;
  }

  /** Told once, synchronously, when the lock is found another's (before the write that asked fails). */
  onTaken(listener: (taken: KeeperLockTakenError) => void): void {
    this.listeners.push(listener);
  }

  /** Before each write of the journal: fails with KeeperLockTakenError once another keeper holds the lock. */
  async check(): Promise<void> {
    if (this.takenBy) throw this.takenBy;
    const other = await this.lock.heldByAnother();
    if (other) this.fence(other.holderPid);
    if (this.takenBy) throw this.takenBy;
  }

  /** The lock was found holding another keeper's line (here, or by the file check): final, said once. */
  fence(holderPid: number | undefined): KeeperLockTakenError {
    if (this.takenBy) return this.takenBy;
    const taken = new KeeperLockTakenError(this.lock.path, holderPid);
    this.takenBy = taken;
    this.logger.error(
      { event: 'keeper.lock_taken', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', lock: this.lock.path, holder_pid: holderPid ?? null },
      `keeper: its lock ${this.lock.path} was removed while it ran and another keeper (pid ${holderPid ?? 'unknown'}) holds it now, with the journal: ` +
        'this keeper sends no more rows to the sheet (one append in flight finishes), refuses appends as unavailable (the app answers 503) and exits with code 8; ' +
        'every row it acknowledged is in the journal the other keeper opened. Its master restarts it, and the restart waits for the lock (keeper.lock_wait): ' +
        'stop the other corral, or give each its own CORRAL_DATA_DIR, and find what removes files there',
    );
    for (const listener of this.listeners) listener(taken);
    return taken;
  }
}
