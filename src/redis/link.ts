// The keeper's connection to Redis (REDIS_URL), shared by the hosts of one deployment for the
// Sheets quota and cache, and the failed logins per name. Redis is a help, never a dependency of serving: every command fails fast
// while it is unreachable (no offline queue, a short command timeout), and the callers then act
// for this host alone (shared-quota.ts, shared-ranges.ts, shared-logins.ts). The link reconnects by itself, with a
// capped backoff, for as long as the keeper runs.
//
// Said to the operator: the first connection (redis.connected), an outage once when it begins and
// then at most once a minute while it lasts (redis.unavailable), and its end (redis.recovered)
// once Redis has answered for REDIS_RECOVERED_AFTER_MS: a Redis that stalls every few seconds is
// one outage going on, not a "recovered" line followed by up to a minute of silence while the
// hosts act alone. The sharing itself resumes at the first answer; only the line waits.
// A Redis that answers but refuses (redis.misconfigured, refusal.ts) is no outage: a database it
// does not have stays refused until a connection selects it; ioredis only emits the SELECT's
// failure and goes on in database 0, which would mix the sheet's keys with whatever lives there.
// A command refused (NOPERM for a user without scripts, WRONGTYPE) stays refused until one of the
// keeper's scripts is answered: a plain GET that works says nothing of the scripts, and letting it
// end the refusal made the log say unavailable and recovered in turn while nothing was shared.
// A login refused (WRONGPASS, NOAUTH) is a refusal too, not an outage: ioredis emits it as an
// 'error' and closes the connection to try again, and that close says nothing new; it ends when
// a connection is ready (someone fixed REDIS_URL or the server's ACL).
// A Redis that refuses writes (OOM with noeviction, a read-only replica: refusal.ts) answers PING
// and GET all the same: it ends only when a script of the keeper's that writes is answered, and
// the link asks with one (the keeper's presence, probeWith) every REDIS_PROBE_MS meanwhile, so
// the hosts share again within about a second of Redis taking writes again.

import { Redis, type RedisOptions } from 'ioredis';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import { routeClientWarnings } from './client-warnings.js';
import { guardedConnector } from './guarded-connector.js';
import { databaseRefusal, isSelectRefusal, refusalOf, type Refusal } from './refusal.js';
import { readRedisCa, schemeHint, tlsHint } from './tls-ca.js';
import { redisTarget } from './url.js';

/** A command Redis has not answered by then fails (and the caller acts for this host alone). */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
/**
 * After a failed command, Redis is left alone this long: a Redis that hangs with its connection
 * open would otherwise cost every call the whole timeout (a miss looks, claims and polls: three).
 */
export const REDIS_PAUSE_AFTER_FAILURE_MS = 5000;
/**
 * While a failed command's outage lasts on an open connection, or Redis refuses writes, Redis is
 * asked (the keeper's presence script, probeWith; PING without one) this often
 * whether it answers again: the keeper then shares again within about a second of its return,
 * not at the next call after the pause (11 s after a 12 s hang in the audit). A probe that fails
 * extends the pause, so the callers' commands do not each wait out a timeout while Redis hangs.
 */
export const REDIS_PROBE_MS = 1000;
/**
 * An outage is said to be over (redis.recovered) once Redis has answered this long without a
 * failure: a failure before then is the same outage going on (it stalls, answers, stalls again).
 */
export const REDIS_RECOVERED_AFTER_MS = 5000;
export const CONNECT_TIMEOUT_MS = 2000;
const RECONNECT_MAX_MS = 5000;
/**
 * A refusal is said again at most this often while it lasts: it ends only when someone changes
 * Redis's settings or REDIS_URL, and a line a minute would bury the log in it.
 */
export const REFUSAL_REPEAT_MS = 3_600_000;

/**
 * The link's time: its pause after a failed command, its probes, the settle before redis.recovered,
 * and failingForMs. Shaped as the keeper's Clock (sheets/keeper/clock.ts), so a test's FakeClock
 * fits; declared here so that redis/ imports nothing from sheets/.
 */
export interface LinkClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const SYSTEM_LINK_CLOCK: LinkClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RedisLinkOptions {
  readonly url: string;
  /** REDIS_TLS_CA_FILE: the CAs a rediss:// server's certificate is checked against. */
  readonly tlsCaFile?: string | undefined;
  readonly logger: Logger;
  /** Overrides for tests (shorter waits). */
  readonly commandTimeoutMs?: number;
  readonly pauseAfterFailureMs?: number;
  readonly probeMs?: number;
  readonly recoveredAfterMs?: number;
  /**
   * Tests only (default: Date.now and unref'd timers). A fake clock lets a unit test say how long
   * Redis answered or failed on the link's clock instead of sleeping: the settle before
   * redis.recovered and the gap failingForMs reports were real time before, and a loaded machine
   * that ran a test's steps late flipped its outcome.
   */
  readonly clock?: LinkClock;
}

