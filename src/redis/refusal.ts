// What Redis itself refused, as opposed to Redis being away. An error Redis answers (NOPERM for a
// user that may not run scripts, WRONGTYPE for a key another program wrote, a SELECT of a database
// the server does not have) does not go away by reconnecting or waiting: someone must change
// Redis's settings or REDIS_URL. The link keeps such a refusal until the command it concerns works
// (redis/link.ts), and says it with the fix, instead of calling it an outage that any plain
// command answered would end.
//
// A Redis that refuses writes (memory full under noeviction, a read-only replica, a failed
// snapshot, too few replicas) is a refusal too, of its own kind: it still answers PING and GET,
// so calling it an outage that any answer ends made the keeper say unavailable then recovered a
// second later, every minute, while every call to Google was made alone. It ends only when a
// script of the keeper's that writes is answered.

/** A refusal of Redis's own, with what to do about it. */
export interface Refusal {
  /** What was refused, for the log line. */
  readonly kind: 'scripts' | 'database' | 'keys' | 'login' | 'writes' | 'command';
  /** Redis's words (its error message). */
  readonly reason: string;
  /** The fix, said to the operator. */
  readonly fix: string;
}

/**
 * Errors Redis answers that pass by themselves (a Redis loading its data, busy with a script, a
 * replica during a failover): an outage, not a refusal.
 */
const TRANSIENT = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN']);

/**
 * Errors of a Redis that answers but takes no write, with what to do: reads and PING still work,
 * so only a write of the keeper's answered says it is over.
 */
const WRITES_REFUSED: Readonly<Record<string, string>> = {
  OOM: "Redis is out of memory (maxmemory reached, and its maxmemory-policy evicts nothing): free memory in it or raise maxmemory (corral's own keys expire by themselves)",
  READONLY: 'REDIS_URL points at a read-only replica: point it at the primary (after a failover, the new one)',
  MISCONF: "Redis refuses writes since it could not save its snapshot (stop-writes-on-bgsave-error): fix the disk or the permissions of its dir (see Redis's log), or turn snapshots off if nothing needs them",
  NOREPLICAS: 'Redis refuses writes while fewer replicas than its min-replicas-to-write are connected: bring the replicas back, or lower min-replicas-to-write',
};

/** Whether `err` is an error Redis answered (ioredis's ReplyError), not a connection's or a timeout. */
function isReply(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/**
 * Every command the keeper and `corral check` send, the scripts' own included: Redis checks a
 * script's calls against the user's ACL too, so a user granted EVAL and the corral:* keys but not
 * ZADD or TIME has every script of the quota refused. INFO is ioredis's ready check (and
 * `corral check`'s version), SELECT a database in REDIS_URL, CLIENT SETNAME the connection's name.
 */
export const KEEPER_ACL = '~corral:* +eval +evalsha +script +info +ping +select +client|setname +get +set +exists +del +incr +pttl +pexpire +time +zadd +zcard +zcount +zscore +zrange +zrem +zremrangebyscore +hget +hset +hdel +hgetall';

/** The database REDIS_URL asked for was refused by its server (ioredis's SELECT at connection). */
export function databaseRefusal(err: Error, db: number | undefined): Refusal {
  // A user without SELECT gets NOPERM for any database: said as a database the server lacks, the
  // operator was sent to raise \`databases\`, which changed nothing.
  if (/^NOPERM\b/.test(err.message)) {
    return {
      kind: 'database',
      reason: err.message,
      fix: `the Redis user may not SELECT database ${db ?? '?'} of REDIS_URL: grant it (ACL SETUSER <user> +select), or use the user's database without a /${db ?? 'N'} in REDIS_URL`,
    };
  }
  return {
    kind: 'database',
    reason: err.message,
    fix: `database ${db ?? '?'} of REDIS_URL is not one this server has (its \`databases\` setting, 16 by default, numbers them from 0): use one it has, or raise \`databases\` and restart Redis`,
  };
}

/** Whether `err` is the SELECT of the connection's database failing (ioredis emits it as 'error'). */
export function isSelectRefusal(err: unknown): err is Error {
  return isReply(err) && (err as { command?: { name?: unknown } }).command?.name === 'select';
}

/** The refusal `err` stands for, or undefined when it is no answer of Redis's or one that passes. */
export function refusalOf(err: unknown): Refusal | undefined {
  if (!isReply(err)) return undefined;
  const code = /^[A-Z]+/.exec(err.message)?.[0] ?? '';
  if (TRANSIENT.has(code)) return undefined;
  const reason = err.message;
  const writes = WRITES_REFUSED[code];
  if (writes) return { kind: 'writes', reason, fix: writes };
  // Redis 6.2 and 7 say "no permissions to run the 'evalsha' command" ('script|load' for a
  // subcommand); a script's own denied key says "script:" too, so the command's name decides.
  if (code === 'NOPERM' && /run the '(eval|evalsha|eval_ro|evalsha_ro|script|fcall)\b/i.test(reason)) {
    return { kind: 'scripts', reason, fix: "the Redis user may not run the keeper's scripts: grant them (ACL SETUSER <user> +eval +evalsha +script) or use a user that may" };
  }
  // A command a script calls, refused by the ACL: Redis 6.2 and 7 say "The user executing the
  // script can't run this command or subcommand" with ERR, which was said as "check that
  // REDIS_URL names a Redis server", not as the permission it is.
  if (code === 'NOPERM' || /can't access .*keys/i.test(reason) || /can't run this command/i.test(reason)) {
    return { kind: 'keys', reason, fix: `the Redis user may not use the keeper's keys or commands: grant it the corral:* keys and the commands the keeper and its scripts run (ACL SETUSER <user> ~corral:* +@all, or at least ${KEEPER_ACL}) or use a user that may` };
  }
  if (code === 'WRONGPASS' || code === 'NOAUTH') {
    return { kind: 'login', reason, fix: 'the user and password of REDIS_URL are not accepted: check them (special characters percent-encoded) against the server\'s ACL or requirepass' };
  }
  // Protected mode: a Redis with no password takes connections from its loopback only.
  if (code === 'DENIED') {
    return { kind: 'login', reason, fix: "Redis takes connections without a password from its own host only (protected mode): give it a password (requirepass, or an ACL user) and put it in REDIS_URL (redis://:password@host:6379), or, on a Redis only the sheet's hosts can reach, set protected-mode no" };
  }
  // Too many clients: passes once some leave, an outage.
  if (/^ERR max number of clients reached/.test(reason)) return undefined;
  if (code === 'WRONGTYPE') {
    return { kind: 'keys', reason, fix: 'a corral:* key holds a value of another type: something else writes under corral:*; give corral its own database (REDIS_URL …/N) or delete those keys' };
  }
  if (code === 'NOSCRIPT') {
    return { kind: 'scripts', reason, fix: "Redis lost the keeper's script and did not take it again: the user may need +eval +evalsha +script (ACL SETUSER <user> +eval +evalsha +script)" };
  }
  return { kind: 'command', reason, fix: 'check that REDIS_URL names a Redis server (version 6.2 or later, not a proxy that refuses scripts) and that its user may run scripts and use the corral:* keys' };
}
