// The quota buckets' grants of the last minute, kept in the data dir (with REDIS_URL, also the
// most keepers of the sheet counted present lately: quota-presence.ts). The buckets live in the
// keeper's memory; without this file a keeper started after a crash, a kill -9 or a reload that
// restarts it would hand out a fresh minute of tokens in a minute its predecessor had already
// spent, and that minute would hold up to twice the quota (the promise is that no 60 s window
// holds more than SHEETS_*_PER_MINUTE calls).
//
// The file holds grants counted per second of the wall clock (at most 61 entries a bucket,
// whatever the rate), and is rewritten (temporary file, then rename) on every grant, before the
// call it pays for leaves. A list of every grant time made each write cost as much as the
// minute's grants, so the cost of a minute grew with the square of the quota (20,000 grants a
// minute blocked the keeper for about 18 s of it). A restored count is dated at the end of its
// second: its token is held up to a second too long, never too short. The file is not fsynced: it
// must outlive the keeper process, and a host that reboots has been down for longer than the
// window anyway.
//
// With REDIS_URL it also keeps, per kind, what the keeper knew of the window shared by the hosts
// (inherited-grants.ts): its last reading of it (every host's calls, and Redis's `since`, the
// window's state) and its grants the window does not hold (made alone, or lost by Redis, until
// written back). A successor started while Redis is away counts the others' calls of that reading;
// once Redis answers, it writes back those grants, and all the others when the window's state is
// no longer the one read (Redis lost them). A reading is written at most once a second unless the
// state changed (it also goes out with the next grant's write): the presence alone reads every 5 s.
// A file without these fields (an older corral) reads as it did; an older corral reading this
// file ignores them.
//
// It also keeps, per kind, what Google's 429s taught the keeper (quota-refusals.ts): the ceiling
// and when its last 429 came, the pause (when set, when over) and the 429s in a row, written at
// every change; and the calls Google accepted in the last window, per second of the wall clock as
// the grants are, each dated at its second's start (counted up to a second less, never longer, so
// the ceiling it sets is not above what Google accepted). Those are written with the next write,
// at most a second after they came (and at close): a write at every answer too doubled the file's
// writes (about 0.6 ms each, on a VM's ext4). A successor that lost the last second's (a crash) is held to that
// many fewer after a 429, not to 1. A file without them (an older corral's) has the predecessor's
// grants of the window count as the calls Google accepted; an older corral ignores them.

import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { writeNewPrivateFileSync } from '../../private-file.js';
import { fromWallTime, systemClock, toWallTime, type Clock } from './clock.js';
import type { WindowLeft } from './inherited-grants.js';
import { QUOTA_WINDOW_MS, type QuotaBucket, type QuotaKind } from './quota.js';
import type { WindowReading, WindowRecorder } from './quota-kind-state.js';
import type { LearnedQuota, LearnedRecorder, QuotaHold } from './quota-refusals.js';

export const QUOTA_LEDGER_FILE = 'quota.json';

/** The buckets a ledger keeps, by the name their grants have in the file. */
export type LedgerBuckets = Readonly<Record<'reads' | 'writes', QuotaBucket>>;
type BucketName = keyof LedgerBuckets;
const NAMES: readonly BucketName[] = ['reads', 'writes'];

/** [second of the wall clock (ms / 1000, floored), grants in it], oldest first. */
export type SecondCount = readonly [number, number];

/**
 * The most keepers of the sheet a keeper counted present in Redis (REDIS_URL) lately, and when
 * (wall-clock ms): a keeper started while Redis is away takes its share from it (quota-presence.ts, own-share.ts).
 */
export interface KeepersSeen {
  readonly keepers: number;
  readonly at: number;
}

/** What a keeper knew of a kind's shared window (REDIS_URL): its last reading (`at` on the wall clock) and its grants the window did not hold. */
export interface LedgerWindow {
  readonly reading?: WindowReading;
  readonly unshared: readonly SecondCount[];
}

