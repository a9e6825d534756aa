// The Sheets quota shared by every host of one sheet through Redis (REDIS_URL). Google counts
// calls per minute per project and account, whatever host makes them: two hosts each keeping
// their own SHEETS_*_PER_MINUTE would together spend twice the quota. With a shared window, every
// upstream call, after its host's own bucket (quota.ts) granted it, also takes a slot in one
// sliding-window log in Redis, kept by a script that runs atomically on Redis's own clock (no
// host's clock counts): no 60 s window holds more than SHEETS_*_PER_MINUTE calls of all the hosts
// together.
//
// When Redis cannot be reached (or does not answer within its command timeout), a host spends
// only its share: the limit divided by the most keepers Redis counted in the last two minutes,
// less what the window held at Redis's last answer, every host's calls and not only its own, each
// until it leaves the window (window-seen.ts). Every keeper of the sheet counts, whether
// it calls Google or not: each says it is present when it connects, at every ask and every 5 s
// (a host that served the others' copies of the ranges and never called Google would otherwise
// count itself alone when Redis goes away, and spend the whole limit on top of theirs). Every 5 s
// and not every half window: a keeper that had not called Google for 27 s went alone on a
// reading that far back, its count of keepers taken before the others connected and none of their
// calls of those 27 s in it, and the hosts spent 450 reads in a minute of 300. What the others
// spent between that last reading and the outage is still not known: it is estimated
// (unheard-calls.ts).
// The grants made alone are written into the shared window once Redis answers again, backdated to
// when they were made, so the minute around the outage's end holds no more than the limit either.
//
// A Redis that lost its data (restarted without persistence, a failover to a replica behind)
// forgets the window's grants. Each keeper remembers its own grants of the last window; when Redis
// no longer knows a keeper that made one, or no longer holds its newest grant (a replica that
// missed the last writes still knows every keeper), it writes them back before its next grant is
// decided, and when it next says it is present (a keeper that makes no call would otherwise leave
// them out of the window up to a minute), so the hosts do not spend the limit a second time that
// minute. Each grant has its own
// member in the window, so writing one back twice counts it once. Until every keeper has written
// back, the window lacks their grants: while the window's state is younger than a window and
// Redis counts fewer keepers than this keeper saw present before, it is granted only its share
// of what the window may still hold (the limit less what the window held when Redis last answered
// it before the loss, every keeper's grants, over the keepers present), less its own grants
// since; or the first keeper to notice the loss would spend the others' part of the minute. Every
// keeper present counts, not only those that made calls through Redis: a keeper whose calls were
// all made while Redis was away, or that had not called yet, was granted the whole window on top
// of the others' grants not yet written back; and a share counting only this keeper's own grants
// let one that wrote back 10 of a limit of 20 take 3 more before the other wrote back its 10 (23
// in the minute, three of Google's 429). A keeper that holds no grant of the window has none to
// write back: saying it is present counts it as written back (or the others would be held to
// their share for the whole minute, waiting for a keeper that only serves copies).

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CorralError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { RedisLink } from '../../redis/link.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { QUOTA_WINDOW_MS, QuotaBucket } from './quota.js';
import type { KeepersSeen } from './quota-ledger.js';
import { shareCounts, shareOf } from './share-counts.js';
import { MAX_WAIT_MS, PRESENT_SCRIPT, TAKE_SCRIPT, type PresentAnswer, type TakeAnswer } from './shared-quota-scripts.js';
import { WindowSeen } from './window-seen.js';
import { RECENT_PACE_MS, unheardCalls } from './unheard-calls.js';

export type QuotaKind = 'read' | 'write';

/**
 * How often a keeper says it is present, calls or not (it stays counted two windows), and so
 * hears what the window holds: what it knows when Redis goes away is at most this old. One short
 * script per keeper every 5 s is nothing to Redis.
 */
export const PRESENCE_INTERVAL_MS = 5000;

/**
 * A grant this close to leaving the window is not asked after: Redis may have let it go already
 * (its clock and this host's differ a little), which is no loss.
 */
const PROBE_MARGIN_MS = 5000;

/** What the quota ledger keeps for the shared quota, from one keeper to the next. */
export interface QuotaMemory {
  /**
   * What this host's previous keeper left in the quota ledger: the most keepers it counted present
   * lately, and its grants of the last window per kind. A keeper started while Redis is away takes
   * its share from that count, less those grants, instead of taking the whole limit as if alone.
   */
  readonly before?: { readonly keepers?: KeepersSeen; readonly grants: Readonly<Record<QuotaKind, readonly number[]>> };
  /** Called when the most keepers present changes (and once a window while it holds): the ledger keeps it. */
  readonly onKeepersSeen?: (seen: KeepersSeen) => void;
}

