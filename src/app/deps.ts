// What route handlers share: settings, logger, the Sheets client, sessions, and the auth checks.

import type { IncomingMessage } from 'node:http';
import type { AppContext } from '../contract.js';
import type { SheetRecords, SheetsClient } from '../sheets/types.js';
import { bearerToken, HttpError } from './http.js';
import { codeDigestOf, findPlayer, playerName, rosterProblem } from './players.js';
import { safeEqual, type SessionClaims, type Sessions } from './session.js';

/** A caller whose token is valid and who is still in the roster. */
export interface RosterPlayer {
  readonly claims: SessionClaims;
  /** The name as the sheet writes it (what the Events tab records). */
  readonly name: string;
  readonly record: Readonly<Record<string, string>>;
}

export interface AppDeps {
  readonly ctx: AppContext;
  readonly sessions: Sessions;
  /** The Sheets client, or a 503 when this worker has none. */
  sheets(): SheetsClient;
  /** Header-keyed rows of a range, or a 503 (400 for a bad range when `field` names the input). */
  records(range: string, field?: string): Promise<SheetRecords>;
  /** The rows of a range this worker holds now, or undefined (then ask records()). */
  cachedRecords(range: string): SheetRecords | undefined;
  readonly playersRange: string;
  readonly eventsRange: string;
  /** The caller's session claims, or a 401. */
  requirePlayer(req: IncomingMessage): SessionClaims;
  /**
   * The caller and their roster record, or a 401: a player removed from the roster, or whose code
   * was changed since the token was issued, loses access at once, not when their token expires.
   * Reads the roster (cached), so 503 when it cannot.
   */
  requireRosterPlayer(req: IncomingMessage): Promise<RosterPlayer>;
  /** Checks `Authorization: Bearer $CORRAL_ADMIN_TOKEN`, or throws 401/403. */
  requireAdmin(req: IncomingMessage): void;
}

/** What every 401 carries (RFC 9110 §15.5.2: a 401 must send a challenge): the scheme the API takes. */
export const CHALLENGE = { 'WWW-Authenticate': 'Bearer' };
/**
 * The challenge to a token that was sent and refused (invalid, expired, a player no longer in the
 * roster): RFC 6750 §3.1's error, so that a client tells "log in again" from "no token sent"
 * without reading the message.
 */
export const INVALID_TOKEN = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };

/** What a token sent and refused is told, whatever the reason: expired, forged, its code changed. */
const TOKEN_REFUSED = 'the session token is invalid or expired; log in again';

/** `adminRefused`: told of each request refused for CORRAL_ADMIN_TOKEN (admin-refusals.ts). */
export function createDeps(ctx: AppContext, sessions: Sessions, adminRefused: (req: IncomingMessage) => void = () => {}): AppDeps {
  const sheets = (): SheetsClient => {
    if (!ctx.sheets) throw new HttpError('sheets_unavailable', 'the sheet is not available on this worker', { headers: { 'Retry-After': '5' } });
    return ctx.sheets;
  };
  const deps: AppDeps = {
    ctx,
    sessions,
    sheets,
    playersRange: ctx.settings.SHEET_PLAYERS_RANGE ?? 'Players',
    eventsRange: ctx.settings.SHEET_EVENTS_RANGE ?? 'Events',
    cachedRecords: (range) => ctx.sheets?.cachedRecords(range),
    async records(range, field) {
      try {
        return await sheets().records(range);
      } catch (err) {
        throw sheetsFailure(err, field);
      }
    },
    requirePlayer(req) {
      const token = bearerToken(req);
      const claims = token ? sessions.verify(token) : undefined;
      if (!claims) {
        throw new HttpError('unauthorized', token ? TOKEN_REFUSED : 'send Authorization: Bearer <token> from POST /api/login', {
          headers: token ? INVALID_TOKEN : CHALLENGE,
        });
      }
      return claims;
    },
    async requireRosterPlayer(req) {
      const claims = deps.requirePlayer(req);
      const sheet = await deps.records(deps.playersRange);
      const record = findPlayer(sheet, claims.sub);
      // A roster without its name column (a header edited: `nme`) finds no one: not the players'
      // fault, and a 401 invalid_token has RFC 6750 clients throw away tokens that work again once
      // the header is fixed. The operator's to fix (app.roster_problem at the next login).
      if (!record && rosterProblem(sheet)?.missing.includes('name')) {
        throw new HttpError('sheets_unavailable', "the roster cannot be read now: its header row has no name column, which the server's operator must fix; the session is kept, retry later", {
          headers: { 'Retry-After': '30' },
        });
      }
      if (!record) throw new HttpError('unauthorized', 'this player is no longer in the roster', { headers: INVALID_TOKEN });
      if (!sessions.holdsCode(claims, codeDigestOf(sheet, record))) {
        // A header that lost its code column finds no code for anyone: as for the name column,
        // the operator's to fix, and the sessions are kept for when it is.
        if (rosterProblem(sheet)?.missing.includes('code')) {
          throw new HttpError('sheets_unavailable', "the roster cannot be read now: its header row has no code column, which the server's operator must fix; the session is kept, retry later", {
            headers: { 'Retry-After': '30' },
          });
        }
        // The code was changed (or emptied) in the sheet since this token was issued: the session
        // ends, said as an expired one is. Not "the code changed": whoever holds a token opened
        // with a leaked code would learn the leak was noticed, and the player learns it at login.
        throw new HttpError('unauthorized', TOKEN_REFUSED, { headers: INVALID_TOKEN });
      }
      return { claims, name: playerName(sheet, record), record };
    },
    requireAdmin(req) {
      const configured = ctx.settings.CORRAL_ADMIN_TOKEN;
      if (!configured) throw new HttpError('admin_token_unset', 'set CORRAL_ADMIN_TOKEN to use admin routes');
      const token = bearerToken(req);
      if (!token || !safeEqual(token, configured)) {
        adminRefused(req);
        throw new HttpError('unauthorized', 'this route needs Authorization: Bearer $CORRAL_ADMIN_TOKEN', { headers: token ? INVALID_TOKEN : CHALLENGE });
      }
    },
  };
  return deps;
}

