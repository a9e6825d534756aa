// One ask of the shared window through Redis (TAKE_SCRIPT, shared-quota-scripts.ts), for the
// shared quota (shared-quota.ts): a slot asked for, or only a write-back. Each ask carries this
// keeper's grants the window lacks (made alone while Redis was away, or all of them once Redis
// lost its data, backdated to when they were made), whether it is under its share (own-share.ts),
// and its newest grant for Redis to look for; its answer is heard into the kind's state
// (quota-kind-state.ts). A file of its own: the script's arguments, what a write-back sends and
// when it is said are one protocol, while whether a call waits or goes alone is the quota's.

import type { Logger } from '../../log/logger.js';
import type { RedisLink } from '../../redis/link.js';
import type { Clock } from './clock.js';
import { underShare } from './own-share.js';
import { QUOTA_WINDOW_MS } from './quota.js';
import { judgeInherited } from './inherited-grants.js';
import { heard, newestWritten, prune, readingSent, restoreAll, type Grant, type KindState } from './quota-kind-state.js';
import { QUOTA_SCRIPTS, TAKE_SCRIPT, type TakeAnswer } from './shared-quota-scripts.js';

export interface WindowAskOptions {
  readonly link: RedisLink;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Unique per keeper (shared-quota.ts): its grants' members are made from it. */
  readonly keeperId: string;
  /** Where the keepers present are counted (quota-presence.ts). */
  readonly presentKey: string;
  /** The most keepers counted lately: present, or making calls of this kind through Redis. */
  readonly keepersBefore: (st: KindState) => number;
  /** The quota is closed: no write-back is sent. */
  readonly closed: () => boolean;
}

export class WindowAsks {
  private grantSeq = 0;

  constructor(private readonly o: WindowAskOptions) {
    o.link.client.defineCommand('corralTakeQuota', { numberOfKeys: 6, lua: TAKE_SCRIPT });
  }

  /** A new grant's member in the shared window: it must not repeat. */
  nextMember(): string {
    return `${this.o.keeperId}:${++this.grantSeq}`;
  }

  /** Writes back what the window lacks of this keeper's grants, taking none; a failure is said as any command's. */
  async writeBack(st: KindState): Promise<void> {
    if (this.o.closed() || !this.o.link.usable) return;
    try {
      // Unknown keeper (2): its grants the window held are sent too, at the second ask.
      if ((await this.ask(st, false))[0] === 2) {
        restoreAll(st, st.seen.answered);
        await this.ask(st, false);
      }
      this.o.link.scriptAnswered(true, QUOTA_SCRIPTS);
    } catch (err) {
      this.o.link.commandFailed(err, QUOTA_SCRIPTS);
    }
  }

  /**
   * Asks Redis for a slot (`take`), or only writes back (the answer is then a wait of 0);
   * `onGrant` hears the grant when one is made.
   */
  async ask(st: KindState, take = true, onGrant?: (grant: Grant) => void): Promise<TakeAnswer> {
    const now = this.o.clock.now();
    prune(st, now);
    const restoring = st.restore;
    st.restore = false;
    const sending = restoring ? st.recent : st.recent.filter((g) => !g.written);
    const args: (string | number)[] = [];
    for (const g of sending) args.push(g.member, Math.max(0, now - g.at));
    // Inherited grants not yet judged are held too: an unknown keeper is told so (2), with the
    // window's state, and its next ask writes back those Redis cannot hold.
    const holdsOthers = sending.length < st.recent.length || st.inheritedOpen ? 1 : 0;
    const member = take ? this.nextMember() : '';
    const client = this.o.link.client as unknown as { corralTakeQuota(...args: (string | number)[]): Promise<TakeAnswer> };
    let answer: TakeAnswer;
    try {
      const under = underShare(st, now, this.o.keepersBefore(st)) ? 1 : 0;
      if (take) st.asking++;
      const probe = restoring ? '' : newestWritten(st, now);
      answer = await client.corralTakeQuota(
        st.key,
        st.keepersKey,
        st.sinceKey,
        this.o.presentKey,
        st.insertedKey,
        st.readingsKey,
        st.perMinute,
        QUOTA_WINDOW_MS,
        this.o.keeperId,
        member,
        holdsOthers,
        this.o.keepersBefore(st),
        under,
        probe,
        // The reading this keeper counts from, not this answer's: it may never take this one in.
        readingSent(st),
        ...args,
      );
    } catch (err) {
      // Not known to be written: the next ask that reaches Redis writes them back.
      st.restore ||= restoring;
      throw err;
    } finally {
      if (take) st.asking--;
    }
    if (answer[0] === 2) {
      judgeInherited(st, answer[4], answer[6], this.o.clock.now(), () => this.nextMember());
      return answer;
    }
    heard(st, answer[4], answer[5], answer[6], this.o.clock.now(), () => this.nextMember());
    for (const g of sending) {
      if (!g.written) st.recorder?.shared(st.kind, g.at);
      g.written = true;
    }
    const loss = st.restoreIsLoss;
    if (restoring) st.restoreIsLoss = false;
    if (restoring && loss && now - st.restoreSaidAt >= QUOTA_WINDOW_MS) {
      st.restoreSaidAt = now;
      this.o.logger.warn(
        { event: 'sheets.quota_window_restored', kind: st.kind, grants: sending.length },
        `sheets: Redis had lost the shared ${st.kind} quota window (restarted empty, or failed over): this keeper wrote back its ${sending.length} grants of the last minute`,
      );
    }
    if (answer[0] === 1) {
      const grant: Grant = { member, at: now, written: true };
      st.recent.push(grant);
      onGrant?.(grant);
    }
    return answer;
  }
}
