// The journal's file: one record per line, `<checksum> <json>\n` (journal-scan.ts), appended and
// fsynced in groups (every record queued while the previous fsync ran goes out in the next single
// write + fsync, so 300 concurrent appends cost a handful of fsyncs, not 300). A crash can only
// tear the tail (each group is written after the previous one was durable, and a group whose write
// failed is cut off before anything else is written), so opening the file truncates what follows
// the last valid record, and the whole records of a last group that does not end in its last
// record (each record of a group says how many of the group's it and those after it are: a group
// whose write failed and whose cut failed too, then a crash, left whole records of appends that
// were refused). Damage before a valid record (the disk, or a file written by a version
// that appended behind a torn group) is skipped, not cut: the records after it were acknowledged.
// It stays in the file until the next rewrite, and open() reports it. Before the truncate, and so
// before any rewrite can drop skipped lines, open() copies every damaged byte to a quarantine file
// (journal-quarantine.ts): a damaged line, or a whole line in a bad tail, may have held a row a
// user was told was saved.
//
// Each write is watched while it runs (journal-sync-watch.ts): one that hangs (a dead mount, a
// failing drive) is said, and appends are refused, from its tenth second, not only once it returns.
//
// This file is the group commit and its handle. Beside it: the open's read, quarantine and cut
// (journal-file-open.ts), a rewrite's new file (journal-file-rewrite.ts), the check that the
// file at the path is still the one written (journal-file-replacement.ts), and the records' times,
// on the wall clock in the file and on the keeper's in memory (journal-wall-time.ts).

import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../../fs-sync.js';
import { makeDirs } from '../../make-dirs.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';
import { systemClock, type Clock } from './clock.js';
import { openAndRepair } from './journal-file-open.js';
import { FORMAT_RECORD } from './journal-format.js';
import { type ReplacementRecovery, replacementOf } from './journal-file-replacement.js';
import { writeFully, writeRewrittenFile } from './journal-file-rewrite.js';
import { type DamagedPiece, type JournalRecord, encodeRecord, inGroup } from './journal-scan.js';
import { type JournalWriteKind, type SyncStuckListener, SyncWatch } from './journal-sync-watch.js';
import { RecordTimes } from './journal-wall-time.js';
import { KeeperLockTakenError } from './lock-fence.js';

/**
 * A group's write and fsync this slow is said (journal.slow_sync): an acknowledgement waits for
 * it, so every append of the group, and its request, waited as long. A healthy disk takes
 * milliseconds; a saturated or failing one, or a network filesystem, can take tens of seconds.
 */
export const SLOW_SYNC_MS = 1000;
export { decodeRecord, encodeRecord, type DamagedPiece, type JournalRecord } from './journal-scan.js';
export { SYNC_STUCK_MS, type StuckWrite, type SyncStuckListener } from './journal-sync-watch.js';

