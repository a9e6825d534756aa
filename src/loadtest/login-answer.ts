// What a login answer must carry to count as one: a token. A server that answers 200 to every path
// (a single-page app's fallback, a proxy's catch-all) "accepts" every login and gives no token, so
// no virtual user ever gets past its login: counted as successes, those retries made a run of
// logins alone pass as "supports N users: yes".

import type { Reply } from './client.js';

/** The error code a 2xx login without a token is counted under (errorCodes, the verdict). */
export const LOGIN_WITHOUT_TOKEN = 'login_without_token';

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
