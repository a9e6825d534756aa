// The host cache handed from a keeper that drains to the next one. The cache lives in the keeper's
// memory, so a keeper restarted by a reload (one that changes its settings) began empty, and every
// worker without a copy of its own (every worker the same reload started) waited for Google's
// first answers again: what the cache exists to spare the users. A draining keeper writes the
// values it could still serve to `cache-handoff.json` in the data dir; the next keeper, under the
// same lock, takes them before it opens the journal, and serves them by their age under its own
// TTL (fresh, or stale while one refresh runs), as if it had fetched them itself.
//
// Only a drain writes the file. The next start leaves it in place until it is about to serve (its
// socket bound, before its flusher's first pass), then deletes it durably: a start that fails
// before then (its journal cannot be opened or its socket bound, a stop or a kill while it
// replays, out of memory) leaves it to the keeper started after it, the master's next attempt or
// a rollback's; a keeper that crashes once it served leaves none. That is what keeps the reads
// right: a done entry stays in the journal while a cached copy from before it is served
// (journal-entries.ts), and while the file is left every copy in it counts as such a copy for the
// journal (handed-copies.ts), those the start did not restore too (too old under its
// SHEET_CACHE_MAX_STALE, pushed out by a smaller cache budget, from after now by its clock): the
// keeper after it, with other settings, may serve them. So no journal lets go of a done entry a
// copy in the file needs, and a file is never older than the journal beside it. An older file
// could lack rows whose done entries the journal has since let go. A file from another sheet
// (SHEET_ID, SHEETS_API_URL, the account or the offline directory changed with the reload) is not
// used, and is deleted at once: the journal's open drops another sheet's done entries.
//
// The file's times (when it was saved, each range's fetch start and end) are the wall clock's,
// moved from and onto each keeper's clock (clock.ts: the wall clock at its start, then monotonic)
// with toWallTime and fromWallTime. Written on the draining keeper's clock, a step of the system
// clock (NTP at boot) or a suspend during its life made its copies that much older or younger to
// the next keeper: served past their TTL, or dropped (past TTL + max stale, or from the future
// after a step back). And a copy's fetch start is compared with the journal's done entries
// (read-your-writes), whose file holds wall-clock times too (journal-wall-time.ts): the two move
// together, or the next keeper compares times of two clocks. A file written before this held the
// draining keeper's own clock, the wall clock's time but for a step during its life: read as such.
//
// Format: a header line (JSON), then one line per range holding its values' JSON as the read tier
// made it (JSON has no raw newline), written once rather than serialised again.

import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from '../../fs-sync.js';
import { openNewPrivateFile } from '../../private-file.js';
import type { CachedValue } from './cached-value.js';
import { fromWallTime, toWallTime, type Clock } from './clock.js';

export const CACHE_HANDOFF_FILE = 'cache-handoff.json';
const VERSION = 1;

/** A value as the next keeper restores it: its expiry is its own TTL's business. */
export type HandedValue = Omit<CachedValue, 'expiresAt'>;

interface HeaderRange {
  readonly range: string;
  readonly fetchStartedAt: number;
  readonly fetchedAt: number;
}

interface Header {
  readonly v: number;
  readonly source: string;
  readonly savedAt: number;
  readonly ranges: readonly HeaderRange[];
}

/**
 * Writes the values (temporary file, fsync, rename, directory fsync); the bytes written. `now` and
 * the values' times are of `clock` (the keeper's; absent, taken as the wall clock's).
 */
export async function saveCacheHandoff(dataDir: string, source: string, values: readonly CachedValue[], now: number, clock: Pick<Clock, 'wallOffset'> = {}): Promise<number> {
  const wall = (t: number) => toWallTime(clock, t);
  const header: Header = { v: VERSION, source, savedAt: wall(now), ranges: values.map((v) => ({ range: v.range, fetchStartedAt: wall(v.fetchStartedAt), fetchedAt: wall(v.fetchedAt) })) };
  const newline = Buffer.from('\n');
  const parts: Buffer[] = [Buffer.from(JSON.stringify(header)), newline];
  for (const v of values) parts.push(v.jsonBytes, newline);
  const path = join(dataDir, CACHE_HANDOFF_FILE);
  const tmp = `${path}.tmp`;
  const bytes = Buffer.concat(parts);
  try {
    const fh = await openNewPrivateFile(tmp);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dataDir);
  return bytes.length;
}

/** A copy in the file, as the journal's retention sees it while the file is left (handed-copies.ts). */
export interface HandedCopy {
  readonly range: string;
  readonly fetchStartedAt: number;
}

export type TakenHandoff =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'restored';
      readonly values: readonly HandedValue[];
      /** Every copy the file holds, those dropped here too: the file is left in place. */
      readonly copies: readonly HandedCopy[];
      readonly savedAt: number;
      /** Values dropped as past TTL + SHEET_CACHE_MAX_STALE. */
      readonly tooOld: number;
      /** Values dropped as fetched after now: the wall clock was set back since they were written. */
      readonly ahead: number;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

function isRows(value: unknown): value is string[][] {
  return Array.isArray(value) && value.every((row) => Array.isArray(row) && row.every((cell) => typeof cell === 'string'));
}

