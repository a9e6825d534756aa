// A target whose master has no CORRAL_ADMIN_TOKEN of its own: its admin API and its exports answer
// every request 403 admin_token_unset, whatever token comes. Said as a token refused ("check
// --admin-token"), it sent the operator to check a token nothing could match; the fix is a setting
// on the target. The admin dashboard (static/token.js) and `corral status` say it so too.

import type { HttpErrorCode } from '../errors.js';

/** The error code the app and the admin API answer with while no admin token is set. */
export const ADMIN_TOKEN_UNSET: HttpErrorCode = 'admin_token_unset';

/** The answer's JSON names that code. */
export function isAdminTokenUnset(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { error?: unknown }).error === ADMIN_TOKEN_UNSET;
}

/** What to do about it: set one on the target, then pass the same. */
export const SET_ADMIN_TOKEN = 'set CORRAL_ADMIN_TOKEN in its settings and reload it (corral reload), then pass the same token with --admin-token';