/** What Google's 429s taught a keeper of a kind (QuotaHold, LearnedQuota), its times on the wall clock. */
export interface LedgerLearned extends QuotaHold {
  /** The calls Google accepted, per second, each dated at its second's start. */
  readonly successes: readonly SecondCount[];
}

export type LedgerContents = Readonly<Record<BucketName, readonly SecondCount[]>> & {
  readonly keepers?: KeepersSeen;
  readonly window?: Readonly<Partial<Record<BucketName, LedgerWindow>>>;
  readonly learned?: Readonly<Partial<Record<BucketName, LedgerLearned>>>;
};

const KIND_OF: Readonly<Record<BucketName, QuotaKind>> = { reads: 'read', writes: 'write' };

const EMPTY: LedgerContents = { reads: [], writes: [] };

function keepersOf(value: unknown): KeepersSeen | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [keepers, at] = value as unknown[];
  // Any finite time: the keeper's clock (monotonicNow) has a fraction of a millisecond, and files
  // written before times were rounded hold it. Refusing it lost the count, so a keeper restarted
  // while Redis was away spent the whole limit instead of its share.
  return Number.isSafeInteger(keepers) && (keepers as number) >= 1 && typeof at === 'number' && Number.isFinite(at) ? { keepers: keepers as number, at } : undefined;
}

function readingOf(value: unknown): WindowReading | undefined {
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  const [since, redisAt, at, counts] = value as unknown[];
  const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
  if (!finite(since) || !finite(redisAt) || !finite(at) || !Array.isArray(counts) || !counts.every((c) => Number.isSafeInteger(c) && (c as number) >= 0)) return undefined;
  return { since, redisAt, at, counts: counts as number[] };
}

/** The shared window's part of the file; anything malformed is left out (the successor then does as without it). */
function windowOf(value: unknown): Partial<Record<BucketName, LedgerWindow>> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const out: Partial<Record<BucketName, LedgerWindow>> = {};
  for (const name of NAMES) {
    const w = (value as Record<string, unknown>)[name] as { reading?: unknown; unshared?: unknown } | undefined;
    if (typeof w !== 'object' || w === null) continue;
    const reading = readingOf(w.reading);
    out[name] = { ...(reading ? { reading } : {}), unshared: countsOf(w.unshared) };
  }
  return out;
}

/** What the 429s taught, per kind; a malformed part is left out (the successor then does as without it). */
function learnedOf(value: unknown): Partial<Record<BucketName, LedgerLearned>> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
  const count = (n: unknown, min: number): n is number => Number.isSafeInteger(n) && (n as number) >= min;
  const out: Partial<Record<BucketName, LedgerLearned>> = {};
  for (const name of NAMES) {
    const l = (value as Record<string, unknown>)[name] as { heldTo?: unknown; pause?: unknown; successes?: unknown } | undefined;
    if (typeof l !== 'object' || l === null) continue;
    const [ceiling, refusedAt] = Array.isArray(l.heldTo) && l.heldTo.length === 2 ? (l.heldTo as unknown[]) : [];
    const [at, until, inARow] = Array.isArray(l.pause) && l.pause.length === 3 ? (l.pause as unknown[]) : [];
    out[name] = {
      ...(count(ceiling, 1) && finite(refusedAt) ? { heldTo: { ceiling, refusedAt } } : {}),
      ...(finite(at) && finite(until) && until >= at && count(inARow, 0) ? { pause: { at, until, inARow } } : {}),
      successes: countsOf(l.successes),
    };
  }
  return out;
}

function countsOf(value: unknown): SecondCount[] {
  if (!Array.isArray(value)) return [];
  return value.filter((e): e is SecondCount => Array.isArray(e) && e.length === 2 && Number.isSafeInteger(e[0]) && Number.isSafeInteger(e[1]) && e[1] > 0);
}

/**
 * What a previous keeper recorded. A missing file is a first start; an unreadable or malformed
 * one is reported through `problem` and counts as empty (the quota then starts fresh, as it did
 * before this file existed).
 */