export class RedisLink {
  readonly client: Redis;
  /** Where it connects, for log lines: the URL without its password. */
  readonly target: string;
  private readonly outage: RepeatedFailure;
  private recoveredTimer: unknown;
  /** Refusals of Redis's own (a new kind is said at once, as a new RepeatedFailure). */
  private refusalLog = new RepeatedFailure(() => this.clock.now(), REFUSAL_REPEAT_MS);
  private refusalKind: Refusal['kind'] | undefined;
  /** The database REDIS_URL names (undefined: Redis's default, 0). */
  private readonly db: number | undefined;
  /**
   * This connection's SELECT of that database was refused: every command would go to database 0,
   * so none is sent until a new connection selects it.
   */
  private dbRefused: Error | undefined;
  /**
   * A connection's login (or another command ioredis sends before it is ready) was refused: its
   * close and the next ones are no outage. Cleared when a connection is ready.
   */
  private connectionRefused: Refusal | undefined;
  /**
   * This connection's login was refused and said (counted) already: the SELECT of REDIS_URL's
   * database and the ready check sent after the AUTH come back NOAUTH on the same connection, and
   * are the same refused login, not a database the server does not have.
   */
  private loginRefusedHere = false;
  /** Failures of a refusal that ended while an outage was still settling: said with its end. */
  private refusalFailuresHeld = 0;
  /** A command Redis refused (refusal.ts); cleared by a script of the keeper's answered. */
  private refusal: Refusal | undefined;
  private everReady = false;
  private closed = false;
  private lastFailureAt = -Infinity;
  /** When the first failure since Redis last answered came (the link's clock), undefined while it answers. */
  private failingSinceAt: number | undefined;
  private probeTimer: unknown;
  /** A write of the keeper's that asks whether Redis answers (and takes writes) again; else PING. */
  private probeScript: (() => Promise<void>) | undefined;
  /** ioredis's own warnings (client-warnings.ts), said once each: ioredis says them at every connection. */
  private readonly clientWarningsSaid = new Set<string>();
  private readonly unrouteClientWarnings: () => void;

  constructor(private readonly o: RedisLinkOptions) {
    const { options, shown } = redisTarget(o.url, o.tlsCaFile === undefined ? undefined : readRedisCa(o.tlsCaFile));
    this.target = shown;
    this.db = options.db;
    this.outage = new RepeatedFailure(() => this.clock.now(), undefined, this.recoveredAfterMs);
    const settings: RedisOptions = {
      ...options,
      connectionName: `corral-keeper-${process.pid}`,
      // While disconnected, a command fails at once instead of waiting in a queue: a read or a
      // quota token must not wait on Redis longer than the timeout below.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: o.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(RECONNECT_MAX_MS, 100 * 2 ** Math.min(times, 6)),
      lazyConnect: false,
      ...guardedConnector,
    };
    this.unrouteClientWarnings = routeClientWarnings((text) => {
      if (this.clientWarningsSaid.has(text)) return;
      this.clientWarningsSaid.add(text);
      o.logger.warn({ event: 'redis.warning', redis: this.target }, text);
    });
    this.client = new Redis(settings);
    // A new connection: its SELECT is still to come (sent before its ready check, so answered before 'ready').
    this.client.on('connect', () => {
      this.dbRefused = undefined;
      this.loginRefusedHere = false;
    });
    this.client.on('ready', () => this.onReady());
    // ioredis emits 'error' for every failed (re)connection: without a listener it would be thrown.
    // It emits a refused SELECT the same way, and then goes on in database 0; a refused login
    // (AUTH, or the ready check without one), and then closes the connection to try again.
    this.client.on('error', (err: Error) => this.onConnectionError(err));
    this.client.on('close', () => {
      if (!this.connectionRefused) this.onDown(new Error('connection closed'));
    });
  }

  /** Whether commands can be sent now (they may still fail): connected, in the database REDIS_URL names. */
  get ready(): boolean {
    return this.client.status === 'ready' && !this.dbRefused;
  }

  /**
   * Whether the keeper shares through Redis now, as its figures say (redisConnected), and whether
   * the cached ranges use it (shared-ranges.ts): connected, nothing refused (without its scripts,
   * the quota cannot be shared), and no outage since a command failed (a timeout, Redis hanging
   * with its connection open) until a command is answered again. Meanwhile the host acts alone.
   */
  get sharing(): boolean {
    return this.usable && !this.refusal && !this.outage.failing;
  }

