// Opening the journal's file, before it takes any write: read and scanned a chunk at a time
// (journal-scan.ts), its damaged bytes copied to a quarantine file (journal-quarantine.ts), a bad
// tail cut; or, for a file declaring a format this build cannot read (journal-format.ts), nothing
// at all but the refusal. A file of its own: it runs once, and the group commit that then owns the
// handle (JournalFile, journal-file.ts, whose open() calls this) never reads the file; the records
// found are replayed by journal-open.ts.

import { constants, type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataDirWriteError, JournalFormatError } from '../../errors.js';
import { JOURNAL_FORMAT } from './journal-format.js';
import type { JournalFileOptions, OpenedJournalFile } from './journal-file.js';
import { quarantineDamage, type QuarantineIo } from './journal-quarantine.js';
import { JournalScanner, type ScannedFile } from './journal-scan.js';

/**
 * How much of the file open() reads and scans at a time: about 0.1 s of the keeper's loop on a
 * 2-core box (the scan checks a SHA-256 and parses the JSON of every line, ~20 ms a MiB), after
 * which its heartbeat timer runs.
 */
export const OPEN_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * The file scanned a chunk at a time (JournalScanner), reading on to its end, and its length. The
 * reads are asynchronous, so the event loop turns between chunks; one Buffer of the whole file
 * blocked it for the whole scan, and a file over 2 GiB could not be read into one at all. It stops
 * at the chunk that declares a format this build cannot read: the file is refused whole, and a
 * keeper the master starts again with its backoff reads no more than that at each attempt.
 */
async function readInChunks(fh: FileHandle, onProgress: JournalFileOptions['onProgress'], accepts: JournalFileOptions['accepts']): Promise<{ length: number; scanned: ScannedFile }> {
  const total = (await fh.stat()).size;
  const scanner = new JournalScanner(accepts);
  const chunk = Buffer.allocUnsafe(OPEN_CHUNK_BYTES);
  let length = 0;
  for (;;) {
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, length);
    if (bytesRead === 0) break;
    scanner.feed(chunk.subarray(0, bytesRead));
    length += bytesRead;
    onProgress?.(length, Math.max(total, length));
    if (scanner.unknownFormat) break;
  }
  return { length, scanned: scanner.end() };
}

/**
 * What JournalFile.open() does to the file before it writes (see there): opens it (creating),
 * copies its damaged bytes to a quarantine file through `io`, cuts a bad tail; returns the handle
 * (through `io.wrapHandle`), the end of its valid records (`validEnd`, the file's size now) and
 * what it found. The handle is closed when anything fails.
 */
export async function openAndRepair(
  path: string,
  io: QuarantineIo,
  onProgress: JournalFileOptions['onProgress'],
  accepts?: JournalFileOptions['accepts'],
): Promise<Omit<OpenedJournalFile, 'file'> & { readonly fh: FileHandle; readonly validEnd: number }> {
  // The open, the cut of a bad tail and the fsyncs are writes the keeper cannot start without
  // (a journal owned by another user, a directory in its place, a read-only or full disk): they
  // fail as CORRAL_ERR_JOURNAL_UNWRITABLE naming the path and the errno, which the keeper logs
  // as keeper.boot_failed and exits 7 on, not as a bare EACCES.
  const unwritable = (err: unknown) => new DataDirWriteError('the journal', path, err);
  const fh = io.wrapHandle(
    await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600).catch((err: unknown) => {
      throw unwritable(err);
    }),
    path,
  );
  try {
    const { length, scanned } = await readInChunks(fh, onProgress, accepts);
    // Before anything is written: a newer build's records may be what this one takes for damage
    // (quarantined, then cut or left out by the rewrite) or skips at replay (gone at the rewrite).
    // Nothing of the file is this build's to judge; it stays as it is for the build that wrote it.
    if (scanned.unknownFormat) throw new JournalFormatError(path, scanned.unknownFormat.v, JOURNAL_FORMAT);
    const { records, validEnd, skippedBytes, skippedLines, damaged } = scanned;
    // Skipped lines are copied now too, although they stay in the file: the rewrite that drops
    // them may come any time later (at once, from Journal.open), and may not open the file again.
    // A start that fails before that rewrite copies them again at the next start: a duplicate
    // is harmless, a missing copy is not.
    const quarantine = damaged.length > 0 ? await quarantineDamage(path, damaged, { syncDir: io.syncDir, wrapHandle: io.wrapHandle }) : undefined;
    try {
      if (validEnd < length) {
        await fh.truncate(validEnd);
        await fh.sync();
      }
      if (length === 0) await io.syncDir(dirname(path));
    } catch (err) {
      throw unwritable(err);
    }
    return { fh, validEnd, records, truncatedBytes: length - validEnd, skippedBytes, skippedLines, damaged, quarantine };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
