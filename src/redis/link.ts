// The keeper's connection to Redis (REDIS_URL), shared by the hosts of one deployment for the
// Sheets quota and cache, and the failed logins per name. Redis is a help, never a dependency of
// serving: every command fails fast while it is unreachable (no offline queue, a short command
// timeout), and the callers then act for this host alone (shared-quota.ts, shared-ranges.ts,
// shared-logins.ts). The link reconnects by itself, with a capped backoff, for as long as the
// keeper runs.
//
// What it says to the operator, and when, is link-log.ts's; its settings and waits are
// link-options.ts's; the question it asks while Redis fails, link-probe.ts's. What is left here is
// what Redis did and what it ends:
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

import { Redis } from 'ioredis';
import { routeClientWarnings } from './client-warnings.js';
import { closingGreeting } from './greeting.js';
import { closingReply } from './guarded-connector.js';
import { LinkLog } from './link-log.js';
import { clientSettings, REDIS_COMMAND_TIMEOUT_MS, REDIS_PAUSE_AFTER_FAILURE_MS, REDIS_PROBE_MS, REDIS_RECOVERED_AFTER_MS, SYSTEM_LINK_CLOCK, type LinkClock, type RedisLinkOptions } from './link-options.js';
import { LinkProbe } from './link-probe.js';
import { databaseRefusal, isSelectRefusal, refusalOf, type Refusal } from './refusal.js';
import { readRedisCa, schemeHint, tlsHint } from './tls-ca.js';
import { redisTarget } from './url.js';

export class RedisLink {
  readonly client: Redis;
  /** Where it connects, for log lines: the URL without its password. */
  readonly target: string;
  /** What is said of it (link-log.ts). */
  private readonly log: LinkLog;
  private readonly probe: LinkProbe;
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
  /** A command Redis refused (refusal.ts); cleared by a script of the keeper's answered. */
  private refusal: Refusal | undefined;
  /**
   * Which of the keeper's scripts was refused (the `by` of commandFailed), if one was: only that
   * one answered ends the refusal. A user whose ACL lets the failed-login script run (GET, INCR)
   * but not the quota's (TIME, ZADD) had each login count end the quota's refusal: the log said
   * recovered and refused in turn, every few seconds, and nothing of the quota was shared.
   */
  private refusalBy: string | undefined;
  /** The `by` of the probe's script (probeWith). */
  private probeBy: string | undefined;
  private everReady = false;
  /** This connection reached Redis, and was not ready yet: a reset then may have hidden Redis's reason (greeting.ts). */
  private connectedHere = false;
  private readyHere = false;
  /** The reset of a connection not ready yet: its close asks Redis for its reason (greeting.ts). */
  private heldReset: Error | undefined;
  private closed = false;
  private lastFailureAt = -Infinity;
  /** When the link last dropped its connection for a READONLY answer (reconnectOnReadonly). */
  private readonlyReconnectAt = -Infinity;
  /** The connection is being dropped for a READONLY answer: its close is no outage. */
  private reconnectAsked = false;
  /** When the first failure since Redis last answered came (the link's clock), undefined while it answers. */
  private failingSinceAt: number | undefined;
  private readonly unrouteClientWarnings: () => void;

