// The journal's file: one record per line, `<checksum> <json>\n` (journal-scan.ts), appended and
// fsynced in groups (every record queued while the previous fsync ran goes out in the next single
// write + fsync, so 300 concurrent appends cost a handful of fsyncs, not 300). A crash can only
// tear the tail (each group is written after the previous one was durable, and a group whose write
// failed is cut off before anything else is written), so opening the file truncates what follows
// the last valid record. Damage before a valid record (the disk, or a file written by a version
// that appended behind a torn group) is skipped, not cut: the records after it were acknowledged.
// It stays in the file until the next rewrite, and open() reports it. Before the truncate, and so
// before any rewrite can drop skipped lines, open() copies every damaged byte to a quarantine file
// (journal-quarantine.ts): a damaged line, or a whole line in a bad tail, may have held a row a
// user was told was saved.

import { constants, type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataDirWriteError } from '../../errors.js';
import { fsyncDir } from '../../fs-sync.js';
import { makeDirs } from '../../make-dirs.js';
import { openNewPrivateFile } from '../../private-file.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';
import { quarantineDamage } from './journal-quarantine.js';
import { type DamagedPiece, type JournalRecord, encodeRecord, JournalScanner, type ScannedFile } from './journal-scan.js';


/**
 * A group's write and fsync this slow is said (journal.slow_sync): an acknowledgement waits for
 * it, so every append of the group, and its request, waited as long. A healthy disk takes
 * milliseconds; a saturated or failing one, or a network filesystem, can take tens of seconds.
 */
export const SLOW_SYNC_MS = 1000;
export { decodeRecord, encodeRecord, type DamagedPiece, type JournalRecord } from './journal-scan.js';

/** About how much of a rewrite is encoded and written at a time (characters; bytes for ASCII). */
const REWRITE_CHUNK_BYTES = 4 * 1024 * 1024;

/** Writes all of `buf` at the handle's position (O_APPEND: the end), however many calls it takes. */
async function writeFully(fh: FileHandle, buf: Buffer, path: string): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error(`journal ${path}: a write of ${buf.length - off} bytes wrote nothing`);
    off += bytesWritten;
  }
}

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
}

/**
 * How much of the file open() reads and scans at a time: about 0.1 s of the keeper's loop on a
 * 2-core box (the scan checks a SHA-256 and parses the JSON of every line, ~20 ms a MiB), after
 * which its heartbeat timer runs.
 */
export const OPEN_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * The file scanned a chunk at a time (JournalScanner), reading on to its end, and its length. The
 * reads are asynchronous, so the event loop turns between chunks; one Buffer of the whole file
 * blocked it for the whole scan, and a file over 2 GiB could not be read into one at all.
 */
async function readInChunks(fh: FileHandle, onProgress: JournalFileOptions['onProgress']): Promise<{ length: number; scanned: ScannedFile }> {
  const total = (await fh.stat()).size;
  const scanner = new JournalScanner();
  const chunk = Buffer.allocUnsafe(OPEN_CHUNK_BYTES);
  let length = 0;
  for (;;) {
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, length);
    if (bytesRead === 0) break;
    scanner.feed(chunk.subarray(0, bytesRead));
    length += bytesRead;
    onProgress?.(length, Math.max(total, length));
  }
  return { length, scanned: scanner.end() };
}

/**
 * What happened to the file under the journal's open handle, by something other than corral: it
 * was deleted (an `rm`, a cleanup job, the data dir removed), another file took its path, or it
 * was cut or grown (`truncate -s 0`, `> sheets.journal`, another writer).
 */
export type FileReplacement = 'deleted' | 'replaced' | 'resized';

/**
 * How the file is put back when it was deleted, replaced or resized under the journal: `snapshot`
 * gives every record it must hold (the journal's memory, as a compaction writes it); `told` hears
 * what happened first, with the size the file should have had and the one found.
 */
export interface ReplacementRecovery {
  readonly snapshot: () => readonly JournalRecord[];
  readonly told: (what: FileReplacement, expectedBytes: number, foundBytes: number | undefined) => void;
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
  private slowSync: ((ms: number, bytes: number) => void) | undefined;

