// The journal's line format, `<checksum> <json>\n`, and the scan that reads a journal file back:
// which records are valid, and which bytes are damaged (skipped before valid records, or a bad
// tail after the last one), each with where it lies in the file.
//
// Groups: JournalFile writes the records queued during an fsync as one write (journal-file.ts).
// Each record of a group of two or more carries `g`, how many of the group's records it and those
// after it are (3, 2, 1: the last has 1); a group of one, and a rewrite's records (a new file put
// in place by a rename, whole or not at all), carry none. The checksum covers `g` like any field,
// and replay ignores it (journal-replay.ts reads the fields it knows), so a corral from before it
// reads these files as it read its own. A group is acknowledged only once its whole write is
// fsynced, so a file that ends in a group whose countdown has not reached 1 ends in a write that
// failed (its appends refused, then the cut of its bytes failed too, journal-file.ts's tornAt) or
// that a crash cut short: its whole records are no more acknowledged than a torn line, and the
// scan cuts them with the tail. Before, they were replayed and sent, and a client told "nothing
// was recorded" (507, 503 not_saved) that retried with a new event id had its event twice. Files
// written before `g` have no group marks: every valid record is taken, as then.
//
// Format: a file declares the format it is written in with a record of its own, `format`, first in
// every file a build that declares it begins (journal-format.ts). The scan notes a declaration of
// a format this build cannot read (unknownFormat), and the open refuses the file before it writes.

import { createHash } from 'node:crypto';
import { unknownFormatOf } from './journal-format.js';

export type JournalRecord = Readonly<Record<string, unknown>> & { readonly k: string };

function checksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 12);
}

export function encodeRecord(rec: JournalRecord): string {
  const json = JSON.stringify(rec);
  return `${checksum(json)} ${json}\n`;
}

/**
 * `rec` as the record of a group written at once that it and `left - 1` more records end (see the
 * top of this file): a copy carrying `g`, or `rec` itself in a group of one.
 */
export function inGroup(rec: JournalRecord, left: number, size: number): JournalRecord {
  return size > 1 ? { ...rec, g: left } : rec;
}

/** A record's place in its group (`g`: it and the group's records after it); undefined for a record of no group. */
function groupLeft(rec: JournalRecord): number | undefined {
  const g = rec.g;
  return typeof g === 'number' && Number.isSafeInteger(g) && g >= 1 ? g : undefined;
}

/** Parses one line; undefined when torn or corrupt. */
export function decodeRecord(line: string): JournalRecord | undefined {
  const sp = line.indexOf(' ');
  if (sp !== 12) return undefined;
  const json = line.slice(13);
  if (checksum(json) !== line.slice(0, 12)) return undefined;
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === 'object' && v !== null && typeof (v as { k?: unknown }).k === 'string' ? (v as JournalRecord) : undefined;
  } catch {
    return undefined;
  }
}

const isHex = (b: number | undefined): boolean => b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66));

/**
 * The first record in buf[start, end) (one line without its newline) and where it begins: at
 * `start`, or later when the line begins with the bytes of a group torn without its newline and
 * then a whole record appended behind them. A record there is recognised by its checksum.
 */
function findRecord(buf: Buffer, start: number, end: number, accepts: (rec: JournalRecord) => boolean): { rec: JournalRecord; at: number } | undefined {
  for (let at = start; at + 14 <= end; at++) {
    // `<12 hex> {`
    if (buf[at + 12] !== 0x20 || buf[at + 13] !== 0x7b) continue;
    let hex = true;
    for (let i = at; i < at + 12 && hex; i++) hex = isHex(buf[i]);
    if (!hex) continue;
    const rec = decodeRecord(buf.toString('utf8', at, end));
    if (rec && accepts(rec)) return { rec, at };
  }
  return undefined;
}

/** Bytes of the file that are not valid records, exactly as they are in it. */
export interface DamagedPiece {
  /**
   * 'skipped': damaged lines that valid records follow (left in the file until its next rewrite);
   * 'tail': everything after the last valid record (truncated at open).
   */
  readonly kind: 'skipped' | 'tail';
  /** Byte offset in the journal file. */
  readonly offset: number;
  readonly bytes: Buffer;
  /** Lines the bytes are part of (a tail's last line may lack its newline). */
  readonly lines: number;
  /**
   * A tail that begins with the whole records of the file's last group, unfinished (its countdown
   * `g` never reached 1): how many of its bytes they are. The group's write failed or was cut
   * short, so none of it was acknowledged; what follows them, if anything, is that write's cut line.
   */
  readonly unfinishedGroupBytes?: number;
}

