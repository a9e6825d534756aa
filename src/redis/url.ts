// REDIS_URL, as operators write it: redis://[user:password@]host[:port][/db],
// rediss://… for TLS, or unix:///path/to/redis.sock[?db=N] (with user= and password= in the query
// when the socket needs them). The password never reaches a log line: `shown` is the URL without it.

import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';
import { CorralError } from '../errors.js';
import { reservedInUserinfo } from '../url-userinfo.js';

export const REDIS_URL_PATTERN = /^(redis|rediss|unix):\/\/\S+$/;
export const REDIS_URL_TEXT = 'a redis://host:port[/db], rediss://host:port[/db] or unix:///path/to/redis.sock URL';

/**
 * The database number. How many a server has is its own setting (`databases`, 16 by default), so
 * any whole number is taken here; one the server does not have is refused by its SELECT, which the
 * keeper and `corral check` say (refusal.ts).
 */
function database(text: string | null, url: string): number | undefined {
  if (text === null || text === '') return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL ${url}: the database must be a whole number, from 0 to 15 on a server with Redis's default of 16 databases (e.g. redis://127.0.0.1:6379/0), not ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * `text` decoded from the URL's percent-encoding. A bad sequence (a bare `%` in a password) made
 * decodeURIComponent throw a bare "URI malformed", which named neither the part nor the fix.
 */
function decoded(text: string, part: string, shown: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new CorralError(
      'CORRAL_ERR_CONFIG_INVALID',
      `REDIS_URL ${shown}: ${part} holds an invalid % sequence; special characters in it must be percent-encoded (% as %25, @ as %40, : as %3A, / as %2F; e.g. node -p 'encodeURIComponent(process.argv[1])' 'the password')`,
    );
  }
}

/**
 * The connection options REDIS_URL stands for. `tlsCa`: the CA certificates (PEM) a rediss://
 * server's certificate is checked against, in place of the system's (REDIS_TLS_CA_FILE).
 */
/** The query parameters REDIS_URL is read for (`password` is read, never shown). */
const SHOWN_PARAMS: ReadonlySet<string> = new Set(['db', 'user']);
const READ_PARAMS: ReadonlySet<string> = new Set([...SHOWN_PARAMS, 'password']);

/**
 * What REDIS_URL holds that is most likely a mistake, said without its values: a user without a
 * password (a password written without its `:`), query parameters it is not read for.
 */
export function redisUrlWarnings(raw: string): string[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [];
  }
  const out: string[] = [];
  if (url.protocol !== 'unix:' && url.username && !url.password) {
    out.push("REDIS_URL names a user and no password (redis://user@host): if what is written there is the password, write it after a colon, redis://:password@host (Redis's default user), or redis://user:password@host");
  }
  const ignored = [...new Set(url.searchParams.keys())].filter((name) => !READ_PARAMS.has(name));
  if (ignored.length > 0) out.push(`REDIS_URL has query parameters corral does not read, ignored (${ignored.map((n) => JSON.stringify(n)).join(', ')}; their values not shown): it reads db, user and password only`);
  return out;
}

/**
 * Whether REDIS_URL holds a credential: what shownRedisUrl masks (a password, a user given alone, a
 * parameter corral does not read). Compared as the masks, not as the whole text: the URL parser's
 * normal form (a port written 06379) is no secret.
 */
export function redisUrlHoldsSecret(raw: string): boolean {
  return shownRedisUrl(raw).includes('***');
}

/**
 * REDIS_URL as the settings show it (`corral config`, a refusal, the environment overriding the
 * file): as written, with the password (in the URL or its `password=`), a user given alone (a
 * password written without its colon) and the values of parameters corral does not read (a
 * misspelt `password`) replaced by ***. Redacted whole, `REDIS_URL=localhost:6379` refused as
 * "<redacted>" left the operator unable to see what was wrong with it. A value that is no URL is
 * shown up to its last @ masked (a password holding a reserved character).
 */
export function shownRedisUrl(raw: string): string {
  let url: URL;
  try {
    if (/^rediss?:/i.test(raw) && reservedInUserinfo(raw)) throw new Error('a reserved character in the user or password');
    url = new URL(raw);
    // Only a URL of a scheme corral reads has its parts where the parser puts them: without one,
    // `default:s3cret@10.0.0.5:6379` parses with `default:` as its scheme and no password, and was
    // shown whole, password and all.
    if (!['redis:', 'rediss:', 'unix:'].includes(url.protocol)) throw new Error('not a scheme REDIS_URL takes');
    // `redis:/:s3cret@host`: the scheme, but no `//`, so no user or password part either.
    if (url.protocol !== 'unix:' && !/^rediss?:\/\//i.test(raw)) throw new Error('no authority part');
  } catch {
    // And the values of its query's parameters but db and user, as below: `?password=` is a form
    // REDIS_URL takes, and a URL refused for its port or its brackets was shown with it whole.
    return raw
      .replace(/^([^/]*\/\/)?.*@/, (_, scheme: string | undefined) => `${scheme ?? ''}***@`)
      .replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, name: string) => (SHOWN_PARAMS.has(name) ? whole : `${sep}${name}=***`));
  }
  if (url.password) url.password = '***';
  else if (url.username) url.username = '***';
  for (const name of [...new Set(url.searchParams.keys())]) if (!SHOWN_PARAMS.has(name)) url.searchParams.set(name, '***');
  // A URL that parsed says its parts as the parser has them; unmasked, as written.
  return url.href === raw || url.password || url.username || url.search ? url.href : raw;
}