export function readLedger(path: string): { contents: LedgerContents; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contents: EMPTY };
    return { contents: EMPTY, problem: (err as Error).message };
  }
  try {
    const parsed = JSON.parse(text) as { v?: unknown; reads?: unknown; writes?: unknown; keepers?: unknown; window?: unknown; learned?: unknown };
    if (parsed.v !== 1) return { contents: EMPTY, problem: `unknown ledger version ${JSON.stringify(parsed.v)}` };
    const keepers = keepersOf(parsed.keepers);
    const window = windowOf(parsed.window);
    const learned = learnedOf(parsed.learned);
    return { contents: { reads: countsOf(parsed.reads), writes: countsOf(parsed.writes), ...(keepers ? { keepers } : {}), ...(window ? { window } : {}), ...(learned ? { learned } : {}) } };
  } catch (err) {
    return { contents: EMPTY, problem: `not JSON: ${(err as Error).message}` };
  }
}

/**
 * The grant times a count stands for: all at the last millisecond of its second (of the wall
 * clock), on `clock`; `atMs` 0, at its first (the calls Google accepted).
 */
function timesOf(counts: readonly SecondCount[], clock: Pick<Clock, 'wallOffset'>, atMs = 999): number[] {
  return counts.flatMap(([second, n]) => Array.from({ length: n }, () => fromWallTime(clock, second * 1000 + atMs)));
}

/** The calls Google accepted are written at most this often (and with every other write). */
const SUCCESSES_WRITE_EVERY_MS = 1000;

/** Grants per second over the last window; old seconds are dropped as new ones come. */
class PerSecond {
  private readonly counts = new Map<number, number>();

  /** A grant dated again (QuotaBucket.sentAt): no longer counted in its former second. */
  remove(at: number): void {
    const second = Math.floor(at / 1000);
    const n = this.counts.get(second) ?? 0;
    if (n <= 1) this.counts.delete(second);
    else this.counts.set(second, n - 1);
  }

  add(at: number): void {
    const second = Math.floor(at / 1000);
    this.counts.set(second, (this.counts.get(second) ?? 0) + 1);
    // A second whose every grant has left the window (its last millisecond included).
    for (const s of this.counts.keys()) if (s * 1000 + 999 <= at - QUOTA_WINDOW_MS) this.counts.delete(s);
  }

  entries(): SecondCount[] {
    return [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
  }
}

export class QuotaLedger {
  readonly path: string;
  private readonly tmpPath: string;
  private readonly seconds: Record<BucketName, PerSecond> = { reads: new PerSecond(), writes: new PerSecond() };
  /** A full or read-only data dir fails every grant's write: said at the first, then once a minute. */
  private readonly writeFailure = new RepeatedFailure();
  /** The keepers present a keeper of this data dir last recorded (its predecessor's, at open). */
  private keepers: KeepersSeen | undefined;
  /** The last reading of each kind's shared window (its predecessor's, at open), `at` on the keeper's clock. */
  private readonly readings: Partial<Record<BucketName, WindowReading>> = {};
  /** The grants the shared window does not hold yet (its predecessor's carried over, at open). */
  private readonly unshared: Record<BucketName, PerSecond> = { reads: new PerSecond(), writes: new PerSecond() };
  /** The predecessor's grants the shared window did not hold, as read at open (the times its buckets were restored with). */
  private readonly unsharedLeft: Record<BucketName, number[]> = { reads: [], writes: [] };
  /** When a reading was last written (the keeper's clock). */
  private readingWrittenAt = -Infinity;
  /** What the 429s taught this keeper (its predecessor's, at open), on the keeper's clock. */
  private readonly holds: Partial<Record<BucketName, QuotaHold>> = {};
  /** The calls Google accepted in the last window, per second of the keeper's clock (its predecessor's, at open). */
  private successes: Record<BucketName, PerSecond> = { reads: new PerSecond(), writes: new PerSecond() };
  /** What the predecessor left of its 429s, as read at open; for a kind the file says nothing of, undefined. */
  private readonly learnedLeftBy: Partial<Record<BucketName, LearnedQuota>> = {};
  /** The predecessor's grants of the window, as restored (the calls Google accepted, for a file that does not keep those). */
  private readonly grantsLeft: Record<BucketName, number[]> = { reads: [], writes: [] };
  /** A call Google accepted is not in the file yet; written by the timer at the latest. */
  private successesUnwritten = false;
  private successesTimer: unknown;
  /** When the file was last written (the keeper's clock). */
  private writtenAt = -Infinity;
  /** Closed: the data dir may be the next keeper's already, and so is this file. */
  private closed = false;

