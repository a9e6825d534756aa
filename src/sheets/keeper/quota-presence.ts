// A keeper's presence in the shared quota (shared-quota.ts): said through Redis (PRESENT_SCRIPT,
// shared-quota-scripts.ts) at every (re)connection and every PRESENCE_INTERVAL_MS, calls or not,
// and as the link's probe while Redis fails or refuses writes. Its answer counts the keepers
// present (the count every share is taken from, and the quota ledger keeps), tells what each
// window holds, and says whether Redis lost this keeper's grants, written back at once. The
// reading it counts from is told to Redis with it, and that answer's right after (READING_SCRIPT):
// the windows keep room for what it may spend alone from it (quota-reserve-lua.ts). A keeper that
// closes cleanly leaves (LEAVE_SCRIPT). A file of its own: it runs on its timer and the link's
// events, and touches the windows only through the kinds' state (quota-kind-state.ts) and the
// write-back it is given (window-ask.ts).

import type { Logger } from '../../log/logger.js';
import type { RedisLink } from '../../redis/link.js';
import type { Clock } from './clock.js';
import { QUOTA_WINDOW_MS, type QuotaKind } from './quota.js';
import type { KeepersSeen } from './quota-ledger.js';
import { heard, newestWritten, prune, raise, readingSent, restoreAll, type KindState, type Peak } from './quota-kind-state.js';
import { LEAVE_SCRIPT, PRESENT_SCRIPT, QUOTA_SCRIPTS, READING_SCRIPT, type PresentAnswer } from './shared-quota-scripts.js';

/**
 * How often a keeper says it is present, calls or not (it stays counted two windows), and so
 * hears what the window holds: what it knows when Redis goes away is at most this old. One short
 * script per keeper every 5 s is nothing to Redis.
 */
export const PRESENCE_INTERVAL_MS = 5000;

/** The quota's presence scripts, as the link's client runs them. */
interface PresenceClient {
  corralQuotaPresent(...args: (string | number)[]): Promise<PresentAnswer>;
  corralQuotaReading(...args: (string | number)[]): Promise<unknown>;
  corralQuotaLeave(...args: (string | number)[]): Promise<unknown>;
}

/** The grants a window holds, from a script's counts of them by age (HELD_LUA's). */
function heldTotal(counts: unknown): number | null {
  return Array.isArray(counts) ? counts.reduce((sum: number, c: unknown) => sum + (typeof c === 'number' ? c : 0), 0) : null;
}

export interface PresenceOptions {
  readonly link: RedisLink;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Unique per keeper (shared-quota.ts). */
  readonly keeperId: string;
  /** Where the keepers present are counted (shared-quota.ts). */
  readonly presentKey: string;
  readonly kinds: Readonly<Record<QuotaKind, KindState>>;
  /** The most keepers this host's previous keeper counted present lately (the quota ledger's). */
  readonly before?: KeepersSeen;
  /** Called when the most keepers present changes (and once a window while it holds): the ledger keeps it. */
  readonly onKeepersSeen?: (seen: KeepersSeen) => void;
  /** A new grant's member in the window (WindowAsks.nextMember). */
  readonly nextMember: () => string;
  /** Writes back what a window lacks of this keeper's grants (WindowAsks.writeBack). */
  readonly writeBack: (st: KindState) => Promise<void>;
}

export class QuotaPresence {
  private closed = false;
  /** Keepers present at Redis's last answer (1 until it answered once). */
  private presentNow = 1;
  /**
   * The most keepers present lately: the count a share is taken from. After Redis lost its data it
   * counts only the keepers heard from since, which would make the first of them a share of the whole.
   */
  private readonly presentPeak: Peak = { keepers: 1, at: -Infinity };
  /** The peak as last handed to onKeepersSeen. */
  private keepersSaid: KeepersSeen | undefined;
  private readonly presenceTimer: NodeJS.Timeout;
  private readonly onLinkReady = (): void => void this.sayPresent();

  constructor(private readonly o: PresenceOptions) {
    const seen = o.before;
    if (seen && o.clock.now() - seen.at < 2 * QUOTA_WINDOW_MS) raise(this.presentPeak, seen.keepers, seen.at);
    o.link.client.defineCommand('corralQuotaPresent', { numberOfKeys: 9, lua: PRESENT_SCRIPT });
    o.link.client.defineCommand('corralQuotaReading', { numberOfKeys: 3, lua: READING_SCRIPT });
    o.link.client.defineCommand('corralQuotaLeave', { numberOfKeys: 3, lua: LEAVE_SCRIPT });
    // Said at every (re)connection and every 5 s, calls or not: a keeper that serves
    // the others' copies of the ranges counts in every share, its own included.
    o.link.client.on('ready', this.onLinkReady);
    this.presenceTimer = setInterval(this.onLinkReady, PRESENCE_INTERVAL_MS).unref();
    // While Redis fails or refuses writes, the link asks with this rather than PING: a Redis whose
    // memory is full answers PING and GET, and only a write that works says it is usable again.
    o.link.probeWith(() => this.announce(), QUOTA_SCRIPTS);
    if (o.link.ready) this.onLinkReady();
  }

