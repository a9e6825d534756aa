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
// spent between that last reading and the outage is not known to it, and it counts an estimate of
// it (unheard-calls.ts); but the window never grants a call that would leave no room for what the
// keepers may spend alone from what each last read (quota-reserve-lua.ts): Redis keeps each
// keeper's reading and its calls since, whether it lost Redis or not (a host whose commands alone
// timed out, its loop blocked, spent its share alone while the host still sharing was granted the
// window's room: 9 reads in a minute of 6). A keeper past its share of a quiet window is thus
// granted only what the others have read of it, the rest at their next presence.
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
//
// Beside this file: a kind's state and the bookkeeping its parts share (quota-kind-state.ts), an
// ask of the window and the write-back (window-ask.ts), the presence and the keepers counted
// (quota-presence.ts), and this keeper's share (own-share.ts, with share-counts.ts and
// unheard-calls.ts). This file decides whether a call goes, waits or goes alone.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CorralError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { RedisLink } from '../../redis/link.js';
import { sleepOn, systemClock, type Clock } from './clock.js';
import { adoptPredecessor, type WindowLeft } from './inherited-grants.js';
import { takeAlone, type AloneContext } from './own-share.js';
import { QUOTA_WINDOW_MS, type QuotaKind } from './quota.js';
import { newKindState, raise, restoreAll, type Grant, type KindState, type WindowRecorder } from './quota-kind-state.js';
import type { KeepersSeen } from './quota-ledger.js';
import { QuotaPresence } from './quota-presence.js';
import { MAX_WAIT_MS, QUOTA_SCRIPTS, type TakeAnswer } from './shared-quota-scripts.js';
import { WindowAsks } from './window-ask.js';

/** What the quota ledger keeps for the shared quota, from one keeper to the next. */
export interface QuotaMemory {
  /**
   * What this host's previous keeper left in the quota ledger: the most keepers it counted present
   * lately, and its grants of the last window per kind. A keeper started while Redis is away takes
   * its share from that count, less those grants, instead of taking the whole limit as if alone.
   */
  readonly before?: {
    readonly keepers?: KeepersSeen;
    readonly grants: Readonly<Record<QuotaKind, readonly number[]>>;
    /**
     * What it knew of the shared window per kind: its last reading (counted against the share
     * while Redis is away) and its grants the window did not hold (written back once Redis
     * answers). Absent (an older ledger): its grants are written back only when Redis cannot hold
     * them (inherited-grants.ts).
     */
    readonly window?: Readonly<Partial<Record<QuotaKind, WindowLeft>>>;
  };
  /** Called when the most keepers present changes (and once a window while it holds): the ledger keeps it. */
  readonly onKeepersSeen?: (seen: KeepersSeen) => void;
  /** Hears the readings of the window and the grants it does not hold: the ledger keeps them for the next keeper. */
  readonly recorder?: WindowRecorder;
}

export interface SharedQuotaOptions extends QuotaMemory {
  readonly link: RedisLink;
  /** Key prefix of this sheet's shared state (keys.ts). */
  readonly prefix: string;
  readonly perMinute: Readonly<Record<QuotaKind, number>>;
  readonly logger: Logger;
  readonly clock?: Clock;
}

export class SharedQuota {
  private readonly clock: Clock;
  /** Unique per keeper, not only per host and pid: a grant's member in the window must not repeat. */
  private readonly keeperId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly kinds: Record<QuotaKind, KindState>;
  private closed = false;
  private counts = { shared: 0, alone: 0, waits: 0 };
  private readonly waiting: Record<QuotaKind, number> = { read: 0, write: 0 };
  /** Asks of the shared window, and write-backs (window-ask.ts). */
  private readonly asks: WindowAsks;
  /** This keeper said present every 5 s, and the keepers counted (quota-presence.ts). */
  private readonly presence: QuotaPresence;
  /** What a slot of this host's share while Redis is away needs (own-share.ts). */
  private readonly alone: AloneContext;