/** Sheets failures that last until the operator changes something (the sheet's sharing, the settings, the sheet). */
const OPERATOR_FAILURES: ReadonlySet<string> = new Set([
  'CORRAL_ERR_SHEETS_FORBIDDEN',
  'CORRAL_ERR_SHEETS_NOT_FOUND',
  'CORRAL_ERR_SHEETS_NOT_A_SHEET',
  'CORRAL_ERR_SHEETS_AUTH',
  'CORRAL_ERR_SHEETS_CREDENTIALS',
  'CORRAL_ERR_SHEETS_TOO_LARGE',
]);

/** Maps a Sheets-layer failure to an HTTP answer (the code says which kind, see src/errors.ts). */
export function sheetsFailure(err: unknown, field?: string): HttpError {
  if (err instanceof HttpError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'CORRAL_ERR_SHEETS_BAD_RANGE' && field) {
    return new HttpError('invalid_field', `the sheet refused this range: ${(err as Error).message}`, { field });
  }
  // The host's own read quota, not Google: said so (the read is queued; the retry finds its copy).
  // A failure only the operator can end (the sheet not shared, SHEET_ID wrong, a tab over 64 MiB)
  // is not one a retry soon ends: "retry shortly" had clients retry for hours. So is a range the
  // sheet refuses when it is the app's own (SHEET_PLAYERS_RANGE or SHEET_EVENTS_RANGE naming a tab
  // the sheet lacks, say one renamed): no field to blame, and no retry makes the tab appear.
  const message =
    code === 'CORRAL_ERR_SHEETS_QUOTA_WAIT' || code === 'CORRAL_ERR_QUEUE_FULL'
      ? "the sheet's read quota is spent for now; retry after Retry-After"
      : typeof code === 'string' && (OPERATOR_FAILURES.has(code) || code === 'CORRAL_ERR_SHEETS_BAD_RANGE')
        ? "the sheet cannot be read: a problem on the server's side that its operator must fix (the server's log says which)"
        : 'the sheet cannot be reached right now; retry shortly';
  return new HttpError('sheets_unavailable', message, { headers: { 'Retry-After': String(retryAfterSeconds(err)) } });
}

/** Most a 503 tells a client to wait: Google's quota windows are a minute. */
const RETRY_AFTER_MAX_S = 60;

/**
 * When the client may try again: when the keeper tries the range again (a failing range is in
 * backoff, and a read before then gets the same error), within 1..60 s; 5 s when unknown.
 */
export function retryAfterSeconds(err: unknown): number {
  const ms = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return 5;
  return Math.min(RETRY_AFTER_MAX_S, Math.max(1, Math.ceil(ms / 1000)));
}
