// The SheetsClient a worker hands its app (ctx.sheets): a per-worker L1 cache (l1-cache.ts) in
// front of the host's keeper, which owns the upstream calls, the quota and the write journal.
// Concurrent misses of one range inside this worker make one keeper request; the keeper's own
// single-flight makes them one upstream call across all workers. Beside it: what it is made from
// (worker-client-options.ts), how long a read waits for the keeper (keeper-read-patience.ts), its
// lines when the keeper did not answer (keeper-read-log.ts), the keeper's times on this worker's
// clock (keeper-answer-clock.ts).

import { monotonicNow } from '../clock.js';
import { CorralError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseA1 } from './a1.js';
import { destinationDigest, destinationOf } from './destination.js';
import { OtherSheetError } from './keeper/other-sheet.js';
import { onOwnClock } from './keeper-answer-clock.js';
import { KeeperLink } from './keeper-link.js';
import { FALL_BACK_ON, KEEPER_PATIENCE_MS, keeperAnswerWaitMs, within } from './keeper-read-patience.js';
import { KeeperReadLog } from './keeper-read-log.js';
import { MAX_APPEND_BYTES, type WireLoginCount, type WireNotHeld, type WireReadAnswer, type WireReceipt } from './keeper/protocol.js';
import { dataDirOf, keeperSocketPath, socketOutsideDataDir } from './keeper/socket-path.js';
import { L1Cache, type L1Entry } from './l1-cache.js';
import { OtherSheetLog } from './other-sheet-log.js';
import { toRecords } from './records.js';
import { WATCH_IDLE_PAUSE_MS, watchKeeper } from './keeper-watch.js';
import type { AppendOptions, AppendReceipt, ReadOptions, SharedLoginCount, SheetRead, SheetRecords, SheetsClient } from './types.js';
import type { WorkerClientOptions, WorkerSheetsSettings } from './worker-client-options.js';

interface Flight {
  readonly version: string;
  readonly startedAt: number;
  readonly entry: Promise<L1Entry>;
  patienceOver: boolean;
  keep: boolean;
}

class WorkerSheetsClient implements SheetsClient {
  readonly backend: 'google' | 'offline';
  private readonly link: KeeperLink;
  private readonly l1: L1Cache;
  /** Reads on their way, by range, with the tab's version and the time (performance.now()) each began. */
  /**
   * The read of each range the keeper is on. `patienceOver`: a reader waited KEEPER_PATIENCE_MS for
   * it and was served its copy. The timer that said so counts on the loop's clock, in whole
   * milliseconds, and may fire before `startedAt` is that old by performance.now(): the next
   * reader, judged by that alone, was made to wait the patience again. `keep`: whether its answer
   * is stored in L1 (fetch()).
   */
  private readonly inflight = new Map<string, Flight>();
  private readonly now: () => number;
  private readonly maxStaleMs: number;
  private readonly watchAbort = new AbortController();
  private readonly watchPauseMs: number;
  private closed: Promise<void> | undefined;
  /** Reads served from this worker's copy, or failed slow, because the keeper did not answer in time. */
  private readonly readLog: KeeperReadLog;
  private readonly answerWaitMs: number;
  /** Refusals by a keeper of another sheet (two corrals sharing a data dir). */
  private readonly otherSheet: OtherSheetLog;
  private counts = { hits: 0, misses: 0, staleHits: 0, staleFallbacks: 0, appends: 0, errors: 0, invalidations: 0, unchangedRefreshes: 0 };
  private maxStaleSeen = 0;