function isHeader(value: unknown): value is Header {
  const h = value as Partial<Header> | null;
  return (
    typeof h === 'object' && h !== null && typeof h.source === 'string' && typeof h.savedAt === 'number' && Array.isArray(h.ranges) &&
    h.ranges.every((r) => typeof r?.range === 'string' && Number.isFinite(r.fetchStartedAt) && Number.isFinite(r.fetchedAt))
  );
}

/**
 * Reads the file a draining keeper left. A file of this sheet is left in place (the caller deletes
 * it with dropCacheHandoff once it serves); one of no use to any keeper of this sheet (damaged,
 * of another version or sheet, unreadable) is deleted, durably before this returns. Values past
 * `servableMs` (TTL + SHEET_CACHE_MAX_STALE) are dropped, and so are values from a time after
 * `now` (the clock was set back: their age cannot be told). `now` and the times given back are of
 * `clock` (the keeper's; absent, taken as the wall clock's).
 */
export async function readCacheHandoff(dataDir: string, source: string, now: number, servableMs: number, clock: Pick<Clock, 'wallOffset'> = {}): Promise<TakenHandoff> {
  const path = join(dataDir, CACHE_HANDOFF_FILE);
  // What a drain killed mid-write left: never renamed, so never taken.
  await rm(`${path}.tmp`, { force: true });
  // Bytes, not a string: a string holds at most 512 MiB, and a larger file (a cache raised with
  // CORRAL_L1_CACHE_MB) failed to be read at every start, never deleted.
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    // Unreadable (over 2 GiB, an I/O error, a directory in its place): dropped, or every start
    // would try it again.
    await dropCacheHandoff(dataDir);
    return { kind: 'ignored', reason: `it cannot be read (${(err as Error).message})` };
  }
  const taken = parse(bytes, source, now, servableMs, clock);
  if (taken.kind !== 'restored') await dropCacheHandoff(dataDir);
  return taken;
}

/** Deletes the file (a directory in its place too), durably before this returns. */
export async function dropCacheHandoff(dataDir: string): Promise<void> {
  await rm(join(dataDir, CACHE_HANDOFF_FILE), { recursive: true, force: true });
  await fsyncDir(dataDir);
}

function parse(bytes: Buffer, source: string, now: number, servableMs: number, clock: Pick<Clock, 'wallOffset'>): TakenHandoff {
  const lines = splitLines(bytes);
  let header: unknown;
  try {
    header = JSON.parse(lines[0]?.toString('utf8') ?? '');
  } catch {
    return { kind: 'ignored', reason: 'its header is not JSON' };
  }
  if ((header as { v?: unknown } | null)?.v !== VERSION) return { kind: 'ignored', reason: `unknown version ${JSON.stringify((header as { v?: unknown } | null)?.v)}` };
  if (!isHeader(header)) return { kind: 'ignored', reason: 'its header is malformed' };
  if (header.source !== source) return { kind: 'ignored', reason: `it holds another sheet's values (${header.source})` };
  // The header line, a line per range, and the empty string after the last newline.
  if (lines.length !== header.ranges.length + 2 || lines[lines.length - 1]?.length !== 0) return { kind: 'ignored', reason: `it holds ${lines.length - 2} lines of values for ${header.ranges.length} ranges (cut short?)` };
  const values: HandedValue[] = [];
  const copies: HandedCopy[] = [];
  let tooOld = 0;
  let ahead = 0;
  const ours = (t: number) => fromWallTime(clock, t);
  for (const [i, wallTimes] of header.ranges.entries()) {
    const r = { range: wallTimes.range, fetchStartedAt: ours(wallTimes.fetchStartedAt), fetchedAt: ours(wallTimes.fetchedAt) };
    const json = lines[i + 1] ?? Buffer.alloc(0);
    let rows: unknown;
    try {
      rows = JSON.parse(json.toString('utf8'));
    } catch {
      // (A range over 512 MiB cannot be a string: RangeError, the same answer.)
      return { kind: 'ignored', reason: `the values of ${r.range} are not JSON` };
    }
    if (!isRows(rows)) return { kind: 'ignored', reason: `the values of ${r.range} are not rows of strings` };
    copies.push({ range: r.range, fetchStartedAt: r.fetchStartedAt });
    // Counted apart: said as "older than TTL + max stale", a copy dropped after the clock was set
    // back (NTP correcting a clock that ran ahead, a host's RTC behind at boot) sent the operator
    // to raise SHEET_CACHE_MAX_STALE, which changes nothing for it.
    if (r.fetchedAt > now) {
      ahead++;
      continue;
    }
    if (now - r.fetchedAt > servableMs) {
      tooOld++;
      continue;
    }
    // A copy: a slice would keep the whole file's bytes alive as long as any range is cached.
    values.push({ range: r.range, values: rows, jsonBytes: Buffer.from(json), fetchStartedAt: r.fetchStartedAt, fetchedAt: r.fetchedAt });
  }
  return { kind: 'restored', values, copies, savedAt: ours(header.savedAt), tooOld, ahead };
}

/** The file's lines, split at each newline (the last, after the final newline, empty). */
function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(0x0a); nl >= 0; nl = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, nl));
    start = nl + 1;
  }
  lines.push(bytes.subarray(start));
  return lines;
}
