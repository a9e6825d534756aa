// What the keeper does when Google answers 429 RESOURCE_EXHAUSTED although the bucket paced the
// calls to SHEETS_*_PER_MINUTE: the project's real quota is lower than the setting (a per-user
// quota lowered on the project, another app calling as the same account). Each range used to back
// off alone, so the bucket kept handing out tokens for calls Google refused: with a real quota of
// 20 a minute and the setting at 60, 36 more reads went out within 3 s of the first 429, all
// refused. Now a 429 holds the whole bucket the call drew from:
//   - to Google's Retry-After when it sent one;
//   - and to what Google accepted in the last minute: the bucket grants no more than the calls that
//     succeeded in the last 60 s (at least 1) in any 60 s window, so the next call waits until a
//     slot of the rolling minute frees, and a minute paced at that never holds more than Google
//     let through; without a Retry-After, also for Google's backoff, growing with the 429s in a row
//     (1, 2, 4 ... 32 s) while no call succeeds in between. A call granted before the 429 and
//     answered while its pause holds counts in that ceiling too (Google accepted it before it
//     refused); one answered after the pause does not, since it may have been granted after it.
// A minute after the last 429, a call that succeeds raises that ceiling by one (at most once a
// second), until it is the
// setting again (a quota raised on the project, another app's burst over): a probe past the real
// quota costs one refusal, and the ceiling falls back to what Google accepted. Said at the first
// 429, then at most once a minute with the count, naming the setting to lower; and once when the
// ceiling is the setting again.
//
// Not so for a 429 that comes while this host spends its share alone (REDIS_URL, Redis away, a
// call made alone in the last minute): the other hosts' calls, which it cannot count, explain it.
// Holding the bucket to what this host alone got through (7 a minute in the audit) and telling
// the operator to lower a setting that is right was wrong twice. Such a 429 waits out Google's
// Retry-After or backoff, and is said on its own (`alone: true`), without the ceiling.

import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { backoffMs } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { QUOTA_WINDOW_MS, type QuotaBucket, type QuotaKind } from './quota.js';

/** The ceiling grows back by one call at most this often. */
const RAISE_EVERY_MS = 1000;

const SETTING: Readonly<Record<QuotaKind, string>> = { read: 'SHEETS_READS_PER_MINUTE', write: 'SHEETS_WRITES_PER_MINUTE' };

/** Whether `err` is Google's quota refusal (429 RESOURCE_EXHAUSTED), and the wait it asked for. */
function quotaRefusal(err: unknown): { retryAfterMs: number | undefined } | undefined {
  const e = err as { code?: unknown; status?: unknown; retryAfterMs?: unknown } | null | undefined;
  if (e?.code !== 'CORRAL_ERR_SHEETS_QUOTA' || e.status !== 429) return undefined;
  return { retryAfterMs: typeof e.retryAfterMs === 'number' && e.retryAfterMs > 0 ? e.retryAfterMs : undefined };
}

class KindRefusals {
  /** Times of the calls Google accepted in the last window, oldest first. */
  private successes: number[] = [];
  /** 429s since the last success (the backoff's exponent). */
  private inARow = 0;
  private lastRefusalAt = -Infinity;
  private raisedAt = -Infinity;
  /** The end of the last 429's pause (Retry-After or backoff): no call is granted before it. */
  private pausedUntil = -Infinity;
  private ceiling: number | undefined;
  private readonly said: RepeatedFailure;
  /** 429s while this host acted alone: said apart, and over at the next call Google accepts. */
  private readonly saidAlone: RepeatedFailure;