  private constructor(
    readonly path: string,
    options: JournalFileOptions,
  ) {
    this.syncDir = options.syncDir ?? fsyncDir;
    this.wrapHandle = options.wrapHandle ?? ((fh) => fh);
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
    // The open, the cut of a bad tail and the fsyncs are writes the keeper cannot start without
    // (a journal owned by another user, a directory in its place, a read-only or full disk): they
    // fail as CORRAL_ERR_JOURNAL_UNWRITABLE naming the path and the errno, which the keeper logs
    // as keeper.boot_failed and exits 7 on, not as a bare EACCES.
    const unwritable = (err: unknown) => new DataDirWriteError('the journal', path, err);
    const fh = file.wrapHandle(
      await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600).catch((err: unknown) => {
        throw unwritable(err);
      }),
      path,
    );
    try {
      const { length, scanned } = await readInChunks(fh, options.onProgress);
      const { records, validEnd, skippedBytes, skippedLines, damaged } = scanned;
      // Skipped lines are copied now too, although they stay in the file: the rewrite that drops
      // them may come any time later (at once, from Journal.open), and may not open the file again.
      // A start that fails before that rewrite copies them again at the next start: a duplicate
      // is harmless, a missing copy is not.
      const quarantine = damaged.length > 0 ? await quarantineDamage(path, damaged, { syncDir: file.syncDir, wrapHandle: file.wrapHandle }) : undefined;
      try {
        if (validEnd < length) {
          await fh.truncate(validEnd);
          await fh.sync();
        }
        if (length === 0) await file.syncDir(dirname(path));
      } catch (err) {
        throw unwritable(err);
      }
      file.fh = fh;
      file.size = validEnd;
      return { file, records, truncatedBytes: length - validEnd, skippedBytes, skippedLines, damaged, quarantine };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  bytes(): number {
    return this.size;
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

  /** Tells `said` of each group whose write and fsync took SLOW_SYNC_MS or longer: its appends waited as long. */
  onSlowSync(said: (ms: number, bytes: number) => void): void {
    this.slowSync = said;
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
          await this.doRewrite(head.rewrite());
          head.resolve();
        } catch (err) {
          head.reject(err as Error);
        }
        continue;
      }
      // Group every plain append queued up to the next rewrite into one write + one fsync.
      const group: Op[] = [];
      while (this.queue.length > 0 && !(this.queue[0] as Op).rewrite) group.push(this.queue.shift() as Op);
      const text = group.flatMap((op) => (op.records ?? []).map(encodeRecord)).join('');
      try {
        await this.writeAll(Buffer.from(text, 'utf8'));
        for (const op of group) op.afterSync?.();
        for (const op of group) op.resolve();
      } catch (err) {
        for (const op of group) op.reject(err as Error);
      }
    }
    this.draining = false;
  }

  /** What happened to the file at `path` since the handle last wrote it; undefined when nothing did. */
  private async replacement(fh: FileHandle): Promise<{ what: FileReplacement; found: number | undefined } | undefined> {
    const [own, atPath] = await Promise.all([
      fh.stat(),
      stat(this.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      }),
    ]);
    if (!atPath) return { what: 'deleted', found: undefined };
    // A file renamed over the journal's unlinks it too: another file at the path says what happened.
    if (atPath.ino !== own.ino || atPath.dev !== own.dev) return { what: 'replaced', found: atPath.size };
    if (own.nlink === 0) return { what: 'deleted', found: undefined };
    if (own.size !== this.size) return { what: 'resized', found: own.size };
    return undefined;
  }

  /** Puts the journal's memory back at `path` when its file was deleted, replaced or resized. */
  private async recoverIfReplaced(fh: FileHandle): Promise<void> {
    const recovery = this.recovery;
    if (!recovery) return;
    const found = await this.replacement(fh);
    if (!found) return;
    recovery.told(found.what, this.size, found.found);
    // The data dir itself may be gone (`rm -rf data/`): the rewrite's temporary file goes in it.
    await makeDirs(dirname(this.path), PRIVATE_DIR_MODE);
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
    const started = performance.now();
    try {
      await writeFully(fh, buf, this.path);
      await fh.datasync();
      this.fsyncs++;
      this.size = before + buf.length;
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
        this.slowSync?.(ms, buf.length);
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
    const tmp = `${this.path}.tmp`;
    // The new file is written through the handle later appends use: once the rename is done there
    // is no step left that could fail and leave `fh` on the old, unlinked file.
    const out = this.wrapHandle(await openNewPrivateFile(tmp, constants.O_RDWR | constants.O_APPEND), tmp);
    let bytes = 0;
    try {
      // In pieces of about REWRITE_CHUNK_BYTES, each encoded and written before the next: one
      // string of the whole journal held the keeper's loop (and its heartbeats) for 3.7 s at
      // 256 MiB, and past about 512 M characters could not be built at all, so the rewrite failed
      // and the file grew on.
      let piece = '';
      const writePiece = async () => {
        const chunk = Buffer.from(piece, 'utf8');
        await writeFully(out, chunk, tmp);
        bytes += chunk.length;
        piece = '';
      };
      for (const record of records) {
        piece += encodeRecord(record);
        if (piece.length >= REWRITE_CHUNK_BYTES) await writePiece();
      }
      await writePiece();
      await out.sync();
      await rename(tmp, this.path);
    } catch (err) {
      await out.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
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
