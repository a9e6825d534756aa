// The journal's entries in memory, and how the file's records rebuild them after a restart.
//
// Record kinds (one JSON object per line, see journal-file.ts):
//   add   {id, r: range, rows, at, d, h?} acknowledged rows, for the sheet `d` (SheetsBackend.destination;
//                                        absent in records written before it was kept: the sheet the
//                                        journal is opened with); `h`: the header row they were built
//                                        under, when the writer gave it (header-mapping.ts)
//   send  {ids, at}                      an append with these entries is about to leave
//   done  {ids, at, u?, how}             Google has them (how: 'sent' = answered, 'found' = read back)
//   nack  {ids, at}                      the append certainly did not apply (applied: 'no')
//   split {id, nid, rows, at}            a read-back found only some rows of entry `id`: it is
//                                        done, and the missing rows live on as pending entry `nid`
//   key   {key, fp, ans, own?, at}       an idempotency key, kept past its entry (an add record
//                                        carries its own key as `ik: {key, fp, ans, own?}`); read by
//                                        idempotency-keys.ts, not here
//   format {v}                         the format the file is written in, first in every file this
//                                        build begins; read at open (journal-format.ts: a newer one
//                                        is refused before anything is replayed), not here
// A kind replay does not know is passed over, as ever: a kind added without a new format must be
// one an older build may pass over (journal-format.ts).
// Every `at` is wall-clock ms in the file, on the keeper's clock once read (journal-wall-time.ts
// moves them, as JournalFile writes and reads records), so records' times are compared with this
// keeper's clock and with the handed-over copies' fetch times (cache-handoff.ts), not a previous
// keeper's clock.
// Replay: an entry with `send` but neither `done` nor `nack` after it is UNSURE: the process died
// (or the call failed with applied: 'maybe') while Google may have applied it. Unsure entries are
// never resent blindly: the flusher reads the sheet back and looks for their row ids first.

import type { JournalRecord } from './journal-file.js';
import { internHeader } from './header-mapping.js';
import { rangeKeyOf, sheetKey } from './journal-rows.js';

export type EntryState = 'pending' | 'sending' | 'unsure' | 'done';

export interface JournalEntry {
  readonly id: string;
  /** The range as the append wrote it (its add record keeps it so): where its rows are placed. */
  readonly range: string;
  /**
   * The key of its tab ('' = the first tab), one for every case of the name (tab-key.ts): what
   * rows are grouped, retained, recognised by their ids and merged into reads by.
   */
  readonly sheet: string;
  /** The key of its range (rangeKeyOf: the tab's key and the cells), one for every spelling: the flusher's target. */
  readonly rangeKey: string;
  readonly rows: readonly (readonly string[])[];
  /**
   * The header row the rows were built under, when the append gave it: they are written under the
   * header the tab has when they are sent, mapped by name (header-mapping.ts).
   */
  readonly header?: readonly string[];
  readonly at: number;
  /** The sheet the rows were acknowledged for (SheetsBackend.destination): they go there and nowhere else. */
  readonly destination: string;
  state: EntryState;
  /** False until the add record is fsynced; such entries are invisible to the flusher and reads. */
  durable: boolean;
  attempts: number;
  nextAttemptAt: number;
  doneAt: number | undefined;
  /**
   * When its last append was sent (its last send record's time); undefined before any. An entry
   * left unsure by a previous process is read back SHEETS_UNSURE_DELAY after it (restore).
   */
  sentAt?: number;
}

const isRows = (v: unknown): boolean => Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((cell) => typeof cell === 'string'));

/** The last range found to parse: a journal's add records name a handful of ranges, mostly in a row. */
let rangeParsed: string | undefined;

function isRange(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (v === rangeParsed) return true;
  try {
    sheetKey(v);
  } catch {
    return false;
  }
  rangeParsed = v;
  return true;
}

