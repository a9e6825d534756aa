// The keeper: the one-per-host owner of everything between the workers and the Sheets backend
// (host-wide cache with single-flight and stale-while-revalidate, the quota buckets, the durable
// write journal and its flusher), serving the workers on a local socket.
//
// This file is the composition: the order of the start (data dir → lock → quota ledger → backend
// → Redis sharing → read tier → cache handoff taken → journal replay → server → cache handoff
// file deleted → flusher → file checks), what each call goes to, and the order of drain and
// close. Its neighbours hold the parts it orders: keeper-options.ts (what it is started with),
// private-data-dir.ts (the data dir made private), journal-start.ts (the journal opened, and what
// its open found said), cache-handoff-steps.ts (the cache taken at start, its file deleted once
// the keeper serves, handed over at drain), read-answers.ts (a read as answered),
// append-outcomes.ts (an append, and the logs that follow its outcome) and keeper-figures.ts (the
// heartbeat's figures).

import { CorralError } from '../../errors.js';
import type { SheetsBackend } from '../backend.js';
import { destinationDigest, destinationOf } from '../destination.js';
import { columnToLetters, firstRowOf, startColumnOf } from '../a1.js';
import { tabNameOf } from '../tab-key.js';
import { AppendOutcomes } from './append-outcomes.js';
import { handOverCache, releaseCacheHandoff, restoreCache, type HandoffParts } from './cache-handoff-steps.js';
import { ChangeFeed, type WatchAnswer } from './change-feed.js';
import { systemClock, type Clock } from './clock.js';
import { Flusher, type HeaderCopy } from './flusher.js';
import { watchKeeperFiles } from './file-watch.js';
import type { HandedCopies } from './handed-copies.js';
import { Journal, type Receipt } from './journal.js';
import { sheetOfRange } from './journal-rows.js';
import { openKeeperJournal, reportJournalOpened } from './journal-start.js';
import { keeperFigures } from './keeper-figures.js';
import type { KeeperOptions } from './keeper-options.js';
import { acquireKeeperLock, type KeeperLock } from './lock.js';
import { LockFence } from './lock-fence.js';
import { reportOtherSheetHolder } from './lock-holder.js';
import { fetchRangeFor, mergePending } from './merge.js';
import { pacer } from './pacing.js';
import { makePrivateDataDir } from './private-data-dir.js';
import type { WireLoginCount } from './protocol.js';
import { QuotaBucket } from './quota.js';
import { QuotaLedger } from './quota-ledger.js';
import { QuotaRefusals } from './quota-refusals.js';
import { ReadAnswers, type KeeperRead } from './read-answers.js';
import { ReadTier } from './read-tier.js';
import { KeeperServer } from './server.js';
import { SheetSharing } from './sheet-sharing.js';
import { checkSocketDir, dataDirOf, socketOutsideDataDir } from './socket-path.js';
import { UpstreamMeter } from './upstream-meter.js';

/** Of a drain's time, what is kept for the cache handoff after the flush (a write and two fsyncs). */
const HANDOFF_RESERVE_MS = 1000;

export class Keeper {
  backend!: SheetsBackend;
  private readonly feed = new ChangeFeed();
  /** Reads as answered (read-answers.ts); made once the journal is open. */
  private reads!: ReadAnswers;
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
  /** The flusher fenced: settles once its call in flight, if any, finished. */
  private fencedFlush: Promise<void> | undefined;
  private ledger: QuotaLedger | undefined;
  /** The quota, ranges and failed logins shared with the sheet's other hosts (REDIS_URL, Google only). */
  private sharing: SheetSharing | undefined;
  private closed: Promise<void> | undefined;
  /** The drain in progress: its deadline, and how its flush is cut at it (hurryDrain moves both). */
  private drainCut: { deadline: number; cut: () => void; timer: NodeJS.Timeout | undefined } | undefined;
  /** Stops the checks of the journal and socket files (file-watch.ts). */
  private stopFileWatch: (() => void) | undefined;
  /** Appends, and what their refusals and recoveries are said as (append-outcomes.ts). */
  private readonly appends: AppendOutcomes;
  /** The read tier is closed (the drain's end, or close): its fetches in flight were aborted by this keeper, not failed by Google. */
  private tierClosed = false;
  /** The copies of the handed cache file while it is left in place, until the start serves (cache-handoff.ts). */
  private handed: HandedCopies | undefined;