export interface ScannedFile {
  readonly records: JournalRecord[];
  /** Where the tail after the last valid record begins (the file's length when there is none). */
  readonly validEnd: number;
  /** Damaged bytes before valid records (kept in the file, left out of `records`). */
  readonly skippedBytes: number;
  /** How many lines those bytes were part of. */
  readonly skippedLines: number;
  /** The skipped runs in file order, then the tail if there is one. */
  readonly damaged: DamagedPiece[];
  /**
   * The first format record found that declares a format this build cannot read (journal-format.ts):
   * the file is not this build's to replay, repair or rewrite. Undefined when there is none.
   */
  readonly unknownFormat?: { readonly v: unknown };
}

/**
 * Reads the records of a journal file. A line counts only with its newline (a record whose newline
 * is missing was never fsynced whole) and its checksum (valid JSON is not enough).
 */
export function scanRecords(buf: Buffer, accepts?: (rec: JournalRecord) => boolean): ScannedFile {
  const scanner = new JournalScanner(accepts);
  scanner.feed(buf);
  return scanner.end();
}

/**
 * scanRecords fed in pieces, so a journal is read a chunk at a time (journal-file-open.ts): the whole
 * file in one Buffer stopped the keeper's event loop, and its heartbeats, for as long as the scan
 * took (over a minute for 648 MB: the master killed every keeper as silent while it replayed), and
 * a file over 2 GiB could not be read at all (ERR_FS_FILE_TOO_LARGE: audit F3). The result is the
 * same however the file is cut into pieces. Only a line's bytes that are kept (a damaged line, a
 * line not yet ended) are copied: the piece given may be reused once feed() returns.
 */
export class JournalScanner {
  private readonly records: JournalRecord[] = [];
  private readonly damaged: DamagedPiece[] = [];
  private validEnd = 0;
  private skippedBytes = 0;
  private skippedLines = 0;
  /** Whole damaged lines since validEnd, copied, and how many. */
  private bad: Buffer[] = [];
  private badLines = 0;
  /** The bytes after the last newline fed (a line not ended yet), copied, piece by piece. */
  private open: Buffer[] = [];
  /** File offset of the first byte not yet part of a whole line. */
  private lineAt = 0;
  /** The last group read while unfinished: its records' countdown (`g`) has not reached 1 yet. */
  private group: OpenGroup | undefined;
  /** The first format record read that declares a format this build cannot read (journal-format.ts). */
  private foundUnknownFormat: { readonly v: unknown } | undefined;

  /**
   * `accepts`: whether a record with a valid checksum is one its reader can take (the journal's:
   * journal-replay.ts's replayable); one it cannot is damaged like any other bad line.
   */
  constructor(private readonly accepts: (rec: JournalRecord) => boolean = () => true) {}