export interface SharedQuotaOptions extends QuotaMemory {
  readonly link: RedisLink;
  /** Key prefix of this sheet's shared state (keys.ts). */
  readonly prefix: string;
  readonly perMinute: Readonly<Record<QuotaKind, number>>;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** The grants a window holds, from a script's counts of them by age (HELD_LUA's). */
function heldTotal(counts: unknown): number | null {
  return Array.isArray(counts) ? counts.reduce((sum: number, c: unknown) => sum + (typeof c === 'number' ? c : 0), 0) : null;
}

/** The most keepers Redis counted in about the last two windows, and when. */
interface Peak {
  keepers: number;
  at: number;
}

/**
 * Counts `keepers` into `peak`: a higher count at once, a lower one once the peak is two windows
 * old (as long as Redis keeps a silent keeper counted).
 */
function raise(peak: Peak, keepers: number, now: number): void {
  if (keepers >= peak.keepers || now - peak.at >= 2 * QUOTA_WINDOW_MS) {
    peak.keepers = keepers;
    peak.at = now;
  }
}

/** One of this keeper's grants of the last window. */
interface Grant {
  /** Its member in the shared window. */
  readonly member: string;
  /** When it was made, in this host's clock. */
  readonly at: number;
  /** In the shared window: granted there, or written back (made while Redis was away: not yet). */
  written: boolean;
}

interface KindState {
  readonly kind: QuotaKind;
  readonly key: string;
  /**
   * The keepers that made calls of this kind lately, or said they are present holding none of
   * its window (per kind: a keeper Redis knows from its writes may still have reads of the window
   * to write back).
   */
  readonly keepersKey: string;
  /** When the window's state began, in Redis (a Redis that lost its data begins it again). */
  readonly sinceKey: string;
  /**
   * The most keepers that made calls of this kind in about the last two windows: while Redis
   * counts fewer in a state younger than a window, it lost its data and not every keeper has
   * written its grants back yet.
   */
  readonly peak: Peak;
  readonly perMinute: number;
  /** This keeper's grants of the last window, about oldest first (concurrent asks may swap two). */
  recent: Grant[];
  /**
   * The previous keeper's grants of the last window (the quota ledger's): they count against the
   * share; not written back, since which of them the window already holds is not known.
   */
  inherited: readonly number[];
  /** Asks sent and not answered: each may be granted, so each counts against the share. */
  asking: number;
  /** When this keeper last made a call of this kind alone (Redis away), in its clock. */
  aloneAt: number;
  /** What the shared window held (every host's grants) at Redis's last answer. */
  readonly seen: WindowSeen;
  /**
   * What the window held at Redis's last answer before it lost its data (`since`: when the state
   * that followed began, Redis's time): the answers since hold only what was written back.
   */
  lost: { readonly since: number; readonly at: number; readonly times: readonly number[] } | undefined;
  /** Redis did not know this keeper, or lacked its newest grant: the next ask writes them all back. */
  restore: boolean;
  /**
   * That write-back is of grants Redis held and lost (it had answered this keeper before), as
   * opposed to a keeper's first word to Redis (it started, or its login was refused, while Redis
   * was away or refusing it, and made its calls alone): only a loss is said
   * (sheets.quota_window_restored). Said of a first word, the warning had operators look into
   * Redis's persistence after a keeper merely connected late.
   */
  restoreIsLoss: boolean;
  /** When a write-back was last said (concurrent calls may each write back the same grants). */
  restoreSaidAt: number;
  /** This host's share while Redis is away; made at an outage's first call, dropped when it ends. */
  fallback: QuotaBucket | undefined;
  /** When the last call told to wait was told a slot frees (Redis's window, or this host's share while Redis is away). */
  slotFreesAt: number;
}