interface Op {
  records: readonly JournalRecord[] | undefined;
  /** A compaction: replace the whole file with the records this returns when the op runs. */
  rewrite: (() => readonly JournalRecord[]) | undefined;
  /** Runs synchronously once the records are durable, before any later op (see Journal.add). */
  afterSync: (() => void) | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface JournalFileOptions {
  /** Makes a rename in `dir` durable; tests inject failures here. */
  readonly syncDir?: (dir: string) => Promise<void>;
  /**
   * Wraps every handle the journal opens (its file at open and for each compaction, and a
   * quarantine file), given with its path; tests inject write and truncate failures here.
   */
  readonly wrapHandle?: (fh: FileHandle, path: string) => FileHandle;
  /**
   * Told after each chunk open() reads, with the bytes read and the file's size then: the keeper's
   * boot heartbeats carry it, so the master sees a long replay advance (keeper-main.ts).
   */
  readonly onProgress?: (readBytes: number, totalBytes: number) => void;
  /** The records' times' clock (the keeper's): written on the wall clock, read back onto it (journal-wall-time.ts). */
  readonly clock?: Pick<Clock, 'wallOffset'>;
  /**
   * The clock each write is watched by (journal-sync-watch.ts; default the system's). Not the
   * keeper's: a test's fake keeper clock jumps minutes in a step, and a write in flight then (real
   * I/O) would be taken for stuck; tests of the watch give one here.
   */
  readonly syncClock?: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  /**
   * Whether open() takes a record whose checksum is valid (default: every one); one it does not is
   * damaged, copied to the quarantine file and left out of `records` (journal-replay.ts's replayable).
   */
  readonly accepts?: (rec: JournalRecord) => boolean;
}

export interface OpenedJournalFile {
  readonly file: JournalFile;
  readonly records: JournalRecord[];
  readonly truncatedBytes: number;
  readonly skippedBytes: number;
  readonly skippedLines: number;
  /** The damaged bytes found (the skipped runs, then the tail), as copied to `quarantine`. */
  readonly damaged: readonly DamagedPiece[];
  /** The quarantine file the damaged bytes were copied to; undefined when there were none. */
  readonly quarantine: string | undefined;
}

/** The format declaration (journal-format.ts) as the first line of a file an append begins. */
const FORMAT_LINE = Buffer.from(encodeRecord(FORMAT_RECORD), 'utf8');

export class JournalFile {
  private fh: FileHandle | undefined;
  private size = 0;
  private readonly queue: Op[] = [];
  /** Set and cleared synchronously with the queue check, so no op is ever left without a drainer. */
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private fsyncs = 0;
  /**
   * A compaction renamed the new file into place but could not fsync the directory: until that
   * succeeds a crash may bring the old file back, so appends (to the new file) are not durable.
   * The next write retries the directory fsync first and fails while it still fails.
   */
  private dirSyncPending = false;
  /**
   * A group write failed part-way and its bytes could not be cut off (the truncate or its fsync
   * failed): the offset they start at. Nothing may be appended until they are gone: O_APPEND would
   * put later, acknowledged records behind them. The next write retries the cut first and fails
   * while it still fails; a rewrite (a new file) clears it. `size` stays at this offset meanwhile.
   */
  private tornAt: number | undefined;
  private readonly syncDir: (dir: string) => Promise<void>;
  private readonly wrapHandle: (fh: FileHandle, path: string) => FileHandle;
  private recovery: ReplacementRecovery | undefined;
  /** Asked before each write of the file (lock-fence.ts); what it threw refuses every write after it. */
  private guard: (() => Promise<void>) | undefined;
  private refusedBy: Error | undefined;
  private slowSync: ((ms: number, bytes: number) => void) | undefined;
  private readonly times: RecordTimes;
  /**
   * Each write of the file, watched while it runs: one in flight SYNC_STUCK_MS or longer is told
   * (onSyncStuck), and an append is refused while it lasts (SyncWatch.refusal, journal-append.ts).
   */
  readonly writes: SyncWatch;

  private constructor(
    readonly path: string,
    options: JournalFileOptions,
  ) {
    this.syncDir = options.syncDir ?? fsyncDir;
    this.wrapHandle = options.wrapHandle ?? ((fh) => fh);
    this.times = new RecordTimes(options.clock ?? {});
    this.writes = new SyncWatch(options.syncClock ?? systemClock);
  }

  /**
   * Opens (creating) the file, returns it and the valid records, truncating a torn tail
   * (`truncatedBytes`) and skipping damaged lines that valid records follow (`skippedBytes`,
   * `skippedLines`: left in the file, which stays appendable, until the next rewrite). Damaged
   * bytes of either kind are first copied to a quarantine file, durably (`quarantine`, its path;
   * `damaged`, the pieces); if that fails, open fails with CORRAL_ERR_JOURNAL_QUARANTINE and the
   * file is left as it was. A file it cannot open or cut fails with CORRAL_ERR_JOURNAL_UNWRITABLE
   * (DataDirWriteError: the path and the errno).
   */
  static async open(path: string, options: JournalFileOptions = {}): Promise<OpenedJournalFile> {
    const file = new JournalFile(path, options);
    const { fh, validEnd, ...found } = await openAndRepair(path, { syncDir: file.syncDir, wrapHandle: file.wrapHandle }, options.onProgress, options.accepts);
    file.fh = fh;
    file.size = validEnd;
    file.times.read(found.records);
    return { file, ...found };
  }

  bytes(): number {
    return this.size;
  }

  /** Whether a step of the wall clock since records were written put their times off (RecordTimes.moved); false once closed. */
  timesMoved(): boolean {
    return this.fh !== undefined && this.times.moved();
  }

