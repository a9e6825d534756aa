// A rewrite's new file (a compaction, or the file put back after it was deleted, replaced or
// resized): every record written to `<journal>.tmp` in pieces, fsynced, and renamed over the
// journal. A file of its own: how the new file is written is apart from the group commit that
// appends to it after; journal-file.ts queues the rewrite, takes the new handle and makes the
// rename durable. writeFully is here too: the group commit's writes use it as well. Every such
// file declares its format first (journal-format.ts): a journal from before the declaration gets
// it at its first rewrite.

import { constants, type FileHandle, rename, rm } from 'node:fs/promises';
import { openNewPrivateFile } from '../../private-file.js';
import { FORMAT_RECORD } from './journal-format.js';
import { type JournalRecord, encodeRecord } from './journal-scan.js';

/** About how much of a rewrite is encoded and written at a time (characters; bytes for ASCII). */
const REWRITE_CHUNK_BYTES = 4 * 1024 * 1024;

/** Writes all of `buf` at the handle's position (O_APPEND: the end), however many calls it takes. */
export async function writeFully(fh: FileHandle, buf: Buffer, path: string): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error(`journal ${path}: a write of ${buf.length - off} bytes wrote nothing`);
    off += bytesWritten;
  }
}

/**
 * Writes the format declaration, then `records`, to `${path}.tmp` (opened through `wrapHandle`),
 * each record as `asWritten` gives it (its time on the wall clock, journal-wall-time.ts), fsyncs
 * it and renames it over `path`; returns its handle, open for appends, and the bytes written. If a write, the fsync or
 * the rename fails, the temporary file is closed and removed and `path` is as it was. The rename
 * is made durable by the caller (its directory's fsync).
 */
export async function writeRewrittenFile(
  path: string,
  records: readonly JournalRecord[],
  wrapHandle: (fh: FileHandle, path: string) => FileHandle,
  asWritten: (record: JournalRecord) => JournalRecord = (record) => record,
): Promise<{ out: FileHandle; bytes: number }> {
  const tmp = `${path}.tmp`;
  // The new file is written through the handle later appends use: once the rename is done there
  // is no step left that could fail and leave `fh` on the old, unlinked file.
  const out = wrapHandle(await openNewPrivateFile(tmp, constants.O_RDWR | constants.O_APPEND), tmp);
  let bytes = 0;
  try {
    // In pieces of about REWRITE_CHUNK_BYTES, each encoded and written before the next: one
    // string of the whole journal held the keeper's loop (and its heartbeats) for 3.7 s at
    // 256 MiB, and past about 512 M characters could not be built at all, so the rewrite failed
    // and the file grew on.
    let piece = encodeRecord(FORMAT_RECORD);
    const writePiece = async () => {
      const chunk = Buffer.from(piece, 'utf8');
      await writeFully(out, chunk, tmp);
      bytes += chunk.length;
      piece = '';
    };
    for (const record of records) {
      // One record at a time: a moved copy of every record at once would double the rewrite's memory.
      piece += encodeRecord(asWritten(record));
      if (piece.length >= REWRITE_CHUNK_BYTES) await writePiece();
    }
    await writePiece();
    await out.sync();
    await rename(tmp, path);
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return { out, bytes };
}
