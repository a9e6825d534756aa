// ioredis says a few things of its own with console.warn (a password that Redis does not ask for,
// a user given to a Redis 5): raw lines on stderr, outside the JSON log (in the journal between the
// keeper's lines) and in `corral check`'s output among its own. While a keeper's link or a check's
// probe is open, they go to it instead, in corral's words; anything else console.warn says passes.

/** The lines ioredis writes with console.warn (ioredis/built/redis/event_handler.js). */
const PASSWORD_NOT_ASKED = /^\[WARN\] (Redis server does not require a password|This Redis server's `default` user does not require a password)/;
const USER_ON_OLD_REDIS = /^\[ERROR\] The server returned "wrong number of arguments for 'auth' command"/;
/** A user without INFO (an ACL with -@dangerous, a common hardening): said by ioredis at every connection. */
const READY_CHECK_SKIPPED = /^Skipping the ready check because INFO command fails/;

const sinks = new Set<(text: string) => void>();
/** The console.warn put in place, wrapping the one found; put back around the current one if replaced since. */
let wrapper: typeof console.warn | undefined;

/** ioredis's line in corral's words, or undefined for a line that is none of its. */
export function clientWarningText(line: string): string | undefined {
  if (PASSWORD_NOT_ASKED.test(line)) {
    return 'REDIS_URL gives a password, but Redis asks for none (no requirepass, or its default user has no password): it is sent for nothing; remove it from REDIS_URL, or set one in Redis';
  }
  if (READY_CHECK_SKIPPED.test(line)) {
    return "the Redis user may not run INFO (an ACL with -@dangerous), which the client's check that Redis has loaded its data uses: it connects without it, and a Redis still loading answers LOADING meanwhile (this host acts alone until it is loaded); grant it with ACL SETUSER <user> +info to have it wait instead";
  }
  if (USER_ON_OLD_REDIS.test(line)) {
    return 'REDIS_URL gives a user, which Redis 5 and older do not take (AUTH with a password alone): write it as redis://:password@host';
  }
  return undefined;
}

/** Sends ioredis's console lines to `sink` (in corral's words) until the returned function is called. */
export function routeClientWarnings(sink: (text: string) => void): () => void {
  if (console.warn !== wrapper) {
    const original = console.warn.bind(console);
    wrapper = (...args: unknown[]) => {
      const said = args.length === 1 && typeof args[0] === 'string' ? clientWarningText(args[0]) : undefined;
      if (said === undefined || sinks.size === 0) {
        original(...args);
        return;
      }
      for (const s of sinks) s(said);
    };
    console.warn = wrapper;
  }
  sinks.add(sink);
  return () => {
    sinks.delete(sink);
  };
}