  /**
   * What Redis refuses now (refusal.ts), or undefined: a command of the keeper's, the login, or
   * the database. Said in the figures beside `sharing`, so that `corral status` and the dashboard
   * name the refusal (and redis.misconfigured, with its fix) rather than calling an answering
   * Redis down and sending the operator to a redis.unavailable line the log does not hold.
   */
  get refusedKind(): Refusal['kind'] | undefined {
    if (this.dbRefused && this.connectionRefused?.kind !== 'login') return 'database';
    return this.refusal?.kind ?? this.connectionRefused?.kind;
  }

  /**
   * Resolves once connected, or after `timeoutMs` (false): a keeper waits this long at its start, so
   * its first reads can take what the other hosts hold rather than go to Google alone.
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      // The link's own listener came first: a refused database leaves it not ready.
      const onReady = () => done(this.ready);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  /**
   * How long ago Redis stopped answering (the first failure since its last answer: a command that
   * failed, the connection lost), 0 while it answers: the shared quota dates the end of what it
   * knows of the other hosts' calls by it (own-share.ts).
   */
  get failingForMs(): number {
    return this.failingSinceAt === undefined ? 0 : Math.max(0, this.clock.now() - this.failingSinceAt);
  }

  /** Whether to send commands now: connected, and no command failed in the last few seconds. */
  get usable(): boolean {
    return this.ready && this.clock.now() - this.lastFailureAt >= (this.o.pauseAfterFailureMs ?? REDIS_PAUSE_AFTER_FAILURE_MS);
  }

  private onReady(): void {
    if (this.dbRefused) return;
    this.connectionRefused = undefined;
    // A new connection: the pause after a failed command was for the old one.
    this.lastFailureAt = -Infinity;
    this.failingSinceAt = undefined;
    if (!this.everReady) {
      this.everReady = true;
      this.o.logger.info({ event: 'redis.connected', redis: this.target }, `redis: connected to ${this.target}; the Sheets quota, cache and failed-login counts are shared with the other hosts using it`);
    }
    this.recovered();
  }

  private get clock(): LinkClock {
    return this.o.clock ?? SYSTEM_LINK_CLOCK;
  }

  private get recoveredAfterMs(): number {
    return this.o.recoveredAfterMs ?? REDIS_RECOVERED_AFTER_MS;
  }

  /**
   * Ends an outage or a refusal, once something was answered and nothing is refused: a refusal
   * is said over at once, an outage once Redis has answered REDIS_RECOVERED_AFTER_MS since.
   */
  private recovered(): void {
    if (!this.ready || this.refusal) return;
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
    this.clock.clearTimeout(this.recoveredTimer);
    // A little after: a timer may fire a millisecond early by Date.now, and the end would wait for the next.
    this.recoveredTimer = this.clock.setTimeout(() => this.outage.flush(), this.recoveredAfterMs + 20);
  }

  private sayRecovered(outageFailures: number): void {
    const failures = outageFailures + this.refusalFailuresHeld;
    this.refusalFailuresHeld = 0;
    this.o.logger.info({ event: 'redis.recovered', redis: this.target, failures }, `redis: ${this.target} reachable and taking the keeper's commands again; the Sheets quota, cache and failed-login counts are shared again`);
  }

  private onConnectionError(err: Error): void {
    const refusal = refusalOf(err);
    if (refusal?.kind === 'login') {
      // WRONGPASS for the AUTH, then NOAUTH for the SELECT of REDIS_URL's database (and for the
      // ready check): one refused login per connection. Said as a database refused, a wrong
      // password alternated login and database lines at every reconnection (each a new kind, so
      // each said at once), and `corral status` named the database.
      if (this.closed) return;
      // Nothing is sent on this connection either way; it is never ready in another database.
      if (isSelectRefusal(err)) this.dbRefused = err;
      this.connectionRefused = refusal;
      if (this.loginRefusedHere) return;
      this.loginRefusedHere = true;
      this.refused(refusal, err);
      return;
    }
    if (isSelectRefusal(err)) {
      this.onDatabaseRefused(err);
      return;
    }
    if (!refusal) {
      this.onDown(err);
      return;
    }
    if (this.closed) return;
    this.connectionRefused = refusal;
    this.refused(refusal, err);
  }

  private onDatabaseRefused(err: Error): void {
    if (this.closed) return;
    this.dbRefused = err;
    // The SELECT was answered for itself: this connection's login (if any) was accepted.
    this.connectionRefused = undefined;
    this.refused(databaseRefusal(err, this.db), err);
  }

