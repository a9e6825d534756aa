// The journal's format version. A file declares the format it was written in with a record of its
// own, `{"k":"format","v":N}`, a line like any other (journal-scan.ts: checksummed, so a damaged
// one is damage, not a declaration). JournalFile writes it as the first record of every file it
// begins: each rewrite (a compaction, the file put back after it was deleted or replaced) and an
// empty file's first write; Journal.open rewrites the file at once, so a journal from before the
// declaration carries one from the first start of a build that writes it (or from its next
// rewrite, when that one failed: a disk nearly full).
//
// Why: a rollback to an older build after a newer one wrote records the older one does not know
// made it take them for damage (quarantined, every pending entry read back) or skip them at replay
// and drop them at its rewrite: a record of a kind it ignores may be one it must not (the newer
// build's way of saying that rows were acknowledged, say). A build refuses, before it writes
// anything, a file declaring a format newer than the one it writes (JournalFormatError,
// CORRAL_ERR_JOURNAL_FORMAT): the keeper does not start and the file is left byte for byte.
//
// The version changes only with a change older builds would get wrong. A new kind that a build
// may ignore (replay's `default`), or a new field it may leave out, keeps it: those are handled as
// they always were. A file with no declaration is format 1, the format of every build before it.
// Any format record in the file counts, not only the first: a newer build that could not rewrite
// a file (the rewrite at open failed) may declare its format in an appended record, and this one
// still refuses it; the newest declared is the file's.

import type { JournalRecord } from './journal-scan.js';

/** The format this build writes, and the newest it reads. */
export const JOURNAL_FORMAT = 1;

/** The kind of the record that declares the file's format. */
export const FORMAT_KIND = 'format';

/** The declaration this build writes first in every file it begins. */
export const FORMAT_RECORD: JournalRecord = Object.freeze({ k: FORMAT_KIND, v: JOURNAL_FORMAT });

/** Whether `v`, a format record's, names a format this build reads: 1 to JOURNAL_FORMAT. */
export function isKnownFormat(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= JOURNAL_FORMAT;
}

/**
 * The format `rec` declares when it is a format record this build cannot read (a newer one, or a
 * `v` it cannot make out: no declaration of a format it knows), as `{ v }`; undefined otherwise.
 */
export function unknownFormatOf(rec: JournalRecord): { readonly v: unknown } | undefined {
  return rec.k === FORMAT_KIND && !isKnownFormat(rec.v) ? { v: rec.v } : undefined;
}