  constructor(settings: WorkerSheetsSettings, logger: Logger, o: WorkerClientOptions) {
    // Same rule as create-backend.ts, without loading the backends into every worker.
    this.backend = settings.SHEET_ID ? 'google' : 'offline';
    // Monotonic, as the keeper's clock is: on Date.now() a step of the system clock after a copy
    // came in moved its hold (back an hour: held an hour past its TTL, no read reaching the keeper
    // to refresh it; forward past SHEET_CACHE_MAX_STALE: no longer served while the keeper is slow).
    this.now = o.now ?? monotonicNow;
    this.answerWaitMs = o.answerWaitMs ?? keeperAnswerWaitMs(settings.SHEETS_TIMEOUT);
    this.readLog = new KeeperReadLog(logger, this.answerWaitMs, this.now);
    this.maxStaleMs = settings.SHEET_CACHE_MAX_STALE * 1000;
    this.watchPauseMs = o.watchPauseMs ?? WATCH_IDLE_PAUSE_MS;
    this.l1 = new L1Cache(settings.CORRAL_L1_CACHE_MB * 1024 * 1024);
    const dataDir = dataDirOf(settings);
    const socketPath = o.socketPath ?? keeperSocketPath(dataDir);
    const destination = destinationDigest(destinationOf(settings));
    this.otherSheet = new OtherSheetLog(logger, socketPath, destination, this.now);
    this.link = new KeeperLink({
      socketPath,
      checkDir: socketOutsideDataDir(socketPath, dataDir),
      destination,
      ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
      ...(o.restartWindow ? { restartWindow: o.restartWindow } : {}),
    });
    if (o.watch !== false) void watchKeeper(this.link, this.l1, this.watchAbort.signal, { idlePauseMs: this.watchPauseMs, invalidated: (n) => (this.counts.invalidations += n) });
  }

  private toRead(e: L1Entry, now: number): SheetRead {
    const staleMs = Math.max(0, now - e.read.expiresAt);
    const staleSeconds = Math.floor(staleMs / 1000);
    if (staleSeconds > this.maxStaleSeen) this.maxStaleSeen = staleSeconds;
    const stale = now >= e.read.expiresAt;
    // Entries never change, only their staleness: the same answer object serves until it does,
    // so callers memoizing on it (records, the players body) hit their memo.
    if (e.served?.stale === stale && e.served.staleSeconds === staleSeconds) return e.served;
    e.served = {
      range: e.read.range,
      values: e.read.values,
      fetchedAt: e.read.fetchedAt,
      stale,
      staleSeconds,
      pendingRows: e.read.pendingRows,
    };
    return e.served;
  }

  /**
   * The L1 answer while its entry is held (counted as a hit), else undefined. A stale answer of
   * the keeper's is held too (STALE_HOLD_MS), and every read it serves is a stale answer: counted
   * only at the keeper, once a second per worker, the stats said 112 stale answers where clients
   * had 421,362 in 20 s of a Google outage.
   */
  private heldRead(entry: L1Entry | undefined, now: number): SheetRead | undefined {
    if (!entry || now >= entry.holdUntil) return undefined;
    this.counts.hits++;
    if (now >= entry.read.expiresAt) this.counts.staleHits++;
    return this.toRead(entry, now);
  }

  cachedRecords(range: string): SheetRecords | undefined {
    const read = this.heldRead(this.l1.peek(range), this.now());
    return read && toRecords(read);
  }

  /**
   * Whether `cached` may be served when the keeper does not answer: within SHEET_CACHE_MAX_STALE,
   * and from after every append to its tab this worker knows of. Never a copy from before one: its
   * own, or another worker's that the keeper's notice told it of (mayLackRows). The client that
   * wrote may be the one reading (on another connection, which shared accept or a proxy's pool
   * hands to any worker), and would not find its acknowledged row (read-your-writes). It waits for
   * the keeper's answer, which merges the journal, or gets the error (503 sheets_unavailable).
   */
  private mayFallBackTo(range: string, cached: L1Entry, now: number): boolean {
    return now - cached.read.expiresAt <= this.maxStaleMs && !cached.mayLackRows && !this.l1.lacksOwnWrite(range, cached);
  }

  /**
   * How long the keeper has been on a read of `range` that a read now would join, once that is
   * KEEPER_PATIENCE_MS or more; else undefined.
   */
  private overdueMs(range: string): number | undefined {
    const flight = this.inflight.get(range);
    if (!flight || flight.version !== this.l1.versionOf(range)) return undefined;
    const ms = performance.now() - flight.startedAt;
    return ms >= KEEPER_PATIENCE_MS || flight.patienceOver ? ms : undefined;
  }

