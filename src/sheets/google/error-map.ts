// Turns what Google answered (or failed to answer) into a SheetsError an operator can act on:
// a stable code, a message that says what to fix, and the retryable/applied facts the retry loop
// and the write journal decide with.
//
// How `applied` is decided (it matters for appends only: resending an applied append duplicates rows):
// - The request never left this host (DNS failure, connection refused, connect/TLS failure, our
//   deadline expiring while the request was still queued, the token fetch failing): 'no'. The
//   transport knows this exactly, see http.ts.
// - Google answered 400/401/403/404/429: 'no'. These are decided by Google's front end (request
//   validation, auth, ACLs, quota) before the operation runs; a 429 in particular is Google saying
//   "not executed, slow down".
// - Google answered 5xx, or the connection dropped / our deadline expired after the request was
//   written, or a 2xx body could not be read: 'maybe'. Google may have written the rows and the
//   answer was lost; only looking at the sheet can tell.
//
// Neighbours: error-body.ts reads an error answer's body (the JSON envelope, or a page's words);
// token-error-map.ts maps the OAuth token endpoint's refusals with make() from here.

import type { ErrorCode } from '../../errors.js';
import { SheetsError, type Applied } from '../errors.js';
import { bodyText, parseEnvelope, type Envelope } from './error-body.js';
import type { HttpResponse, TransportError } from './http.js';
import { keyRestriction } from './key-restrictions.js';
import type { ProxyRoute } from './proxy.js';
import { proxyAnswer, proxyTransportError } from './proxy-errors.js';
import { parseRetryAfter } from './retry.js';

export type SheetsOperation = 'values.get' | 'values.batchGet' | 'values.append' | 'values.update' | 'values.batchUpdate';

export type AuthIdentity = { readonly kind: 'service-account'; readonly clientEmail: string; readonly source: string } | { readonly kind: 'api-key' };

export interface ErrorContext {
  readonly operation: SheetsOperation | 'token';
  readonly spreadsheetId: string;
  readonly ranges: readonly string[];
  readonly auth: AuthIdentity;
  readonly write: boolean;
  /** Host called, for network messages. */
  readonly host: string;
  /** The proxy the call went through (HTTPS_PROXY / HTTP_PROXY), if any: its failures are its own (proxy-errors.ts). */
  readonly proxy?: ProxyRoute;
}


/** A SheetsError from a mapper's code, message and facts (token-error-map.ts makes its own with it). */
export function make(code: ErrorCode, message: string, init: { status?: number; reason: string; applied: Applied; retryable: boolean; googleMessage?: string; retryAfterMs?: number; cause?: unknown }): SheetsError {
  return new SheetsError(code, message, init);
}

function rangesText(ctx: ErrorContext): string {
  return ctx.ranges.map((r) => JSON.stringify(r)).join(', ');
}

/** Google's words with their closing full stop dropped, for a sentence of ours that goes on with its own. */
function clause(googleMessage: string): string {
  return googleMessage.replace(/[.\s]+$/, '');
}

/** Google's answer to a write that would grow the spreadsheet past its cell limit, and that limit. */
const WORKBOOK_LIMIT = /increase the number of cells in the workbook above the limit of (\d+) cells/i;
/** Google's answer to a write with a cell longer than it takes (50,000 characters), and that limit. */
const CELL_LIMIT = /more than the maximum of (\d+) characters in a single cell/i;

