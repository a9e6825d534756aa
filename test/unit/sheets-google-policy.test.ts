// The decisions of the Google client that need no network: backoff timing, and how each answer
// (or failure) is mapped to a code, an operator message, `retryable` and `applied`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';
import { mapApiError, mapTransportError, type ErrorContext } from '../../src/sheets/google/error-map.js';
import { mapTokenError } from '../../src/sheets/google/token-error-map.js';
import { TransportError, type HttpResponse } from '../../src/sheets/google/http.js';
import { backoffDelay, GOOGLE_BACKOFF, parseRetryAfter, retryDelay } from '../../src/sheets/google/retry.js';

const sa: ErrorContext = {
  operation: 'values.get',
  spreadsheetId: '1AbCdEf',
  ranges: ['Players'],
  auth: { kind: 'service-account', clientEmail: 'bot@proj.iam.gserviceaccount.com', source: 'GOOGLE_APPLICATION_CREDENTIALS=/k.json' },
  write: false,
  host: 'sheets.googleapis.com',
};
const append: ErrorContext = { ...sa, operation: 'values.append', ranges: ['Events'], write: true };

function res(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) };
}
function envelope(code: number, status: string, message: string, reason?: string) {
  return { error: { code, message, status, ...(reason ? { details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason }] } : {}) } };
}

describe('Google truncated exponential backoff', () => {
  it('waits 2^n base plus up to the jitter, truncated at 32 s', () => {
    const p = GOOGLE_BACKOFF;
    assert.deepEqual(p, { maxAttempts: 5, baseDelayMs: 1000, jitterMs: 1000, maxDelayMs: 32_000 });
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffDelay(n, p, () => 0)), [1000, 2000, 4000, 8000, 16000]);
    assert.equal(backoffDelay(2, p, () => 0.5), 4500);
    assert.equal(backoffDelay(4, p, () => 0.999), 16999);
    assert.equal(backoffDelay(5, p, () => 0.999), 32000);
    assert.equal(backoffDelay(60, p, () => 0), 32000);
  });

  it('keeps the jitter within [0, jitterMs) for random draws', () => {
    for (let i = 0; i < 200; i += 1) {
      const d = backoffDelay(1, GOOGLE_BACKOFF);
      assert.ok(d >= 2000 && d < 3000, String(d));
    }
  });

  it('scales with an injected base (tests do not wait seconds)', () => {
    const fast = { maxAttempts: 3, baseDelayMs: 10, jitterMs: 5, maxDelayMs: 100 };
    assert.deepEqual([0, 1, 2, 5].map((n) => backoffDelay(n, fast, () => 0)), [10, 20, 40, 100]);
  });

  it('honours Retry-After when longer than the backoff, still truncated', () => {
    assert.equal(parseRetryAfter('7'), 7000);
    assert.equal(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000), 5000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(retryDelay(0, GOOGLE_BACKOFF, 7000, () => 0), 7000);
    assert.equal(retryDelay(3, GOOGLE_BACKOFF, 7000, () => 0), 8000);
    assert.equal(retryDelay(0, GOOGLE_BACKOFF, 600_000, () => 0), 32_000);
  });
});

