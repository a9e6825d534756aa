// The OAuth token endpoint's refusals, mapped as the Sheets API's answers are (error-map.ts): the
// key refused (invalid_grant: a clock off, an account deleted or disabled, a key revoked), the
// client refused, the endpoint down, or an answer that is no token endpoint's. A file of its own:
// the token endpoint speaks OAuth, not the API's error envelope, and only auth.ts calls it.

import type { SheetsError } from '../errors.js';
import { bodyText } from './error-body.js';
import { make, type ErrorContext } from './error-map.js';
import type { HttpResponse } from './http.js';
import { proxyAnswer } from './proxy-errors.js';
import { GOOGLE_TOKEN_URI, type WireTokenError } from './wire.js';

/** What the token endpoint's Date header said of this host's clock (auth.ts measures it). */
export interface TokenClock {
  /** How far this host's clock is behind the endpoint's (ms; negative: ahead), when it was dated. */
  readonly behindMs: number | undefined;
  /** This answer showed a new offset: the next request dates its JWT by the endpoint's clock. */
  readonly corrected: boolean;
}

/** Offsets under this are the Date header's one-second resolution and the network, not a wrong clock. */
export const CLOCK_SKEW_TOLERANCE_MS = 60_000;

function clockText(behindMs: number): string {
  const s = Math.round(Math.abs(behindMs) / 1000);
  return `this host's clock is ${s} s ${behindMs > 0 ? 'behind' : 'ahead of'} the token endpoint's (its Date header)`;
}

/** Maps a failed answer of the OAuth token endpoint. The API call was never sent: applied 'no'. */
export function mapTokenError(res: HttpResponse, ctx: ErrorContext, clock: TokenClock = { behindMs: undefined, corrected: false }): SheetsError {
  let parsed: Partial<WireTokenError> = {};
  try {
    parsed = JSON.parse(res.body.toString('utf8')) as Partial<WireTokenError>;
  } catch {
    // Not JSON (a proxy error page): fall through to the status-based mapping.
  }
  const error = typeof parsed.error === 'string' ? parsed.error : '';
  const byProxy = error ? undefined : proxyAnswer(res.status, false, ctx);
  if (byProxy) return byProxy;
  // One line: a verdict (`corral check`) or a log message must not carry a pretty-printed body.
  const description = (typeof parsed.error_description === 'string' ? parsed.error_description : bodyText(res.body).slice(0, 200)).replace(/\s+/g, ' ').trim();
  const email = ctx.auth.kind === 'service-account' ? ctx.auth.clientEmail : 'the service account';
  const source = ctx.auth.kind === 'service-account' ? ctx.auth.source : 'the key';
  const base = { status: res.status, reason: error || `HTTP_${res.status}`, googleMessage: description, applied: 'no' as const };
  if (error === 'invalid_grant') {
    const refused = `Google refused the service-account key of ${email} (invalid_grant: ${description})`;
    const newKey = `create a new JSON key for ${email} and point ${source.split('=')[0]} at it`;
    const { behindMs, corrected } = clock;
    if (behindMs !== undefined && Math.abs(behindMs) > CLOCK_SKEW_TOLERANCE_MS) {
      // JWTs are valid for one hour from their iat: a clock this far off is the likely cause.
      const next = corrected ? 'the next token request dates its JWT by the endpoint\'s clock; ' : '';
      return make('CORRAL_ERR_SHEETS_AUTH', `${refused}: ${clockText(behindMs)}; ${next}fix the clock (\`timedatectl\` / NTP), or if it is right, ${newKey}`, {
        ...base,
        retryable: corrected,
      });
    }
    if (/account not found|robot is disabled/i.test(description)) {
      // The account itself is gone or disabled: no new key of it would be accepted.
      return make(
        'CORRAL_ERR_SHEETS_AUTH',
        `${refused}. The service account ${email} was deleted or disabled: enable it again (or undelete it within 30 days) in the Cloud console under IAM & Admin > Service Accounts, or use another account's key and share the sheet with it`,
        { ...base, retryable: false },
      );
    }
    const why =
      behindMs === undefined
        ? `Either the key was deleted or revoked (${newKey}), or this host's clock is off (JWTs are valid for one hour; check \`timedatectl\` / NTP)`
        : `The key was deleted or revoked: ${newKey} (this host's clock agrees with the token endpoint's within a minute, so it is not the clock)`;
    return make('CORRAL_ERR_SHEETS_AUTH', `${refused}. ${why}`, { ...base, retryable: false });
  }
  if (error === 'invalid_client' || error === 'unauthorized_client' || error === 'invalid_scope' || error === 'unsupported_grant_type') {
    return make('CORRAL_ERR_SHEETS_AUTH', `Google's token endpoint refused ${email} (${error}: ${description}); check the key in ${source}`, { ...base, retryable: false });
  }
  if (res.status === 429 || res.status >= 500) {
    return make('CORRAL_ERR_SHEETS_UNAVAILABLE', `Google's token endpoint answered ${res.status}: ${description}`, { ...base, retryable: true });
  }
  if (!error) {
    // No OAuth error in the answer (a 404 page, a proxy's HTML): this is not a token endpoint that
    // judged the key, so the key's token_uri is the first suspect.
    return make(
      'CORRAL_ERR_SHEETS_AUTH',
      `the token endpoint ${ctx.host} answered ${res.status} for ${email} with no OAuth error (${description || 'empty body'}); check token_uri in ${source} (Google's is ${GOOGLE_TOKEN_URI})`,
      { ...base, retryable: false },
    );
  }
  return make('CORRAL_ERR_SHEETS_AUTH', `Google's token endpoint answered ${res.status} for ${email}: ${error} ${description}`, { ...base, retryable: false });
}
