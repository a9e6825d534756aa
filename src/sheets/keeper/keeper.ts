// The keeper: the one-per-host owner of everything between the workers and the Sheets backend
// (host-wide cache with single-flight and stale-while-revalidate, the quota buckets, the durable
// write journal and its flusher), serving the workers on a local socket.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Settings } from '../../config/schema.js';
import { CorralError, DataDirWriteError, describeError, JournalFullError, RetryLaterError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { makeDirs } from '../../make-dirs.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';
import type { SheetsBackend } from '../backend.js';
import { destinationDigest, destinationOf } from '../destination.js';
import { firstRowOf } from '../a1.js';
import { saveCacheHandoff, takeCacheHandoff, type TakenHandoff } from './cache-handoff.js';
import { JournalSlowSyncLog } from './slow-sync-log.js';
import { ChangeFeed, type WatchAnswer } from './change-feed.js';
import { CopyIdentities } from './copy-identity.js';
import { systemClock, type Clock } from './clock.js';
import { Flusher, type HeaderCopy } from './flusher.js';
import { logHeldForOtherSheet } from './held-rows-log.js';
import { watchKeeperFiles } from './file-watch.js';
import { Journal, sheetKey, type Receipt } from './journal.js';
import { acquireKeeperLock, type KeeperLock } from './lock.js';
import { reportOtherSheetHolder } from './lock-holder.js';
import { fetchRangeFor, mergePending, showsJournaledRows } from './merge.js';
import { AnswerMemo, answerPieces } from './answer-memo.js';
import { pacer, type AfterAttempt, type BeforeAttempt } from './pacing.js';
import type { WireLoginCount, WireRead, WireUnchanged } from './protocol.js';
import { QuotaBucket } from './quota.js';
import { QuotaLedger } from './quota-ledger.js';
import { QuotaRefusals } from './quota-refusals.js';
import { ReadTier, type TierRead } from './read-tier.js';
import { KeeperServer } from './server.js';
import { SheetSharing } from './sheet-sharing.js';
import { checkSocketDir, dataDirOf, socketOutsideDataDir } from './socket-path.js';
import { UpstreamMeter } from './upstream-meter.js';
import { JournalWriteFailureLog } from './write-failure-log.js';
import { isNoRoom, SpaceProbe } from './space-probe.js';
import { reportOversizedJournal } from './journal-size-check.js';
import { JOURNAL_FILE } from './journal-open.js';
import { StartedAfterFailure } from '../../log/started-after-failure.js';
import { BacklogFullLog } from './backlog-full-log.js';

const CLOSING_BRACE = Buffer.from('}');
/** Of a drain's time, what is kept for the cache handoff after the flush (a write and two fsyncs). */
const HANDOFF_RESERVE_MS = 1000;

/**
 * mkdir's mode applies only to a directory it creates: a data dir made before corral set its
 * modes, or by hand, keeps what it had, and other local users may read the login codes (offline
 * sheet), the journal and the session secret in it. Said at each keeper start while it lasts.
 */
async function warnIfOpenToOthers(dataDir: string, logger: Logger): Promise<void> {
  const mode = (await stat(dataDir)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  logger.warn(
    { event: 'datadir.open_to_others', dataDir, mode: mode.toString(8) },
    `keeper: the data dir ${dataDir} is open to other local users (mode ${mode.toString(8)}), and holds the login codes (offline sheet), the journal and the session secret: run chmod -R go= ${dataDir}`,
  );
}

/** The journal's key of the tab a range reads (the range itself when it does not parse). */
function sheetOfRange(range: string): string {
  try {
    return sheetKey(range);
  } catch {
    return range;
  }
}

export type KeeperSettings = Pick<
  Settings,
  | 'CORRAL_DATA_DIR'
  | 'SHEET_CACHE_TTL'
  | 'SHEET_CACHE_MAX_STALE'
  | 'SHEETS_READS_PER_MINUTE'
  | 'SHEETS_WRITES_PER_MINUTE'
  | 'SHEETS_FLUSH_INTERVAL_MS'
  | 'SHEETS_JOURNAL_MAX_MB'
  | 'CORRAL_L1_CACHE_MB'
  | 'CORRAL_IDEMPOTENCY_TTL'
  | 'CORRAL_IDEMPOTENCY_KEYS'
  | 'CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER'
  | 'REDIS_URL'
  | 'REDIS_TLS_CA_FILE'
  | 'SHEETS_TIMEOUT'
> &
  // The sheet a waiting keeper names to the lock's holder (lock-holder.ts); tests' settings may leave them out.
  Partial<Pick<Settings, 'SHEET_ID' | 'SHEETS_API_URL'>>;

export interface KeeperOptions {
  readonly settings: KeeperSettings;
  readonly logger: Logger;
  /**
   * Opens the backend with the quota hook to run before every upstream attempt (Google's client
   * takes it as `beforeAttempt`; other backends are wrapped with `paced()`). The keeper owns and
   * closes the backend. `afterAttempt` is told how each such call ended: Google's 429s hold the
   * bucket the call drew from (quota-refusals.ts).
   */
  readonly openBackend: (beforeAttempt: BeforeAttempt, afterAttempt: AfterAttempt) => Promise<SheetsBackend>;
  /** Where to listen; undefined = no server (in-process use by tests). */
  readonly socketPath: string | undefined;
  readonly clock?: Clock;
  /** Waiters allowed in the read quota queue (default: one minute of quota). */
  readonly readQueueMax?: number;
  /** How long to wait for a previous keeper to release the data dir. */
  readonly lockWaitMs?: number;
  readonly unsureDelayMs?: number;
  /** Told as the journal is read at start, chunk by chunk (JournalOptions.onOpenProgress). */
  readonly onJournalProgress?: (readBytes: number, totalBytes: number) => void;
}

export interface KeeperRead extends WireRead {
  readonly via: TierRead['via'];
}

export class Keeper {
  backend!: SheetsBackend;
  private readonly feed = new ChangeFeed();
  /** Reads as answered, made once per copy (answer-memo.ts). */
  private readonly answers = new AnswerMemo();
  /** What names each copy answered, for the workers' refreshes of a copy they hold (copy-identity.ts). */
  private readonly copies = new CopyIdentities(this.feed.epoch);
  /** Reads answered "unchanged": the worker held the copy, and no rows were sent (its figure). */
  private unchangedAnswers = 0;
  private readonly clock: Clock;
  private readonly meter: UpstreamMeter;
  private readonly readQuota: QuotaBucket;
  private readonly writeQuota: QuotaBucket;
  private readonly refusals: QuotaRefusals;
  private tier!: ReadTier;
  private server: KeeperServer | undefined;
  private flusher!: Flusher;
  private journal!: Journal;
  private lock: KeeperLock | undefined;
  private ledger: QuotaLedger | undefined;
  /** The quota, ranges and failed logins shared with the sheet's other hosts (REDIS_URL, Google only). */
  private sharing: SheetSharing | undefined;
  private closed: Promise<void> | undefined;
  /** Stops the checks of the journal and socket files (file-watch.ts). */
  private stopFileWatch: (() => void) | undefined;
  private readonly writeFailures: JournalWriteFailureLog;
  /** While appends are refused for want of room: finds the room back with no append (space-probe.ts). */
  private readonly spaceProbe: SpaceProbe;
  private readonly backlogFull: BacklogFullLog;
  private readonly appendTickets = new StartedAfterFailure<'write' | 'full'>();
  private evictionsReported = 0;
  private evictionsReportedAt = -Infinity;

  private constructor(private readonly o: KeeperOptions) {
    const s = o.settings;
    const clock = o.clock ?? systemClock;
    this.clock = clock;
    this.meter = new UpstreamMeter(clock);
    this.writeFailures = new JournalWriteFailureLog(o.logger, () => clock.now());
    this.spaceProbe = new SpaceProbe({ dir: dataDirOf(s), clock, onRoom: () => this.writeFailures.roomFound() });
    this.backlogFull = new BacklogFullLog(o.logger, () => clock.now());
    this.readQuota = new QuotaBucket({ name: 'sheets reads', perMinute: s.SHEETS_READS_PER_MINUTE, maxQueue: o.readQueueMax ?? s.SHEETS_READS_PER_MINUTE, clock });
    // The flusher is the only writer and waits for one token at a time: a small queue is enough.
    this.writeQuota = new QuotaBucket({ name: 'sheets writes', perMinute: s.SHEETS_WRITES_PER_MINUTE, maxQueue: 16, clock });
    // A 429 while this host spends its share alone (Redis away) is the other hosts' calls, not a lower quota.
    this.refusals = new QuotaRefusals({ read: this.readQuota, write: this.writeQuota }, o.logger, clock, Math.random, (kind) => this.sharing?.quota.actedAlone(kind) ?? false);
  }

  private startTier(): void {
    const s = this.o.settings;
    this.tier = new ReadTier({
      backend: this.backend,
      logger: this.o.logger,
      ttlMs: s.SHEET_CACHE_TTL * 1000,
      maxStaleMs: s.SHEET_CACHE_MAX_STALE * 1000,
      // The host tier holds what every worker's L1 holds, and then some.
      maxBytes: s.CORRAL_L1_CACHE_MB * 4 * 1024 * 1024,
      budgetSetting: 'CORRAL_L1_CACHE_MB (the keeper holds 4 times it)',
      // The host's bucket, and the window the sheet's hosts share (a token of the first is no slot of the second).
      // A read with no copy, which a client waits for: a new fetch goes behind the client reads
      // queued before it; one joining a fetch already queued waits at least for the head's token.
      readQuotaWaitMs: (joining) => Math.max(joining ? this.readQuota.msUntilFree() : this.readQuota.msUntilTurn(true), this.sharing?.quota.msUntilSlot('read') ?? 0),
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      onChange: (range) => this.feed.publish(sheetKey(range)),
      ...(this.sharing
        ? {
            shared: this.sharing.ranges,
            // Before the journal opens no read is answered (the server listens after it).
            acceptShared: (range: string, fetchStartedAt: number) => this.journal !== undefined && !this.journal.forgotAfter(sheetOfRange(range), fetchStartedAt),
            sharedWaitMs: s.SHEETS_TIMEOUT * 1000,
          }
        : {}),
    });
  }

  /** Where the quota and cache are shared (the Redis URL without its password), or null. */
  get sharedThrough(): string | null {
    return this.sharing?.target ?? null;
  }

  /** Takes the data dir lock, replays the journal, starts the flusher and (optionally) the server. */
  static async start(o: KeeperOptions): Promise<Keeper> {
    const k = new Keeper(o);
    const s = o.settings;
    const dataDir = dataDirOf(s);
    // Private to the service's user: the offline sheet (players' codes), the journal (their
    // events) and the session secret live here, and other local users have no business listing it.
    // A data dir that cannot be made (a file there, or above it; read-only, full) is the operator's
    // to fix, as a journal that cannot be written is: exit 7 naming it, not a bare EEXIST and an
    // exit 1 the master restarts as if it could pass. Settings judge this first (path-checks.ts).
    await makeDirs(dataDir, PRIVATE_DIR_MODE).catch((err: unknown) => {
      throw new DataDirWriteError('the data dir (CORRAL_DATA_DIR)', dataDir, err);
    });
    await warnIfOpenToOthers(dataDir, o.logger);
    k.lock = await acquireKeeperLock(dataDir, o.lockWaitMs ?? 15_000, (pid) => {
      o.logger.info({ event: 'keeper.lock_wait', pid }, 'keeper: waiting for the previous keeper to release the data dir');
      // Not awaited: the wait goes on whatever the holder answers (lock-holder.ts says why it is asked).
      if (o.socketPath) void reportOtherSheetHolder(o.logger, o.socketPath, destinationDigest(destinationOf(s)), pid);
    });
    try {
      // Under the lock and before the first call: what the previous keeper spent this minute counts.
      k.ledger = QuotaLedger.open(dataDir, { reads: k.readQuota, writes: k.writeQuota }, o.logger);
      k.backend = await o.openBackend(
        pacer(k.readQuota, k.writeQuota, k.meter, (kind, signal, onWait) => k.sharing?.quota.take(kind, signal, onWait)),
        (info, error) => k.refusals.attempted(info.kind, error),
      );
      const ledger = k.ledger;
      k.sharing = await SheetSharing.open(s, k.backend, o.logger, {
        ...(o.clock ? { clock: o.clock } : {}),
        // The previous keeper's grants, restored into the buckets just above, and its count of
        // the keepers present: a keeper started while Redis is away spends its share, not the limit.
        before: { keepers: ledger.keepersSeen(), grants: { read: k.readQuota.recentGrants(), write: k.writeQuota.recentGrants() } },
        onKeepersSeen: (seen) => ledger.recordKeepers(seen),
      });
      k.startTier();
      // Before the journal opens: its done entries are kept while a copy from before them is
      // served, and the restored copies are such copies (cache-handoff.ts).
      await k.restoreCache(dataDir);
      const journalPath = join(dataDir, JOURNAL_FILE);
      await reportOversizedJournal(o.logger, journalPath, s.SHEETS_JOURNAL_MAX_MB * 1024 * 1024);
      const slowSyncs = new JournalSlowSyncLog(o.logger, journalPath, () => k.clock.now());
      const { journal, replayed, quarantined, heldForOtherSheets } = await Journal.open({
        dir: dataDir,
        destination: k.backend.destination,
        ...(o.clock ? { clock: o.clock } : {}),
        ...(o.unsureDelayMs !== undefined ? { unsureDelayMs: o.unsureDelayMs } : {}),
        idempotencyTtlMs: s.CORRAL_IDEMPOTENCY_TTL * 1000,
        idempotencyKeysMax: s.CORRAL_IDEMPOTENCY_KEYS,
        maxBacklogBytes: s.SHEETS_JOURNAL_MAX_MB * 1024 * 1024,
        ...(o.onJournalProgress ? { onOpenProgress: o.onJournalProgress } : {}),
        idempotencyKeysPerOwner: s.CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER,
        copyOlderThan: (sheet, doneAt) => k.tier.hasValueFetchedBy((range) => sheetOfRange(range) === sheet, doneAt),
        onFileReplaced: (what, d) =>
          o.logger.error(
            { event: 'journal.replaced', code: 'CORRAL_ERR_KEEPER_FILES_REMOVED', journal: journalPath, what, expectedBytes: d.expectedBytes, foundBytes: d.foundBytes ?? null, rowsNotInSheet: d.rowsNotInSheet },
            `keeper: the write journal ${journalPath} was ${what} while the keeper ran, by something other than corral (${d.rowsNotInSheet} acknowledged rows not yet in the sheet were only in its memory); writing it again from memory before the next append: find what removes or edits files in ${dataDir}`,
          ),
        onSlowSync: (ms, bytes) => slowSyncs.said(ms, bytes),
        onCompactionFailed: (err, bytes) =>
          o.logger.warn(
            { event: 'journal.compact_failed', dataDir, bytes, err: describeError(err) },
            `keeper: cannot rewrite the write journal in ${dataDir} (${err.message}); it is appended to as it is and grows until the rewrite succeeds: free space there or make it writable`,
          ),
      });
      k.journal = journal;
      journal.onChange((sheet) => k.feed.publish(sheet));
      if (quarantined?.mayHoldAcknowledged) {
        const { skippedLines, skippedBytes, truncatedBytes } = replayed;
        o.logger.warn(
          { event: 'journal.damaged', journal: journal.path, quarantine: quarantined.path, skippedLines, skippedBytes, truncatedBytes, pieces: quarantined.pieces },
          `keeper: damaged bytes were removed from the write journal after a copy to ${quarantined.path}: inspect it; a row in it that a user was told was saved ` +
            'and that the sheet lacks is lost to corral and can be re-entered by hand; then delete the file (the valid records are kept; a damaged line may have been the send record of rows ' +
            'Google has, so every pending entry is read back before it is sent)',
        );
      } else if (quarantined) {
        // A write cut short by a crash is expected and was never acknowledged: its bytes are kept
        // all the same (they cost a few bytes). A file cut by something else (a truncation, a
        // restore of an older copy) looks the same and may have taken acknowledged rows: when
        // the cut bytes began rows, they are named, at warn, so that the sheet can be checked.
        const rows = quarantined.cutRows;
        const fields = { event: 'journal.torn_tail', journal: journal.path, quarantine: quarantined.path, truncatedBytes: replayed.truncatedBytes, rows };
        const said = `keeper: the write journal ended in a write cut short, as a crash cuts one (never acknowledged); truncated, its bytes copied to ${quarantined.path}`;
        if (rows.length === 0) o.logger.info(fields, said);
        else {
          o.logger.warn(
            fields,
            `${said}. It began ${rows.length} row${rows.length === 1 ? '' : 's'} (${rows.slice(0, 10).join(', ')}${rows.length > 10 ? ', ...' : ''}): ` +
              'after a crash their clients were told nothing and retry; if something other than a crash cut the file (a truncation, an older copy put back), they may have been acknowledged: check the sheet for them before deleting that file',
          );
        }
      }
      for (const held of heldForOtherSheets) logHeldForOtherSheet(o.logger, journal.path, held, k.backend.destination, k.clock.now());
      if (replayed.pending + replayed.unsure > 0 || replayed.truncatedBytes > 0 || replayed.skippedLines > 0) {
        o.logger.info({ event: 'journal.replayed', journal: journal.path, ...replayed }, 'keeper: replaying the write journal (unsure entries are read back before any resend)');
      }
      k.flusher = new Flusher({
        journal,
        backend: k.backend,
        writeQuota: k.writeQuota,
        readQuota: k.readQuota,
        logger: o.logger,
        intervalMs: s.SHEETS_FLUSH_INTERVAL_MS,
        headerOf: (range, opts) => k.headerRow(range, opts),
        ...(o.clock ? { clock: o.clock } : {}),
        ...(o.unsureDelayMs !== undefined ? { unsureDelayMs: o.unsureDelayMs } : {}),
      });
      if (o.socketPath) {
        if (socketOutsideDataDir(o.socketPath, dataDir)) checkSocketDir(o.socketPath, { create: true });
        k.server = new KeeperServer(
          o.socketPath,
          {
            read: (range, heldOnly, have) => (heldOnly && !k.holds(range) ? Promise.resolve(undefined) : k.readAnswer(range, have)),
            append: (range, rows, idempotency, header) => k.append(range, rows, idempotency, header),
            watch: (since, epoch, timeoutMs) => k.watch(since, epoch, timeoutMs),
            settleLogin: (nameHash, failed, windowMs) => k.settleLogin(nameHash, failed, windowMs),
            figures: () => k.figures(),
          },
          o.logger,
          destinationDigest(k.backend.destination),
        );
        await k.server.listen();
      }
      k.flusher.start();
      k.stopFileWatch = watchKeeperFiles({ journal, server: k.server, socketPath: o.socketPath, logger: o.logger, lock: k.lock });
      return k;
    } catch (err) {
      await k.close();
      throw err;
    }
  }

  /** Takes the cache a draining keeper handed over, if it is of this sheet; never fails the start. */
  private async restoreCache(dataDir: string): Promise<void> {
    const s = this.o.settings;
    const now = this.clock.now();
    let taken: TakenHandoff;
    try {
      taken = await takeCacheHandoff(dataDir, this.backend.source, now, (s.SHEET_CACHE_TTL + s.SHEET_CACHE_MAX_STALE) * 1000);
    } catch (err) {
      // Unreadable, or its deletion not durable: not used, since a later start could take it again.
      this.o.logger.warn({ event: 'sheets.cache_handoff_ignored', dataDir, err: describeError(err) }, `keeper: cannot take the cache the previous keeper handed over in ${dataDir} (${(err as Error).message}); starting with an empty cache`);
      return;
    }
    if (taken.kind === 'none') return;
    if (taken.kind === 'ignored') {
      this.o.logger.info({ event: 'sheets.cache_handoff_ignored', dataDir, reason: taken.reason }, `keeper: not using the cache the previous keeper handed over: ${taken.reason}`);
      return;
    }
    if (taken.values.length === 0) {
      const reason = `its ${taken.tooOld} range${taken.tooOld === 1 ? ' is' : 's are'} older than SHEET_CACHE_TTL + SHEET_CACHE_MAX_STALE`;
      this.o.logger.info({ event: 'sheets.cache_handoff_ignored', dataDir, reason, too_old: taken.tooOld }, `keeper: not using the cache the previous keeper handed over: ${reason}`);
      return;
    }
    const ranges = this.tier.restore(taken.values);
    const oldest = taken.values.reduce((age, v) => Math.max(age, now - v.fetchedAt), 0);
    this.o.logger.info(
      { event: 'sheets.cache_restored', ranges, too_old: taken.tooOld, oldest_age_s: Math.round(oldest / 1000), handed_over_s_ago: Math.round((now - taken.savedAt) / 1000) },
      `keeper: serving ${ranges} cached range${ranges === 1 ? '' : 's'} the previous keeper handed over (oldest fetched ${Math.round(oldest / 1000)} s ago), refreshed by their TTL`,
    );
  }

  /** Hands the cache to the next keeper; a failure costs only its first reads (logged). */
  private async handOverCache(): Promise<void> {
    // The offline sheet is read from local files in milliseconds: nothing to spare, and an
    // operator who edits its CSV files and restarts reads them at once, as before.
    if (this.backend.kind === 'offline') return;
    const dataDir = dataDirOf(this.o.settings);
    const values = this.tier.servableValues();
    if (values.length === 0) return;
    try {
      const bytes = await saveCacheHandoff(dataDir, this.backend.source, values, this.clock.now());
      this.o.logger.info({ event: 'sheets.cache_handed_over', ranges: values.length, bytes }, `keeper: ${values.length} cached range${values.length === 1 ? '' : 's'} handed over to the next keeper`);
    } catch (err) {
      this.o.logger.warn(
        { event: 'sheets.cache_handover_failed', dataDir, err: describeError(err) },
        `keeper: cannot write the cache for the next keeper in ${dataDir} (${(err as Error).message}); it starts empty, and its first reads wait for Google`,
      );
    }
  }

  /**
   * The read, and the JSON of its values as pieces of bytes (made only when asked: an answer
   * "unchanged" sends none).
   */
  private async resolve(range: string): Promise<{ read: KeeperRead & { readonly copy: string }; valuesJson: () => readonly Buffer[] }> {
    // A read right of column A is fetched from column A, for the merge to see the rows' ids.
    const fetched = fetchRangeFor(range);
    let r: TierRead;
    try {
      r = await this.tier.get(fetched);
    } catch (err) {
      // A range in backoff says when it is tried again: the app's 503 tells the client so.
      const retryIn = this.tier.retryIn(fetched);
      if (retryIn === undefined || !(err instanceof CorralError)) throw err;
      // The longer of the two: a full quota queue's wait for its next token outlasts the range's backoff.
      throw new RetryLaterError(err.code, err.message, Math.max(retryIn, err instanceof RetryLaterError ? err.retryAfterMs : 0), { cause: err });
    }
    const v = r.value;
    // The journaled rows the answer may show, none for a read that cannot show them: each worker
    // reads the header row again after each append, and with a backlog of 50k rows (a Google
    // outage) listing and naming them cost 45 ms of this loop per read, a cliff for every POST.
    const pending = showsJournaledRows(range, v.values) ? this.journal.rowsFor(sheetOfRange(range), v.fetchStartedAt) : [];
    // Named before anything is merged: a worker's refresh of the copy it holds, and every other
    // worker's read of a copy already answered, cost no merge (answer-memo.ts).
    const copy = this.copies.of(v.jsonBytes, pending);
    const answer = this.answers.get(v.jsonBytes, range, copy) ?? this.answers.keep(v.jsonBytes, range, copy, mergePending(range, v.values, pending));
    const read = {
      range,
      values: answer.values,
      fetchedAt: v.fetchedAt,
      expiresAt: v.expiresAt,
      stale: r.stale,
      staleSeconds: r.staleSeconds,
      pendingRows: answer.added,
      backend: this.backend.kind,
      now: this.clock.now(),
      copy,
      via: r.via,
    };
    const valuesJson = (): readonly Buffer[] => (answer.pieces ??= answerPieces(answer, v.values, v.jsonBytes));
    return { read, valuesJson };
  }

  /**
   * The header row of `range` (its first row, from the range's first column) as the tab has it, from
   * a copy this keeper fetched no longer than SHEET_CACHE_TTL ago: the flusher writes rows
   * journaled with the header they were built under beneath this one. The same range and copy
   * the app's header reads use (`Events!1:1`), so it costs no read of its own while events come.
   * `wait: false`: undefined when no such copy is held (a drain does not wait for Google).
   */
  private async headerRow(range: string, opts: { wait: boolean }): Promise<HeaderCopy | undefined> {
    const headerRange = firstRowOf(range);
    const copy = await this.tier.getFresh(fetchRangeFor(headerRange), opts);
    if (!copy) return undefined;
    // Cut to the range's columns, as a read of it is answered (a range right of column A is fetched from A).
    return { header: mergePending(headerRange, copy.values, []).values[0] ?? [], fetchedAt: copy.fetchedAt };
  }

  /**
   * Whether a read of `range` is answered from this keeper's copy without waiting (fresh, or stale
   * within SHEET_CACHE_MAX_STALE): a worker holding no copy of its own asks this first, so that a
   * range the keeper holds is not queued behind the worker's first fills waiting for Google.
   */
  holds(range: string): boolean {
    return this.tier.holdsServable(fetchRangeFor(range));
  }

  /** A cached read with this host's journaled rows for the tab merged in. */
  async read(range: string): Promise<KeeperRead> {
    return (await this.resolve(range)).read;
  }

  /**
   * The same read as the JSON bytes the socket sends, in pieces written one after the other.
   * Serialising a big tab on every read would cost the keeper's single loop what the cache saves,
   * so the values' JSON is made once per copy (answer-memo.ts), and with nothing pending (the
   * common case) it is the read tier's, sent as is: the same bytes for every worker, never
   * copied. A string built per answer
   * was copied twice on its way to the socket (flattened, then encoded): several workers asking
   * for a tab of 300k rows at once held a copy each, hundreds of MB of the keeper's peak.
   */
  async readAnswer(range: string, have?: string): Promise<readonly Buffer[]> {
    const { read, valuesJson } = await this.resolve(range);
    const { values: _values, ...rest } = read;
    // The worker holds these very rows (`have`, copy-identity.ts): only the new times go back,
    // and it keeps its rows and everything it built from them.
    if (have !== undefined && have === read.copy) {
      this.unchangedAnswers++;
      return [Buffer.from(JSON.stringify({ ...rest, unchanged: true } satisfies WireUnchanged))];
    }
    const pieces = valuesJson();
    const head = JSON.stringify(rest);
    return [Buffer.from(`${head.slice(0, -1)},"values":`), ...pieces, CLOSING_BRACE];
  }

  /**
   * `idempotency`: an optional claim {key, fingerprint, answer} (keeper/idempotency-keys.ts);
   * `header`: the header row the rows were built under (header-mapping.ts).
   */
  async append(range: string, rows: unknown, idempotency?: unknown, header?: unknown): Promise<Receipt> {
    const ticket = this.appendTickets.begin();
    try {
      const receipt = await this.journal.add(range, rows, idempotency, header);
      // Only an append begun after a refusal says it is over (started-after-failure.ts).
      if (this.appendTickets.beganAfter('write', ticket)) {
        this.writeFailures.succeeded();
        this.spaceProbe.cancel();
      }
      if (this.appendTickets.beganAfter('full', ticket)) this.backlogFull.accepted(this.journal.backlogBytes(), this.journal.backlogCapBytes);
      return receipt;
    } catch (err) {
      if (err instanceof DataDirWriteError) {
        this.appendTickets.failed('write');
        this.writeFailures.failed(err);
        if (isNoRoom(err.errno)) this.spaceProbe.noRoom();
        else this.spaceProbe.cancel();
      }
      if (err instanceof JournalFullError) {
        this.appendTickets.failed('full');
        this.backlogFull.refusedAt(err, () => this.journal.backlogRows());
      }
      throw err;
    } finally {
      this.reportEvictions();
    }
  }

  /**
   * At the cap the oldest idempotency keys are forgotten before their time: said at most once a
   * minute, with how many since the last line, so an operator can raise CORRAL_IDEMPOTENCY_KEYS.
   */
  private reportEvictions(): void {
    const { keys, evicted } = this.journal.idempotencyFigures();
    if (evicted === this.evictionsReported) return;
    const now = this.clock.now();
    if (now - this.evictionsReportedAt < 60_000) return;
    this.o.logger.warn(
      { event: 'idempotency.keys_evicted', evicted: evicted - this.evictionsReported, keys, max: this.o.settings.CORRAL_IDEMPOTENCY_KEYS },
      'keeper: idempotency keys were forgotten before CORRAL_IDEMPOTENCY_TTL because CORRAL_IDEMPOTENCY_KEYS were held; a retry with one of them would write a new row',
    );
    this.evictionsReported = evicted;
    this.evictionsReportedAt = now;
  }

  /**
   * A name's failed logins counted by all the sheet's hosts, a failure (`failed`) counted first;
   * or why there is no such count now (the worker's host count then decides alone).
   */
  async settleLogin(nameHash: string, failed: boolean, windowMs: number): Promise<WireLoginCount> {
    if (!this.sharing) return { shared: false, reason: 'no shared count: REDIS_URL is unset or the sheet is not a Google sheet' };
    return this.sharing.settleLogin(nameHash, failed, windowMs);
  }

  watch(since: number, epoch: string | undefined, timeoutMs: number): Promise<WatchAnswer> {
    return this.feed.wait(since, epoch, timeoutMs);
  }

  /** One flush pass now (tests; the timer does this every SHEETS_FLUSH_INTERVAL_MS). */
  flush(): ReturnType<Flusher['flushOnce']> {
    return this.flusher.flushOnce({ wait: true });
  }

  /** The `extra` figures of the keeper's heartbeat. */
  /** Calls of `kind` holding this host's token but waiting on the window shared through Redis. */
  private sharedWaits(kind: 'read' | 'write'): number {
    return this.sharing?.quota.waitingOn(kind) ?? 0;
  }

  figures(): Record<string, number | string | boolean | null> {
    return {
      backend: this.backend.kind,
      ...this.tier.figures(),
      ...this.flusher.figures(),
      // Every call that reached the backend, retries and read-backs included (the meter counts
      // each quota token paid), so it agrees with the per-minute figure.
      upstreamCallsTotal: this.meter.total('read') + this.meter.total('write'),
      upstreamCallsPerMinute: this.meter.perMinute('read') + this.meter.perMinute('write'),
      upstreamReadsPerMinute: this.meter.perMinute('read'),
      upstreamWritesPerMinute: this.meter.perMinute('write'),
      // With the quota shared, a call waiting on the shared window means none is left for now,
      // whatever this host's own bucket holds; and it waits as much as one queued here.
      readTokensLeft: this.sharedWaits('read') > 0 ? 0 : this.readQuota.tokensLeft(),
      writeTokensLeft: this.sharedWaits('write') > 0 ? 0 : this.writeQuota.tokensLeft(),
      readQueue: this.readQuota.queued() + this.sharedWaits('read'),
      // Read grants that went ahead of earlier waiters: reads a client waited for, served before
      // background refreshes (read-cause.ts).
      readGrantsAhead: this.readQuota.stats().ahead,
      journalBacklogRows: this.journal.backlogRows(),
      // Rows journaled for another sheet (SHEET_ID changed while they waited): never sent here.
      journalHeldRows: this.journal.heldRows(),
      // Appends refused because the journal could not be written (disk full): the app answers them
      // 503 not_saved. journalWritable is false from a refusal until an append is written again.
      journalWritable: !this.writeFailures.failing,
      journalAppendsRefused: this.writeFailures.refused,
      // The backlog against its cap (SHEETS_JOURNAL_MAX_MB): at the cap appends are refused,
      // answered 503 not_saved, counted in journalAppendsRefusedFull. journalFull (health's
      // `journal: full`, `corral status`) ends as soon as the flusher has brought the backlog under
      // the cap, when the next append would be journaled, not only once one is: the backlog
      // drained overnight left health degraded until the first player's event.
      journalBacklogBytes: this.journal.backlogBytes(),
      journalBacklogMaxBytes: this.journal.backlogCapBytes,
      journalFull: this.backlogFull.full && this.journal.backlogBytes() >= this.journal.backlogCapBytes,
      journalAppendsRefusedFull: this.backlogFull.refused,
      journalOldestRowSeconds: this.oldestBacklogSeconds(),
      journalBytes: this.journal.fileBytes(),
      journalFsyncs: this.journal.fsyncs(),
      idempotencyKeys: this.journal.idempotencyFigures().keys,
      idempotencyKeysEvicted: this.journal.idempotencyFigures().evicted,
      idempotencyKeysEvictedByPlayerShare: this.journal.idempotencyFigures().ownerEvicted,
      keeperRequests: this.server?.stats().requests ?? 0,
      // Reads of a copy the worker held whose rows had not changed: answered without them.
      unchangedAnswers: this.unchangedAnswers,
      // Absent without REDIS_URL (an absent series reads as "not used", a 0 as "down").
      ...this.sharing?.figures(),
    };
  }

  /**
   * Age of the oldest journaled row Google does not have yet (0 with none). The backlog's row
   * count cannot tell a busy minute from rows stuck for hours behind a failing append; this can,
   * and is what an alert on the write path watches.
   */
  private oldestBacklogSeconds(): number {
    const oldest = this.journal.oldestBacklogAt();
    return oldest === undefined ? 0 : Math.max(0, Math.floor((this.clock.now() - oldest) / 1000));
  }

  connections(): Promise<number> {
    return this.server?.connections() ?? Promise.resolve(0);
  }

  requestStats(): { requests: number; errors: number } {
    return this.server?.stats() ?? { requests: 0, errors: 0 };
  }

  /** p99 of the keeper's answers to reads and appends since the last call, in ms. */
  takeLatencyP99(): number {
    return this.server?.takeLatencyP99() ?? 0;
  }

  /**
   * Drain: stop accepting workers, flush the journal as far as the write quota allows before
   * `deadline` (a time of the keeper's clock), hand the cache to the next keeper, then close.
   * Returns the rows left in the journal for the next start.
   */
  async drain(deadline: number): Promise<number> {
    this.server?.stopAccepting();
    this.feed.close();
    this.flusher.stop();
    // The flush stops short of the deadline, so that the handoff still fits: a hung or failing
    // Google can hold the flush to its end, and that is when the next keeper needs the cache most
    // (it cannot fetch). Rows not sent stay journaled for it either way.
    const flushDeadline = Math.max(this.clock.now(), deadline - HANDOFF_RESERVE_MS);
    // A hung upstream must not hold the drain past its deadline: close() then aborts the call,
    // which the journal already records as sent (a later start reads it back).
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, flushDeadline - this.clock.now()));
    });
    await Promise.race([this.flusher.drain(flushDeadline).catch(() => undefined), expired]);
    clearTimeout(timer);
    // The flusher first: what it still waits for (an append, a header read the tier's close below
    // cancels) is then its own close's cancel, said as such, not a failure.
    this.flusher.close();
    // No refresh may land after the copies are written: the journal's retention was judged by them.
    this.tier.close();
    if (this.clock.now() < deadline) await this.handOverCache();
    await this.close();
    return this.journal.backlogRows();
  }

  /** Idempotent: aborts upstream calls in flight (appends in flight become unsure), closes files. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.stopFileWatch?.();
      this.spaceProbe.close();
      this.feed.close();
      this.flusher?.close();
      this.tier?.close();
      this.readQuota.close();
      this.writeQuota.close();
      this.sharing?.quota.close();
      this.ledger?.close();
      await this.server?.close();
      await this.journal?.close();
      await this.backend?.close().catch(() => undefined);
      await this.sharing?.close();
      await this.lock?.release();
    })();
    return this.closed;
  }
}