  feed(piece: Buffer): void {
    if (piece.indexOf(0x0a) < 0) {
      // Kept as pieces, joined once a newline comes: a long line joined at every piece was quadratic.
      if (piece.length > 0) this.open.push(Buffer.from(piece));
      return;
    }
    const buf = this.open.length > 0 ? Buffer.concat([...this.open, piece]) : piece;
    const base = this.lineAt;
    this.open = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      const found = findRecord(buf, start, nl, this.accepts);
      if (found) {
        if (found.at > start) this.badLines++;
        const at = base + found.at;
        // Right behind the last valid record: no damaged byte between them.
        const next = at === this.validEnd;
        if (!next) this.damaged.push({ kind: 'skipped', offset: this.validEnd, bytes: Buffer.concat([...this.bad, buf.subarray(start, found.at)]), lines: this.badLines });
        this.skippedBytes += at - this.validEnd;
        this.skippedLines += this.badLines;
        this.bad = [];
        this.badLines = 0;
        this.records.push(found.rec);
        this.foundUnknownFormat ??= unknownFormatOf(found.rec);
        this.follow(groupLeft(found.rec), next, at, buf.subarray(found.at, nl + 1));
        this.validEnd = base + nl + 1;
      } else {
        this.bad.push(Buffer.from(buf.subarray(start, nl + 1)));
        this.badLines++;
      }
      start = nl + 1;
    }
    if (start < buf.length) this.open.push(Buffer.from(buf.subarray(start)));
    this.lineAt = base + start;
  }

  /**
   * Where a valid record at `at` (its line `line`, a view of the piece) leaves the last group:
   * the group's next record (`left` one less than the one before it, nothing damaged between)
   * carries it on, and the one with 1 ends it. Any other record ends the group as it is: one of a
   * later group, or of none, behind it (what a corral from before the marks appended behind an
   * unfinished group), or one behind damaged bytes. Such a group is kept, as any valid records
   * are: only at the end of the file is an unfinished group a write that did not complete. A group
   * begins only right behind a valid record (or at the file's start), for the same reason.
   */
  private follow(left: number | undefined, next: boolean, at: number, line: Buffer): void {
    const group = this.group;
    if (group && next && left === group.next) {
      if (left === 1) this.group = undefined;
      else {
        group.next--;
        group.lines.push(Buffer.from(line));
      }
      return;
    }
    this.group = next && left !== undefined && left > 1 ? { at, index: this.records.length - 1, next: left - 1, lines: [Buffer.from(line)] } : undefined;
  }

  /**
   * The first declaration of a format this build cannot read fed so far: the reader stops there
   * (journal-file-open.ts), the rest of the file being no more its to read.
   */
  get unknownFormat(): { readonly v: unknown } | undefined {
    return this.foundUnknownFormat;
  }

  /** What was fed, as scanRecords reads it: after the last piece. */
  end(): ScannedFile {
    const format = this.foundUnknownFormat ? { unknownFormat: this.foundUnknownFormat } : {};
    const damaged = [...this.damaged];
    // badLines counts the tail's whole lines; bytes after its last newline are one line more.
    const unterminated = this.open.length > 0 ? 1 : 0;
    const group = this.group;
    // The file ends in an unfinished group, and at most in a line cut short after it: a write that
    // failed or a crash cut (see the top of this file), cut with its records. Followed by whole
    // damaged lines it is kept: those may be the rest of the group, written whole and damaged
    // since (a disk's), so the group may have been acknowledged; the damage is then said as such.
    if (group && this.bad.length === 0) {
      const groupBytes = group.lines.reduce((n, b) => n + b.length, 0);
      damaged.push({ kind: 'tail', offset: group.at, bytes: Buffer.concat([...group.lines, ...this.open]), lines: group.lines.length + unterminated, unfinishedGroupBytes: groupBytes });
      // In place: a copy of every record of a large journal but the last few would double its memory.
      this.records.length = group.index;
      return { records: this.records, validEnd: group.at, skippedBytes: this.skippedBytes, skippedLines: this.skippedLines, damaged, ...format };
    }
    if (this.bad.length > 0 || this.open.length > 0) {
      damaged.push({ kind: 'tail', offset: this.validEnd, bytes: Buffer.concat([...this.bad, ...this.open]), lines: this.badLines + unterminated });
    }
    return { records: this.records, validEnd: this.validEnd, skippedBytes: this.skippedBytes, skippedLines: this.skippedLines, damaged, ...format };
  }
}

/** The last group of records read while its countdown has not reached 1 (JournalScanner). */
interface OpenGroup {
  /** The file offset of its first record. */
  readonly at: number;
  /** The index of its first record in the records read. */
  readonly index: number;
  /** The `g` its next record carries. */
  next: number;
  /** Its records' lines as they are in the file, copied: cut with the tail if it stays unfinished. */
  readonly lines: Buffer[];
}

/**
 * Whether a damaged tail is only the last write, cut short by a crash or failed part-way: no
 * newline in it, so no record in it was ever fsynced whole, and none was acknowledged; or the
 * whole records of an unfinished group (unfinishedGroupBytes) and at most such a line after them.
 * Any other whole line in a tail may be an acknowledged record damaged since. (Damage that took
 * the last newline with it, a zeroed last block, looks the same: its bytes are saved all the
 * same, only logged at a lower level.)
 */
export function isCutWrite(piece: DamagedPiece): boolean {
  return piece.kind === 'tail' && !piece.bytes.includes(0x0a, piece.unfinishedGroupBytes ?? 0);
}
