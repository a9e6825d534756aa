// Whether the journal's file is still the one at its path: something other than corral may delete
// it, put another file there or resize it under the open handle, and appends through the handle
// of a deleted file are lost at the next start. A file of its own: the check and its names are
// the journal file's (journal-file.ts) and the journal's options' (journal-types.ts); putting the
// file back is journal-file.ts's, from the journal's memory (journal.ts).

import { type FileHandle, stat } from 'node:fs/promises';
import type { JournalRecord } from './journal-scan.js';

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

/** What happened to the file at `path` since the handle last wrote it; undefined when nothing did. */
export async function replacementOf(fh: FileHandle, path: string, writtenBytes: number): Promise<{ what: FileReplacement; found: number | undefined } | undefined> {
  const [own, atPath] = await Promise.all([
    fh.stat(),
    stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    }),
  ]);
  if (!atPath) return { what: 'deleted', found: undefined };
  // A file renamed over the journal's unlinks it too: another file at the path says what happened.
  if (atPath.ino !== own.ino || atPath.dev !== own.dev) return { what: 'replaced', found: atPath.size };
  if (own.nlink === 0) return { what: 'deleted', found: undefined };
  if (own.size !== writtenBytes) return { what: 'resized', found: own.size };
  return undefined;
}
