// The Google Sheets client against the emulator, over real HTTP on loopback: auth (JWT, token
// cache, coalesced refresh, 401 refresh), reads (batchGet, trailing-empty shapes, quoted tab
// names), operator-facing errors (403/404/400/invalid_grant), retries with backoff (429, 5xx), the
// SHEETS_TIMEOUT deadline, and API-key / read-only restrictions.

import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { SheetsError } from '../../src/sheets/errors.js';
import type { ServiceAccountAuth } from '../../src/sheets/google/auth.js';
import { createGoogleBackend } from '../../src/sheets/google/index.js';
import { FAST_RETRY, fakeClock, rejection, startHarness, withHarness } from '../fixtures/sheets/harness.js';
import { SEED_EVENTS_ROWS, SEED_PLAYERS_ROWS } from '../fixtures/sheets/seed-rows.js';


describe('service-account auth against the emulator', () => {
  it('signs a JWT the emulator accepts and reuses the token across calls', () =>
    withHarness(async (h) => {
      const b = h.backend();
      const first = await b.getValues('Players');
      assert.equal(first.values?.[0]?.[0], 'name');
      await b.getValues('Events');
      await b.batchGetValues(['Players!A1:B2', 'Events!A:A']);
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 1);
      assert.equal(c.ok.token, 1);
      assert.equal(c.ok['values.get'], 2);
      assert.equal(c.ok['values.batchGet'], 1);
      assert.equal(b.stats().tokenFetches, 1);
    }));

  it('refuses a JWT signed with another key: invalid_grant, message points at the key or the clock, nothing sent', () =>
    withHarness(async (h) => {
      const other = h.emulator.registerServiceAccount();
      // The right client_email with somebody else's private key: the signature cannot verify.
      const forged = { ...h.key, private_key: other.private_key };
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(forged) });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_AUTH');
      assert.equal(e.reason, 'invalid_grant');
      assert.match(e.message, /Invalid JWT Signature/);
      assert.match(e.message, new RegExp(`service-account key of ${h.key.client_email.replace(/[.]/g, '\\.')}`));
      assert.match(e.message, /deleted or revoked.*clock agrees with the token endpoint's within a minute, so it is not the clock/s);
      assert.equal(e.applied, 'no');
      assert.equal(e.retryable, false);
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 1, 'not retried');
      assert.equal(c.ok.token, 0);
      assert.equal(c.calls['values.get'], 0, 'no values call without a token');
    }));

  it('a host clock two hours ahead: after one refusal, JWTs are dated by the token endpoint\'s clock, with a warning', () =>
    withHarness(async (h) => {
      const b = h.backend({ now: () => Date.now() + 2 * 3600_000 });
      const got = await b.getValues('Players');
      assert.equal(got.values?.[1]?.[0], 'Alice Martin');
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 2, 'one refused (timeframe), one accepted');
      assert.equal(c.statuses['400'], 1);
      const warned = (await h.logLines()).find((l) => l.event === 'sheets.clock_skew');
      assert.ok(warned, 'the skew is logged');
      assert.ok(Math.abs((warned.clockBehindMs as number) + 2 * 3600_000) < 5000, String(warned.clockBehindMs));
      // The Date header has whole seconds, taken at their middle: the skew read is 7200 s ± 0.5 s.
      assert.match(String(warned.msg), /this host's clock is (7199|720\d) s ahead of the token endpoint's .*fix the clock/);
      await b.getValues('Events');
      assert.equal(h.emulator.counters().calls.token, 2, 'the token is reused');
    }));

  it('a host clock two hours ahead with a revoked key: one correction, then the refusal names both', () =>
    withHarness(async (h) => {
      const other = h.emulator.registerServiceAccount();
      const b = h.backend({ now: () => Date.now() + 2 * 3600_000 }, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...h.key, private_key: other.private_key }) });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.reason, 'invalid_grant');
      assert.equal(e.retryable, false);
      // As above: 7200 s ± the Date header's half second.
      assert.match(e.message, /Invalid JWT Signature.*this host's clock is (7199|720\d) s ahead of the token endpoint's .*fix the clock .* or if it is right, create a new JSON key/);
      assert.equal(h.emulator.counters().calls.token, 2, 'retried once, with the corrected dating');
    }));

  it('reuses the token until it is within the refresh margin of expiry, then fetches a new one', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({ now: clock.now });
        await b.getValues('Players');
        clock.advance(3000_000); // 50 min: 599 s left, more than the 5 min margin
        await b.getValues('Players');
        assert.equal(h.emulator.counters().calls.token, 1);
        clock.advance(400_000); // 56 min 40 s: 199 s left, inside the margin
        await b.getValues('Players');
        // The call used the current token; the refresh ran in the background.
        await (b.auth as ServiceAccountAuth).settled();
        assert.equal(h.emulator.counters().calls.token, 2);
        clock.advance(60_000);
        await b.getValues('Players');
        assert.equal(h.emulator.counters().calls.token, 2, 'the new token is reused in turn');
        assert.equal(h.emulator.counters().ok['values.get'], 4);
      },
      { now: clock.now },
    );
  });

  it('coalesces concurrent refreshes into one token fetch', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({ now: clock.now });
        const cold = await Promise.all(Array.from({ length: 20 }, () => b.getValues('Players!A1:A2')));
        assert.equal(cold.length, 20);
        assert.equal(h.emulator.counters().calls.token, 1, 'twenty callers with no token: one fetch');
        clock.advance(3500_000);
        await Promise.all(Array.from({ length: 20 }, () => b.getValues('Players!A1:A2')));
        await (b.auth as ServiceAccountAuth).settled();
        assert.equal(h.emulator.counters().calls.token, 2, 'twenty callers inside the margin: one refresh');
        assert.equal(h.emulator.counters().ok['values.get'], 40);
      },
      { now: clock.now },
    );
  });

  it('a token endpoint outage inside the refresh margin keeps the current token in use', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({ now: clock.now });
        await b.getValues('Players!A1');
        clock.advance(3400_000); // inside the 5 min margin, 199 s still valid
        h.emulator.setFaults({ tokenErrorRate: 1 });
        const got = await b.getValues('Players!A1');
        assert.equal(got.values?.[0]?.[0], 'name');
        await (b.auth as ServiceAccountAuth).settled();
        assert.equal(h.emulator.counters().calls.token, 2, 'a refresh was attempted');
        assert.equal(h.emulator.counters().ok.token, 1);
        const lines = await h.logLines();
        assert.ok(lines.some((l) => l.msg === 'access token refresh failed; using the current token until it expires'));
      },
      { now: clock.now },
    );
  });

  it('a token endpoint down for the whole margin is a line at the first failed refresh and one when a refresh works, not one per call', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({ now: clock.now });
        const auth = b.auth as ServiceAccountAuth;
        await b.getValues('Players!A1');
        clock.advance(3400_000);
        h.emulator.setFaults({ tokenErrorRate: 1 });
        // Twenty calls a second apart, each served with the current token; failed refreshes are
        // tried again on Google's backoff (1, 2, 4, 8 s ...), not at every call.
        for (let i = 0; i < 20; i++) {
          assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
          await auth.settled();
          clock.advance(1000);
        }
        const tries = h.emulator.counters().calls.token - 1;
        assert.ok(tries >= 3 && tries <= 5, `${tries} refreshes tried in 20 s`);
        const failed = (await h.logLines()).filter((l) => l.event === 'sheets.token_refresh_failed');
        assert.equal(failed.length, 1, `${failed.length} lines for ${tries} failed refreshes`);
        assert.equal(failed[0]!.failures, 1);
        h.emulator.setFaults({ tokenErrorRate: 0 });
        clock.advance(32_000);
        await b.getValues('Players!A1');
        await auth.settled();
        const refreshed = (await h.logLines()).filter((l) => l.event === 'sheets.token_refreshed');
        assert.equal(refreshed.length, 1);
        assert.equal(refreshed[0]!.failures, tries);
      },
      { now: clock.now },
    );
  });

  it('a token endpoint outage with no usable token is retried with backoff until it recovers', () =>
    withHarness(async (h) => {
      h.emulator.setFaults({ tokenErrorRate: 1 });
      const b = h.backend();
      // The token endpoint recovers while the call waits out its first backoff.
      const got = await b.getValues('Players!A1', undefined, () => h.emulator.setFaults({ tokenErrorRate: 0 }));
      assert.equal(got.values?.[0]?.[0], 'name');
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 2);
      assert.equal(c.statuses['503'], 1);
      assert.equal(c.calls['values.get'], 1, 'the values call was only sent once a token existed');
    }));

  it('a token Google stopped accepting (401) is dropped and the call succeeds with a new one', () =>
    withHarness(async (h) => {
      const b = h.backend();
      await b.getValues('Players');
      h.emulator.revokeTokens();
      const again = await b.getValues('Players');
      assert.equal(again.values?.length, SEED_PLAYERS_ROWS);
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 2);
      assert.equal(c.statuses['401'], 1);
      assert.equal(c.ok['values.get'], 2);
    }));

  it('tolerates a key whose private key has literal \\n escapes (as pasted into .env)', () =>
    withHarness(async (h) => {
      const escaped = JSON.stringify({ ...h.key, private_key: h.key.private_key.replace(/\n/g, '\\n') });
      assert.ok(escaped.includes('\\\\n'), 'double-escaped in the JSON text');
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: escaped });
      assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
    }));
});