export class SharedQuota {
  private readonly clock: Clock;
  /** Unique per keeper, not only per host and pid: a grant's member in the window must not repeat. */
  private readonly keeperId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly kinds: Record<QuotaKind, KindState>;
  private grantSeq = 0;
  private closed = false;
  private counts = { shared: 0, alone: 0, waits: 0 };
  private readonly waiting: Record<QuotaKind, number> = { read: 0, write: 0 };
  /** Where the keepers present are counted (the key an earlier version counted its keepers under). */
  private readonly presentKey: string;
  /** Keepers present at Redis's last answer (1 until it answered once). */
  private present = 1;
  /**
   * The most keepers present lately: the count a share is taken from. After Redis lost its data it
   * counts only the keepers heard from since, which would make the first of them a share of the whole.
   */
  private readonly presentPeak: Peak = { keepers: 1, at: -Infinity };
  /** The peak as last handed to onKeepersSeen. */
  private keepersSaid: KeepersSeen | undefined;
  private readonly presenceTimer: NodeJS.Timeout;
  private readonly onLinkReady = (): void => void this.sayPresent();

  constructor(private readonly o: SharedQuotaOptions) {
    this.clock = o.clock ?? systemClock;
    const state = (kind: QuotaKind): KindState => ({
      kind,
      key: `${o.prefix}:quota:${kind}s`,
      keepersKey: `${o.prefix}:keepers:${kind}s`,
      sinceKey: `${o.prefix}:quota:${kind}s:since`,
      peak: { keepers: 1, at: -Infinity },
      perMinute: o.perMinute[kind],
      recent: [],
      inherited: o.before?.grants[kind] ?? [],
      asking: 0,
      aloneAt: -Infinity,
      seen: new WindowSeen(),
      lost: undefined,
      restore: false,
      restoreIsLoss: false,
      restoreSaidAt: -Infinity,
      fallback: undefined,
      slotFreesAt: 0,
    });
    this.kinds = { read: state('read'), write: state('write') };
    const seen = o.before?.keepers;
    if (seen && this.clock.now() - seen.at < 2 * QUOTA_WINDOW_MS) raise(this.presentPeak, seen.keepers, seen.at);
    this.presentKey = `${o.prefix}:keepers`;
    o.link.client.defineCommand('corralTakeQuota', { numberOfKeys: 4, lua: TAKE_SCRIPT });
    o.link.client.defineCommand('corralQuotaPresent', { numberOfKeys: 7, lua: PRESENT_SCRIPT });
    // Said at every (re)connection and every 5 s, calls or not: a keeper that serves
    // the others' copies of the ranges counts in every share, its own included.
    o.link.client.on('ready', this.onLinkReady);
    this.presenceTimer = setInterval(this.onLinkReady, PRESENCE_INTERVAL_MS).unref();
    // While Redis fails or refuses writes, the link asks with this rather than PING: a Redis whose
    // memory is full answers PING and GET, and only a write that works says it is usable again.
    o.link.probeWith(() => this.announce());
    if (o.link.ready) this.onLinkReady();
  }

  /** Says this keeper is present, when Redis is usable; a failure is said as any command's. */
  private async sayPresent(): Promise<void> {
    if (this.closed || !this.o.link.usable) return;
    try {
      await this.announce();
    } catch (err) {
      this.o.link.commandFailed(err);
    }
  }

  /** Runs the presence script and takes in its answer; throws what Redis (or its absence) threw. */
  private async announce(): Promise<void> {
    if (this.closed) return;
    const client = this.o.link.client as unknown as { corralQuotaPresent(...args: (string | number)[]): Promise<PresentAnswer> };
    const { read, write } = this.kinds;
    const now = this.clock.now();
    this.prune(read, now);
    this.prune(write, now);
    const [present, redisAt, reads, writes, readsSince, writesSince, readsLost, writesLost] = await client.corralQuotaPresent(
      this.presentKey,
      read.key,
      write.key,
      read.keepersKey,
      write.keepersKey,
      read.sinceKey,
      write.sinceKey,
      this.keeperId,
      QUOTA_WINDOW_MS,
      read.recent.length > 0 ? 1 : 0,
      write.recent.length > 0 ? 1 : 0,
      this.newestWritten(read, now),
      this.newestWritten(write, now),
    );
    this.o.link.scriptAnswered();
    const at = this.clock.now();
    // Before this answer is heard: whether Redis had answered this keeper before (a loss) or not.
    const knew = { read: read.seen.known, write: write.seen.known };
    this.heard(read, redisAt, reads, readsSince, at);
    this.heard(write, redisAt, writes, writesSince, at);
    this.countPresent(present);
    // Debug only (every PRESENCE_INTERVAL_MS per keeper): what this keeper's share is taken from.
    this.o.logger.debug({ event: 'quota.presence', keepers: this.present, reads: heldTotal(reads), writes: heldTotal(writes) }, 'keepers present and the shared window heard from Redis');
    // Redis lost this keeper's grants (or it made some alone): written back now, calls or not.
    // Waiting for its next call left them out of the window up to a minute, the others held to
    // their share of it meanwhile, or spending on top of them.
    for (const [st, lost] of [
      [read, readsLost],
      [write, writesLost],
    ] as const) {
      if (lost === 1) this.restoreAll(st, knew[st.kind]);
      if (st.restore || st.recent.some((g) => !g.written)) void this.writeBack(st);
    }
  }