  async read(range: string, options: ReadOptions = {}): Promise<SheetRead> {
    const cached = this.l1.peek(range);
    const now = this.now();
    const held = this.heldRead(cached, now);
    if (held) return held;
    this.counts.misses++;
    const servable = cached !== undefined && this.mayFallBackTo(range, cached, now);
    // The keeper has had a read of this range longer than the patience (refilling its cache from
    // Google after a restart, behind the read quota): the readers since get the copy at once, and
    // the read goes on. Each paid the patience again before: after a keeper crash with the
    // minute's quota spent, every read of Players took ~1 s for 24 s (audit).
    const overdue = servable ? this.overdueMs(range) : undefined;
    if (overdue !== undefined) {
      return this.fallBack(range, cached!, new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `the keeper has not answered a read of this range for ${Math.round(overdue)} ms`));
    }
    try {
      // A read that keeps no copy (an export) still refreshes one held: dropping it would take a
      // range the app serves from L1 (Players) out of it.
      const flight = this.fetch(range, cached !== undefined, options.keep !== false || cached !== undefined);
      // A copy that may be served (not one a write or the keeper's notice ended: that may lack
      // rows) is, if the keeper is slow to answer (stalled, or refilling a cold cache from
      // Google), rather than making the user wait; the read goes on and refills L1. With no such
      // copy the read waits longer, but not for as long as the keeper may take: see
      // KEEPER_ANSWER_MARGIN_MS (keeper-read-patience.ts).
      const entry = await within(flight, servable ? KEEPER_PATIENCE_MS : this.answerWaitMs);
      if (entry) return this.toRead(entry, this.now());
      flight.catch(() => undefined);
      const record = this.inflight.get(range);
      if (servable && record?.entry === flight) record.patienceOver = true;
      if (servable) return this.fallBack(range, cached!, new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `the keeper did not answer within ${KEEPER_PATIENCE_MS} ms`));
      throw this.readLog.tooSlow(range);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // Judged again: a write or a notice may have come while the read was on its way.
      const fallback = cached && typeof code === 'string' && FALL_BACK_ON.has(code) && this.mayFallBackTo(range, cached, this.now());
      if (fallback) return this.fallBack(range, cached, err);
      this.counts.errors++;
      throw err;
    }
  }

  /**
   * A call to the keeper, its refusal for serving another sheet logged (OtherSheetLog). The refusal
   * is not among FALL_BACK_ON: a copy in L1 is not served either, the request answers 503.
   */
  private async checked<T>(call: Promise<T>): Promise<T> {
    try {
      const answer = await call;
      this.otherSheet.answered();
      return answer;
    } catch (err) {
      if (err instanceof OtherSheetError) this.otherSheet.refused(err);
      throw err;
    }
  }

  private fallBack(range: string, cached: L1Entry, why: unknown): SheetRead {
    this.counts.staleFallbacks++;
    this.readLog.fellBack(range, why);
    return this.toRead(cached, this.now());
  }

  /**
   * One read per range at a time, shared by the callers that arrive meanwhile; but a caller that
   * arrives after its tab was written (or invalidated) does not join a read begun before: that
   * answer may lack the new rows (read-your-writes). A range the keeper does not hold goes on the
   * link's first-fill connections: the keeper may have to wait for Google for it, and those reads
   * must not hold up the reads of ranges it holds (keeper-link.ts): see firstRead(). `keep`: the
   * answer is stored in L1; false only for reads that keep no copy (ReadOptions), and a read
   * that keeps one joining such a read makes it store its answer. Reads that keep none share a
   * read all the same: ten exports of one tab at once are one request to the keeper, and the
   * worker holds one copy of the rows while they stream, not ten.
   */
  private fetch(range: string, held: boolean, keep: boolean): Promise<L1Entry> {
    const version = this.l1.versionOf(range);
    const ownWriteVersion = this.l1.ownWriteVersionOf(range);
    const joined = this.inflight.get(range);
    if (joined && joined.version === version) {
      if (keep) joined.keep = true;
      return joined.entry;
    }
    const path = `/read?range=${encodeURIComponent(range)}`;
    // The copy held is named to the keeper (`have`), which answers "unchanged" rather than its
    // rows when they are still these: the worker then keeps its arrays, and what the app built
    // from them, instead of parsing the tab again at every TTL. Whatever ended the copy's hold (a
    // notice, an own write, a new keeper), the keeper compares the rows it would answer now.
    const base = held ? this.l1.peek(range) : undefined;
    const have = base?.read.copy;
    const asked = have === undefined ? path : `${path}&have=${encodeURIComponent(have)}`;
    const flight: Flight = {
      version,
      startedAt: performance.now(),
      patienceOver: false,
      keep,
      entry: this.checked(this.firstRead(asked))
        .then((wire): L1Entry => {
          this.readLog.answered(range);
          const now = this.now();
          // An answer to a read begun before the tab was expired (an own append, a notice) that
          // comes back after a read begun since stored its copy does not take that copy's place:
          // the newer one has the rows, and is held. Stored over it (not held, may lack rows), it
          // sent every read back to the keeper, and while the keeper was away failed them (503).
          const store = !this.l1.newerThan(range, version);
          // A keeper of the build before (a reload's overlap) ignores `have`: its full answer is taken as it is.
          if (!('unchanged' in wire)) {
            const read = onOwnClock(wire, now);
            return flight.keep && store ? this.l1.set(range, read, now, version, ownWriteVersion) : this.l1.entryOf(range, read, now, version, ownWriteVersion);
          }
          // Only a copy held here is named (`have`), and a read that found one keeps its answer.
          const read = base && this.l1.unchangedRead(base, onOwnClock(wire, now));
          if (!read) throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `the keeper answered "unchanged" about a copy of ${range} this worker did not name`);
          this.counts.unchangedRefreshes++;
          return store ? this.l1.set(range, read, now, version, ownWriteVersion) : this.l1.entryOf(range, read, now, version, ownWriteVersion);
        })
        .finally(() => {
          if (this.inflight.get(range) === flight) this.inflight.delete(range);
        }),
    };
    this.inflight.set(range, flight);
    return flight.entry;
  }

  /**
   * Every read asks the keeper first, on the connections of held ranges, for its copy alone
   * (`held=only`, with the `have` of the copy this worker holds), which it answers at once, or
   * says it has none; only then does the read take a first-fill connection, where it may wait for
   * Google. Those are few, and with the read quota spent they were all held by reads waiting
   * for Google (a burst of exports, an app reading many ranges): a new worker's read of Players,
   * which the keeper held, queued behind them and failed after answerWaitMs with
   * CORRAL_ERR_KEEPER_SLOW (503) for minutes, while the other workers served it (audit). A copy
   * this worker holds is no sign that the keeper holds it (an export read an hour ago, past
   * SHEET_CACHE_MAX_STALE; a keeper restarted after a crash): such reads, sent straight on the
   * connections of held ranges, held all of them while the keeper waited for Google, and every
   * other read of this worker that needed the keeper queued behind them.
   */
  private async firstRead(path: string): Promise<WireReadAnswer> {
    const held = await this.link.call<WireReadAnswer | WireNotHeld>('GET', `${path}&held=only`);
    return 'held' in held && held.held === false ? this.link.firstFill<WireReadAnswer>(path) : (held as WireReadAnswer);
  }

  async records(range: string): Promise<SheetRecords> {
    return toRecords(await this.read(range));
  }

  async append(range: string, rows: readonly (readonly string[])[], options: AppendOptions = {}): Promise<AppendReceipt> {
    const body = JSON.stringify({ range, rows, ...(options.idempotency ? { idempotency: options.idempotency } : {}), ...(options.header ? { header: options.header } : {}) });
    // Refused here, before anything is sent: the keeper refuses a larger body by cutting the
    // connection mid-upload (server.ts), which the link took for an unreachable keeper, so the
    // append was sent whole again, then failed CORRAL_ERR_KEEPER_UNAVAILABLE (the app's 503 "the
    // sheet cannot be reached": a retry that can never succeed), and during a keeper restart it
    // was sent again every 200 ms until the window ended.
    const bytes = Buffer.byteLength(body);
    if (bytes > MAX_APPEND_BYTES) {
      throw new CorralError('CORRAL_ERR_APPEND_INVALID', `append body of ${bytes} bytes is over the ${MAX_APPEND_BYTES} bytes the keeper takes; nothing was sent: send the rows in smaller appends`);
    }
    // The link's one retry after a dropped connection is safe with a key too: the keeper either
    // journaled the first (the retry gets its answer back) or did not. On the link's write
    // connections: never queued behind reads that wait at the keeper for Google.
    const receipt = await this.checked(this.link.write<WireReceipt>('/append', body));
    this.counts.appends++;
    // Read-your-writes in this worker: the next read asks the keeper, which merges the journal.
    let sheet: string | undefined;
    try {
      sheet = parseA1(range).sheet ?? '';
    } catch {
      sheet = undefined;
    }
    this.l1.noteOwnWrite(sheet);
    return { id: receipt.id, rows: receipt.rows, ...(receipt.replayed !== undefined ? { replayed: receipt.replayed } : {}) };
  }

  async settleLogin(nameHash: string, failed: boolean, windowMs: number, timeoutMs: number): Promise<SharedLoginCount> {
    const body = JSON.stringify({ name_hash: nameHash, failed, window_ms: windowMs });
    const answer = await this.checked(this.link.brief<WireLoginCount>('POST', '/login', body, timeoutMs));
    if (!answer.shared) throw new CorralError(answer.refused === undefined ? 'CORRAL_ERR_REDIS' : 'CORRAL_ERR_REDIS_REFUSED', answer.reason);
    if (typeof answer.failures !== 'number' || typeof answer.msLeft !== 'number') throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', 'keeper sent a malformed login count');
    return { failures: answer.failures, msLeft: answer.msLeft };
  }

  figures(): Readonly<Record<string, number | string | boolean | null>> {
    const maxStale = this.maxStaleSeen;
    this.maxStaleSeen = 0;
    return {
      sheetsBackend: this.backend,
      l1Hits: this.counts.hits,
      l1Misses: this.counts.misses,
      l1Entries: this.l1.size,
      l1Bytes: this.l1.bytes,
      l1StaleFallbacks: this.counts.staleFallbacks,
      // L1 hits of a copy past its TTL (a stale answer of the keeper's, held a moment).
      l1StaleHits: this.counts.staleHits,
      // Refreshes the keeper answered "unchanged": the copy's rows kept, only its times moved on.
      l1UnchangedRefreshes: this.counts.unchangedRefreshes,
      sheetsReadErrors: this.counts.errors,
      sheetsAppends: this.counts.appends,
      keeperRetries: this.link.retries,
      keeperUnavailable: this.link.failures,
      sheetsMaxStaleSeconds: maxStale,
    };
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.watchAbort.abort();
      await this.link.close();
      this.l1.clear();
    })();
    return this.closed;
  }
}

/**
 * The worker's Sheets client. Connects lazily: creating it never fails, even before the keeper
 * is up; calls made while the keeper is unreachable are retried once, then fail with
 * CORRAL_ERR_KEEPER_UNAVAILABLE (reads fall back to this worker's last copy when it has one); while
 * the master restarts the keeper on purpose, they wait for the new one (keeper-restart-window.ts).
 */
export function createWorkerSheetsClient(settings: WorkerSheetsSettings, logger: Logger, options: WorkerClientOptions = {}): SheetsClient {
  return new WorkerSheetsClient(settings, logger, options);
}
