// What Redis itself refused, as opposed to Redis being away. An error Redis answers (NOPERM for a
// user that may not run scripts, WRONGTYPE for a key another program wrote, a SELECT of a database
// the server does not have) does not go away by reconnecting or waiting: someone must change
// Redis's settings or REDIS_URL. The link keeps such a refusal until the command it concerns works
// (redis/link.ts), and says it with the fix, instead of calling it an outage that any plain
// command answered would end.

/** A refusal of Redis's own, with what to do about it. */
export interface Refusal {
  /** What was refused, for the log line: 'scripts', 'database', 'keys', 'command'. */
  readonly kind: 'scripts' | 'database' | 'keys' | 'command';
  /** Redis's words (its error message). */
  readonly reason: string;
  /** The fix, said to the operator. */
  readonly fix: string;
}

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
