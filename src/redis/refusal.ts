// What Redis itself refused, as opposed to Redis being away. An error Redis answers (NOPERM for a
// user that may not run scripts, WRONGTYPE for a key another program wrote, a SELECT of a database
// the server does not have) does not go away by reconnecting or waiting: someone must change
// Redis's settings or REDIS_URL. The link keeps such a refusal until the command it concerns works
// (redis/link.ts), and says it with the fix, instead of calling it an outage that any plain
// command answered would end.

/** A refusal of Redis's own, with what to do about it. */
export interface Refusal {
  /** What was refused, for the log line. */
  readonly kind: 'scripts' | 'database' | 'keys' | 'login' | 'command';
  /** Redis's words (its error message). */
  readonly reason: string;
  /** The fix, said to the operator. */
  readonly fix: string;
}

/**
 * Errors Redis answers that pass by themselves (a Redis loading its data, busy with a script, a
 * replica during a failover, memory full for now): an outage, not a refusal.
 */
const TRANSIENT = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'READONLY', 'OOM', 'MISCONF', 'NOREPLICAS']);

/** Whether `err` is an error Redis answered (ioredis's ReplyError), not a connection's or a timeout. */
function isReply(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** The database REDIS_URL asked for was refused by its server (ioredis's SELECT at connection). */
export function databaseRefusal(err: Error, db: number | undefined): Refusal {
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
  // Redis 6.2 and 7 say "no permissions to run the 'evalsha' command" ('script|load' for a
  // subcommand); a script's own denied key says "script:" too, so the command's name decides.
  if (code === 'NOPERM' && /run the '(eval|evalsha|eval_ro|evalsha_ro|script|fcall)\b/i.test(reason)) {
    return { kind: 'scripts', reason, fix: "the Redis user may not run the keeper's scripts: grant them (ACL SETUSER <user> +eval +evalsha +script) or use a user that may" };
  }
  if (code === 'NOPERM' || /can't access .*keys/i.test(reason)) {
    return { kind: 'keys', reason, fix: "the Redis user may not use the keeper's keys or commands: grant it the corral:* keys (ACL SETUSER <user> ~corral:* +@all, or at least +eval +evalsha +script +get +set +exists +del) or use a user that may" };
  }
  if (code === 'WRONGPASS' || code === 'NOAUTH') {
    return { kind: 'login', reason, fix: 'the user and password of REDIS_URL are not accepted: check them (special characters percent-encoded) against the server\'s ACL or requirepass' };
  }
  if (code === 'WRONGTYPE') {
    return { kind: 'keys', reason, fix: 'a corral:* key holds a value of another type: something else writes under corral:*; give corral its own database (REDIS_URL …/N) or delete those keys' };
  }
  if (code === 'NOSCRIPT') {
    return { kind: 'scripts', reason, fix: "Redis lost the keeper's script and did not take it again: the user may need +eval +evalsha +script (ACL SETUSER <user> +eval +evalsha +script)" };
  }
  return { kind: 'command', reason, fix: 'check that REDIS_URL names a Redis server (version 6.2 or later, not a proxy that refuses scripts) and that its user may run scripts and use the corral:* keys' };
}