  private countPresent(present: number): void {
    this.present = Math.max(1, present);
    raise(this.presentPeak, this.present, this.clock.now());
    if (this.closed) return;
    const peak = this.presentPeak;
    if (this.keepersSaid?.keepers !== peak.keepers || peak.at - this.keepersSaid.at >= QUOTA_WINDOW_MS) {
      this.keepersSaid = { keepers: peak.keepers, at: peak.at };
      this.o.onKeepersSeen?.(this.keepersSaid);
    }
  }

  /**
   * Resolves once the call may leave: a slot of the shared window, or (Redis away) of this host's
   * share. Rejects only when `signal` aborts or the quota is closed. `onWait` hears each wait
   * it is told of, before it sleeps.
   */
  async take(kind: QuotaKind, signal?: AbortSignal, onWait?: (waitMs: number) => void): Promise<void> {
    const st = this.kinds[kind];
    for (;;) {
      if (this.closed) throw new CorralError('CORRAL_ERR_QUEUE_FULL', `shared sheets ${kind} quota is closed`);
      signal?.throwIfAborted();
      let answer: TakeAnswer | undefined;
      if (this.o.link.usable) {
        try {
          answer = await this.ask(st);
          this.o.link.scriptAnswered();
        } catch (err) {
          // Unreachable, too slow, or refused: said in the log; this call goes on alone.
          this.o.link.commandFailed(err);
        }
      }
      if (!answer) {
        if (this.takeAlone(st)) return;
        // Not queued on the share: once Redis answers again, a waiting call goes back to the
        // shared window instead of waiting out a share of an outage that has ended.
        const shareWaitMs = Math.max(1, st.fallback?.msUntilFree() ?? 1);
        st.slotFreesAt = this.clock.now() + shareWaitMs;
        onWait?.(shareWaitMs);
        await this.wait(kind, Math.min(MAX_WAIT_MS, shareWaitMs), signal);
        continue;
      }
      const [granted, waitMs, keepers, present] = answer;
      raise(st.peak, Math.max(1, keepers), this.clock.now());
      this.countPresent(present);
      st.fallback = undefined;
      if (granted === 2) {
        this.restoreAll(st, st.seen.known);
        continue;
      }
      if (granted === 1) {
        this.counts.shared++;
        return;
      }
      this.counts.waits++;
      st.slotFreesAt = this.clock.now() + Math.max(1, waitMs);
      onWait?.(Math.max(1, waitMs));
      await this.wait(kind, Math.min(MAX_WAIT_MS, Math.max(1, waitMs)), signal);
    }
  }

  /**
   * How long a call of this kind asking now would wait at least for the shared window (or this
   * host's share while Redis is away): while calls wait there, until the slot the last of them
   * was told of frees; and while the window as Redis last told it, with this keeper's grants
   * since, is full, until enough of them leave it. 0 when neither holds. A lower bound: the other
   * hosts' calls since the last answer are not counted, and may take the slot first. The read
   * tier answers a read with no copy at once when it is over a second (quota-wait.ts): the host's
   * bucket alone said a token was free while the hosts had spent the window, and such reads were
   * held up to the worker's bound.
   */
  msUntilSlot(kind: QuotaKind): number {
    const st = this.kinds[kind];
    const now = this.clock.now();
    const told = this.waiting[kind] > 0 ? st.slotFreesAt - now : 0;
    return Math.max(0, told, this.windowFullFor(st, now));
  }

  /** While Redis is usable and has answered: how long the window it last told of, and this keeper's grants since, stays full. */
  private windowFullFor(st: KindState, now: number): number {
    if (!this.o.link.usable || !st.seen.known) return 0;
    const since = st.recent.filter((g) => g.at > st.seen.at).map((g) => g.at);
    const held = [...st.seen.earliestTimes(), ...since].filter((t) => now - t < QUOTA_WINDOW_MS).sort((a, b) => a - b);
    const leaving = held[held.length - st.perMinute];
    return leaving === undefined ? 0 : leaving + QUOTA_WINDOW_MS - now;
  }