export function redisTarget(raw: string, tlsCa?: Buffer): { options: RedisOptions; shown: string } {
  let url: URL;
  try {
    // A unix:// URL has no host part: its path, the socket's, may hold an @.
    if (/^rediss?:/i.test(raw) && reservedInUserinfo(raw)) throw new Error('a reserved character in the user or password');
    url = new URL(raw);
  } catch {
    // A port past 65535 is no URL either, and the password hint below would send the operator
    // to the one part that is right.
    const port = /^rediss?:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)(?:[/?#]|$)/i.exec(raw)?.[1];
    if (port !== undefined && Number(port) > 65535 && !reservedInUserinfo(raw)) {
      // The port is not quoted: nothing of REDIS_URL is, as it may hold a password.
      throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL's port is out of range: a port is 1 to 65535 (Redis listens on 6379 by default); expected ${REDIS_URL_TEXT}`);
    }
    // Most often a password with a character URLs reserve (# and ? end the host part, / starts
    // the path): the bare "not a URL" sent operators to check the host and port, which were right.
    throw new CorralError(
      'CORRAL_ERR_CONFIG_INVALID',
      `REDIS_URL is not a URL; expected ${REDIS_URL_TEXT}. A user or password with special characters must be percent-encoded (# as %23, ? as %3F, / as %2F, @ as %40, : as %3A, % as %25; e.g. node -p 'encodeURIComponent(process.argv[1])' 'the password')`,
    );
  }
  const shownUrl = new URL(url.href);
  if (shownUrl.password) shownUrl.password = '***';
  // A user with no password is most often a password written without its `:` (redis://secret@h,
  // read as the user "secret"): masked too, and said where the settings are judged (redis-checks.ts).
  else if (shownUrl.username) shownUrl.username = '***';
  // Only the parameters read here are shown: any other is ignored, and may be a misspelt password.
  for (const name of [...shownUrl.searchParams.keys()]) if (!SHOWN_PARAMS.has(name)) shownUrl.searchParams.delete(name);
  const shown = shownUrl.href;
  const username = decoded(url.username, 'the user', shown) || url.searchParams.get('user') || undefined;
  const password = decoded(url.password, 'the password', shown) || url.searchParams.get('password') || undefined;
  const auth: RedisOptions = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  if (url.protocol === 'unix:') {
    if (!url.pathname || url.pathname === '/') throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL ${shown}: no socket path; write unix:///path/to/redis.sock`);
    const db = database(url.searchParams.get('db'), shown);
    return { options: { path: decoded(url.pathname, 'the socket path', shown), ...auth, ...(db !== undefined ? { db } : {}) }, shown };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL ${shown}: unknown scheme ${url.protocol}; expected ${REDIS_URL_TEXT}`);
  if (!url.hostname) throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL ${shown}: no host; expected ${REDIS_URL_TEXT}`);
  // The database as the path (/N) or, as for a socket and as other clients read it, ?db=N: read
  // from the path alone, `redis://host:6379?db=3` went to database 0 while its lines showed ?db=3.
  const pathDb = database(url.pathname.replace(/^\//, ''), shown);
  const queryDb = database(url.searchParams.get('db'), shown);
  if (pathDb !== undefined && queryDb !== undefined && pathDb !== queryDb) {
    throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL ${shown}: two databases, /${pathDb} and ?db=${queryDb}; name one (e.g. redis://127.0.0.1:6379/${pathDb})`);
  }
  const db = pathDb ?? queryDb;
  const port = url.port ? Number(url.port) : 6379;
  // Port 0 parses, but no server listens on it: every connection would be refused, and the link
  // would retry it forever.
  if (port === 0) throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_URL's port is out of range: a port is 1 to 65535 (Redis listens on 6379 by default); expected ${REDIS_URL_TEXT}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // The server name (SNI) is sent for a host name only: RFC 6066 does not allow an address, and
  // Node warns about one. The certificate is checked against the host either way.
  const tls = url.protocol === 'rediss:' ? { ...(isIP(host) === 0 ? { servername: host } : {}), ...(tlsCa ? { ca: tlsCa } : {}) } : undefined;
  return {
    options: { host, port, ...auth, ...(db !== undefined ? { db } : {}), ...(tls ? { tls } : {}) },
    shown,
  };
}