  syncCount(): number {
    return this.fsyncs;
  }

  /**
   * Before each write (and at each verify()), the file at `path` is checked to be the one the
   * handle writes, at the size written: appends through the handle of a deleted file fsync into a
   * file nobody will ever open again, and a restart replayed none of those acknowledged rows. When
   * it is not, `recovery` writes the journal's memory to `path` again (a rewrite, the data dir
   * made again if it went too) before anything else is written or acknowledged.
   */
  recoverReplacementWith(recovery: ReplacementRecovery): void {
    this.recovery = recovery;
  }

  /**
   * Asks `guard` before each write of the file (a group, a check, a compaction, a putting back):
   * it throws when the file is no longer this process's to write (another keeper holds the data
   * dir's lock, lock-fence.ts), and that refusal then fails every write after it, unasked.
   */
  guardWritesWith(guard: () => Promise<void>): void {
    this.guard = guard;
  }

  /** The guard's refusal once it refused: the file is not written any more. */
  writesRefusedBy(): Error | undefined {
    return this.refusedBy;
  }

  private async guarded(): Promise<void> {
    if (this.refusedBy) throw this.refusedBy;
    try {
      await this.guard?.();
    } catch (err) {
      this.refusedBy = err as Error;
      throw err;
    }
  }

  /** Tells `said` of each group whose write and fsync took SLOW_SYNC_MS or longer: its appends waited as long. */
  onSlowSync(said: (ms: number, bytes: number) => void): void {
    this.slowSync = said;
  }

  /** Tells `listener` of a write in flight SYNC_STUCK_MS or longer, once, and of its return. */
  onSyncStuck(listener: SyncStuckListener): void {
    this.writes.listen(listener);
  }

  /** Checks the file is still the journal's (see recoverReplacementWith), putting it back if not; after every queued write. */
  verify(): Promise<void> {
    return this.enqueue([], undefined, undefined);
  }

  /** Resolves once the records are written and fsynced. */
  append(records: readonly JournalRecord[], afterSync?: () => void): Promise<void> {
    return this.enqueue(records, undefined, afterSync);
  }

  /**
   * Atomically replaces the file content (write temp, fsync, rename, fsync dir). The snapshot is
   * taken when the op runs, after every earlier append is durable, so nothing queued is lost.
   */
  rewrite(snapshot: () => readonly JournalRecord[]): Promise<void> {
    return this.enqueue(undefined, snapshot, undefined);
  }