  /**
   * Calls that hold the host's token but wait for a slot of the shared window (or of this host's
   * share while Redis is away), now: the host's own bucket has tokens left meanwhile, and its
   * figures alone said the quota was free while the sheet's hosts had spent it.
   */
  waitingOn(kind: QuotaKind): number {
    return this.waiting[kind];
  }

  private async wait(kind: QuotaKind, ms: number, signal: AbortSignal | undefined): Promise<void> {
    this.waiting[kind]++;
    try {
      await sleepOn(this.clock, ms, signal);
    } finally {
      this.waiting[kind]--;
    }
  }

  /** The most keepers counted lately: present, or making calls of this kind through Redis. */
  private keepersBefore(st: KindState): number {
    return Math.max(this.presentPeak.keepers, st.peak.keepers);
  }

  /** This keeper's part of the limit when it cannot count on the shared window: the limit over the keepers present. */
  private share(st: KindState): number {
    return shareOf(st.perMinute, this.keepersBefore(st));
  }

  /**
   * Records what Redis said the window holds. When its state began after this keeper's last
   * answer, Redis lost its data in between: what that answer held is kept (`lost`), since the
   * answers that follow hold only what was written back.
   */
  private heard(st: KindState, redisAt: unknown, counts: unknown, since: unknown, at: number): void {
    if (typeof since === 'number' && st.seen.known && st.seen.redisAt < since && st.lost?.since !== since) {
      st.lost = { since, at: st.seen.at, times: st.seen.times() };
    }
    st.seen.record(redisAt, counts, at);
  }

  /**
   * Whether this keeper is under its share of what the window may still hold: the limit less the
   * window's grants of every keeper at an answer of Redis (each until it leaves the window), over
   * the keepers present, less this keeper's grants since that answer and its asks in flight. Taken
   * from the last answer and, for a window after Redis lost its data, from the last one before the
   * loss too (the smaller): Redis decides by it only while not every keeper has written back.
   */
  private underShare(st: KindState, now: number): boolean {
    const keepers = this.keepersBefore(st);
    const room = (times: readonly number[], at: number): number => {
      const held = st.inherited.length + times.filter((t) => now - t < QUOTA_WINDOW_MS).length;
      return Math.floor((st.perMinute - held) / keepers) - st.recent.filter((g) => g.at > at).length;
    };
    let free = room(st.seen.times(), st.seen.at);
    if (st.lost && now - st.lost.at < QUOTA_WINDOW_MS) free = Math.min(free, room(st.lost.times, st.lost.at));
    return free - st.asking > 0;
  }

  /** This keeper's newest grant in the shared window, unless it is about to leave it (''). */
  private newestWritten(st: KindState, now: number): string {
    for (let i = st.recent.length - 1; i >= 0; i--) {
      const g = st.recent[i];
      if (g?.written) return now - g.at < QUOTA_WINDOW_MS - PROBE_MARGIN_MS ? g.member : '';
    }
    return '';
  }

  private nextMember(): string {
    return `${this.keeperId}:${++this.grantSeq}`;
  }

  /** Forgets this keeper's grants, and its predecessor's, that left the window. */
  private prune(st: KindState, now: number): void {
    if (st.recent.length > 0 && now - (st.recent[0]?.at ?? now) >= QUOTA_WINDOW_MS) st.recent = st.recent.filter((g) => now - g.at < QUOTA_WINDOW_MS);
    if (st.inherited.length > 0) st.inherited = st.inherited.filter((at) => now - at < QUOTA_WINDOW_MS);
  }

  /** Writes back what the window lacks of this keeper's grants, taking none; a failure is said as any command's. */
  private async writeBack(st: KindState): Promise<void> {
    if (this.closed || !this.o.link.usable) return;
    try {
      // Unknown keeper (2): its grants the window held are sent too, at the second ask.
      if ((await this.ask(st, false))[0] === 2) {
        this.restoreAll(st, st.seen.known);
        await this.ask(st, false);
      }
      this.o.link.scriptAnswered();
    } catch (err) {
      this.o.link.commandFailed(err);
    }
  }

  /**
   * Has the next ask write back every grant of the window; `loss`: Redis had answered this keeper
   * before, so it lost them (said when written back), rather than hearing from it the first time.
   */
  private restoreAll(st: KindState, loss: boolean): void {
    st.restore = true;
    st.restoreIsLoss ||= loss;
  }