function forbiddenMessage(ctx: ErrorContext, env: Envelope): string {
  const said = `(Google said: ${env.message})`;
  if (env.reasons.includes('ACCESS_TOKEN_SCOPE_INSUFFICIENT') || /insufficient authentication scopes/i.test(env.message)) {
    return `the access token has the read-only scope, so Google refused this ${ctx.operation}; this process was set up read-only ${said}`;
  }
  if (/missing a valid API key|doesn't allow unregistered callers/i.test(env.message)) {
    // Google saw neither a token nor a key (or a bearer header emptied of its token): corral sends
    // one with every call, so something between (a proxy, SHEETS_API_URL pointing at one) dropped
    // it. Not a sharing problem.
    const sent = ctx.auth.kind === 'api-key' ? 'the key= parameter (SHEETS_API_KEY)' : `the Authorization header (the access token of ${ctx.auth.clientEmail})`;
    return `Google received this ${ctx.operation} without credentials although corral sent ${sent}: a proxy between corral and ${ctx.host} dropped it; check SHEETS_API_URL and the proxy ${said}`;
  }
  if (env.reasons.includes('SERVICE_DISABLED') || /has not been used in project|is disabled/i.test(env.message)) {
    return `the Google Sheets API is not enabled for the service account's Cloud project: enable "Google Sheets API" in the Cloud console (APIs & Services > Library) and retry in a few minutes ${said}`;
  }
  const restriction = keyRestriction(env.reasons);
  if (restriction !== undefined) return `SHEETS_API_KEY's restrictions refuse this ${ctx.operation}: ${restriction} ${said}`;
  if (ctx.auth.kind === 'api-key') {
    return `the sheet ${ctx.spreadsheetId} is not public: SHEETS_API_KEY can only read sheets shared as "Anyone with the link can view"; share it that way or use a service account (GOOGLE_APPLICATION_CREDENTIALS) ${said}`;
  }
  const email = ctx.auth.clientEmail;
  if (ctx.write) {
    // A Viewer share, or a sheet anyone with the link can view, reads and refuses appends: "not
    // shared" sent an operator whose reads worked looking for a share that was there.
    return `the sheet is not shared with ${email} as Editor (if its reads work, it is shared as Viewer or readable by anyone with its link: read but not written): open spreadsheet ${ctx.spreadsheetId} in Google Sheets, click Share and give ${email} Editor ${said}`;
  }
  return `the sheet is not shared with ${email}: open spreadsheet ${ctx.spreadsheetId} in Google Sheets, click Share and add ${email} as Viewer (Editor if corral appends rows) ${said}`;
}