  constructor(private readonly o: RedisLinkOptions) {
    const { options, shown } = redisTarget(o.url, o.tlsCaFile === undefined ? undefined : readRedisCa(o.tlsCaFile));
    this.target = shown;
    this.db = options.db;
    this.log = new LinkLog({ logger: o.logger, target: shown, db: this.db, clock: this.clock, recoveredAfterMs: o.recoveredAfterMs ?? REDIS_RECOVERED_AFTER_MS });
    this.probe = new LinkProbe(this.clock, o.probeMs ?? REDIS_PROBE_MS, {
      // Disconnected: the reconnection ends the outage (onReady). Ended already: a caller's command was answered.
      wanted: () => this.ready && (this.log.outageGoingOn || this.refusal?.kind === 'writes'),
      ping: () => this.client.ping(),
      answered: () => this.commandAnswered(),
      failed: (err) => this.commandFailed(err, this.probeBy),
    });
    const settings = clientSettings(options, o.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS);
    this.unrouteClientWarnings = routeClientWarnings((text) => this.log.warning(text));
    this.client = new Redis({ ...settings, reconnectOnError: (err) => this.reconnectOnReadonly(err) });
    // A new connection: its SELECT is still to come (sent before its ready check, so answered before 'ready').
    this.client.on('connect', () => {
      this.dbRefused = undefined;
      this.loginRefusedHere = false;
      this.connectedHere = true;
      this.readyHere = false;
      this.heldReset = undefined;
      // A drop asked while ioredis was reconnecting already made no close to skip.
      this.reconnectAsked = false;
    });
    this.client.on('ready', () => {
      this.readyHere = true;
      this.onReady();
    });
    // ioredis emits 'error' for every failed (re)connection: without a listener it would be thrown.
    // It emits a refused SELECT the same way, and then goes on in database 0; a refused login
    // (AUTH, or the ready check without one), and then closes the connection to try again.
    this.client.on('error', (err: Error) => this.onConnectionError(err));
    this.client.on('close', () => {
      if (this.reconnectAsked) {
        this.reconnectAsked = false;
        return;
      }
      // What this connection was: the next one is none of it, until it says so.
      const wasReady = this.readyHere;
      const wasConnected = this.connectedHere;
      const reset = this.heldReset;
      this.readyHere = false;
      this.connectedHere = false;
      this.heldReset = undefined;
      if (this.connectionRefused) return;
      // Closed by Redis with its reason (protected mode, maxclients): said in its words.
      const said = closingReply((this.client as unknown as { stream?: unknown }).stream);
      if (said) {
        this.onConnectionError(said);
        return;
      }
      if (!wasReady && (wasConnected || reset)) {
        // Reset before it was ready: Redis may have refused it with words the reset lost.
        void closingGreeting(this.client.options).then((greeting) => {
          if (this.closed) return;
          if (greeting) this.onConnectionError(greeting);
          else this.onDown(new Error('connection closed'));
        });
        return;
      }
      this.onDown(new Error('connection closed'));
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
    return this.usable && !this.refusal && !this.log.outageGoingOn;
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

  /**
   * READONLY: the server this connection reached is a replica now. After a failover that moved
   * REDIS_URL's name (a managed Redis's endpoint, a DNS record, a proxy) to the new primary, the
   * old one, demoted, keeps its clients connected (Redis's REPLICAOF does) and refuses their
   * writes: only a new connection reaches the primary. The keeper kept the old connection, said
   * "point it at the primary (after a failover, the new one)", which REDIS_URL did already, and
   * acted alone until a restart. Dropped and made again at most once per pause, so a REDIS_URL
   * that does name a replica is not reconnected at every write refused.
   */
  private reconnectOnReadonly(err: Error): false | 1 {
    if (this.closed || !/^READONLY\b/.test(err.message)) return false;
    const now = this.clock.now();
    if (now - this.readonlyReconnectAt < (this.o.pauseAfterFailureMs ?? REDIS_PAUSE_AFTER_FAILURE_MS)) return false;
    this.readonlyReconnectAt = now;
    this.reconnectAsked = true;
    return 1;
  }

  private onReady(): void {
    if (this.dbRefused) return;
    this.connectionRefused = undefined;
    // A new connection: the pause after a failed command was for the old one.
    this.lastFailureAt = -Infinity;
    this.failingSinceAt = undefined;
    if (!this.everReady) {
      this.everReady = true;
      this.log.connected();
    }
    // Writes refused on the connection before (READONLY, reconnectOnReadonly): asked again on
    // this one, whose server may take them (the probe found none ready while it reconnected).
    if (this.refusal?.kind === 'writes') this.probe.soon();
    this.recovered();
  }

  private get clock(): LinkClock {
    return this.o.clock ?? SYSTEM_LINK_CLOCK;
  }

  /** Ends an outage or a refusal (link-log.ts), once something was answered and nothing is refused. */
  private recovered(): void {
    if (!this.ready || this.refusal) return;
    this.log.recovered();
  }

  private onConnectionError(err: Error): void {
    const refusal = refusalOf(err);
    // Redis closed this connection with its reason, said already: ioredis's ready check failing
    // on the closed socket after it says nothing more.
    const said = closingReply((this.client as unknown as { stream?: unknown }).stream);
    if (said && err !== said && !refusal) return;
    const code = (err as { code?: unknown }).code;
    // Reset before it was ready: its close asks Redis for a reason the reset may have lost.
    if (!this.readyHere && (code === 'EPIPE' || code === 'ECONNRESET')) this.heldReset = err;
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
      this.log.refused(refusal, err);
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
    this.log.refused(refusal, err);
  }

  private onDatabaseRefused(err: Error): void {
    if (this.closed) return;
    this.dbRefused = err;
    // The SELECT was answered for itself: this connection's login (if any) was accepted.
    this.connectionRefused = undefined;
    this.log.refused(databaseRefusal(err, this.db), err);
  }

  /**
   * A command failed while the connection is up: no answer in time, or an error of Redis's own
   * that passes (out of memory, loading) is an outage; one that does not (an ACL without EVAL) a
   * refusal. Either way the hosts act alone meanwhile, and Redis is left alone for a while.
   */
  commandFailed(err: unknown, by?: string): void {
    this.lastFailureAt = this.clock.now();
    this.failingSinceAt ??= this.lastFailureAt;
    const e = err instanceof Error ? err : new Error(String(err));
    const refusal = refusalOf(e);
    if (!refusal) {
      this.onDown(e);
      this.probe.soon();
      return;
    }
    if (this.closed) return;
    this.refusal = refusal;
    this.refusalBy = by;
    this.log.refused(refusal, e);
    // Writes refused may end by themselves (keys expiring free memory): asked again shortly.
    if (refusal.kind === 'writes') this.probe.soon();
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
   * nothing of a Redis that refuses writes, and does not end that refusal; and another script
   * than the one refused (`by`, as given to commandFailed) says nothing of the commands or keys
   * that one was refused: scripts themselves refused (NOPERM for EVALSHA) end with any.
   */
  scriptAnswered(wrote = true, by?: string): void {
    if (!wrote && this.refusal?.kind === 'writes') return;
    if (this.refusal && this.refusal.kind !== 'writes' && this.refusal.kind !== 'scripts' && this.refusalBy !== undefined && by !== this.refusalBy) return;
    this.refusal = undefined;
    this.refusalBy = undefined;
    this.lastFailureAt = -Infinity;
    this.failingSinceAt = undefined;
    this.recovered();
  }

  /**
   * Has the probe ask with `script` instead of PING: a write of the keeper's (its presence), which
   * calls scriptAnswered itself once answered and throws when not.
   */
  probeWith(script: () => Promise<void>, by?: string): void {
    this.probeBy = by;
    this.probe.with(script);
  }

  private onDown(err: Error): void {
    if (this.closed) return;
    this.failingSinceAt ??= this.clock.now();
    // The scheme only while no connection ever worked: a reset later is Redis going away.
    const hint = tlsHint(err) ?? (this.everReady ? undefined : schemeHint(err, this.client.options.tls !== undefined)) ?? this.slowHint(err);
    this.log.unavailable(err, hint);
  }

  /**
   * A command that timed out on an open connection: Redis is reachable (redis-cli PING may well
   * answer) but too slow, which "unreachable (Command timed out)" alone did not say.
   */
  private slowHint(err: Error): string | undefined {
    if (err.message !== 'Command timed out') return undefined;
    const seconds = (this.o.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS) / 1000;
    return `no answer within ${seconds} s on an open connection: Redis busy (a slow command: SLOWLOG GET; a save or rewrite forking a large dataset), swapping, frozen, or the network losing packets`;
  }

  /** Closes the connection; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.probe.close();
    this.log.close();
    this.unrouteClientWarnings();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
