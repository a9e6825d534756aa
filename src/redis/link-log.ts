// What the link (link.ts) says to the operator: the first connection (redis.connected), an outage
// once when it begins and then at most once a minute while it lasts (redis.unavailable), and its
// end (redis.recovered) once Redis has answered for REDIS_RECOVERED_AFTER_MS: a Redis that stalls
// every few seconds is one outage going on, not a "recovered" line followed by up to a minute of
// silence while the hosts act alone. The sharing itself resumes at the first answer; only the line
// waits. A refusal (redis.misconfigured, refusal.ts) is said with its fix, and ioredis's own
// warnings (redis.warning, client-warnings.ts) once each.
//
// A file of its own: the link decides what Redis did (answered, failed, refused); this decides
// when a line is due and writes it, with the counts of failures since (RepeatedFailure). It is
// told of the link's state only through its calls, and holds one timer, the settle before
// redis.recovered.

import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import { REFUSAL_REPEAT_MS, type LinkClock } from './link-options.js';
import type { Refusal } from './refusal.js';

export interface LinkLogOptions {
  readonly logger: Logger;
  /** Where the link connects, for log lines: the URL without its password. */
  readonly target: string;
  /** The database REDIS_URL names (undefined: Redis's default, 0). */
  readonly db: number | undefined;
  readonly clock: LinkClock;
  readonly recoveredAfterMs: number;
}

export class LinkLog {
  private readonly outage: RepeatedFailure;
  private recoveredTimer: unknown;
  /** Refusals of Redis's own (a new kind is said at once, as a new RepeatedFailure). */
  private refusalLog = new RepeatedFailure(() => this.o.clock.now(), REFUSAL_REPEAT_MS);
  private refusalKind: Refusal['kind'] | undefined;
  /** Failures of a refusal that ended while an outage was still settling: said with its end. */
  private refusalFailuresHeld = 0;
  /** ioredis's own warnings (client-warnings.ts), said once each: ioredis says them at every connection. */
  private readonly clientWarningsSaid = new Set<string>();
  private closed = false;

  constructor(private readonly o: LinkLogOptions) {
    this.outage = new RepeatedFailure(() => this.o.clock.now(), undefined, o.recoveredAfterMs);
  }

  /** Whether an outage was said and its end not yet (failing, or answering for less than REDIS_RECOVERED_AFTER_MS). */
  get outageGoingOn(): boolean {
    return this.outage.failing;
  }

  /** One of ioredis's own warnings, in corral's words (client-warnings.ts). */
  warning(text: string): void {
    if (this.clientWarningsSaid.has(text)) return;
    this.clientWarningsSaid.add(text);
    this.o.logger.warn({ event: 'redis.warning', redis: this.o.target }, text);
  }

  /** The first connection. */
  connected(): void {
    this.o.logger.info({ event: 'redis.connected', redis: this.o.target }, `redis: connected to ${this.o.target}; the Sheets quota, cache and failed-login counts are shared with the other hosts using it`);
  }

  /**
   * Ends an outage or a refusal, once something was answered and nothing is refused: a refusal
   * is said over at once, an outage once Redis has answered REDIS_RECOVERED_AFTER_MS since.
   */
  recovered(): void {
    const pending = this.outage.failing;
    // A refusal that ends with an outage still to settle (Redis refusing a database, then down,
    // then back with it) is one return, said once with the outage's end and its failures counted
    // in: said apart, one return gave two recovered lines 5 s apart (audit).
    this.refusalLog.ended((failures) => {
      if (pending) this.refusalFailuresHeld += failures;
      else this.sayRecovered(failures);
    });
    this.refusalKind = undefined;
    this.outage.ended((failures) => this.sayRecovered(failures));
    if (!pending || this.closed) return;
    this.o.clock.clearTimeout(this.recoveredTimer);
    // A little after: a timer may fire a millisecond early by Date.now, and the end would wait for the next.
    this.recoveredTimer = this.o.clock.setTimeout(() => this.outage.flush(), this.o.recoveredAfterMs + 20);
  }

  private sayRecovered(outageFailures: number): void {
    const failures = outageFailures + this.refusalFailuresHeld;
    this.refusalFailuresHeld = 0;
    this.o.logger.info({ event: 'redis.recovered', redis: this.o.target, failures }, `redis: ${this.o.target} reachable and taking the keeper's commands again; the Sheets quota, cache and failed-login counts are shared again`);
  }

  /** Redis answered, but refused: said with its fix, at once for a new kind, then at most hourly. */
  refused(refusal: Refusal, err: Error): void {
    if (this.refusalKind !== refusal.kind) {
      this.refusalLog = new RepeatedFailure(() => this.o.clock.now(), REFUSAL_REPEAT_MS);
      this.refusalKind = refusal.kind;
    }
    const what = { database: `database ${this.o.db ?? 0}`, scripts: "the keeper's scripts", keys: "the keeper's keys", login: 'the login', writes: "the keeper's writes", command: 'a command of the keeper' }[refusal.kind];
    this.refusalLog.failed((sinceLastLine, total) =>
      this.o.logger.error(
        { event: 'redis.misconfigured', code: 'CORRAL_ERR_REDIS_REFUSED', redis: this.o.target, refused: refusal.kind, err: describeError(err), fix: refusal.fix, failures: total, since_last_line: sinceLastLine },
        `redis: ${this.o.target} refused ${what} (${refusal.reason}): ${refusal.fix}; until then this host reads Google, spends the quota on its own share and counts failed logins alone`,
      ),
    );
  }

  /** Redis did not answer (`hint`: what to do about it, when the error says). */
  unavailable(err: Error, hint: string | undefined): void {
    this.outage.failed((sinceLastLine, total) =>
      this.o.logger.warn(
        { event: 'redis.unavailable', code: 'CORRAL_ERR_REDIS', redis: this.o.target, err: describeError(err), failures: total, since_last_line: sinceLastLine },
        `redis: ${this.o.target} unreachable (${err.message}${hint ? `: ${hint}` : ''}); this host reads Google, spends the quota on its own share and counts failed logins alone until it is back (reconnecting by itself)`,
      ),
    );
  }

  /** Stops the settle timer (the link is closing); idempotent. */
  close(): void {
    this.closed = true;
    this.o.clock.clearTimeout(this.recoveredTimer);
  }
}