  private constructor(private readonly o: KeeperOptions) {
    const s = o.settings;
    const clock = o.clock ?? systemClock;
    this.clock = clock;
    this.meter = new UpstreamMeter(clock);
    this.appends = new AppendOutcomes(o.logger, clock, dataDirOf(s), s.CORRAL_IDEMPOTENCY_KEYS);
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
      // queued before it; one joining a fetch already queued waits for that fetch's turn.
      readQuotaWaitMs: (joined) => Math.max(this.readQuota.msUntilTurn(true, joined), this.sharing?.quota.msUntilSlot('read') ?? 0),
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      // The tab as the range writes it: the workers compare notices by tabKey (tab-key.ts).
      onChange: (range) => this.feed.publish(tabNameOf(range)),
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
    await makePrivateDataDir(dataDir, o.logger);
    k.lock = await acquireKeeperLock(dataDir, o.lockWaitMs ?? 15_000, (pid) => {
      o.logger.info({ event: 'keeper.lock_wait', pid }, 'keeper: waiting for the previous keeper to release the data dir');
      // Not awaited: the wait goes on whatever the holder answers (lock-holder.ts says why it is asked).
      if (o.socketPath) void reportOtherSheetHolder(o.logger, o.socketPath, destinationDigest(destinationOf(s)), pid);
    });
    try {
      // Under the lock and before the first call: what the previous keeper spent this minute counts.
      k.ledger = QuotaLedger.open(dataDir, { reads: k.readQuota, writes: k.writeQuota }, o.logger, k.clock);
      // And what Google's 429s taught it (its ceiling, its pause, the calls Google accepted): a
      // keeper that forgot them spent a minute Google had already refused, then was held to 1 call.
      k.refusals.adopt(k.ledger.learnedLeft(), k.ledger.learnedRecorder());
      k.backend = await o.openBackend(
        pacer(k.readQuota, k.writeQuota, k.meter, (kind, signal, onWait) => k.sharing?.quota.take(kind, signal, onWait)),
        (info, error) => k.refusals.attempted(info.kind, error),
      );
      const ledger = k.ledger;
      k.sharing = await SheetSharing.open(s, k.backend, o.logger, {
        ...(o.clock ? { clock: o.clock } : {}),
        // The previous keeper's grants, restored into the buckets just above, and its count of
        // the keepers present: a keeper started while Redis is away spends its share, not the limit.
        // And what it knew of the shared window (inherited-grants.ts): its last reading, and its
        // grants the window did not hold, which this keeper writes back.
        before: { keepers: ledger.keepersSeen(), grants: { read: k.readQuota.recentGrants(), write: k.writeQuota.recentGrants() }, window: ledger.windowLeft() },
        onKeepersSeen: (seen) => ledger.recordKeepers(seen),
        recorder: ledger.recorder(),
      });
      k.startTier();
      // Before the journal opens: its done entries are kept while a copy from before them is
      // served, and the restored copies are such copies (cache-handoff.ts). So are all the copies
      // of the file, left in place until this keeper serves: should the start fail before, the
      // next keeper takes it.
      k.handed = await restoreCache(k.handoffParts(dataDir), s);
      const opened = await openKeeperJournal(o, {
        dataDir,
        destination: k.backend.destination,
        clock: k.clock,
        // `sheet` is a tab's key (tab-key.ts): a copy of `events!A:Z` is a copy of the tab Events.
        copyOlderThan: (sheet, doneAt) => k.tier.hasValueFetchedBy((range) => sheetOfRange(range) === sheet, doneAt) || k.handed?.fetchedBy(sheet, doneAt) === true,
      });
      const journal = opened.journal;
      k.journal = journal;
      journal.onChange((name) => k.feed.publish(name));
      reportJournalOpened(o.logger, opened, k.backend.destination, k.clock);
      k.reads = new ReadAnswers({ tier: k.tier, journal, backend: k.backend, clock: k.clock, epoch: k.feed.epoch });
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
      // Every write from here on asks the lock first: once it is another keeper's, this one writes
      // and sends nothing more (lock-fence.ts). The open's own writes were under the lock just taken.
      const fence = new LockFence(k.lock, o.logger);
      // Told synchronously inside the check that found the lock taken: no pass starts after it.
      fence.onTaken((taken) => {
        k.fencedFlush = k.flusher.fence();
        o.onLockTaken?.(taken);
      });
      journal.guardWritesWith(() => fence.check());
      if (o.socketPath) {
        if (socketOutsideDataDir(o.socketPath, dataDir)) checkSocketDir(o.socketPath, { create: true });
        k.server = new KeeperServer(
          o.socketPath,
          {
            read: (range, heldOnly, have) => (heldOnly && !k.holds(range) ? Promise.resolve(undefined) : k.readAnswer(range, have)),
            append: (range, rows, idempotency, header) => k.append(range, rows, idempotency, header),
            watch: (since, epoch, timeoutMs, signal) => k.watch(since, epoch, timeoutMs, signal),
            settleLogin: (nameHash, failed, windowMs) => k.settleLogin(nameHash, failed, windowMs),
            figures: () => k.figures(),
          },
          o.logger,
          destinationDigest(k.backend.destination),
        );
        await k.server.listen();
      }
      // Serving: the handed file goes before the flusher's first pass, the first trim of the journal
      // since its open, and only then is the journal free to let go of what the file's copies need.
      if (k.handed) {
        await releaseCacheHandoff(dataDir);
        k.handed = undefined;
      }
      k.flusher.start();
      k.stopFileWatch = watchKeeperFiles({ journal, server: k.server, socketPath: o.socketPath, logger: o.logger, lock: k.lock, fence });
      return k;
    } catch (err) {
      await k.close();
      throw err;
    }
  }