describe('reads', () => {
  it('batchGet answers several ranges in order, quoted tab names included', () =>
    withHarness(async (h) => {
      h.emulator.setSheet(h.emulator.spreadsheetId, 'My Tab', [['a', 'b', 'c'], ['1', '2', '3']]);
      h.emulator.setSheet(h.emulator.spreadsheetId, "Bob's: Q1/Q2", [['x'], ['y']]);
      const b = h.backend();
      const got = await b.batchGetValues(['Players!A1:B2', "'My Tab'!A2:C", "'Bob''s: Q1/Q2'", 'Events!A:B', 'Events!G1:H9']);
      assert.deepEqual(
        got.map((v) => v.range),
        ['Players!A1:B2', "'My Tab'!A2:C1000", "'Bob''s: Q1/Q2'!A1:Z1000", 'Events!A1:B1000', 'Events!G1:H9'],
      );
      assert.deepEqual(got[0]?.values, [
        ['name', 'code'],
        ['Alice Martin', 'P001'],
      ]);
      assert.deepEqual(got[1]?.values, [['1', '2', '3']]);
      assert.deepEqual(got[2]?.values, [['x'], ['y']]);
      assert.equal(got[3]?.values?.length, SEED_EVENTS_ROWS);
      assert.equal(got[4]?.values, undefined, 'an empty range has no values key');
      assert.ok(!('values' in (got[4] ?? {})));
      assert.equal(h.emulator.counters().calls['values.batchGet'], 1, 'one request for all ranges');
    }));

  it('asks for compact JSON (prettyPrint=false): Google indents its answers by default', () =>
    withHarness(async (h) => {
      const rows = [['event_id', 'player'], ...Array.from({ length: 50 }, (_, i) => [`E${i}`, `P${i}`])];
      h.emulator.setSheet(h.emulator.spreadsheetId, 'Compact', rows);
      const seen: string[] = [];
      // A pass-through in front of the emulator that notes each answer's size.
      const proxy = createServer((req, res) => {
        const up = httpRequest(`${h.emulator.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const body = Buffer.concat(parts);
            if (req.url?.includes('/values/')) seen.push((answer.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8'));
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(body);
          });
        });
        req.pipe(up);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      try {
        const { port } = proxy.address() as AddressInfo;
        const b = h.backend({}, { SHEETS_API_URL: `http://127.0.0.1:${port}` });
        const got = await b.getValues('Compact');
        assert.deepEqual(got.values, rows);
        assert.equal(seen.length, 1);
        assert.equal(seen[0], JSON.stringify({ range: 'Compact!A1:Z1000', majorDimension: 'ROWS', values: rows }), 'the answer came without indentation');
      } finally {
        proxy.closeAllConnections();
        await new Promise((r) => proxy.close(r));
      }
    }));

  it('trailing empty cells and rows are trimmed; empty rows inside stay; an empty tab has no values', () =>
    withHarness(async (h) => {
      const id = h.emulator.spreadsheetId;
      h.emulator.setSheet(id, 'Ragged', [
        ['h1', 'h2', 'h3', ''],
        ['a', '', '', ''],
        ['', '', '', ''],
        ['', 'b', '', ''],
        ['', '', '', ''],
        ['', '', '', ''],
      ]);
      h.emulator.setSheet(id, 'Empty', []);
      const b = h.backend();
      const ragged = await b.getValues('Ragged');
      assert.deepEqual(ragged.values, [['h1', 'h2', 'h3'], ['a'], [], ['', 'b']]);
      const cols = await b.api.getValues('Ragged!A1:C', undefined, 'COLUMNS');
      assert.deepEqual(cols.values, [['h1', 'a'], ['h2', '', '', 'b'], ['h3']]);
      const empty = await b.getValues('Empty');
      assert.equal(empty.range, 'Empty!A1:Z1000');
      assert.ok(!('values' in empty));
      const pastData = await b.getValues('Ragged!A5:C9');
      assert.ok(!('values' in pastData));
    }));

  it('appends to a tab whose name needs quoting and percent-encoding', () =>
    withHarness(async (h) => {
      const id = h.emulator.spreadsheetId;
      const tab = "Équipe #1 (Bob's)";
      h.emulator.setSheet(id, tab, [['k', 'v']]);
      const b = h.backend();
      const res = await b.appendValues(`'Équipe #1 (Bob''s)'!A:B`, [['x', '1']]);
      assert.equal(res.updatedRange, `'Équipe #1 (Bob''s)'!A2:B2`);
      assert.deepEqual(h.emulator.getSheet(id, tab), [
        ['k', 'v'],
        ['x', '1'],
      ]);
    }));
});

describe('errors an operator can act on', () => {
  it('403: the sheet is not shared with <client_email>', () =>
    withHarness(async (h) => {
      const stranger = h.emulator.registerServiceAccount({ share: 'none', clientEmail: 'stranger@corral-emulator.iam.gserviceaccount.com' });
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(stranger) });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
      assert.equal(e.status, 403);
      assert.match(e.message, /^the sheet is not shared with stranger@corral-emulator\.iam\.gserviceaccount\.com: .*click Share/);
      assert.equal(h.emulator.counters().calls['values.get'], 1, 'not retried');
    }));

  it('403 on a write by a Viewer says so too', () =>
    withHarness(async (h) => {
      const viewer = h.emulator.registerServiceAccount({ share: 'reader' });
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(viewer) });
      assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
      const e = await rejection(b.appendValues('Events', [['E9', 'P001', 'x', '', '']]));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
      assert.match(e.message, new RegExp(`not shared with ${viewer.client_email.replace(/[.]/g, '\\.')}.* as Editor`));
      assert.equal(e.applied, 'no');
    }));

  it('a sheet anyone with the link can view is read by an account it is not shared with, as Google does; its appends are refused as no Editor', () =>
    withHarness(async (h) => {
      const stranger = h.emulator.registerServiceAccount({ share: 'none' });
      h.emulator.setPublic(h.emulator.spreadsheetId, true);
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(stranger) });
      assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
      const e = await rejection(b.appendValues('Events', [['E9', 'P001', 'x', '', '']]));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
      assert.match(e.message, /as Editor \(if its reads work, it is shared as Viewer or readable by anyone with its link/);
      h.emulator.setPublic(h.emulator.spreadsheetId, false);
      assert.equal((await rejection(b.getValues('Players!A1'))).code, 'CORRAL_ERR_SHEETS_FORBIDDEN', 'no longer public: not readable');
    }));

  it('404: check SHEET_ID', () =>
    withHarness(async (h) => {
      const b = h.backend({}, { SHEET_ID: '1NoSuchSheetxxxxxxxxxxxxxxxxxxxx' });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_NOT_FOUND');
      assert.match(e.message, /spreadsheet 1NoSuchSheetx+ was not found: check SHEET_ID/);
    }));

  it("404 from Google's front end (no API error: the URL is no method) says to check SHEETS_API_URL, not SHEET_ID", () =>
    withHarness(async (h) => {
      // A base URL with the version in it: every call goes to /v4/v4/spreadsheets/...
      const b = h.backend({}, { SHEETS_API_URL: `${h.emulator.url}/v4` });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_NOT_FOUND');
      assert.match(e.message, /answered 404 to values\.get with no Sheets API error \(Error 404 \(Not Found\)!!1 404\. That’s an error\. The requested URL \/v4\/v4\/spreadsheets\/\S+ was not found on this server\./);
      assert.match(e.message, /check SHEETS_API_URL/);
      assert.doesNotMatch(e.message, /check SHEET_ID/);
      assert.equal(e.retryable, false);
    }));

  it('400: bad ranges, with Google\'s "Unable to parse range"', () =>
    withHarness(async (h) => {
      const b = h.backend();
      for (const range of ['Nope!A1:C', 'Players!A1:[5', "'Unclosed!A1"]) {
        const e = await rejection(b.getValues(range));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_BAD_RANGE', range);
        assert.match(e.message, /Unable to parse range/);
        assert.ok(e.message.includes(JSON.stringify(range)), e.message);
      }
      const grid = await rejection(b.getValues('Players!A1:A5000'));
      assert.match(grid.message, /exceeds grid limits/);
      assert.equal(h.emulator.counters().calls['values.get'], 4, 'a 400 is never retried');
    }));

  it("400 for a spreadsheet at its cell limit: the spreadsheet is full, not a bad range, and nothing is written", () =>
    withHarness(
      async (h) => {
        const b = h.backend();
        // The seed's two tabs are 1000 x 26 grids (52,000 cells): room for two inserted rows.
        await b.appendValues('Events', [['E1', 'P001', 'goal', '', '2024-01-01'], ['E2', 'P001', 'goal', '', '2024-01-01']]);
        const e = await rejection(b.appendValues('Events', [['E3', 'P001', 'goal', '', '2024-01-01']]));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_WORKBOOK_FULL');
        assert.equal(e.googleMessage, 'This action would increase the number of cells in the workbook above the limit of 52052 cells.');
        assert.match(e.message, new RegExp(`^spreadsheet ${h.emulator.spreadsheetId} is full: an append to "Events" would take it past Google's limit of 52,052 cells`));
        assert.deepEqual([e.applied, e.retryable], ['no', false]);
        assert.equal(h.emulator.counters().calls['values.append'], 2, 'a 400 is never retried');
        assert.deepEqual((h.emulator.getSheet(h.emulator.spreadsheetId, 'Events') ?? []).map((r) => r[0]).slice(-2), ['E1', 'E2']);
      },
      { faults: { workbookCellLimit: 52_052 } },
    ));

  it('a write into a tab protected against the service account is CORRAL_ERR_SHEETS_PROTECTED, naming the account, and not retried', () =>
    withHarness(async (h) => {
      const b = h.backend();
      const before = h.emulator.getSheet(h.emulator.spreadsheetId, 'Events');
      h.emulator.protectTab(h.emulator.spreadsheetId, 'Events', []);
      const e = await rejection(b.appendValues('Events', [['E1', 'P001', 'goal', '', '2024-01-01']]));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_PROTECTED');
      assert.match(e.message, new RegExp(`^Google refused values.append of "Events": the range is protected in spreadsheet ${h.emulator.spreadsheetId} and ${h.key.client_email.replace(/[.]/g, '\\.')} is not among the protection's editors`));
      assert.deepEqual([e.status, e.applied, e.retryable], [400, 'no', false]);
      assert.equal(h.emulator.counters().calls['values.append'], 1, 'a 400 is never retried');
      assert.deepEqual((await b.getValues('Events')).values, before, 'reads go on; nothing was written');
    }));

  it('no credentials at all, or an unreadable key file, fail at construction with a clear message', async () => {
    const h = await startHarness();
    try {
      const noCreds = () => createGoogleBackend(h.settings({ GOOGLE_SERVICE_ACCOUNT_JSON: undefined }), h.log.logger);
      assert.throws(noCreds, (e: unknown) => e instanceof SheetsError && e.code === 'CORRAL_ERR_SHEETS_CREDENTIALS' && /GOOGLE_APPLICATION_CREDENTIALS/.test(e.message));
      const missingFile = () => createGoogleBackend(h.settings({ GOOGLE_SERVICE_ACCOUNT_JSON: undefined, GOOGLE_APPLICATION_CREDENTIALS: `${h.dir}/absent.json` }), h.log.logger);
      assert.throws(missingFile, /cannot read the service-account key GOOGLE_APPLICATION_CREDENTIALS=.*absent\.json/);
      const badPem = () => createGoogleBackend(h.settings({ GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...h.key, private_key: 'nope' }) }), h.log.logger);
      assert.throws(badPem, /not a valid PEM private key/);
    } finally {
      await h.close();
    }
  });
});

