// Google's per-minute quotas as the values calls spend them: the project's reads and writes, and
// each user's (a service account is one user; an API key's calls assert none). Apart from server.ts
// so that how a call is admitted is one call there (take), with the refusal's 429 (api-error.ts);
// the minute's window itself is faults.ts's MinuteQuota.

import { quotaError, type ApiError } from './api-error.js';
import { MinuteQuota, UserQuotas, type Faults } from './faults.js';

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