  constructor(private readonly o: SharedQuotaOptions) {
    this.clock = o.clock ?? systemClock;
    const state = (kind: QuotaKind): KindState => newKindState(kind, o.prefix, o.perMinute[kind], o.before?.grants[kind] ?? [], o.recorder);
    this.kinds = { read: state('read'), write: state('write') };
    // Where the keepers present are counted (the key an earlier version counted its keepers under).
    const presentKey = `${o.prefix}:keepers`;
    const keepersBefore = (st: KindState): number => this.keepersBefore(st);
    const common = { link: o.link, logger: o.logger, clock: this.clock, keeperId: this.keeperId, presentKey };
    this.asks = new WindowAsks({ ...common, keepersBefore, closed: () => this.closed });
    this.alone = { clock: this.clock, link: o.link, keepers: keepersBefore, nextMember: () => this.asks.nextMember() };
    const nextMember = (): string => this.asks.nextMember();
    for (const st of Object.values(this.kinds)) adoptPredecessor(st, o.before?.window?.[st.kind], nextMember);
    // Last: it says this keeper is present at once if the link is ready, and writes back by the asks.
    this.presence = new QuotaPresence({ ...common, kinds: this.kinds, nextMember, before: o.before?.keepers, onKeepersSeen: o.onKeepersSeen, writeBack: (st) => this.asks.writeBack(st) });
  }

  /**
   * Resolves once the call may leave: a slot of the shared window, or (Redis away) of this host's
   * share. Rejects only when `signal` aborts or the quota is closed. `onWait` hears each wait
   * it is told of, before it sleeps. Resolves to what the caller calls if the request leaves
   * late (pacing.ts SENT_LATE_MS): the slot is dated again then (sentLate).
   */
  async take(kind: QuotaKind, signal?: AbortSignal, onWait?: (waitMs: number) => void): Promise<() => void> {
    const st = this.kinds[kind];
    for (;;) {
      if (this.closed) throw new CorralError('CORRAL_ERR_QUEUE_FULL', `shared sheets ${kind} quota is closed`);
      signal?.throwIfAborted();
      let answer: TakeAnswer | undefined;
      let grant: Grant | undefined;
      if (this.o.link.usable) {
        try {
          answer = await this.asks.ask(st, true, (g) => (grant = g));
          this.o.link.scriptAnswered(true, QUOTA_SCRIPTS);
        } catch (err) {
          // Unreachable, too slow, or refused: said in the log; this call goes on alone.
          this.o.link.commandFailed(err, QUOTA_SCRIPTS);
        }
      }
      if (!answer) {
        const alone = takeAlone(st, this.alone);
        if (alone) {
          this.counts.alone++;
          return () => this.sentLate(st, alone);
        }
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
      this.presence.count(present);
      st.fallback = undefined;
      if (granted === 2) {
        restoreAll(st, st.seen.answered);
        continue;
      }
      if (granted === 1 && grant) {
        this.counts.shared++;
        const made = grant;
        return () => this.sentLate(st, made);
      }
      this.counts.waits++;
      st.slotFreesAt = this.clock.now() + Math.max(1, waitMs);
      onWait?.(Math.max(1, waitMs));
      await this.wait(kind, Math.min(MAX_WAIT_MS, Math.max(1, waitMs)), signal);
    }
  }

  /**
   * Dates `grant` now, as its call leaves only now: it waited for a connection of the HTTP pool
   * after its grant, and Google counts it for a minute from its arrival. The host's token is dated
   * again so (QuotaBucket.sentAt); dated at the grant in Redis, the slot freed that much early for
   * the other hosts, which spent it while Google still counted this call. Written to Redis at once
   * (a write-back of the grant at its new date; Redis away, at the next ask that reaches it).
   */
  private sentLate(st: KindState, grant: Grant): void {
    if (this.closed) return;
    const now = this.clock.now();
    if (now <= grant.at) return;
    const i = st.recent.indexOf(grant);
    if (i >= 0) st.recent.splice(i, 1);
    if (!grant.written) {
      // Made alone: its token of this host's share, and the ledger's note of it, dated again too.
      st.fallback?.sentAt(grant.at);
      st.recorder?.shared(st.kind, grant.at);
    }
    // Newest last, as `recent` is kept; the window's copy of it is behind until written back.
    st.recent.push({ member: grant.member, at: now, written: false });
    st.recorder?.unshared(st.kind, now);
    void this.asks.writeBack(st);
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
    return Math.max(this.presence.peakKeepers, st.peak.keepers);
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
    return { sharedQuotaGrants: this.counts.shared, aloneQuotaGrants: this.counts.alone, sharedQuotaWaits: this.counts.waits, sharedKeepers: this.presence.present };
  }

  /** Idempotent. Waiters for a share are refused; the link is closed by its owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.presence.close();
    for (const st of Object.values(this.kinds)) {
      st.fallback?.close();
    }
  }
}
