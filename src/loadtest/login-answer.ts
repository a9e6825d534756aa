// What a login answer must carry to count as one: a token. A server that answers 200 to every path
// (a single-page app's fallback, a proxy's catch-all) "accepts" every login and gives no token, so
// no virtual user ever gets past its login: counted as successes, those retries made a run of
// logins alone pass as "supports N users: yes".

import type { Reply } from './client.js';

/** The error code a 2xx login without a token is counted under (errorCodes, the verdict). */
export const LOGIN_WITHOUT_TOKEN = 'login_without_token';

/**
 * The error code a login answered 429 `login_locked` is counted under: corral's app locks a player's
 * name for 15 minutes after CORRAL_LOGIN_FAILURES_PER_NAME failed logins (a wrong code in
 * --users-file), whatever CORRAL_RATE_LIMIT says. Told apart from the per-IP limit's 429, whose
 * remedy (raise CORRAL_RATE_LIMIT) does nothing for it.
 */
export const LOGIN_LOCKED = 'login_locked';

/** What to do about logins answered 429 login_locked. */
export const LOGIN_LOCKED_HINT =
  "the target locked a player's name after too many failed logins (CORRAL_LOGIN_FAILURES_PER_NAME in 15 minutes: a wrong code in --users-file, in this run, whose 401s count them, or in an earlier one), not the per-client-IP rate limit: correct the codes in --users-file of the players named, and wait for the lock to end or restart the target";

/** A login of `player` answered 429 with the app's `login_locked` error, counted under LOGIN_LOCKED, the player named. */
export function asLockedLogin(reply: Reply, player: string): Reply {
  const error = (reply.json as { error?: unknown } | undefined)?.error;
  if (reply.sample.status !== 429 || error !== LOGIN_LOCKED) return reply;
  return { ...reply, sample: { ...reply.sample, error: LOGIN_LOCKED, player } };
}

/** The session token of a login answer, or undefined when it carries none. */
export function loginToken(reply: Reply): string | undefined {
  const token = (reply.json as { token?: unknown } | undefined)?.token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** A 2xx login answer that carries no token: what an app that is not corral's answers. */
export function isTokenless(reply: Reply): boolean {
  return reply.sample.outcome === 'ok' && loginToken(reply) === undefined;
}

/**
 * The same answer counted as the failure it is (an unexpected answer, not a success), so the
 * requests of a run that never logged in cannot pass for a served load.
 */
export function asTokenlessFailure(reply: Reply): Reply {
  return { ...reply, sample: { ...reply.sample, outcome: 'http', error: LOGIN_WITHOUT_TOKEN } };
}

/** "HTTP 200, text/html, 1234 bytes": what came back instead of a token. */
export function describeAnswer(reply: Reply): string {
  const s = reply.sample;
  return [`HTTP ${s.status}`, reply.contentType ?? 'no Content-Type', `${s.bytes} bytes`].join(', ');
}