  private constructor(
    dataDir: string,
    private readonly buckets: LedgerBuckets,
    private readonly logger: Logger,
    /**
     * The buckets' clock: the file holds wall-clock times, read right by a keeper whose clock
     * started after a step of it. Its timers write the calls Google accepted (the system's when it
     * has none; its now, the wall clock when it has none).
     */
    private readonly clock: Partial<Clock>,
  ) {
    this.path = join(dataDir, QUOTA_LEDGER_FILE);
    this.tmpPath = `${this.path}.tmp`;
  }

  /**
   * Restores the buckets from the file in `dataDir` and records every grant from now on. Call it
   * while holding the data dir's keeper lock, before any grant.
   */
  /** `clock`: the buckets' (the keeper's); absent, their times are taken as the wall clock's. */
  static open(dataDir: string, buckets: LedgerBuckets, logger: Logger, clock: Partial<Clock> = {}): QuotaLedger {
    const ledger = new QuotaLedger(dataDir, buckets, logger, clock);
    const { contents, problem } = readLedger(ledger.path);
    ledger.keepers = contents.keepers && { keepers: contents.keepers.keepers, at: fromWallTime(clock, contents.keepers.at) };
    for (const name of NAMES) {
      // Carried over as the grants are: a second restart before Redis answers must still know them.
      const w = contents.window?.[name];
      if (w?.reading) ledger.readings[name] = { ...w.reading, at: fromWallTime(clock, w.reading.at) };
      ledger.unsharedLeft[name] = timesOf(w?.unshared ?? [], clock);
      for (const at of ledger.unsharedLeft[name]) ledger.unshared[name].add(at);
      // Carried over too until the keeper adopts them (QuotaRefusals.adopt), which keeps what still bears.
      const l = contents.learned?.[name];
      if (l) {
        const hold: QuotaHold = {
          ...(l.heldTo ? { heldTo: { ceiling: l.heldTo.ceiling, refusedAt: fromWallTime(clock, l.heldTo.refusedAt) } } : {}),
          ...(l.pause ? { pause: { at: fromWallTime(clock, l.pause.at), until: fromWallTime(clock, l.pause.until), inARow: l.pause.inARow } } : {}),
        };
        const successes = timesOf(l.successes, clock, 0);
        ledger.holds[name] = hold;
        for (const at of successes) ledger.successes[name].add(at);
        ledger.learnedLeftBy[name] = { ...hold, successes };
      }
    }
    if (problem) logger.warn({ event: 'quota.ledger_unreadable', path: ledger.path, problem }, 'quota ledger unreadable; the quota starts from a fresh minute');
    const restored = { reads: 0, writes: 0 };
    for (const name of NAMES) {
      buckets[name].restore(timesOf(contents[name], clock));
      // The predecessor's grants stay in the file this keeper writes: a second restart within the
      // minute must still count them.
      const kept = buckets[name].recentGrants();
      for (const at of kept) ledger.seconds[name].add(at);
      ledger.grantsLeft[name] = kept;
      restored[name] = kept.length;
      buckets[name].setGrantListener((at, movedFrom) => ledger.record(name, at, movedFrom));
    }
    if (restored.reads + restored.writes > 0) {
      logger.info({ event: 'quota.restored', ...restored }, "quota: the previous keeper's calls of the last minute still count");
    }
    return ledger;
  }