/** Maps a non-2xx answer of the Sheets API. */
export function mapApiError(res: HttpResponse, ctx: ErrorContext): SheetsError {
  const envelope = parseEnvelope(res.body);
  const byProxy = proxyAnswer(res.status, envelope !== undefined, ctx);
  if (byProxy) return byProxy;
  const env = envelope ?? { code: res.status, message: bodyText(res.body), status: '', reasons: [] };
  const base = { status: res.status, reason: env.status || `HTTP_${res.status}`, googleMessage: env.message };
  const s = res.status;
  if (s === 400) {
    if (env.reasons.includes('API_KEY_INVALID') || /API key not valid/i.test(env.message)) {
      return make('CORRAL_ERR_SHEETS_AUTH', `SHEETS_API_KEY was refused by Google: check the key in the Cloud console (APIs & Services > Credentials) (Google said: ${env.message})`, { ...base, applied: 'no', retryable: false });
    }
    if (/payload size exceeds the limit/i.test(env.message)) {
      return make(
        'CORRAL_ERR_SHEETS_BAD_RANGE',
        `Google refused ${ctx.operation} of ${rangesText(ctx)}: the request body is over its 10 MiB limit (Google said: ${env.message})`,
        { ...base, applied: 'no', retryable: false },
      );
    }
    const limit = WORKBOOK_LIMIT.exec(env.message);
    if (limit) {
      // Not a range's fault, nor a row's: Google counts every tab's grid, empty cells included, and
      // refuses any write that would grow it until cells are freed (UoaWDCC/uasc-web#833).
      const what = ctx.operation === 'values.append' ? `an append to ${rangesText(ctx)}` : `${ctx.operation} of ${rangesText(ctx)}`;
      return make(
        'CORRAL_ERR_SHEETS_WORKBOOK_FULL',
        `spreadsheet ${ctx.spreadsheetId} is full: ${what} would take it past Google's limit of ${Number(limit[1]).toLocaleString('en-US')} cells (every tab's rows × columns, empty cells included), so Google refuses every append until cells are freed. Delete (not only clear) unused rows and columns and empty tabs, or move old events to another spreadsheet and delete their rows here (Google said: ${env.message})`,
        { ...base, applied: 'no', retryable: false },
      );
    }
    const cellLimit = CELL_LIMIT.exec(env.message);
    if (cellLimit) {
      // One cell's text, not the range: Google refuses the whole request, nothing written. Kept
      // CORRAL_ERR_SHEETS_BAD_RANGE, the code of a refusal that may be one row's (the flusher
      // sends a refused batch in halves to find that row: append-refusal.ts).
      return make(
        'CORRAL_ERR_SHEETS_BAD_RANGE',
        `Google refused ${ctx.operation} of ${rangesText(ctx)}: a cell of the rows is longer than Google's limit of ${Number(cellLimit[1]).toLocaleString('en-US')} characters in a cell, so nothing of the request was written; shorten that cell's text or split it over several cells (Google said: ${env.message})`,
        { ...base, applied: 'no', retryable: false },
      );
    }
    if (/protected cell or object/i.test(env.message)) {
      // A protection (Data > Protect sheets and ranges) whose editors leave the service account
      // out: 400 "You are trying to edit a protected cell or object. Please contact the spreadsheet
      // owner to remove protection if you need to edit." for any write that touches it, whatever
      // its rows (batchUpdate prefixes "Invalid data[0]: "). Not a bad range, nor a bad row.
      const who = ctx.auth.kind === 'service-account' ? ctx.auth.clientEmail : 'the caller';
      return make(
        'CORRAL_ERR_SHEETS_PROTECTED',
        `Google refused ${ctx.operation} of ${rangesText(ctx)}: the range is protected in spreadsheet ${ctx.spreadsheetId} and ${who} is not among the protection's editors. In Google Sheets, open Data > Protect sheets and ranges, and add ${who} to the editors of the protection covering it, or remove the protection (Google said: ${env.message})`,
        { ...base, applied: 'no', retryable: false },
      );
    }
    if (/not supported for this document/i.test(env.message)) {
      // FAILED_PRECONDITION for every values call on a file Drive holds but Sheets does not (an
      // Excel .xlsx uploaded without conversion), whatever the range: the whole sheet fails
      // (googleworkspace/php-samples#65, tidyverse/googlesheets4#275).
      return make(
        'CORRAL_ERR_SHEETS_NOT_A_SHEET',
        `SHEET_ID ${ctx.spreadsheetId} names a file that is not a Google Sheets document (an Excel .xlsx or another Office file stored in Google Drive): the Sheets API cannot read or write it. Open it in Google Sheets, choose File > Save as Google Sheets, and set SHEET_ID to the new spreadsheet's id (Google said: ${env.message})`,
        { ...base, applied: 'no', retryable: false },
      );
    }
    return make(
      'CORRAL_ERR_SHEETS_BAD_RANGE',
      `Google rejected the range ${rangesText(ctx)} of ${ctx.operation}: ${clause(env.message)}. Check that the tab exists in spreadsheet ${ctx.spreadsheetId} and the A1 range is valid (SHEET_PLAYERS_RANGE / SHEET_EVENTS_RANGE; quote tab names with spaces: 'My Tab'!A1:E)`,
      { ...base, applied: 'no', retryable: false },
    );
  }
  if (s === 401) {
    // An access token Google no longer accepts (revoked, expired early): the caller refreshes it once.
    const who = ctx.auth.kind === 'service-account' ? `the access token of ${ctx.auth.clientEmail}` : 'SHEETS_API_KEY';
    return make('CORRAL_ERR_SHEETS_AUTH', `Google refused ${who} (HTTP 401 ${env.status || 'UNAUTHENTICATED'}): ${env.message}`, { ...base, applied: 'no', retryable: true });
  }
  if (s === 403 && envelope === undefined) {
    // Not the API's PERMISSION_DENIED but Google's front-end page ("Your client does not have
    // permission to get URL ... from this server"): refused before any spreadsheet was looked up,
    // so no share would change it.
    return make(
      'CORRAL_ERR_SHEETS_FORBIDDEN',
      `${ctx.host} refused ${ctx.operation} with HTTP 403 and no Sheets API error (${env.message || 'empty body'}): Google's front end turned the request away before the API saw it, so sharing is not the cause; check SHEETS_API_URL, and whether this host's network or address is blocked from Google`,
      { ...base, applied: 'no', retryable: false },
    );
  }
  if (s === 403) return make('CORRAL_ERR_SHEETS_FORBIDDEN', forbiddenMessage(ctx, env), { ...base, applied: 'no', retryable: false });
  if (s === 404 && envelope === undefined) {
    // Not the API's "Requested entity was not found." but Google's front-end page for a URL that is
    // no API method: the spreadsheet was never looked up, the base URL is wrong.
    return make(
      'CORRAL_ERR_SHEETS_NOT_FOUND',
      `${ctx.host} answered 404 to ${ctx.operation} with no Sheets API error (${env.message || 'empty body'}): the URL is no Sheets API method; check SHEETS_API_URL (Google's is https://sheets.googleapis.com, with no path)`,
      { ...base, applied: 'no', retryable: false },
    );
  }
  if (s === 404) {
    return make(
      'CORRAL_ERR_SHEETS_NOT_FOUND',
      `spreadsheet ${ctx.spreadsheetId} was not found: check SHEET_ID (the long id between /d/ and /edit in the sheet's URL) (Google said: ${env.message})`,
      { ...base, applied: 'no', retryable: false },
    );
  }
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const wait = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (s === 429) {
    return make('CORRAL_ERR_SHEETS_QUOTA', `Google's Sheets quota is exhausted (429 RESOURCE_EXHAUSTED) for ${ctx.operation}: ${env.message}`, { ...base, ...wait, applied: 'no', retryable: true });
  }
  if (s >= 500 || s === 408) {
    return make('CORRAL_ERR_SHEETS_UNAVAILABLE', `Google answered ${s}${env.status ? ` ${env.status}` : ''} to ${ctx.operation}: ${env.message || 'no message'}`, { ...base, ...wait, applied: 'maybe', retryable: true });
  }
  return make('CORRAL_ERR_SHEETS_UPSTREAM', `Google answered an unexpected ${s} to ${ctx.operation}: ${env.message}`, { ...base, applied: 'maybe', retryable: false });
}

