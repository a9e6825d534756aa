// What answers 429 were and what to do about them: the target's per-client-IP rate limit, or a
// player's name locked after failed logins (login-answer.ts), whose remedies differ. A file of its
// own: the step's rate_limited check, the run's notes and the checks before the load say them alike.

import { LOGIN_LOCKED_HINT } from './login-answer.js';

export const RATE_LIMIT_HINT =
  "the target's per-client-IP rate limit answered 429: every virtual user comes from this one IP, so raise CORRAL_RATE_LIMIT on the target (0 turns it off) for the test, or run the load through a proxy listed in CORRAL_TRUSTED_PROXIES";

/**
 * What `total` answers 429 were and what to do, `locked` of them logins answered 429 login_locked
 * (a player's name locked after failed logins): the per-IP limit's remedy does nothing for those.
 */
export function tooManyRequests(total: number, locked: number): string {
  const parts: string[] = [];
  if (total - locked > 0) parts.push(`${total - locked} answers 429 Too Many Requests: ${RATE_LIMIT_HINT}`);
  if (locked > 0) parts.push(`${locked} ${locked === 1 ? 'login' : 'logins'} answered 429 login_locked: ${LOGIN_LOCKED_HINT}`);
  return parts.join('; ');
}