  /** What this data dir's keepers last recorded of the keepers present (undefined: nothing yet). */
  keepersSeen(): KeepersSeen | undefined {
    return this.keepers;
  }

  /** What this data dir's keepers last knew of the shared windows (its predecessor's, at open), for the shared quota. */
  windowLeft(): Partial<Record<QuotaKind, WindowLeft>> {
    const out: Partial<Record<QuotaKind, WindowLeft>> = {};
    for (const name of NAMES) {
      const reading = this.readings[name];
      const unshared = this.unsharedLeft[name];
      if (reading || unshared.length > 0) out[KIND_OF[name]] = { ...(reading ? { reading } : {}), unshared };
    }
    return out;
  }

  /**
   * What this data dir's keepers last learned from Google's 429s, per kind (its predecessor's, at
   * open, on this keeper's clock), for QuotaRefusals.adopt. A file that says nothing of a kind
   * (an older corral's, or nothing learned) has the predecessor's grants of the window count as
   * the calls Google accepted: without them, a 429 held the keeper to 1 call a minute.
   */
  learnedLeft(): Record<QuotaKind, LearnedQuota> {
    const of = (name: BucketName): LearnedQuota => this.learnedLeftBy[name] ?? { successes: this.grantsLeft[name] };
    return { read: of('reads'), write: of('writes') };
  }

  /** The keeper's answer to Google's 429s' ear (QuotaRefusals.adopt): what they taught, and the calls Google accepted. */
  learnedRecorder(): LearnedRecorder {
    const nameOf = (kind: QuotaKind): BucketName => (kind === 'read' ? 'reads' : 'writes');
    return {
      adopted: (kind, learned) => {
        if (this.closed) return;
        const name = nameOf(kind);
        const { successes, ...hold } = learned;
        // Written when the file held something of it (what no longer bears is dropped from it) or now does.
        const had = this.holds[name] !== undefined || this.successes[name].entries().length > 0;
        this.holds[name] = hold;
        this.successes[name] = new PerSecond();
        for (const at of successes) this.successes[name].add(at);
        if (had || hold.heldTo || hold.pause || successes.length > 0) this.write();
      },
      held: (kind, hold) => {
        if (this.closed) return;
        this.holds[nameOf(kind)] = hold;
        this.write();
      },
      succeeded: (kind, at) => {
        if (this.closed) return;
        this.successes[nameOf(kind)].add(at);
        this.successesUnwritten = true;
        const dueIn = this.writtenAt + SUCCESSES_WRITE_EVERY_MS - this.now();
        if (dueIn <= 0) this.write();
        else if (this.successesTimer === undefined) {
          this.successesTimer = this.timers().setTimeout(() => {
            this.successesTimer = undefined;
            if (this.successesUnwritten && !this.closed) this.write();
          }, dueIn);
        }
      },
    };
  }

  private now(): number {
    return this.clock.now ? this.clock.now() : Date.now();
  }

  private timers(): Pick<Clock, 'setTimeout' | 'clearTimeout'> {
    return this.clock.setTimeout && this.clock.clearTimeout ? (this.clock as Clock) : systemClock;
  }

  /** The shared quota's ear: its readings of the windows, and the grants they do not hold. */
  recorder(): WindowRecorder {
    const nameOf = (kind: QuotaKind): BucketName => (kind === 'read' ? 'reads' : 'writes');
    return {
      heard: (kind, reading) => {
        if (this.closed) return;
        const name = nameOf(kind);
        const stateChanged = this.readings[name]?.since !== reading.since;
        this.readings[name] = reading;
        if (stateChanged || reading.at - this.readingWrittenAt >= 1000) this.write();
      },
      unshared: (kind, at) => {
        if (this.closed) return;
        this.unshared[nameOf(kind)].add(at);
        this.write();
      },
      shared: (kind, at) => {
        if (this.closed) return;
        this.unshared[nameOf(kind)].remove(at);
        this.write();
      },
    };
  }