  /** Redis answered, but refused: said with its fix, at once for a new kind, then at most hourly. */
  private refused(refusal: Refusal, err: Error): void {
    if (this.refusalKind !== refusal.kind) {
      this.refusalLog = new RepeatedFailure(() => this.clock.now(), REFUSAL_REPEAT_MS);
      this.refusalKind = refusal.kind;
    }
    const what = { database: `database ${this.db ?? 0}`, scripts: "the keeper's scripts", keys: "the keeper's keys", login: 'the login', writes: "the keeper's writes", command: 'a command of the keeper' }[refusal.kind];
    this.refusalLog.failed((sinceLastLine, total) =>
      this.o.logger.error(
        { event: 'redis.misconfigured', code: 'CORRAL_ERR_REDIS_REFUSED', redis: this.target, refused: refusal.kind, err: describeError(err), fix: refusal.fix, failures: total, since_last_line: sinceLastLine },
        `redis: ${this.target} refused ${what} (${refusal.reason}): ${refusal.fix}; until then this host reads Google, spends the quota on its own share and counts failed logins alone`,
      ),
    );
  }

  /**
   * A command failed while the connection is up: no answer in time, or an error of Redis's own
   * that passes (out of memory, loading) is an outage; one that does not (an ACL without EVAL) a
   * refusal. Either way the hosts act alone meanwhile, and Redis is left alone for a while.
   */
  commandFailed(err: unknown): void {
    this.lastFailureAt = this.clock.now();
    this.failingSinceAt ??= this.lastFailureAt;
    const e = err instanceof Error ? err : new Error(String(err));
    const refusal = refusalOf(e);
    if (!refusal) {
      this.onDown(e);
      this.probeSoon();
      return;
    }
    if (this.closed) return;
    this.refusal = refusal;
    this.refused(refusal, e);
    // Writes refused may end by themselves (keys expiring free memory): asked again shortly.
    if (refusal.kind === 'writes') this.probeSoon();
  }

  /**
   * A plain command (GET, SET) was answered: ends an outage said by commandFailed (as a
   * reconnection does), not a refusal, and while one holds does not shorten the pause after it.
   */
  commandAnswered(): void {
    if (this.refusal) return;
    this.lastFailureAt = -Infinity;
    this.failingSinceAt = undefined;
    this.recovered();
  }

  /**
   * One of the keeper's scripts was answered: ends an outage and a refusal alike; but one that
   * need not have written (`wrote` false: a claim's release, a login count only read) says
   * nothing of a Redis that refuses writes, and does not end that refusal.
   */
  scriptAnswered(wrote = true): void {
    if (!wrote && this.refusal?.kind === 'writes') return;
    this.refusal = undefined;
    this.lastFailureAt = -Infinity;
    this.failingSinceAt = undefined;
    this.recovered();
  }

  /**
   * Has the probe ask with `script` instead of PING: a write of the keeper's (its presence), which
   * calls scriptAnswered itself once answered and throws when not.
   */
  probeWith(script: () => Promise<void>): void {
    this.probeScript = script;
  }

  /** Asks Redis, in a while, whether it answers again (REDIS_PROBE_MS); one probe at a time. */
  private probeSoon(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = this.clock.setTimeout(() => void this.probe(), this.o.probeMs ?? REDIS_PROBE_MS);
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    // Disconnected: the reconnection ends the outage (onReady). Ended already: a caller's command was answered.
    if (this.closed || !this.ready || !(this.outage.failing || this.refusal?.kind === 'writes')) return;
    const script = this.probeScript;
    try {
      if (script) {
        await script();
      } else {
        await this.client.ping();
        this.commandAnswered();
      }
    } catch (err) {
      // PING refused (a user without it) is an answer all the same: Redis no longer hangs.
      if (!script && refusalOf(err)) this.commandAnswered();
      else this.commandFailed(err);
    }
  }

  private onDown(err: Error): void {
    if (this.closed) return;
    this.failingSinceAt ??= this.clock.now();
    // The scheme only while no connection ever worked: a reset later is Redis going away.
    const hint = tlsHint(err) ?? (this.everReady ? undefined : schemeHint(err, this.client.options.tls !== undefined));
    this.outage.failed((sinceLastLine, total) =>
      this.o.logger.warn(
        { event: 'redis.unavailable', code: 'CORRAL_ERR_REDIS', redis: this.target, err: describeError(err), failures: total, since_last_line: sinceLastLine },
        `redis: ${this.target} unreachable (${err.message}${hint ? `: ${hint}` : ''}); this host reads Google, spends the quota on its own share and counts failed logins alone until it is back (reconnecting by itself)`,
      ),
    );
  }

  /** Closes the connection; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.probeTimer);
    this.clock.clearTimeout(this.recoveredTimer);
    this.unrouteClientWarnings();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
