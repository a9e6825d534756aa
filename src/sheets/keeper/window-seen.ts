// What the shared quota window held when Redis last answered (shared-quota-scripts.ts): the
// grants of every host, counted per second of their age. When Redis goes away, this host spends
// its share less all of them, each until it leaves the window. Counting only its own calls, a
// host whose peers had spent the window just before the outage spent its whole share on top of
// theirs (10 of 10 spent by one host, then 4 more by another within the minute: Google's 429).
//
// What the other hosts spent after this host last heard from Redis is not known: at most a few
// seconds of their calls for a keeper that makes no call (it says it is present every 5 s, and
// hears the window in the answer), less for one that calls Google. The shared quota estimates
// them from the pace the window was filling at (recent()).

import { HELD_STEP_MS } from './shared-quota-scripts.js';

export class WindowSeen {
  /** Redis's time at the answer recorded (a newer answer replaces it, an older one does not). */
  private redisAtMs = -Infinity;
  /** When it was received, in this host's clock. */
  private atMs = -Infinity;
  private countsByAge: readonly number[] = [];
  private answeredHere = false;

  /**
   * Whether a reading is held: Redis's answer to this keeper, or the one its predecessor last
   * heard (the quota ledger's, taken at start): what the window held counts either way.
   */
  get known(): boolean {
    return this.redisAtMs > -Infinity;
  }

  /** Whether Redis has answered this keeper itself since it started (not only its predecessor). */
  get answered(): boolean {
    return this.answeredHere;
  }

  /** The reading's grants by age, as recorded (what the quota ledger keeps for a successor). */
  get counts(): readonly number[] {
    return this.countsByAge;
  }

  /** Redis's time at the answer recorded (-Infinity before the first). */
  get redisAt(): number {
    return this.redisAtMs;
  }

  /** When the answer recorded was received, in this host's clock (-Infinity before the first). */
  get at(): number {
    return this.atMs;
  }

  /**
   * Records an answer: `counts[i]` grants aged [i, i + 1) steps at Redis's time `redisAt`,
   * received at `at` (this host's clock). An answer that comes late (a script resent after Redis
   * restarted) does not replace a newer one. `answered` false: the predecessor's reading, taken
   * at start. Returns whether it was recorded.
   */
  record(redisAt: unknown, counts: unknown, at: number, answered = true): boolean {
    if (typeof redisAt !== 'number' || !Array.isArray(counts) || redisAt < this.redisAtMs) return false;
    this.redisAtMs = redisAt;
    this.atMs = at;
    this.countsByAge = counts.map((c) => (typeof c === 'number' && c > 0 ? c : 0));
    this.answeredHere ||= answered;
    return true;
  }

  /** The grants the answer held that were younger than `ms` (to a step): the window's recent pace. */
  recent(ms: number): number {
    let n = 0;
    this.countsByAge.forEach((c, i) => {
      if (i * HELD_STEP_MS < ms) n += c;
    });
    return n;
  }

  /**
   * The grants' times in this host's clock, each at the latest it can have been made (the answer
   * came after Redis's time, and a grant aged i steps and a bit is dated i steps before): a slot
   * is held up to a step and the answer's way too long, never too short.
   */
  times(): number[] {
    const out: number[] = [];
    this.countsByAge.forEach((n, i) => {
      for (let k = 0; k < n; k++) out.push(this.atMs - i * HELD_STEP_MS);
    });
    return out;
  }

  /**
   * The grants' times at the earliest they can have been made (a step before times()): when a
   * wait is told from them, it is never longer than the window makes it (shared-quota.ts msUntilSlot).
   */
  earliestTimes(): number[] {
    return this.times().map((t) => t - HELD_STEP_MS);
  }
}