  /** Records the keepers present, for a keeper started while Redis is away. */
  recordKeepers(seen: KeepersSeen): void {
    if (this.closed) return;
    this.keepers = seen;
    this.write();
  }

  private record(name: BucketName, at: number, movedFrom?: number): void {
    if (movedFrom !== undefined) this.seconds[name].remove(movedFrom);
    this.seconds[name].add(at);
    this.write();
  }

  private write(): void {
    // Wall-clock seconds: a second's last millisecond moved onto the wall clock, so a restored
    // count is still held up to a second too long, never too short (`atMs` 0, the calls Google
    // accepted: its first, so one is counted up to a second less, never longer).
    const offset = toWallTime(this.clock, 0);
    const wall = (counts: SecondCount[], atMs = 999): SecondCount[] => (offset === 0 ? counts : counts.map(([second, n]) => [Math.floor((second * 1000 + atMs + offset) / 1000), n]));
    const learned: Partial<Record<BucketName, unknown>> = {};
    for (const name of NAMES) {
      const h = this.holds[name];
      const successes = this.successes[name].entries();
      if (!h?.heldTo && !h?.pause && successes.length === 0) continue;
      learned[name] = {
        ...(h?.heldTo ? { heldTo: [h.heldTo.ceiling, Math.round(toWallTime(this.clock, h.heldTo.refusedAt))] } : {}),
        // Its end rounded up: a pause read back is never shorter.
        ...(h?.pause ? { pause: [Math.round(toWallTime(this.clock, h.pause.at)), Math.ceil(toWallTime(this.clock, h.pause.until)), h.pause.inARow] } : {}),
        successes: wall(successes, 0),
      };
    }
    const window: Partial<Record<BucketName, unknown>> = {};
    for (const name of NAMES) {
      const r = this.readings[name];
      const unshared = this.unshared[name].entries();
      if (r || unshared.length > 0) window[name] = { ...(r ? { reading: [r.since, r.redisAt, Math.round(toWallTime(this.clock, r.at)), r.counts] } : {}), unshared: wall(unshared) };
    }
    if (Object.values(this.readings).length > 0) this.readingWrittenAt = Math.max(...Object.values(this.readings).map((r) => r.at));
    const contents = {
      v: 1,
      reads: wall(this.seconds.reads.entries()),
      writes: wall(this.seconds.writes.entries()),
      ...(this.keepers ? { keepers: [this.keepers.keepers, Math.round(toWallTime(this.clock, this.keepers.at))] } : {}),
      ...(Object.keys(window).length > 0 ? { window } : {}),
      ...(Object.keys(learned).length > 0 ? { learned } : {}),
    };
    this.writtenAt = this.now();
    this.successesUnwritten = false;
    try {
      writeNewPrivateFileSync(this.tmpPath, JSON.stringify(contents));
      renameSync(this.tmpPath, this.path);
    } catch (err) {
      // Pacing goes on from memory; only a restart within the minute would overspend.
      const errno = (err as NodeJS.ErrnoException).code ?? null;
      this.writeFailure.failed((failures) =>
        this.logger.warn(
          { event: 'quota.ledger_unwritable', path: this.path, errno, err: (err as Error).message, failures },
          `cannot write the quota ledger ${this.path} (${errno ?? (err as Error).message}); a keeper restart within a minute may exceed the quota`,
        ),
      );
      return;
    }
    this.writeFailure.ended((failures) =>
      this.logger.info({ event: 'quota.ledger_written', path: this.path, failures }, `the quota ledger is written again after ${failures} failed writes`),
    );
  }

  /** Stops recording (the keeper is closing, still holding the data dir). Idempotent. */
  close(): void {
    if (this.closed) return;
    // The calls Google accepted in the last second, before the lock goes to the next keeper.
    if (this.successesUnwritten) this.write();
    if (this.successesTimer !== undefined) this.timers().clearTimeout(this.successesTimer);
    this.successesTimer = undefined;
    this.closed = true;
    for (const name of NAMES) this.buckets[name].setGrantListener(undefined);
  }
}