  /** What the cache handoff's two ends work with (cache-handoff-steps.ts). */
  private handoffParts(dataDir: string): HandoffParts {
    return { dataDir, backend: this.backend, tier: this.tier, clock: this.clock, logger: this.o.logger };
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
    const header = mergePending(headerRange, copy.values, []).values[0] ?? [];
    // Fetched from column A: the cell beside the range's first one is in the copy (flush-header.ts).
    // Not for the offline sheet, which finds no table: it writes from the range's own first column
    // whatever is beside it, and held there, an organiser's column beside the events kept every
    // event in the journal for good.
    const start = startColumnOf(range);
    if (start === 1 || this.backend.kind === 'offline') return { header, fetchedAt: copy.fetchedAt };
    return { header, fetchedAt: copy.fetchedAt, leftOfRange: { column: columnToLetters(start - 1), cell: copy.values[0]?.[start - 2] ?? '' } };
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
    try {
      return (await this.reads.resolve(range)).read;
    } catch (err) {
      throw this.closingError(err);
    }
  }

  /** The same read as the JSON bytes the socket sends (read-answers.ts); "unchanged" for the copy a worker names in `have`. */
  async readAnswer(range: string, have?: string): Promise<readonly Buffer[]> {
    try {
      return await this.reads.answer(range, have);
    } catch (err) {
      throw this.closingError(err);
    }
  }

