// Damaged journal bytes are copied to a quarantine file before the journal drops them (the
// truncate of a bad tail at open; the rewrite that leaves out damaged lines): a row acknowledged
// in a line damaged since (a bit flip, a bad sector, an edit by hand) was lost for good, though a
// person could often still read it (one flipped character in the JSON).
//
// One new file per occurrence, `<journal>.damaged-<UTC time>`, written whole and never touched
// again, rather than one file appended to at every start: `ls` shows when damage happened and
// whether there is new damage since the operator last looked; they delete what they have dealt
// with; and a crash while a copy is written can only tear that copy (whose bytes are then still in
// the journal), never a copy made before. corral never deletes these files. Each holds only the
// damaged bytes and a header, so even one per crash mid-write stays small.
//
// When the copy cannot be written (disk full, data dir not writable), the bytes are not removed and
// the keeper does not start (CORRAL_ERR_JOURNAL_QUARANTINE) rather than going on without them: it
// must not destroy what it could not save. That is a way to be stuck of its own: a failed
// compaction at open no longer stops the start, so a clean journal on the same full disk opens
// while one with a torn tail does not (though the keeper's lock file needs the same free block,
// so a disk full to the last block stops both). The master restarts the keeper with its backoff,
// so it starts by itself once there is room.
//
// Format: a first line saying what the file is; then per piece a header line (JSON: kind, offset
// in the journal, length in bytes, lines), the bytes exactly as they were in the journal, and one
// newline that is not part of them (so the next header starts a line even after a torn tail).

import { constants, open, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CorralError } from '../../errors.js';
import type { DamagedPiece } from './journal-scan.js';

export interface QuarantineIo {
  /** Makes the new file's directory entry durable. */
  readonly syncDir: (dir: string) => Promise<void>;
  readonly wrapHandle: (fh: FileHandle, path: string) => FileHandle;
}

/** `20261125T005108.123Z`: sorts by time, and no colons (they trouble scp and some tools). */
function stamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

function render(journal: string, pieces: readonly DamagedPiece[], at: Date): Buffer {
  const parts: Buffer[] = [
    Buffer.from(
      `# corral: damaged bytes of ${journal}, copied ${at.toISOString()} before corral removed them from it. ` +
        'Each piece: a "# piece" line (kind "skipped": damaged lines that valid records followed; "tail": after the last valid record, ' +
        'or from the first record of a last group of records written at once whose last record, "g":1, the file does not hold: a write that did not complete, never acknowledged), ' +
        'then exactly "bytes" bytes as they were at "offset" in the journal, then a newline. A record is "<12 hex checksum> <JSON>".\n',
    ),
  ];
  for (const p of pieces) {
    parts.push(Buffer.from(`# piece ${JSON.stringify({ kind: p.kind, offset: p.offset, bytes: p.bytes.length, lines: p.lines })}\n`), p.bytes, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Writes the pieces to a new quarantine file next to the journal and makes it durable (file, then
 * directory) before returning its path. Fails with CORRAL_ERR_JOURNAL_QUARANTINE, after which the
 * caller must not remove the bytes from the journal; a file whose write failed is removed (one
 * whose directory fsync failed is whole, and stays).
 */
export async function quarantineDamage(journal: string, pieces: readonly DamagedPiece[], io: QuarantineIo, at: Date = new Date()): Promise<string> {
  const dir = dirname(journal);
  const base = join(dir, `${basename(journal)}.damaged-${stamp(at)}`);
  const text = render(journal, pieces, at);
  let path = base;
  try {
    let fh: FileHandle | undefined;
    // Two opens within one millisecond (a keeper restarted at once) get -2, -3, ...: O_EXCL, so an
    // earlier copy is never overwritten.
    for (let n = 2; !fh; n++) {
      try {
        fh = io.wrapHandle(await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600), path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 100) throw err;
        path = `${base}-${n}`;
      }
    }
    try {
      await fh.writeFile(text);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      throw err;
    }
    await fh.close();
    await io.syncDir(dir);
  } catch (err) {
    const total = pieces.reduce((n, p) => n + p.bytes.length, 0);
    throw new CorralError(
      'CORRAL_ERR_JOURNAL_QUARANTINE',
      `cannot copy ${total} damaged bytes of the journal ${journal} to ${path} (${(err as Error).message}); ` +
        `the journal was left as it is and the keeper does not start until they are saved: free space in ${dir} or make it writable by this user ` +
        '(the master restarts the keeper with a backoff, so it starts on its own once the copy can be written)',
      { cause: err },
    );
  }
  return path;
}