describe('retries with backoff', () => {
  it('429 RESOURCE_EXHAUSTED, then success once the quota refills', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        // The first read uses the minute's quota; the retry happens after the minute boundary.
        const b = h.backend({
          now: clock.now,
          beforeAttempt: (info) => {
            if (info.attempt === 2) clock.advance(60_000);
          },
        });
        await b.getValues('Players!A1');
        const got = await b.getValues('Players!A2');
        assert.equal(got.values?.[0]?.[0], 'Alice Martin');
        const c = h.emulator.counters();
        assert.equal(c.quotaRejections, 1);
        assert.equal(c.statuses['429'], 1);
        assert.equal(c.calls['values.get'], 3);
        assert.equal(b.stats().retries, 1);
        const lines = await h.logLines();
        const retry = lines.find((l) => l.msg === 'sheets values.get failed, retrying with backoff');
        assert.ok(retry, 'the retry is logged');
        assert.equal((retry.sheets as { code: string }).code, 'CORRAL_ERR_SHEETS_QUOTA');
        const wait = retry.retryInMs as number;
        assert.ok(wait >= FAST_RETRY.baseDelayMs && wait <= FAST_RETRY.baseDelayMs + FAST_RETRY.jitterMs, `first backoff ${wait} ms`);
      },
      { now: clock.now, faults: { readsPerMinute: 1 } },
    );
  });

  it('Google failing every call is a retry line at the first retry, then one a minute per operation with the count, not one per retry', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({ now: clock.now });
        // Ten reads of three attempts each within the minute: twenty retries.
        for (let i = 0; i < 10; i++) assert.equal((await rejection(b.getValues('Players!A1'))).code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
        const retryLines = async () => (await h.logLines()).filter((l) => l.event === 'sheets.retrying');
        let lines = await retryLines();
        assert.equal(lines.length, 1, `${lines.length} retry lines for 20 retries`);
        assert.equal(lines[0]!.operation, 'values.get');
        assert.equal(lines[0]!.retries, 1);
        assert.equal((lines[0]!.sheets as { status: number }).status, 503);
        clock.advance(60_000);
        await rejection(b.getValues('Players!A1'));
        lines = await retryLines();
        assert.equal(lines.length, 2);
        assert.equal(lines[1]!.retries, 20, 'the 19 retries not said, and this one');
      },
      { now: clock.now, faults: { errorRate: 1 } },
    );
  });

  it('429 that never clears gives up after the bounded attempts with the quota code', () =>
    withHarness(
      async (h) => {
        const b = h.backend();
        await b.getValues('Players!A1');
        const e = await rejection(b.getValues('Players!A1'));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_QUOTA');
        assert.equal(e.attempts, FAST_RETRY.maxAttempts);
        assert.match(e.message, /gave up after 3 attempts/);
        assert.equal(h.emulator.counters().quotaRejections, 3);
      },
      // The emulator's minute held still: its quota is a window per wall-clock minute, and two
      // reads a second apart straddled a minute's turn now and then (the second one answered).
      { faults: { readsPerMinute: 1 }, now: fakeClock().now },
    ));

  it('5xx is retried and the read succeeds when Google recovers', () =>
    withHarness(async (h) => {
      h.emulator.setFaults({ errorRate: 1, errorStatus: 503 });
      const b = h.backend({
        retry: { ...FAST_RETRY, maxAttempts: 4 },
        beforeAttempt: (info) => {
          if (info.attempt === 3) h.emulator.setFaults({ errorRate: 0 });
        },
      });
      const got = await b.getValues('Players');
      assert.equal(got.values?.length, SEED_PLAYERS_ROWS);
      const c = h.emulator.counters();
      assert.equal(c.injectedErrors, 2);
      assert.equal(c.ok['values.get'], 1);
    }));

  it("a 502 from Google's front end (an HTML page) is retried, and reported by its words if it lasts", () =>
    withHarness(async (h) => {
      h.emulator.setFaults({ errorRate: 1, errorStatus: 502 });
      const b = h.backend({ retry: { ...FAST_RETRY, maxAttempts: 2 } });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
      assert.equal(e.attempts, 2);
      assert.match(e.message, /^Google answered 502 to values\.get: Error 502 \(Server Error\)!!1 502\. That’s an error\. The server encountered a temporary error/);
      assert.doesNotMatch(e.message, /<|\{margin/);
    }));

  it('a hanging upstream times out after SHEETS_TIMEOUT, each attempt', () =>
    withHarness(
      async (h) => {
        const b = h.backend({ retry: { ...FAST_RETRY, maxAttempts: 2 } }, { SHEETS_TIMEOUT: 1 });
        const started = Date.now();
        const e = await rejection(b.getValues('Players'));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_TIMEOUT');
        assert.equal(e.reason, 'TIMEOUT');
        assert.match(e.message, /did not answer within SHEETS_TIMEOUT \(no complete answer within 1000 ms/);
        assert.equal(e.attempts, 2);
        assert.equal(h.emulator.counters().hangs, 2);
        assert.ok(Date.now() - started >= 2000, 'both attempts waited for the deadline');
      },
      { faults: { hangRate: 1 } },
    ));

  it('an answer over the size limit fails at once with what to do, not retried like a network failure', () =>
    withHarness(async (h) => {
      const b = h.backend({ maxResponseBytes: 100 });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_TOO_LARGE');
      assert.equal(e.reason, 'TOO_LARGE');
      assert.equal(e.retryable, false);
      assert.match(e.message, /answer to values\.get of "Players" was cut off: response body larger than 100 bytes: a range is read whole, .*move old rows to another tab or spreadsheet, or read a smaller range/);
      assert.equal(e.attempts, 1);
      assert.equal(h.emulator.counters().calls['values.get'], 1, 'one download, not one per retry');
    }));

  it('asks for gzip as Google requires (Accept-Encoding and "gzip" in its User-Agent), and reads gzip answers and errors', () =>
    withHarness(async (h) => {
      const b = h.backend();
      assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
      assert.equal(h.emulator.counters().gzipped, 1, 'the answer came gzip-encoded');
      const e = await rejection(b.getValues("'No Such Tab'!A1"));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_BAD_RANGE');
      assert.match(e.message, /Unable to parse range: 'No Such Tab'!A1/, "Google's words, decoded");
      assert.equal(h.emulator.counters().gzipped, 2);
    }));

  it('an answer labelled gzip that is not is read as it came: its status mapped as any other, not a connection failure', () =>
    withHarness(async (h) => {
      const server = createServer((_req, res) => {
        res.writeHead(503, { 'content-type': 'application/json; charset=UTF-8', 'content-encoding': 'gzip' });
        res.end(JSON.stringify({ error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const { port } = server.address() as AddressInfo;
        const b = h.backend({}, { SHEETS_API_URL: `http://127.0.0.1:${port}` });
        const e = await rejection(b.getValues('Players'));
        assert.equal(e.code, 'CORRAL_ERR_SHEETS_UNAVAILABLE');
        assert.equal(e.status, 503);
        assert.match(e.message, /The service is currently unavailable/);
        assert.doesNotMatch(e.message, /cannot reach/);
      } finally {
        server.close();
      }
    }));

  it('a gzip answer over the size limit once decoded fails as too large, though its gzip bytes were under it', () =>
    withHarness(async (h) => {
      // 3000 equal rows: about 100 KB of JSON, a few hundred bytes of gzip.
      h.emulator.setSheet(h.emulator.spreadsheetId, 'Big', Array.from({ length: 3000 }, () => ['same', 'row', 'again']));
      const b = h.backend({ maxResponseBytes: 20_000 });
      const e = await rejection(b.getValues('Big'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_TOO_LARGE');
      assert.match(e.message, /response body larger than 20000 bytes once decoded \(gzip\)/);
      assert.equal(e.attempts, 1);
    }));

  it('the caller can abort a hung call', () =>
    withHarness(
      async (h) => {
        const b = h.backend();
        const ac = new AbortController();
        const p = b.getValues('Players', ac.signal);
        for (let i = 0; i < 100 && h.emulator.hungRequests() === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
        ac.abort();
        const e = await rejection(p);
        assert.equal(e.reason, 'ABORTED');
        assert.equal(e.retryable, false);
      },
      { faults: { hangRate: 1 } },
    ));
});

describe('API key and read-only scope', () => {
  it('an API key reads a public sheet; appends are refused before any request', () =>
    withHarness(async (h) => {
      const apiKey = h.emulator.registerApiKey();
      h.emulator.setPublic(h.emulator.spreadsheetId, true);
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: undefined, SHEETS_API_KEY: apiKey });
      assert.equal(b.readOnly, true);
      assert.match(b.description, /with an API key \(read-only\)/);
      assert.equal((await b.getValues('Players!B2')).values?.[0]?.[0], 'P001');
      const e = await rejection(b.appendValues('Events', [['E9']]));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_READ_ONLY');
      assert.match(e.message, /SHEETS_API_KEY allows reads only; writes need a service account/);
      assert.equal(e.applied, 'no');
      assert.equal(h.emulator.counters().calls['values.append'], 0);
      assert.equal(h.emulator.counters().calls.token, 0);
    }));

  it('an API key on a private sheet: 403 says it is not public', () =>
    withHarness(async (h) => {
      const apiKey = h.emulator.registerApiKey();
      const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: undefined, SHEETS_API_KEY: apiKey });
      const e = await rejection(b.getValues('Players'));
      assert.equal(e.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
      assert.match(e.message, /is not public/);
      const wrong = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: undefined, SHEETS_API_KEY: 'AIzaWrong' });
      const bad = await rejection(wrong.getValues('Players'));
      assert.equal(bad.code, 'CORRAL_ERR_SHEETS_AUTH');
      assert.match(bad.message, /SHEETS_API_KEY was refused/);
    }));

  it('a read-only backend asks for the readonly scope and the emulator refuses its writes', () =>
    withHarness(async (h) => {
      const b = h.backend({ readOnly: true });
      assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
      const local = await rejection(b.appendValues('Events', [['x']]));
      assert.equal(local.code, 'CORRAL_ERR_SHEETS_READ_ONLY');
      // Bypassing the local guard, Google itself refuses a write with a read-only token.
      const remote = await rejection(b.api.updateValues('Events!A10', [['x']]));
      assert.equal(remote.code, 'CORRAL_ERR_SHEETS_FORBIDDEN');
      assert.match(remote.message, /read-only scope/);
    }));
});
