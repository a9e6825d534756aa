// Google's per-minute quotas as the values calls spend them: the project's reads and writes, and
// each user's (a service account is one user; an API key's calls assert none). Apart from server.ts
// so that how a call is admitted is one call there (take), with the refusal's 429 (api-error.ts).
// The limits themselves are faults (faults.ts), which a test may change at any time.

import { quotaError, type ApiError } from './api-error.js';
import type { Faults } from './faults.js';

/** Google refills its per-minute quotas each minute: a fixed window per wall-clock minute. */
class MinuteQuota {
  #window = -1;
  #used = 0;
  constructor(private readonly now: () => number) {}

  /** Whether a unit is left this minute under `limit` (0 = unlimited); takes nothing. */
  has(limit: number): boolean {
    this.#roll();
    return limit <= 0 || this.#used < limit;
  }

  /** Takes one unit; false when `limit` units were already used this minute (limit 0 = unlimited). */
  take(limit: number): boolean {
    if (!this.has(limit)) return false;
    this.#used += 1;
    return true;
  }

  /** The minute's calls forgotten: a full quota from now to the minute's end. */
  reset(): void {
    this.#used = 0;
  }

  #roll(): void {
    const w = Math.floor(this.now() / 60_000);
    if (w !== this.#window) {
      this.#window = w;
      this.#used = 0;
    }
  }
}

/** One MinuteQuota per user (a service account's email), made as users call. */
class UserQuotas {
  readonly #quotas = new Map<string, MinuteQuota>();
  constructor(private readonly now: () => number) {}

  reset(): void {
    this.#quotas.clear();
  }

  of(user: string): MinuteQuota {
    let q = this.#quotas.get(user);
    if (!q) {
      q = new MinuteQuota(this.now);
      this.#quotas.set(user, q);
    }
    return q;
  }
}

export class Quotas {
  readonly #reads: MinuteQuota;
  readonly #writes: MinuteQuota;
  readonly #userReads: UserQuotas;
  readonly #userWrites: UserQuotas;

  constructor(now: () => number) {
    this.#reads = new MinuteQuota(now);
    this.#writes = new MinuteQuota(now);
    this.#userReads = new UserQuotas(now);
    this.#userWrites = new UserQuotas(now);
  }

  /**
   * Takes a unit of the project's quota and of `user`'s (when the call has one) under the limits
   * of `f`; or, when one of them has none left this minute, returns Google's 429 for it.
   */
  take(write: boolean, user: string | undefined, f: Faults): ApiError | undefined {
    // Both quotas are checked before either is taken: a call one of them refuses uses neither.
    const project = write ? this.#writes : this.#reads;
    const projectLimit = write ? f.writesPerMinute : f.readsPerMinute;
    const perUser = user === undefined ? undefined : (write ? this.#userWrites : this.#userReads).of(user);
    const userLimit = write ? f.writesPerMinutePerUser : f.readsPerMinutePerUser;
    if (!project.has(projectLimit)) return quotaError(write, projectLimit, 'project');
    if (perUser && !perUser.has(userLimit)) return quotaError(write, userLimit, 'user');
    project.take(projectLimit);
    perUser?.take(userLimit);
    return undefined;
  }

  /** As at the start of a minute, the project's and every user's. */
  reset(): void {
    this.#reads.reset();
    this.#writes.reset();
    this.#userReads.reset();
    this.#userWrites.reset();
  }
}
