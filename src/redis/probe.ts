// `corral check`'s look at REDIS_URL: can this host reach Redis, run the keeper's scripts, and
// write the sheet's keys? One connection, no retries, no quota slot taken, nothing left behind.

import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { routeClientWarnings } from './client-warnings.js';
import { closingGreeting } from './greeting.js';
import { closingReply, guardedConnector } from './guarded-connector.js';
import { databaseRefusal, isSelectRefusal, refusalOf } from './refusal.js';
import { readRedisCa, schemeHint, tlsHint } from './tls-ca.js';
import { redisTarget } from './url.js';

/** `refused`: Redis answered but refused (refusal.ts), as opposed to not being reached. */
/** `warnings`: what ioredis said of the settings along the way (client-warnings.ts), in corral's words. */
export type RedisProbe = { readonly ok: true; readonly shown: string; readonly version: string; readonly warnings: readonly string[] } | { readonly ok: false; readonly shown: string; readonly message: string; readonly refused: boolean };

/**
 * Every command the keeper's scripts call (shared-quota-scripts.ts, quota-reserve-lua.ts,
 * shared-logins.ts, shared-ranges.ts), in the forms they call them, on three keys of the check's
 * own that it deletes; each key is given an expiry first, so one a refused command leaves behind
 * goes by itself.
 */
const KEEPER_COMMANDS_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], now, 'PX', 10000)
redis.call('PEXPIRE', KEYS[1], 10000)
redis.call('PTTL', KEYS[1])
redis.call('GET', KEYS[1])
redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], now, 'check')
redis.call('PEXPIRE', KEYS[2], 10000)
redis.call('ZCARD', KEYS[2])
redis.call('ZCOUNT', KEYS[2], '(' .. (now - 1000), now)
redis.call('ZSCORE', KEYS[2], 'check')
redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 2000)
redis.call('ZREM', KEYS[2], 'check')
redis.call('HSET', KEYS[3], 'check', now)
redis.call('PEXPIRE', KEYS[3], 10000)
redis.call('HGET', KEYS[3], 'check')
redis.call('HGETALL', KEYS[3])
redis.call('HDEL', KEYS[3], 'check')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1`;

export async function probeRedis(url: string, prefix: string, tlsCaFile?: string): Promise<RedisProbe> {
  const { options, shown } = redisTarget(url, tlsCaFile === undefined ? undefined : readRedisCa(tlsCaFile));
  const client = new Redis({ ...options, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: 2000, retryStrategy: () => null, ...guardedConnector });
  // Connection errors are emitted as events (without a listener ioredis would print them), and
  // connect() then rejects with only "Connection is closed": the event says why (a TLS refusal).
  let connectionError: Error | undefined;
  // A refused login is said in Redis's words for it (WRONGPASS for the AUTH), not in those of
  // the commands sent after it on the same connection (NOAUTH for the SELECT of the database).
  client.on('error', (err: Error) => {
    if (refusalOf(connectionError)?.kind === 'login' && refusalOf(err)?.kind === 'login') return;
    connectionError = err;
  });
  let step = 'connect';
  let scriptKeys: string[] | undefined;
  const warnings = new Set<string>();
  const unroute = routeClientWarnings((text) => warnings.add(text));
  try {
    await client.connect();
    // ioredis emits a refused SELECT as an event and connects all the same, in database 0.
    if (isSelectRefusal(connectionError)) {
      const db = options.db;
      return { ok: false, shown, message: `SELECT ${db ?? 0} (the database in REDIS_URL) failed: ${connectionError.message}: ${databaseRefusal(connectionError, db).fix}`, refused: true };
    }
    step = 'INFO';
    // The version only, for the OK line: a user without INFO (an ACL with -@dangerous) runs the
    // keeper all the same (ioredis skips its ready check, which routeClientWarnings says), and
    // failing the check on it sent the operator to grant what the keeper does not need.
    let version = 'unknown';
    try {
      version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
    } catch (err) {
      if (!/^NOPERM\b/.test((err as Error).message)) throw err;
    }
    step = 'EVAL (the quota is kept by a script)';
    await client.eval('return 1', 0);
    // The keeper runs its scripts by digest (ioredis's defineCommand: EVALSHA, then EVAL when
    // Redis has not got the script): a user allowed EVAL but not EVALSHA cannot run them either.
    step = 'EVALSHA (the keeper runs its scripts by their digest)';
    await client.evalsha(createHash('sha1').update('return 1').digest('hex'), 0);
    // The plain commands the keeper sends outside its scripts too: GET and SET (NX) of the shared
    // ranges and their claims, EXISTS of another host's claim (and PING, below). Refused (an ACL
    // written by hand without +exists), each pauses the sharing behind a redis.misconfigured line
    // that the next quota script answered ends, in turn for good.
    step = `SET, GET, EXISTS and DEL of a key under ${prefix}`;
    const probeKey = `${prefix}:check:${process.pid}`;
    scriptKeys = [probeKey];
    await client.set(probeKey, '1', 'PX', 10_000);
    await client.get(probeKey);
    await client.exists(probeKey);
    await client.del(probeKey);
    scriptKeys = undefined;
    // Redis checks each command a script calls against the user's ACL: a user granted EVAL, SET
    // and DEL but not TIME or ZADD passed the steps above, and then had every script of the
    // keeper's quota refused (redis.misconfigured, refused: keys) behind an OK.
    step = "a script calling the keeper's scripts' commands";
    scriptKeys = [probeKey, `${probeKey}:z`, `${probeKey}:h`];
    await client.eval(KEEPER_COMMANDS_SCRIPT, 3, ...scriptKeys);
    scriptKeys = undefined;
    // The link asks with PING whether Redis answers again after a command timed out.
    step = 'PING (asked when Redis stops answering)';
    await client.ping();
    return { ok: true, shown, version, warnings: [...warnings] };
  } catch (err) {
    // What a command or script refused midway may have left (best effort: the keys expire in 10 s anyway).
    if (scriptKeys !== undefined) await client.del(...scriptKeys).catch(() => undefined);
    // Closed by Redis with its reason (protected mode, maxclients): ioredis says only "Connection is closed".
    const resetCode = (connectionError as { code?: unknown } | undefined)?.code;
    const closedWith = step !== 'connect'
      ? undefined
      : closingReply((client as unknown as { stream?: unknown }).stream) ??
        (resetCode === 'EPIPE' || resetCode === 'ECONNRESET' || (connectionError === undefined && /Connection is closed/.test((err as Error).message)) ? await closingGreeting(options) : undefined);
    const why = closedWith ?? (step === 'connect' && connectionError ? connectionError : (err as Error));
    const refusal = refusalOf(why);
    const hint = tlsHint(why) ?? refusal?.fix ?? (step === 'connect' ? schemeHint(why, options.tls !== undefined) : undefined);
    return { ok: false, shown, message: `${step} failed: ${why.message}${hint ? `: ${hint}` : ''}`, refused: refusal !== undefined };
  } finally {
    unroute();
    client.disconnect();
  }
}