  /** Asks Redis for a slot (`take`), or only writes back (the answer is then a wait of 0). */
  private async ask(st: KindState, take = true): Promise<TakeAnswer> {
    const now = this.clock.now();
    this.prune(st, now);
    const restoring = st.restore;
    st.restore = false;
    const sending = restoring ? st.recent : st.recent.filter((g) => !g.written);
    const args: (string | number)[] = [];
    for (const g of sending) args.push(g.member, Math.max(0, now - g.at));
    const holdsOthers = sending.length < st.recent.length ? 1 : 0;
    const member = take ? this.nextMember() : '';
    const client = this.o.link.client as unknown as { corralTakeQuota(...args: (string | number)[]): Promise<TakeAnswer> };
    let answer: TakeAnswer;
    try {
      const underShare = this.underShare(st, now) ? 1 : 0;
      if (take) st.asking++;
      const probe = restoring ? '' : this.newestWritten(st, now);
      answer = await client.corralTakeQuota(st.key, st.keepersKey, st.sinceKey, this.presentKey, st.perMinute, QUOTA_WINDOW_MS, this.keeperId, member, holdsOthers, this.keepersBefore(st), underShare, probe, ...args);
    } catch (err) {
      // Not known to be written: the next ask that reaches Redis writes them back.
      st.restore ||= restoring;
      throw err;
    } finally {
      if (take) st.asking--;
    }
    if (answer[0] === 2) return answer;
    this.heard(st, answer[4], answer[5], answer[6], this.clock.now());
    for (const g of sending) g.written = true;
    const loss = st.restoreIsLoss;
    if (restoring) st.restoreIsLoss = false;
    if (restoring && loss && now - st.restoreSaidAt >= QUOTA_WINDOW_MS) {
      st.restoreSaidAt = now;
      this.o.logger.warn(
        { event: 'sheets.quota_window_restored', kind: st.kind, grants: sending.length },
        `sheets: Redis had lost the shared ${st.kind} quota window (restarted empty, or failed over): this keeper wrote back its ${sending.length} grants of the last minute`,
      );
    }
    if (answer[0] === 1) st.recent.push({ member, at: now, written: true });
    return answer;
  }

  /** A slot of this host's share while Redis is away, if one is free now. */
  private takeAlone(st: KindState): boolean {
    if (!st.fallback) {
      // The share is fixed for the outage: the count of keepers is Redis's, and Redis is away.
      st.fallback = new QuotaBucket({ name: `sheets ${st.kind}s (this host's share while Redis is away)`, perMinute: this.share(st), maxQueue: 0, clock: this.clock });
      // What the window held before the outage counts against the share, every host's calls
      // until they leave it, and more (share-counts.ts).
      st.fallback.restore(shareCounts({ seen: st.seen.times(), heard: st.seen.known, own: st.recent, inherited: st.inherited, unheard: this.unheard(st) }));
    }
    if (!st.fallback.tryAcquire()) return false;
    const now = this.clock.now();
    st.aloneAt = now;
    this.prune(st, now);
    st.recent.push({ member: this.nextMember(), at: now, written: false });
    this.counts.alone++;
    return true;
  }

  /** The others' calls since this keeper's last reading, until Redis went away (unheard-calls.ts). */
  private unheard(st: KindState): number[] {
    // The link's clock is the system's; only the difference is taken, so a test's clock works too.
    const until = this.clock.now() - this.o.link.failingForMs;
    const at = st.seen.at;
    const ownRecent = st.recent.filter((g) => g.written && g.at <= at && at - g.at < RECENT_PACE_MS).length;
    return unheardCalls({ seen: st.seen, perMinute: st.perMinute, keepers: this.keepersBefore(st), ownRecent, until });
  }

  /**
   * Whether this keeper made a call of `kind` alone (Redis away) in the last window: a 429 from
   * Google then says the other hosts' calls, which it could not count, filled the quota, not that
   * the quota is lower than the setting (quota-refusals.ts).
   */
  actedAlone(kind: QuotaKind): boolean {
    return this.clock.now() - this.kinds[kind].aloneAt < QUOTA_WINDOW_MS;
  }

  /** Calls granted through Redis, alone, and waits for a shared slot; and the keepers Redis last counted present. */
  figures(): Record<string, number> {
    return { sharedQuotaGrants: this.counts.shared, aloneQuotaGrants: this.counts.alone, sharedQuotaWaits: this.counts.waits, sharedKeepers: this.present };
  }

  /** Idempotent. Waiters for a share are refused; the link is closed by its owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.presenceTimer);
    this.o.link.client.off('ready', this.onLinkReady);
    for (const st of Object.values(this.kinds)) st.fallback?.close();
  }
}