  constructor(
    private readonly kind: QuotaKind,
    private readonly bucket: QuotaBucket,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {
    this.said = new RepeatedFailure(() => clock.now());
    this.saidAlone = new RepeatedFailure(() => clock.now());
  }

  private prune(now: number): void {
    let i = 0;
    while (i < this.successes.length && (this.successes[i] ?? 0) <= now - QUOTA_WINDOW_MS) i++;
    if (i > 0) this.successes.splice(0, i);
  }

  succeeded(): void {
    const now = this.clock.now();
    this.prune(now);
    this.successes.push(now);
    this.inARow = 0;
    this.saidAlone.ended(() => undefined);
    if (this.ceiling !== undefined && now < this.pausedUntil && this.successes.length > this.ceiling) {
      // A call Google accepted before its 429 but answered after it (another connection's answer
      // overtaken by the refusal's): the last minute let more through than the 429 counted, and
      // the ceiling is what it let through, whichever answer came first. Only while the 429's
      // pause holds, when every answer is of a call granted before it: successes are counted when
      // answered, not when Google counted them, and after the pause one answered late beside one
      // answered fast put more in a minute of answers than Google's minute held, which raised the
      // ceiling past the quota within the minute after a 429 (a refusal more a minute, on
      // answers 0.2 to 3 s long).
      this.ceiling = Math.min(this.successes.length, this.bucket.perMinute);
      this.bucket.limitTo(this.ceiling);
    }
    if (this.ceiling === undefined || now - this.lastRefusalAt < QUOTA_WINDOW_MS || now - this.raisedAt < RAISE_EVERY_MS) return;
    // A minute without a 429: a success lets one more call into the window, at most one a second,
    // so a quota that grew back is found a call at a time, and a probe past it costs a refusal or
    // two (the calls in flight when it comes), not a burst.
    this.raisedAt = now;
    const raised = this.ceiling + 1;
    this.ceiling = raised >= this.bucket.perMinute ? undefined : raised;
    this.bucket.limitTo(this.ceiling);
    if (this.ceiling === undefined) {
      this.said.ended((refusals) =>
        this.logger.info(
          { event: 'sheets.quota_refusals_ended', kind: this.kind, refusals, perMinute: this.bucket.perMinute },
          `sheets: Google accepts ${this.kind}s again; they are paced to ${SETTING[this.kind]} (${this.bucket.perMinute} a minute) again, after ${refusals} refused`,
        ),
      );
    }
  }

  refused(retryAfterMs: number | undefined, alone: boolean): void {
    const now = this.clock.now();
    this.prune(now);
    this.inARow++;
    if (alone) {
      this.refusedAlone(retryAfterMs, now);
      return;
    }
    this.lastRefusalAt = now;
    // What Google let through in the last minute is what its quota allows (at least one call).
    this.ceiling = Math.max(1, Math.min(this.ceiling ?? this.bucket.perMinute, this.successes.length));
    this.bucket.limitTo(this.ceiling);
    const waitMs = retryAfterMs ?? backoffMs(this.inARow, this.random);
    this.bucket.pauseUntil(now + waitMs);
    this.pausedUntil = Math.max(this.pausedUntil, now + waitMs);
    const setting = SETTING[this.kind];
    this.said.failed((refusals, total) =>
      this.logger.warn(
        { event: 'sheets.quota_refused', kind: this.kind, refusals, refusals_total: total, perMinute: this.bucket.perMinute, heldTo: this.ceiling, pauseMs: Math.round(waitMs), retryAfterMs: retryAfterMs ?? null, setting },
        `sheets: Google refused ${total === 1 ? 'a' : `${refusals}`} ${this.kind}${total === 1 ? '' : 's'} with 429 RESOURCE_EXHAUSTED although corral paced them to ${setting}=${this.bucket.perMinute}: ` +
          `the project's real ${this.kind} quota is lower. All ${this.kind}s wait ${Math.ceil(waitMs / 1000)} s${retryAfterMs === undefined ? '' : " (Google's Retry-After)"}, then are held to ${this.ceiling} a minute, what Google accepted in the last one; ` +
          `set ${setting} at or below the per-user quota of the project (Google Cloud console > APIs & Services > Google Sheets API > Quotas), or raise that quota`,
      ),
    );
  }

  /** A 429 while the other hosts' calls were not counted: a pause, and no ceiling. */
  private refusedAlone(retryAfterMs: number | undefined, now: number): void {
    const waitMs = retryAfterMs ?? backoffMs(this.inARow, this.random);
    this.bucket.pauseUntil(now + waitMs);
    const setting = SETTING[this.kind];
    this.saidAlone.failed((refusals, total) =>
      this.logger.warn(
        { event: 'sheets.quota_refused', kind: this.kind, alone: true, refusals, refusals_total: total, perMinute: this.bucket.perMinute, heldTo: null, pauseMs: Math.round(waitMs), retryAfterMs: retryAfterMs ?? null, setting },
        `sheets: Google refused ${total === 1 ? 'a' : `${refusals}`} ${this.kind}${total === 1 ? '' : 's'} with 429 RESOURCE_EXHAUSTED while this host spent its share alone (Redis away): ` +
          `the other hosts' calls, which it could not count, filled the quota; ${setting} needs no change. ` +
          `All ${this.kind}s wait ${Math.ceil(waitMs / 1000)} s${retryAfterMs === undefined ? '' : " (Google's Retry-After)"}; once Redis is back the hosts share the quota again`,
      ),
    );
  }
}

/** The keeper's response to Google's 429s, per bucket (reads, writes). */
export class QuotaRefusals {
  private readonly kinds: Record<QuotaKind, KindRefusals>;

  /**
   * `actedAlone`: whether this host made a call of the kind without the window shared with the
   * sheet's other hosts in the last minute (shared-quota.ts; never without REDIS_URL).
   */
  constructor(
    buckets: Readonly<Record<QuotaKind, QuotaBucket>>,
    logger: Logger,
    clock: Clock = systemClock,
    random: () => number = Math.random,
    private readonly actedAlone: (kind: QuotaKind) => boolean = () => false,
  ) {
    this.kinds = {
      read: new KindRefusals('read', buckets.read, logger, clock, random),
      write: new KindRefusals('write', buckets.write, logger, clock, random),
    };
  }

  /** The outcome of a call sent upstream that drew a `kind` token: undefined when it succeeded. */
  attempted(kind: QuotaKind, error: unknown): void {
    if (error === undefined) {
      this.kinds[kind].succeeded();
      return;
    }
    const refusal = quotaRefusal(error);
    if (refusal) this.kinds[kind].refused(refusal.retryAfterMs, this.actedAlone(kind));
  }
}