describe('Sheets API error mapping', () => {
  it('403 says the sheet is not shared with the client_email', () => {
    const e = mapApiError(res(403, envelope(403, 'PERMISSION_DENIED', 'The caller does not have permission')), sa);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
    assert.match(e.message, /^the sheet is not shared with bot@proj\.iam\.gserviceaccount\.com/);
    assert.equal(e.reason, 'PERMISSION_DENIED');
    assert.equal(e.retryable, false);
    assert.equal(e.applied, 'no');
  });

  it("403 on an append says the account is no Editor: a Viewer's reads work, so 'not shared' sent the operator looking for a share that was there", () => {
    const e = mapApiError(res(403, envelope(403, 'PERMISSION_DENIED', 'The caller does not have permission')), append);
    assert.match(e.message, /^the sheet is not shared with bot@proj\.iam\.gserviceaccount\.com as Editor \(if its reads work, it is shared as Viewer or readable by anyone with its link: read but not written\): .*give bot@proj\.iam\.gserviceaccount\.com Editor/);
    assert.equal(e.applied, 'no');
  });

  it("403 as Google's front-end page (no API error) says it was turned away before the API, not that the sheet is not shared", () => {
    const page = '<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 403 (Forbidden)!!1</title><style>*{margin:0}</style><p><b>403.</b> <ins>That’s an error.</ins><p>Your client does not have permission to get URL <code>/v4/spreadsheets/1AbCdEf/values/Players</code> from this server. <ins>That’s all we know.</ins>';
    const e = mapApiError(res(403, page, { 'content-type': 'text/html; charset=UTF-8' }), sa);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
    assert.match(e.message, /^sheets\.googleapis\.com refused values\.get with HTTP 403 and no Sheets API error \(.*Your client does not have permission to get URL.*\): Google's front end turned the request away before the API saw it, so sharing is not the cause/);
    assert.doesNotMatch(e.message, /not shared/);
    assert.equal(e.retryable, false);
  });

  it('403 for a read-only token, a disabled API and an API key each say what to fix', () => {
    const scope = mapApiError(res(403, envelope(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.', 'ACCESS_TOKEN_SCOPE_INSUFFICIENT')), append);
    assert.match(scope.message, /read-only scope/);
    const disabled = mapApiError(res(403, envelope(403, 'PERMISSION_DENIED', 'Google Sheets API has not been used in project 123 before or it is disabled.', 'SERVICE_DISABLED')), sa);
    assert.match(disabled.message, /enable "Google Sheets API"/);
    const key = mapApiError(res(403, envelope(403, 'PERMISSION_DENIED', 'The caller does not have permission')), { ...sa, auth: { kind: 'api-key' } });
    assert.match(key.message, /is not public: SHEETS_API_KEY can only read/);
  });

  it("403 'missing a valid API key' says the credentials were dropped on the way, not that the sheet is not shared", () => {
    // What the Sheets API answers a request that carries neither a token nor a key.
    const body = envelope(403, 'PERMISSION_DENIED', 'The request is missing a valid API key.');
    const token = mapApiError(res(403, body), sa);
    assert.equal(token.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
    assert.match(token.message, /^Google received this values\.get without credentials although corral sent the Authorization header \(the access token of bot@proj\.iam\.gserviceaccount\.com\): a proxy between corral and sheets\.googleapis\.com dropped it/);
    assert.doesNotMatch(token.message, /not shared/);
    assert.equal(token.retryable, false);
    const key = mapApiError(res(403, body), { ...sa, auth: { kind: 'api-key' } });
    assert.match(key.message, /although corral sent the key= parameter \(SHEETS_API_KEY\)/);
    assert.doesNotMatch(key.message, /is not public/);
    // What Google answers a bearer header that arrives without its token.
    const emptied = mapApiError(
      res(403, envelope(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")),
      sa,
    );
    assert.match(emptied.message, /^Google received this values\.get without credentials although corral sent the Authorization header/);
  });

  it("a 502 HTML page from Google's front end is reported by its words, not its markup, and retried", () => {
    const page = [
      '<!DOCTYPE html>',
      '<html lang=en>',
      '  <meta charset=utf-8>',
      '  <title>Error 502 (Server Error)!!1</title>',
      '  <style>',
      '    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}',
      '  </style>',
      '  <p><b>502.</b> <ins>That’s an error.</ins>',
      '  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>',
    ].join('\n');
    const e = mapApiError({ status: 502, headers: { 'content-type': 'text/html; charset=UTF-8' }, body: Buffer.from(page) }, append);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
    assert.equal(
      e.message,
      'Google answered 502 to values.append: Error 502 (Server Error)!!1 502. That’s an error. The server encountered a temporary error and could not complete your request. Please try again in 30 seconds. That’s all we know.',
    );
    assert.equal(e.retryable, true);
    assert.equal(e.applied, 'maybe');
    const token = mapTokenError({ status: 502, headers: {}, body: Buffer.from(page) }, { ...sa, operation: 'token' });
    assert.match(token.message, /answered 502: Error 502 \(Server Error\)!!1 502\. That’s an error\. The server encountered/);
    assert.doesNotMatch(token.message, /<|margin/);
  });

  it('404 says to check SHEET_ID', () => {
    const e = mapApiError(res(404, envelope(404, 'NOT_FOUND', 'Requested entity was not found.')), sa);
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_NOT_FOUND');
    assert.match(e.message, /spreadsheet 1AbCdEf was not found: check SHEET_ID/);
    assert.equal(e.retryable, false);
  });

  it('400 names the bad range and keeps Google\'s words', () => {
    const e = mapApiError(res(400, envelope(400, 'INVALID_ARGUMENT', 'Unable to parse range: Nope!A1')), { ...sa, ranges: ['Nope!A1'] });
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_BAD_RANGE');
    assert.match(e.message, /"Nope!A1".*Unable to parse range: Nope!A1/);
    const key = mapApiError(res(400, envelope(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', 'API_KEY_INVALID')), { ...sa, auth: { kind: 'api-key' } });
    assert.equal(key.code, 'CORRAL_ERR_SHEETS_AUTH');
  });

  it('429 is retryable and certainly not applied; 5xx is retryable and maybe applied', () => {
    const q = mapApiError(res(429, envelope(429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Write requests'"), { 'retry-after': '3' }), append);
    assert.deepEqual([q.code, q.retryable, q.applied, q.retryAfterMs], ['CORRAL_ERR_SHEETS_QUOTA', true, 'no', 3000]);
    for (const s of [500, 502, 503, 504]) {
      const e = mapApiError(res(s, envelope(s, 'UNAVAILABLE', 'The service is currently unavailable.')), append);
      assert.deepEqual([e.code, e.retryable, e.applied], ['CORRAL_ERR_SHEETS_UNAVAILABLE', true, 'maybe']);
    }
    const html = mapApiError(res(502, '<html>Bad Gateway</html>'), append);
    assert.equal(html.applied, 'maybe');
  });

  it('401 is retryable once (token refresh) and not applied', () => {
    const e = mapApiError(res(401, envelope(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')), append);
    assert.deepEqual([e.code, e.retryable, e.applied], ['CORRAL_ERR_SHEETS_AUTH', true, 'no']);
  });
});

describe('transport failures: applied is decided by how far the request got', () => {
  it('before the request was written: applied no, retryable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const e = mapTransportError(new TransportError('queued', 'network', refused.message, refused), append);
    assert.deepEqual([e.code, e.applied, e.retryable, e.reason], ['CORRAL_ERR_SHEETS_UNAVAILABLE', 'no', true, 'NETWORK']);
    assert.match(e.message, /ECONNREFUSED.*before the request was sent/);
    const queuedTimeout = mapTransportError(new TransportError('queued', 'timeout', 'no complete answer within 1000 ms'), append);
    assert.equal(queuedTimeout.applied, 'no');
  });

  it('after the request was written (timeout, reset mid-answer): applied maybe', () => {
    const t = mapTransportError(new TransportError('sent', 'timeout', 'no complete answer within 1000 ms'), append);
    assert.deepEqual([t.code, t.applied, t.retryable], ['CORRAL_ERR_SHEETS_TIMEOUT', 'maybe', true]);
    assert.match(t.message, /SHEETS_TIMEOUT/);
    const reset = mapTransportError(new TransportError('response', 'network', 'other side closed'), append);
    assert.deepEqual([reset.applied, reset.retryable], ['maybe', true]);
  });

  it('a failed token fetch never applied the API call', () => {
    const e = mapTransportError(new TransportError('sent', 'timeout', 'x'), { ...append, operation: 'token' });
    assert.equal(e.applied, 'no');
  });
});

describe('token endpoint error mapping', () => {
  it('invalid_grant points at the key or the clock', () => {
    const e = mapTokenError(res(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }), { ...sa, operation: 'token' });
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_AUTH');
    assert.equal(e.reason, 'invalid_grant');
    assert.match(e.message, /bot@proj\.iam\.gserviceaccount\.com \(invalid_grant: Invalid JWT Signature\.\)/);
    assert.match(e.message, /deleted or revoked/);
    assert.match(e.message, /clock/);
    assert.deepEqual([e.retryable, e.applied], [false, 'no']);
  });

  it('invalid_grant for an account deleted or disabled says so: no new key of it would be accepted', () => {
    for (const description of ['Invalid grant: account not found', 'Robot is disabled.']) {
      const e = mapTokenError(res(400, { error: 'invalid_grant', error_description: description }), { ...sa, operation: 'token' });
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_AUTH');
      assert.match(e.message, /The service account bot@proj\.iam\.gserviceaccount\.com was deleted or disabled: enable it again .*IAM & Admin > Service Accounts/);
      assert.doesNotMatch(e.message, /create a new JSON key/);
      assert.equal(e.retryable, false);
    }
  });

  it("invalid_grant with the endpoint's Date header two hours off says so, and is retried once the dating is corrected", () => {
    const refused = res(400, { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.' });
    const token = { ...sa, operation: 'token' as const };
    const first = mapTokenError(refused, token, { behindMs: -7_200_000, corrected: true });
    assert.match(first.message, /this host's clock is 7200 s ahead of the token endpoint's \(its Date header\); the next token request dates its JWT by the endpoint's clock; fix the clock/);
    assert.equal(first.retryable, true);
    const again = mapTokenError(refused, token, { behindMs: -7_200_000, corrected: false });
    assert.equal(again.retryable, false, 'already corrected: no loop');
    const behind = mapTokenError(refused, token, { behindMs: 90_000, corrected: false });
    assert.match(behind.message, /90 s behind/);
    const agrees = mapTokenError(refused, token, { behindMs: 800, corrected: false });
    assert.match(agrees.message, /The key was deleted or revoked: create a new JSON key .* so it is not the clock/);
  });

  it('a 5xx of the token endpoint is retryable', () => {
    const e = mapTokenError(res(503, 'unavailable'), { ...sa, operation: 'token' });
    assert.deepEqual([e.code, e.retryable, e.applied], ['CORRAL_ERR_SHEETS_UNAVAILABLE', true, 'no']);
  });

  it('an answer without an OAuth error (token_uri pointing elsewhere) says to check token_uri, on one line', () => {
    const page = JSON.stringify({ error: { code: 404, message: 'Method not found', status: 'NOT_FOUND' } }, null, 2);
    const e = mapTokenError(res(404, page), { ...sa, operation: 'token', host: 'proxy.internal' });
    assert.equal(e.code, 'CORRAL_ERR_SHEETS_AUTH');
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, /^the token endpoint proxy\.internal answered 404 for bot@proj\.iam\.gserviceaccount\.com with no OAuth error \(.*Method not found.*\); check token_uri in GOOGLE_APPLICATION_CREDENTIALS=\/k\.json \(Google's is https:\/\/oauth2\.googleapis\.com\/token\)$/);
    assert.deepEqual([e.retryable, e.applied], [false, 'no']);
  });

  it('every code used is documented in ERROR_CODES', () => {
    for (const code of ['CORRAL_ERR_SHEETS_READ_ONLY', 'CORRAL_ERR_SHEETS_AUTH', 'CORRAL_ERR_SHEETS_TIMEOUT']) assert.ok(code in ERROR_CODES);
  });
});
