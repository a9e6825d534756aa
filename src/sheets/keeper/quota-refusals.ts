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
//
// What the 429s taught outlives the keeper (a reload that restarts it, a crash): the quota ledger
// keeps it beside the grants (quota-ledger.ts) and the next keeper adopts it. Forgotten, a keeper
// held to 20 a minute was followed by one that spent its 39 tokens left in a minute Google had
// already spent (all refused), then, at its first 429, counted no call Google had accepted and was
// held to 1 a minute, climbing back a call a second only after a minute with no 429: a minute
// without reads from Google. The successor takes, each only while it still bears on Google's
// minute:
//   - the calls Google accepted in the last window (a file from before this was kept counts the
//     predecessor's grants of the window instead), so a 429 holds it to no less than those;
//   - the ceiling, and when the last 429 came (a success raises it only a minute after that),
//     while that 429 or a call Google accepted is less than a window old: a predecessor silent
//     for longer left nothing of Google's minute, and the ceiling is learned again as at a first
//     start;
//   - the pause, for what is left of it (never longer than it was set for, whatever the wall
//     clock did between the keepers), and the 429s in a row while it ended less than a window ago.

import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { backoffMs } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { QUOTA_WINDOW_MS, type QuotaBucket, type QuotaKind } from './quota.js';

/** The ceiling grows back by one call at most this often. */
const RAISE_EVERY_MS = 1000;

const SETTING: Readonly<Record<QuotaKind, string>> = { read: 'SHEETS_READS_PER_MINUTE', write: 'SHEETS_WRITES_PER_MINUTE' };

/** What a kind's 429s taught, besides the calls Google accepted (times on the keeper's clock). */
export interface QuotaHold {
  /** The ceiling (calls a window), and when the last 429 that set or kept it came. */
  readonly heldTo?: { readonly ceiling: number; readonly refusedAt: number };
  /** The last pause: set at a 429 (`at`), no call before `until`; and the 429s in a row since the last success. */
  readonly pause?: { readonly at: number; readonly until: number; readonly inARow: number };
}

/** What a keeper leaves the next of a kind's 429s (quota-ledger.ts keeps it). */
export interface LearnedQuota extends QuotaHold {
  /** When the calls Google accepted in the last window were answered. */
  readonly successes: readonly number[];
}