  private enqueue(
    records: readonly JournalRecord[] | undefined,
    rewrite: (() => readonly JournalRecord[]) | undefined,
    afterSync: (() => void) | undefined,
  ): Promise<void> {
    if (!this.fh) return Promise.reject(new Error(`journal ${this.path} is closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ records, rewrite, afterSync, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        this.idle = this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    // `draining` is cleared in the same synchronous step as the final empty-queue check.
    while (this.queue.length > 0) {
      const head = this.queue[0] as Op;
      if (head.rewrite) {
        this.queue.shift();
        try {
          const snapshot = head.rewrite;
          await this.guarded();
          await this.watched('rewrite', this.size, () => this.doRewrite(snapshot()));
          head.resolve();
        } catch (err) {
          head.reject(err as Error);
        }
        continue;
      }
      // Group every plain append queued up to the next rewrite into one write + one fsync.
      const group: Op[] = [];
      while (this.queue.length > 0 && !(this.queue[0] as Op).rewrite) group.push(this.queue.shift() as Op);
      const onWallClock = this.times.writer();
      // Each record marked with its place in the group (journal-scan.ts): a file that ends before
      // the group's last record ends in a write that failed or was cut, and the next open cuts all
      // of it, its whole records too, as it cuts a torn line.
      const records = group.flatMap((op) => op.records ?? []);
      const text = records.map((rec, i) => encodeRecord(inGroup(onWallClock(rec), records.length - i, records.length))).join('');
      const buf = Buffer.from(text, 'utf8');
      try {
        // Before anything touches the file: a torn tail's cut and a putting back write it too.
        await this.guarded();
        await this.watched(records.length > 0 ? 'append' : 'check', buf.length, () => this.writeAll(buf));
        // And once the group is durable, before it is acknowledged: a write that took long (a slow
        // disk) may land after another keeper took the lock and read the file. Still this keeper's
        // now, the file any later holder opens holds the group; another's, the group is refused
        // (its rows may or may not be in that holder's memory; a refused append is retried), and
        // said to be written: its client must not be told nothing was saved.
        await this.guarded().catch((err: unknown) => {
          throw err instanceof KeeperLockTakenError ? err.afterWrite() : err;
        });
        for (const op of group) op.afterSync?.();
        for (const op of group) op.resolve();
      } catch (err) {
        for (const op of group) op.reject(err as Error);
      }
    }
    this.draining = false;
  }

  /** Runs one write of the file under the watch (journal-sync-watch.ts). */
  private async watched(what: JournalWriteKind, bytes: number, write: () => Promise<void>): Promise<void> {
    this.writes.begin(what, bytes);
    try {
      await write();
    } catch (err) {
      this.writes.end(err);
      throw err;
    }
    this.writes.end();
  }

  /** Puts the journal's memory back at `path` when its file was deleted, replaced or resized. */
  private async recoverIfReplaced(fh: FileHandle): Promise<void> {
    const recovery = this.recovery;
    if (!recovery) return;
    const found = await replacementOf(fh, this.path, this.size);
    if (!found) return;
    recovery.told(found.what, this.size, found.found);
    // The data dir itself may be gone (`rm -rf data/`): the rewrite's temporary file goes in it.
    await makeDirs(dirname(this.path), PRIVATE_DIR_MODE);
    // A rewrite of the whole journal inside this group's write: judged as one (journal-sync-watch.ts).
    this.writes.rewriting(this.size);
    await this.doRewrite(recovery.snapshot());
  }

  private async writeAll(buf: Buffer): Promise<void> {
    if (!this.fh) throw new Error(`journal ${this.path} is closed`);
    if (this.dirSyncPending) {
      await this.syncDir(dirname(this.path));
      this.dirSyncPending = false;
    }
    if (this.tornAt !== undefined) await this.cutTornTail(this.fh, this.tornAt);
    // Before this group: the records it follows must be in the file it goes to.
    await this.recoverIfReplaced(this.fh);
    const fh = this.fh;
    if (buf.length === 0) return;
    const before = this.size;
    // A file this write begins (new, or nothing valid in it at open) declares its format first, a
    // record of no group: cut with the group if the write fails, kept if only the group is torn.
    const out = before === 0 ? Buffer.concat([FORMAT_LINE, buf]) : buf;
    const started = performance.now();
    try {
      await writeFully(fh, out, this.path);
      await fh.datasync();
      this.fsyncs++;
      this.size = before + out.length;
    } catch (err) {
      // A half-written group (ENOSPC, EIO; any number of its bytes may be in the file) must not stay
      // in front of later records: cut it off. If that fails, `tornAt` makes the next write cut it first.
      this.tornAt = before;
      await this.cutTornTail(fh, before).catch(() => undefined);
      throw err;
    }
    // Outside the try: the group is durable, and nothing the telling does may cut it off or
    // fail its appends (refused, they would be resent and land twice).
    const ms = performance.now() - started;
    if (ms >= SLOW_SYNC_MS) {
      try {
        this.slowSync?.(ms, out.length);
      } catch {
        // A log line that could not be written is no failed append.
      }
    }
  }

  /** Truncates the file back to `at` (the end of the last durable group), durably. */
  private async cutTornTail(fh: FileHandle, at: number): Promise<void> {
    await fh.truncate(at);
    await fh.sync();
    this.tornAt = undefined;
  }

  private async doRewrite(records: readonly JournalRecord[]): Promise<void> {
    const { out, bytes } = await writeRewrittenFile(this.path, records, this.wrapHandle, this.times.writer());
    const old = this.fh;
    this.fh = out;
    this.size = bytes;
    // Torn bytes left in the old file went with it.
    this.tornAt = undefined;
    this.fsyncs++;
    await old?.close().catch(() => undefined);
    try {
      await this.syncDir(dirname(this.path));
    } catch (err) {
      this.dirSyncPending = true;
      throw err;
    }
  }

  /** Waits for queued writes, then closes. Idempotent. */
  async close(): Promise<void> {
    while (this.draining) await this.idle.catch(() => undefined);
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