  /** Keepers present at Redis's last answer (1 until it answered once). */
  get present(): number {
    return this.presentNow;
  }

  /** The most keepers present lately: the count a share is taken from. */
  get peakKeepers(): number {
    return this.presentPeak.keepers;
  }

  /** Says this keeper is present, when Redis is usable; a failure is said as any command's. */
  private async sayPresent(): Promise<void> {
    if (this.closed || !this.o.link.usable) return;
    try {
      await this.announce();
    } catch (err) {
      this.o.link.commandFailed(err, QUOTA_SCRIPTS);
    }
  }

  /** Runs the presence script and takes in its answer; throws what Redis (or its absence) threw. */
  private async announce(): Promise<void> {
    if (this.closed) return;
    const client = this.client;
    const { read, write } = this.o.kinds;
    const now = this.o.clock.now();
    prune(read, now);
    prune(write, now);
    const [present, redisAt, reads, writes, readsSince, writesSince, readsLost, writesLost] = await client.corralQuotaPresent(
      this.o.presentKey,
      read.key,
      write.key,
      read.keepersKey,
      write.keepersKey,
      read.sinceKey,
      write.sinceKey,
      read.readingsKey,
      write.readingsKey,
      this.o.keeperId,
      QUOTA_WINDOW_MS,
      // Inherited grants not yet judged are held too (inherited-grants.ts).
      read.recent.length > 0 || read.inheritedOpen ? 1 : 0,
      write.recent.length > 0 || write.inheritedOpen ? 1 : 0,
      newestWritten(read, now),
      newestWritten(write, now),
      readingSent(read),
      readingSent(write),
    );
    this.o.link.scriptAnswered(true, QUOTA_SCRIPTS);
    const at = this.o.clock.now();
    // Before this answer is heard: whether Redis had answered this keeper before (a loss) or not.
    const knew = { read: read.seen.answered, write: write.seen.answered };
    heard(read, redisAt, reads, readsSince, at, this.o.nextMember);
    heard(write, redisAt, writes, writesSince, at, this.o.nextMember);
    this.count(present);
    void this.acknowledge();
    // Debug only (every PRESENCE_INTERVAL_MS per keeper): what this keeper's share is taken from.
    this.o.logger.debug({ event: 'quota.presence', keepers: this.presentNow, reads: heldTotal(reads), writes: heldTotal(writes) }, 'keepers present and the shared window heard from Redis');
    // Redis lost this keeper's grants (or it made some alone): written back now, calls or not.
    // Waiting for its next call left them out of the window up to a minute, the others held to
    // their share of it meanwhile, or spending on top of them.
    for (const [st, lost] of [
      [read, readsLost],
      [write, writesLost],
    ] as const) {
      if (lost === 1) restoreAll(st, knew[st.kind]);
      if (st.restore || st.recent.some((g) => !g.written)) void this.o.writeBack(st);
    }
  }

  /**
   * Tells Redis the reading this keeper now counts from (the presence answer just heard): until
   * then Redis keeps room for what it could spend from the one before, a presence interval older.
   * A failure is said as any command's.
   */
  private async acknowledge(): Promise<void> {
    if (this.closed || !this.o.link.usable) return;
    const { read, write } = this.o.kinds;
    try {
      await this.client.corralQuotaReading(this.o.presentKey, read.readingsKey, write.readingsKey, this.o.keeperId, QUOTA_WINDOW_MS, readingSent(read), readingSent(write));
      this.o.link.scriptAnswered(true, QUOTA_SCRIPTS);
    } catch (err) {
      this.o.link.commandFailed(err, QUOTA_SCRIPTS);
    }
  }

  private get client(): PresenceClient {
    return this.o.link.client as unknown as PresenceClient;
  }

  /** Counts the keepers Redis said are present (the presence script's answer, or a grant's). */
  count(present: number): void {
    this.presentNow = Math.max(1, present);
    raise(this.presentPeak, this.presentNow, this.o.clock.now());
    if (this.closed) return;
    const peak = this.presentPeak;
    if (this.keepersSaid?.keepers !== peak.keepers || peak.at - this.keepersSaid.at >= QUOTA_WINDOW_MS) {
      this.keepersSaid = { keepers: peak.keepers, at: peak.at };
      this.o.onKeepersSeen?.(this.keepersSaid);
    }
  }

  /**
   * Idempotent. Leaves the keepers present, when Redis is usable and the windows hold every call
   * of this keeper's (none made alone or lost by Redis waits to be written back): a keeper that
   * stopped would otherwise be counted, and room kept for what it could spend alone, for two
   * windows. One that owes the windows calls stays, its room kept, until its successor (the quota
   * ledger's) writes them back or Redis forgets it. The link is closed by its owner (after this
   * is sent).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.presenceTimer);
    this.o.link.client.off('ready', this.onLinkReady);
    const { read, write } = this.o.kinds;
    const owes = [read, write].some((st) => st.restore || st.inheritedOpen || st.recent.some((g) => !g.written));
    if (owes || !this.o.link.usable) return;
    this.client.corralQuotaLeave(this.o.presentKey, read.readingsKey, write.readingsKey, this.o.keeperId).catch(() => undefined);
  }
}