  /**
   * A read that failed because this keeper closed its tier (a drain for a restart ends; its fetch
   * in flight, or one started since, was aborted) is this keeper's "unavailable", which a worker
   * asks the next keeper again for within the master's restart window (keeper-link.ts). Answered
   * as the aborted fetch's error (CORRAL_ERR_SHEETS_TIMEOUT, "cancelled by the caller"), it was
   * final: a user's read of a range no worker held answered 503 while the next keeper, with the
   * cache handed over, was a second away.
   */
  private closingError(err: unknown): unknown {
    if (!this.tierClosed) return err;
    return new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `the keeper is closing: its read was cut (${(err as Error).message})`, { cause: err });
  }

  /**
   * `idempotency`: an optional claim {key, fingerprint, answer} (keeper/idempotency-keys.ts);
   * `header`: the header row the rows were built under (header-mapping.ts).
   */
  async append(range: string, rows: unknown, idempotency?: unknown, header?: unknown): Promise<Receipt> {
    return this.appends.append(this.journal, range, rows, idempotency, header);
  }

  /**
   * A name's failed logins counted by all the sheet's hosts, a failure (`failed`) counted first;
   * or why there is no such count now (the worker's host count then decides alone).
   */
  async settleLogin(nameHash: string, failed: boolean, windowMs: number): Promise<WireLoginCount> {
    if (!this.sharing) return { shared: false, reason: 'no shared count: REDIS_URL is unset or the sheet is not a Google sheet' };
    return this.sharing.settleLogin(nameHash, failed, windowMs);
  }

  watch(since: number, epoch: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<WatchAnswer> {
    return this.feed.wait(since, epoch, timeoutMs, signal);
  }

  /** One flush pass now (tests; the timer does this every SHEETS_FLUSH_INTERVAL_MS). */
  flush(): ReturnType<Flusher['flushOnce']> {
    return this.flusher.flushOnce({ wait: true });
  }

  /** The `extra` figures of the keeper's heartbeat (keeper-figures.ts). */
  figures(): Record<string, number | string | boolean | null> {
    return keeperFigures({
      backend: this.backend,
      tier: this.tier,
      flusher: this.flusher,
      meter: this.meter,
      readQuota: this.readQuota,
      writeQuota: this.writeQuota,
      journal: this.journal,
      appends: this.appends,
      reads: this.reads,
      server: this.server,
      sharing: this.sharing,
      clock: this.clock,
    });
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
    const expired = new Promise<void>((resolve) => {
      this.drainCut = { deadline, cut: resolve, timer: setTimeout(resolve, Math.max(0, flushDeadline - this.clock.now())) };
    });
    await Promise.race([this.flusher.drain(flushDeadline).catch(() => undefined), expired]);
    // The flush is over: a later hurry has nothing to cut (its timer was left armed).
    const cut = this.drainCut;
    this.drainCut = undefined;
    clearTimeout(cut?.timer);
    deadline = cut?.deadline ?? deadline;
    // The flusher first: what it still waits for (an append, a header read the tier's close below
    // cancels) is then its own close's cancel, said as such, not a failure.
    this.flusher.close();
    // No refresh may land after the copies are written: the journal's retention was judged by them.
    this.tierClosed = true;
    this.tier.close();
    if (this.clock.now() < deadline) await handOverCache(this.handoffParts(dataDirOf(this.o.settings)));
    await this.close();
    return this.journal.backlogRows();
  }

  /**
   * Rows the journal holds for other sheets (journal.held_for_other_sheet): never sent here, and
   * left in the journal by every drain, which keeper.drained says (drained-log.ts).
   */
  heldRows(): number {
    return this.journal?.heldRows() ?? 0;
  }

  /** Of the rows left, those sent whose answer was lost: read back by the next keeper before any resend. */
  unsureRows(): number {
    return this.journal?.unsureRows() ?? 0;
  }

  /**
   * A drain asked for again with an earlier `deadline` (a fast stop after a graceful one brings
   * the master's forward): the flush is cut short of it instead. Carried out with the first
   * deadline, the keeper was SIGKILLed by the master mid-flush, its cache not handed over.
   */
  hurryDrain(deadline: number): void {
    const d = this.drainCut;
    if (!d || deadline >= d.deadline) return;
    d.deadline = deadline;
    clearTimeout(d.timer);
    d.timer = setTimeout(d.cut, Math.max(0, deadline - HANDOFF_RESERVE_MS - this.clock.now()));
  }

  /**
   * Another keeper holds the lock (onLockTaken): waits for the append to Google in flight, if any
   * (aborted, it may still land, and this keeper could no longer record it), then closes without a
   * drain. The journal is not written again: its file is the lock holder's.
   */
  async leave(): Promise<void> {
    this.server?.stopAccepting();
    await this.fencedFlush;
    await this.close();
  }

  /** Idempotent: aborts upstream calls in flight (appends in flight become unsure), closes files. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.stopFileWatch?.();
      this.appends.spaceProbe.close();
      this.feed.close();
      this.flusher?.close();
      this.tierClosed = true;
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