/** A 2xx whose body is not the JSON we expect. */
export function mapBadBody(res: HttpResponse, ctx: ErrorContext, detail: string): SheetsError {
  return make('CORRAL_ERR_SHEETS_UPSTREAM', `Google answered ${res.status} to ${ctx.operation} with an unreadable body (${detail})`, {
    status: res.status,
    reason: 'BAD_BODY',
    applied: 'maybe',
    retryable: true,
  });
}

/** Maps a failed exchange (no complete answer). */
export function mapTransportError(err: TransportError, ctx: ErrorContext): SheetsError {
  // A failed token fetch happens before the API call, which therefore was never sent.
  const applied: Applied = err.phase === 'queued' || ctx.operation === 'token' ? 'no' : 'maybe';
  const where = err.phase === 'queued' ? 'before the request was sent' : err.phase === 'sent' ? 'after the request was sent' : 'while reading the answer';
  const what = ctx.operation === 'token' ? `the token endpoint ${ctx.host}` : `${ctx.operation} on ${ctx.host}`;
  if (err.kind === 'aborted') {
    return make('CORRAL_ERR_SHEETS_TIMEOUT', `${what} was cancelled by the caller ${where}`, { reason: 'ABORTED', applied, retryable: false, cause: err });
  }
  if (err.kind === 'timeout') {
    // Through a proxy, the path is named: a proxy that hangs (or a firewall dropping its port) was
    // said as Google not answering, and `corral check` sent the operator to Google. Not connected
    // yet, corral had connected to nothing but the proxy.
    const proxy = ctx.proxy;
    const via = proxy ? ` through the proxy ${proxy.shown} (${proxy.setting})` : '';
    const hint = proxy && err.phase === 'queued' ? `; check that the proxy runs and that ${proxy.setting} names it` : '';
    return make('CORRAL_ERR_SHEETS_TIMEOUT', `${what} did not answer within SHEETS_TIMEOUT${via} (${err.message}, ${where})${hint}`, { reason: 'TIMEOUT', applied, retryable: true, cause: err });
  }
  if (err.kind === 'too-large') {
    // Not transient: every retry would download as much again, pay a quota token, and fail.
    const subject = ctx.operation === 'token' ? what : `Google's answer to ${ctx.operation} of ${rangesText(ctx)}`;
    return make(
      'CORRAL_ERR_SHEETS_TOO_LARGE',
      `${subject} was cut off: ${err.message}: a range is read whole, so keep its JSON under that (64 MiB is about 300,000 rows of 200 bytes): move old rows to another tab or spreadsheet, or read a smaller range (fewer rows or columns)`,
      { reason: 'TOO_LARGE', applied, retryable: false, cause: err },
    );
  }
  const byProxy = proxyTransportError(err, ctx);
  if (byProxy) return byProxy;
  const code = err.causeCode;
  return make('CORRAL_ERR_SHEETS_UNAVAILABLE', `cannot reach ${what}: ${err.message}${code ? ` (${code})` : ''}, ${where}`, { reason: 'NETWORK', applied, retryable: true, cause: err });
}
