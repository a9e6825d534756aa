// What a client is told when the sheet cannot be read: 503 sheets_unavailable always, and a message
// that says whether a retry soon can help (Google failing for now, the read quota spent) or only the
// server's operator can (the sheet not shared, SHEET_ID wrong, a tab over 64 MiB).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sheetsFailure } from '../../src/app/deps.js';
import { CorralError } from '../../src/errors.js';

const failure = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new CorralError(code as never, 'from the sheets layer'), extra);

test("a failure only the operator can end says so; one that passes says to retry shortly; the quota's says to wait", () => {
  for (const code of ['CORRAL_ERR_SHEETS_FORBIDDEN', 'CORRAL_ERR_SHEETS_NOT_FOUND', 'CORRAL_ERR_SHEETS_NOT_A_SHEET', 'CORRAL_ERR_SHEETS_AUTH', 'CORRAL_ERR_SHEETS_CREDENTIALS', 'CORRAL_ERR_SHEETS_TOO_LARGE']) {
    const answer = sheetsFailure(failure(code));
    assert.equal(answer.status, 503, code);
    assert.equal(answer.error, 'sheets_unavailable', code);
    assert.equal(answer.message, "the sheet cannot be read: a problem on the server's side that its operator must fix (the server's log says which)", code);
  }
  // A catch-all for odd answers, often passing (an unreadable body), and what an unknown keeper code becomes.
  for (const code of ['CORRAL_ERR_SHEETS_UPSTREAM', 'CORRAL_ERR_SHEETS_UNAVAILABLE', 'CORRAL_ERR_SHEETS_TIMEOUT', 'CORRAL_ERR_KEEPER_UNAVAILABLE', 'CORRAL_ERR_KEEPER_SLOW']) {
    assert.equal(sheetsFailure(failure(code)).message, 'the sheet cannot be reached right now; retry shortly', code);
  }
  const quota = sheetsFailure(failure('CORRAL_ERR_SHEETS_QUOTA_WAIT', { retryAfterMs: 12_500 }));
  assert.equal(quota.message, "the sheet's read quota is spent for now; retry after Retry-After");
  assert.equal(quota.headers['Retry-After'], '13');
});

test("a range the sheet refuses is the client's 400 when the client named it, else the operator's 503", () => {
  const badRange = () => failure('CORRAL_ERR_SHEETS_BAD_RANGE');
  // GET /api/export?sheet=Nope: the client's range.
  const exported = sheetsFailure(badRange(), 'sheet');
  assert.equal(exported.status, 400);
  assert.equal(exported.error, 'invalid_field');
  // The app's own range (SHEET_PLAYERS_RANGE naming a tab the sheet lacks: a login, GET /api/players):
  // only the operator can end it, so no "retry shortly".
  const own = sheetsFailure(badRange());
  assert.equal(own.status, 503);
  assert.equal(own.error, 'sheets_unavailable');
  assert.equal(own.message, "the sheet cannot be read: a problem on the server's side that its operator must fix (the server's log says which)");
});