/** Hears what the 429s taught, for the next keeper (the quota ledger). */
export interface LearnedRecorder {
  /** What a keeper took from its predecessor at start, as it holds it now. */
  adopted(kind: QuotaKind, learned: LearnedQuota): void;
  /** The ceiling, the pause or the 429s in a row changed. */
  held(kind: QuotaKind, hold: QuotaHold): void;
  /** A call Google accepted, answered at `at`. */
  succeeded(kind: QuotaKind, at: number): void;
}

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
  /** The bucket's pause as the last 429 of either sort set it (a 429 while alone included), for the next keeper. */
  private pause: { at: number; until: number } | undefined;
  private ceiling: number | undefined;
  /** The ceiling was the previous keeper's: its end is said although this keeper saw no 429. */
  private holdRestored = false;
  private recorder: LearnedRecorder | undefined;
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
    this.recorder?.succeeded(this.kind, now);
    const before = { inARow: this.inARow, ceiling: this.ceiling };
    this.inARow = 0;
    this.saidAlone.ended(() => undefined);
    this.raise(now);
    if (before.inARow > 0 || before.ceiling !== this.ceiling) this.recorder?.held(this.kind, this.hold(now));
  }

  /** A success lifts the ceiling: to what the minute let through while a 429's pause holds, then by one a second a minute after the 429. */
  private raise(now: number): void {
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
      const say = (refusals: number): void =>
        this.logger.info(
          { event: 'sheets.quota_refusals_ended', kind: this.kind, refusals, perMinute: this.bucket.perMinute },
          `sheets: Google accepts ${this.kind}s again; they are paced to ${SETTING[this.kind]} (${this.bucket.perMinute} a minute) again` +
            (refusals > 0 ? `, after ${refusals} refused` : ", the hold the previous keeper left is over"),
        );
      if (this.said.failing) this.said.ended(say);
      else if (this.holdRestored) say(0);
      this.holdRestored = false;
    }
  }

  /** Pauses the bucket until `now + waitMs` (a 429's Retry-After or backoff). */
  private pauseFor(now: number, waitMs: number): void {
    this.bucket.pauseUntil(now + waitMs);
    if (this.pause === undefined || now + waitMs > this.pause.until) this.pause = { at: now, until: now + waitMs };
  }

  /** What the next keeper is to know of the ceiling and the pause (a pause over and followed by a success is nothing to it). */
  private hold(now: number): QuotaHold {
    const p = this.pause;
    return {
      ...(this.ceiling !== undefined ? { heldTo: { ceiling: this.ceiling, refusedAt: this.lastRefusalAt } } : {}),
      ...(p && (p.until > now || this.inARow > 0) ? { pause: { at: p.at, until: p.until, inARow: this.inARow } } : {}),
    };
  }

  /**
   * Takes over what the previous keeper learned (the quota ledger's, on this keeper's clock),
   * as far as it still bears on Google's minute, and tells `recorder` from now on.
   */
  adopt(left: LearnedQuota | undefined, recorder: LearnedRecorder | undefined): void {
    const now = this.clock.now();
    // A time ahead of the clock (the wall clock stepped back between the keepers) counts as now,
    // as the bucket's grants do: held a full window, never longer.
    this.successes = (left?.successes ?? []).filter((t) => Number.isFinite(t) && t > now - QUOTA_WINDOW_MS).map((t) => Math.min(t, now)).sort((a, b) => a - b);
    const p = left?.pause;
    if (p) {
      // A pause dated ahead of the clock starts now: it lasts what it was set for, never longer.
      const ahead = Math.max(0, p.at - now);
      const pause = { at: p.at - ahead, until: p.until - ahead };
      // The backoff grows on while its 429s are recent; a window after their pause, it starts again.
      if (pause.until > now - QUOTA_WINDOW_MS) {
        this.pause = pause;
        this.inARow = p.inARow;
        if (pause.until > now) this.bucket.pauseUntil(pause.until);
      }
    }
    const h = left?.heldTo;
    if (h) {
      const refusedAt = Math.min(h.refusedAt, now);
      // Google's minute still holds that 429 or a call it accepted under the ceiling.
      if ((refusedAt > now - QUOTA_WINDOW_MS || this.successes.length > 0) && h.ceiling < this.bucket.perMinute) {
        this.ceiling = Math.max(1, h.ceiling);
        this.lastRefusalAt = refusedAt;
        this.holdRestored = true;
        this.bucket.limitTo(this.ceiling);
      }
    }
    this.recorder = recorder;
    const pauseMs = this.pause ? Math.max(0, this.pause.until - now) : 0;
    if (this.ceiling !== undefined || pauseMs > 0) {
      this.logger.info(
        { event: 'sheets.quota_hold_restored', kind: this.kind, heldTo: this.ceiling ?? null, pauseMs: Math.round(pauseMs), accepted: this.successes.length, perMinute: this.bucket.perMinute },
        `sheets: the previous keeper's 429s still hold ${this.kind}s: ` +
          (pauseMs > 0 ? `none for ${Math.ceil(pauseMs / 1000)} s, ` : '') +
          (this.ceiling !== undefined ? `at most ${this.ceiling} a minute (what Google accepted), ` : '') +
          `${this.successes.length} accepted in the last minute`,
      );
    }
    recorder?.adopted(this.kind, { ...this.hold(now), successes: this.successes });
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
    this.pauseFor(now, waitMs);
    this.pausedUntil = Math.max(this.pausedUntil, now + waitMs);
    this.recorder?.held(this.kind, this.hold(now));
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
    this.pauseFor(now, waitMs);
    this.recorder?.held(this.kind, this.hold(now));
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

  /**
   * Takes over what the previous keeper learned from Google's 429s (QuotaLedger.learnedLeft), and
   * has `recorder` keep what this one learns for the next. Call it at start, before any call.
   */
  adopt(left: Partial<Record<QuotaKind, LearnedQuota>>, recorder?: LearnedRecorder): void {
    for (const kind of ['read', 'write'] as const) this.kinds[kind].adopt(left[kind], recorder);
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