/**
 * Whether replayRecords can build an entry from a record: an add's range and rows (and its header,
 * when it has one), a split's rows. Open takes a record it cannot as damaged (journal-open.ts): one
 * with a valid checksum but another shape (a hand edit with its checksum made again, a version
 * that wrote it otherwise) failed every start with a bare TypeError (the rows of undefined, a range
 * that does not parse), so no keeper ran until someone found the line. As damage it is copied to
 * the quarantine file, and every pending entry is read back. Other kinds, and the fields replay
 * reads leniently (ids, times), are not checked.
 */
export function replayable(rec: JournalRecord): boolean {
  switch (rec.k) {
    case 'add':
      return isRange(rec.r) && isRows(rec.rows) && (rec.h === undefined || (Array.isArray(rec.h) && rec.h.every((c) => typeof c === 'string')));
    case 'split':
      return isRows(rec.rows);
    default:
      return true;
  }
}

function markDone(e: JournalEntry, at: number): void {
  if (e.state === 'done') return;
  e.state = 'done';
  e.doneAt = at;
}

/** Records replayed between two turns of the event loop (tens of ms on a loaded 2-core box). */
const REPLAY_SLICE_RECORDS = 20_000;

/**
 * The entries the records describe, in the order they were first journaled; an add record without
 * its sheet is taken as `destination`'s. The loop turns every REPLAY_SLICE_RECORDS records: in one
 * stretch a million add records took 2 to 5 s on a loaded 2-core box, its timers held meanwhile,
 * among them the lock's heartbeat, whose mtime a keeper of another pid namespace takes for a dead
 * keeper's once 5 s old (lock.ts), and the boot heartbeats the master judges the keeper by.
 */
export async function replayRecords(records: readonly JournalRecord[], destination: string): Promise<Map<string, JournalEntry>> {
  const entries = new Map<string, JournalEntry>();
  // A journal's add records name a handful of ranges: each parsed once. The keys are made here,
  // at each replay, from the range as written: records written before tabs were keyed whatever the
  // case of their names are keyed so too, and no record is rewritten for it.
  const keys = new Map<string, { sheet: string; rangeKey: string }>();
  let sinceYield = 0;
  for (const rec of records) {
    if (++sinceYield >= REPLAY_SLICE_RECORDS) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const ids = Array.isArray(rec.ids) ? (rec.ids as string[]) : [];
    switch (rec.k) {
      case 'add': {
        const id = String(rec.id);
        if (entries.has(id)) break;
        const range = String(rec.r);
        let key = keys.get(range);
        if (key === undefined) keys.set(range, (key = { sheet: sheetKey(range), rangeKey: rangeKeyOf(range) }));
        entries.set(id, {
          id,
          range,
          sheet: key.sheet,
          rangeKey: key.rangeKey,
          rows: rec.rows as string[][],
          ...(Array.isArray(rec.h) ? { header: internHeader(rec.h as string[]) } : {}),
          at: Number(rec.at),
          destination: typeof rec.d === 'string' ? rec.d : destination,
          state: 'pending',
          durable: true,
          attempts: 0,
          nextAttemptAt: 0,
          doneAt: undefined,
        });
        break;
      }
      case 'send':
        for (const id of ids) {
          const e = entries.get(id);
          if (e && e.state !== 'done') {
            e.state = 'unsure';
            // A record without a time (damaged, hand-written) is read back as from the start.
            const at = Number(rec.at);
            e.sentAt = Number.isFinite(at) ? at : undefined;
          }
        }
        break;
      case 'nack':
        for (const id of ids) {
          const e = entries.get(id);
          if (e && e.state !== 'done') e.state = 'pending';
        }
        break;
      case 'split': {
        const old = entries.get(String(rec.id));
        if (!old) break;
        markDone(old, Number(rec.at));
        const entry: JournalEntry = { ...old, id: String(rec.nid), rows: rec.rows as string[][], state: 'pending', doneAt: undefined, attempts: 0 };
        entries.set(entry.id, entry);
        break;
      }
      case 'done':
        for (const id of ids) {
          const e = entries.get(id);
          if (e) markDone(e, Number(rec.at));
        }
        break;
      default:
        break;
    }
  }
  return entries;
}
