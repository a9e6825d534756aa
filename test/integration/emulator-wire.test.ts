// The emulator's wire format, checked with raw HTTP (fetch), not with corral's client: the token
// endpoint's JWT checks and error bodies, the values endpoints' shapes and error envelopes,
// quotas, fault injection and the /__emulator control endpoints.

import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeRangeForPath } from '../../src/sheets/a1.js';
import { loadSeedFile, startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import type { ServiceAccountKey } from '../../src/sheets/google/credentials.js';
import { signJwt } from '../../src/sheets/google/jwt.js';
import { JWT_BEARER_GRANT, SCOPE_READONLY, SCOPE_READWRITE } from '../../src/sheets/google/wire.js';
import { SEED_EVENTS_ROWS, SEED_PLAYERS_ROWS } from '../fixtures/sheets/seed-rows.js';

interface Json {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(url: string, init: RequestInit = {}): Promise<Json> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Signs any claims, including ones corral's signJwt refuses to produce (lifetime over an hour). */
function assertion(key: ServiceAccountKey, claims: Partial<{ iss: string; scope: string; aud: string; iat: number; exp: number }> = {}): string {
  const iat = Math.floor(Date.now() / 1000);
  const body = { iss: key.client_email, scope: SCOPE_READWRITE, aud: key.token_uri, iat, exp: iat + 3600, ...claims };
  const input = `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey(key.private_key)).toString('base64url')}`;
}

function tokenRequest(emu: Emulator, form: Record<string, string>): Promise<Json> {
  return call(emu.tokenUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
}

describe('emulator token endpoint', () => {
  let emu: Emulator;
  let key: ServiceAccountKey;
  before(async () => {
    emu = await startEmulator();
    key = emu.registerServiceAccount();
  });
  after(() => emu.close());

  it('exchanges a valid JWT bearer assertion for an access token', async () => {
    const r = await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key) });
    assert.equal(r.status, 200);
    assert.match(r.body.access_token, /^ya29\./);
    assert.equal(r.body.expires_in, 3599);
    assert.equal(r.body.token_type, 'Bearer');
  });

  it('takes an assertion of up to 65 minutes, as Google does, and refuses a longer one', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const longest = await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { iat, exp: iat + 65 * 60 }) });
    assert.equal(longest.status, 200, JSON.stringify(longest.body));
    const over = await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { iat, exp: iat + 65 * 60 + 1 }) });
    assert.equal(over.status, 400);
    assert.equal(over.body.error, 'invalid_grant');
    assert.match(over.body.error_description, /^Invalid JWT: Token must be a short-lived token \(60 minutes\) and in a reasonable timeframe/);
  });

  it('answers Google\'s OAuth error bodies', async () => {
    const other = emu.registerServiceAccount();
    const forged = signJwt(
      { iss: key.client_email, scope: SCOPE_READWRITE, aud: key.token_uri, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600 },
      createPrivateKey(other.private_key),
    );
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ grant_type: 'client_credentials', assertion: assertion(key) }, 'unsupported_grant_type', /Invalid grant_type/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: forged }, 'invalid_grant', /^Invalid JWT Signature\.$/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { aud: 'https://example.com/token' }) }, 'invalid_grant', /audience/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { exp: Math.floor(Date.now() / 1000) + 7200 }) }, 'invalid_grant', /short-lived token/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { iat: 1000, exp: 4600 }) }, 'invalid_grant', /reasonable timeframe/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { iss: 'nobody@x.iam.gserviceaccount.com' }) }, 'invalid_grant', /account not found/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: assertion(key, { scope: 'https://www.googleapis.com/auth/gmail' }) }, 'invalid_scope', /scope/],
      [{ grant_type: JWT_BEARER_GRANT, assertion: 'not.a.jwt' }, 'invalid_grant', /malformed/],
    ];
    for (const [form, error, description] of cases) {
      const r = await tokenRequest(emu, form);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error, error);
      assert.match(r.body.error_description, description);
    }
  });
});

describe('emulator seed file (--sheet-file)', () => {
  it('keeps the tabs in the file\'s order, a title such as "2024" included: a range without a tab name reads the first tab', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-seed-'));
    const file = join(dir, 'seed.json');
    // JSON.parse puts an integer-like key first: Object.keys gives 2024, Players.
    writeFileSync(file, '{"spreadsheetId": "seed-order", "sheets": {"Players": [["a", "b"]], "2024": [["x", "y"]]}}');
    const seed = loadSeedFile(file);
    assert.deepEqual([...seed.sheets.keys()], ['Players', '2024']);
    const emu = await startEmulator({ seed, faults: { readsPerMinute: 0, writesPerMinute: 0 } });
    try {
      const key = emu.registerServiceAccount();
      const token = (await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key) })).body.access_token as string;
      const r = await call(`${emu.url}/v4/spreadsheets/seed-order/values/${encodeRangeForPath('A1:B1')}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { range: 'Players!A1:B1', majorDimension: 'ROWS', values: [['a', 'b']] });
    } finally {
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a tab written twice, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-seed-'));
    try {
      const file = join(dir, 'seed.json');
      writeFileSync(file, '{"sheets": {"Players": [["a"]], "Players": [["b"]]}}');
      assert.throws(() => loadSeedFile(file), { message: `${file}: sheets.Players is written more than once; write each key once` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('emulator values endpoints', () => {
  let emu: Emulator;
  let token: string;
  let base: string;
  let email: string;
  const auth = () => ({ authorization: `Bearer ${token}` });
  before(async () => {
    emu = await startEmulator({ faults: { readsPerMinute: 0, writesPerMinute: 0 } });
    const key = emu.registerServiceAccount();
    email = key.client_email;
    token = (await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key) })).body.access_token;
    base = `${emu.url}/v4/spreadsheets/${emu.spreadsheetId}`;
    emu.setSheet(emu.spreadsheetId, 'Sparse', [['', '', ''], ['', 'b2', 'c2'], ['', 'b3', ''], ['', '', ''], ['', '', 'c5']]);
  });
  after(() => emu.close());

  it('values.get echoes the resolved range and trims, and omits values when empty', async () => {
    const whole = await call(`${base}/values/Players`, { headers: auth() });
    assert.equal(whole.body.range, 'Players!A1:Z1000');
    assert.equal(whole.body.majorDimension, 'ROWS');
    assert.equal(whole.body.values.length, SEED_PLAYERS_ROWS);
    const open = await call(`${base}/values/${encodeRangeForPath('Sparse!B2:C')}`, { headers: auth() });
    assert.deepEqual(open.body, { range: 'Sparse!B2:C1000', majorDimension: 'ROWS', values: [['b2', 'c2'], ['b3'], [], ['', 'c5']] });
    const empty = await call(`${base}/values/${encodeRangeForPath('Sparse!A1:A9')}`, { headers: auth() });
    assert.deepEqual(empty.body, { range: 'Sparse!A1:A9', majorDimension: 'ROWS' });
    const raw = await call(`${base}/values/Players!A1:B1`, { headers: auth() });
    assert.equal(raw.body.range, 'Players!A1:B1', 'an unencoded range is read too');
  });

  it('indents its JSON unless asked prettyPrint=false, as Google does, error envelopes included', async () => {
    const text = async (url: string) => (await fetch(url, { headers: auth() })).text();
    const pretty = await text(`${base}/values/${encodeRangeForPath('Players!A1:B2')}`);
    assert.equal(pretty, JSON.stringify(JSON.parse(pretty), null, 2));
    assert.match(pretty, /\n {2}"range"/);
    const compact = await text(`${base}/values/${encodeRangeForPath('Players!A1:B2')}?prettyPrint=false`);
    assert.equal(compact, JSON.stringify(JSON.parse(pretty)));
    const error = await text(`${base}/values/${encodeRangeForPath('Nope!A1')}?prettyPrint=false`);
    assert.equal(error, '{"error":{"code":400,"message":"Unable to parse range: Nope!A1","status":"INVALID_ARGUMENT"}}');
  });

  it('values:batchGet takes repeated ranges= and answers them in order', async () => {
    const r = await call(`${base}/values:batchGet?ranges=${encodeURIComponent('Players!A1')}&ranges=Sparse&ranges=${encodeURIComponent('Events!A2:B')}`, { headers: auth() });
    assert.equal(r.status, 200);
    assert.equal(r.body.spreadsheetId, emu.spreadsheetId);
    assert.deepEqual(
      r.body.valueRanges.map((v: { range: string }) => v.range),
      ['Players!A1', 'Sparse!A1:Z1000', 'Events!A2:B1000'],
    );
    assert.deepEqual(r.body.valueRanges[0].values, [['name']]);
  });

  it('takes R1C1 ranges as the values methods do, and names them in A1 in its answers', async () => {
    // "The A1 notation or R1C1 notation of the range" (values.get, batchGet, update, append);
    // "Sheet1!R1C1:R2C2 refers to the first two cells in the top two rows of Sheet1".
    const get = await call(`${base}/values/${encodeRangeForPath('Sparse!R2C2:R3C3')}`, { headers: auth() });
    assert.deepEqual(get.body, { range: 'Sparse!B2:C3', majorDimension: 'ROWS', values: [['b2', 'c2'], ['b3']] });
    const batch = await call(`${base}/values:batchGet?ranges=R1C1&ranges=${encodeURIComponent("'Sparse'!R2C3")}`, { headers: auth() });
    assert.deepEqual(batch.body.valueRanges, [
      { range: 'Players!A1', majorDimension: 'ROWS', values: [['name']] },
      { range: 'Sparse!C2', majorDimension: 'ROWS', values: [['c2']] },
    ]);
    emu.setSheet(emu.spreadsheetId, 'Notation', []);
    const headers = { ...auth(), 'content-type': 'application/json' };
    const put = await call(`${base}/values/${encodeRangeForPath('Notation!R2C2:R3C3')}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ values: [['x', 'y']] }) });
    assert.equal(put.body.updatedRange, 'Notation!B2:C2');
    const appended = await call(`${base}/values/${encodeRangeForPath('Notation!R1C2:R10C3')}:append?valueInputOption=RAW`, { method: 'POST', headers, body: JSON.stringify({ values: [['z']] }) });
    assert.equal(appended.body.updates.updatedRange, 'Notation!B3');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Notation'), [[], ['', 'x', 'y'], ['', 'z']]);
    // A bracketed offset counts from A1, and a letter with no number is offset 0 (measured against
    // Google, brekkylab/backlot#174): R[1]C[1] is B2, and a bare RC the first tab's A1, whatever
    // tab is named RC.
    const relative = await call(`${base}/values/${encodeRangeForPath('Sparse!R[1]C[1]')}`, { headers: auth() });
    assert.deepEqual(relative.body, { range: 'Sparse!B2', majorDimension: 'ROWS', values: [['b2']] });
    emu.setSheet(emu.spreadsheetId, 'RC', [['a tab named RC']]);
    const bare = await call(`${base}/values:batchGet?ranges=RC&ranges=R&ranges=${encodeURIComponent("'RC'")}`, { headers: auth() });
    assert.deepEqual(
      bare.body.valueRanges.map((v: { range: string; values?: string[][] }) => [v.range, v.values?.[0]?.[0]]),
      [['Players!A1', 'name'], ['Players!A1', 'name'], ["'RC'!A1:Z1000", 'a tab named RC']],
    );
  });

  it('seeds, reads and overwrites a tab of more rows than a function takes arguments', async () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [`r${i}`]);
    emu.setSheet(emu.spreadsheetId, 'Big', rows);
    const head = await call(`${base}/values/${encodeRangeForPath('Big!A199999:A200000')}`, { headers: auth() });
    assert.deepEqual(head.body.values, [['r199998'], ['r199999']]);
    const put = await call(`${base}/values/${encodeRangeForPath('Big!B:B')}?valueInputOption=RAW`, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ values: rows }),
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.updatedRange, 'Big!B1:B200000');
  });

  it('error envelopes: 403 without credentials, 401 bad token, 404 unknown spreadsheet, 400 bad range', async () => {
    // The Sheets API takes API keys, so a request with no credential at all is asked for one.
    const none = await call(`${base}/values/Players`);
    assert.equal(none.status, 403);
    assert.deepEqual(none.body, { error: { code: 403, message: 'The request is missing a valid API key.', status: 'PERMISSION_DENIED' } });
    const bad = await call(`${base}/values/Players`, { headers: { authorization: 'Bearer ya29.forged' } });
    assert.equal(bad.status, 401);
    assert.match(bad.body.error.message, /^Request had invalid authentication credentials/);
    const missing = await call(`${emu.url}/v4/spreadsheets/nope/values/Players`, { headers: auth() });
    assert.deepEqual(missing.body, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } });
    const range = await call(`${base}/values/${encodeRangeForPath('Nope!A1:B2')}`, { headers: auth() });
    assert.deepEqual(range.body, { error: { code: 400, message: 'Unable to parse range: Nope!A1:B2', status: 'INVALID_ARGUMENT' } });
    // A path that is no API method is answered by Google's front end: an HTML page, not JSON.
    const nowhere = await fetch(`${emu.url}/v4/v4/spreadsheets/${emu.spreadsheetId}/values/Players`, { headers: auth() });
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.headers.get('content-type'), 'text/html; charset=UTF-8');
    const page = await nowhere.text();
    assert.match(page, /<title>Error 404 \(Not Found\)!!1<\/title>/);
    assert.ok(page.includes(`The requested URL <code>/v4/v4/spreadsheets/${emu.spreadsheetId}/values/Players</code> was not found on this server.`), page);
  });

  it("takes the credentials Google's system parameters carry: access_token (or oauth_token) in the query, an API key in X-Goog-Api-Key", async () => {
    // Every Google API's discovery document lists access_token and oauth_token ("OAuth access
    // token.") among its query parameters, and the system parameters page gives X-Goog-Api-Key as
    // the key parameter's header.
    const query = await call(`${base}/values/Players?access_token=${encodeURIComponent(token)}`);
    assert.equal(query.status, 200, JSON.stringify(query.body));
    assert.equal((await call(`${base}/values/Players?oauth_token=${encodeURIComponent(token)}`)).status, 200);
    assert.equal((await call(`${base}/values/Players?access_token=ya29.forged`)).status, 401);
    const key = emu.registerApiKey();
    emu.setPublic(emu.spreadsheetId, true);
    try {
      const header = await call(`${base}/values/Players`, { headers: { 'x-goog-api-key': key } });
      assert.equal(header.status, 200, JSON.stringify(header.body));
      assert.equal((await call(`${base}/values/Players`, { headers: { 'x-goog-api-key': 'AIzaNope' } })).body.error.message, 'API key not valid. Please pass a valid API key.');
    } finally {
      emu.setPublic(emu.spreadsheetId, false);
    }
  });

  it('answers gzip only to a client that accepts it and names gzip in its User-Agent, as Google does', async () => {
    const encodingFor = (headers: Record<string, string>) =>
      new Promise<string | undefined>((resolve, reject) => {
        httpGet(`${base}/values/Players?access_token=${encodeURIComponent(token)}`, { headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['content-encoding']));
        }).on('error', reject);
      });
    assert.equal(await encodingFor({ 'accept-encoding': 'gzip', 'user-agent': 'my program (gzip)' }), 'gzip');
    assert.equal(await encodingFor({ 'accept-encoding': 'gzip', 'user-agent': 'my program' }), undefined, 'no gzip in the User-Agent');
    assert.equal(await encodingFor({ 'user-agent': 'my program (gzip)' }), undefined, 'gzip not accepted');
    assert.equal(await encodingFor({ 'accept-encoding': 'gzip;q=0', 'user-agent': 'my program (gzip)' }), undefined, 'refused with q=0');
  });

  it('a refused credential names the RPC in its ErrorInfo; an empty bearer token is an unregistered caller', async () => {
    const info = (reason: string, rpc: string) => [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com', metadata: { service: 'sheets.googleapis.com', method: `google.apps.sheets.v4.SpreadsheetsService.${rpc}` } },
    ];
    const forged = await call(`${base}/values/Players`, { headers: { authorization: 'Bearer ya29.forged' } });
    assert.equal(forged.body.error.status, 'UNAUTHENTICATED');
    assert.deepEqual(forged.body.error.details, info('ACCESS_TOKEN_EXPIRED', 'GetValues'));
    const batch = await call(`${base}/values:batchGet?ranges=Players`, { headers: { authorization: 'Bearer ya29.forged' } });
    assert.deepEqual(batch.body.error.details, info('ACCESS_TOKEN_EXPIRED', 'BatchGetValues'));
    const reader = emu.registerServiceAccount({ share: 'writer' });
    const readOnly = (await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(reader, { scope: SCOPE_READONLY }) })).body.access_token;
    const scoped = await call(`${base}/values/Players:append?valueInputOption=RAW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readOnly}`, 'content-type': 'application/json' },
      body: JSON.stringify({ values: [['x']] }),
    });
    assert.equal(scoped.status, 403);
    assert.equal(scoped.body.error.message, 'Request had insufficient authentication scopes.');
    assert.deepEqual(scoped.body.error.details, info('ACCESS_TOKEN_SCOPE_INSUFFICIENT', 'AppendValues'));
    const empty = await call(`${base}/values/Players`, { headers: { authorization: 'Bearer ' } });
    assert.deepEqual(empty.body, {
      error: {
        code: 403,
        message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        status: 'PERMISSION_DENIED',
      },
    });
  });

  it('issues a token for a scope the Sheets API does not take (cloud-platform), which its values calls then refuse 403 as insufficient', async () => {
    // The token endpoint grants Google's scopes, whatever the API they are for; the values methods
    // take only those they list (spreadsheets, spreadsheets.readonly, drive, drive.readonly, drive.file).
    const reader = emu.registerServiceAccount({ share: 'writer' });
    const issued = await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(reader, { scope: 'https://www.googleapis.com/auth/cloud-platform' }) });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const read = await call(`${base}/values/Players`, { headers: { authorization: `Bearer ${issued.body.access_token}` } });
    assert.equal(read.status, 403);
    assert.equal(read.body.error.message, 'Request had insufficient authentication scopes.');
    assert.equal(read.body.error.details[0].reason, 'ACCESS_TOKEN_SCOPE_INSUFFICIENT');
    assert.equal(read.body.error.details[0].metadata.method, 'google.apps.sheets.v4.SpreadsheetsService.GetValues');
  });

  it('writes with the scopes the write methods list (spreadsheets, drive, drive.file), and refuses a read-only one 403', async () => {
    const writer = emu.registerServiceAccount({ share: 'writer' });
    const appendWith = async (scope: string) => {
      const issued = await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(writer, { scope }) });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      return call(`${base}/values/${encodeRangeForPath('Scopes!A:A')}:append?valueInputOption=RAW`, {
        method: 'POST',
        headers: { authorization: `Bearer ${issued.body.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ values: [[scope]] }),
      });
    };
    emu.setSheet(emu.spreadsheetId, 'Scopes', [['scope']]);
    for (const scope of [SCOPE_READWRITE, 'https://www.googleapis.com/auth/drive', 'https://www.googleapis.com/auth/drive.file']) assert.equal((await appendWith(scope)).status, 200, scope);
    for (const scope of [SCOPE_READONLY, 'https://www.googleapis.com/auth/drive.readonly']) {
      const refused = await appendWith(scope);
      assert.equal(refused.status, 403, scope);
      assert.equal(refused.body.error.details[0].reason, 'ACCESS_TOKEN_SCOPE_INSUFFICIENT');
    }
  });

  it("an .xlsx stored in Drive answers every values call 400 FAILED_PRECONDITION, once found and shared, as Google does", async () => {
    emu.setSheet('xlsx-in-drive', 'Sheet1', [['a']]);
    const body = { error: { code: 400, message: 'This operation is not supported for this document', status: 'FAILED_PRECONDITION' } };
    const office = `${emu.url}/v4/spreadsheets/xlsx-in-drive`;
    emu.setXlsx('xlsx-in-drive', true);
    const notShared = await call(`${office}/values/Sheet1`, { headers: auth() });
    assert.equal(notShared.status, 403, 'sharing first');
    emu.share('xlsx-in-drive', email, 'writer');
    const get = await call(`${office}/values/Sheet1`, { headers: auth() });
    assert.deepEqual([get.status, get.body], [400, body]);
    const append = await call(`${office}/values/Sheet1:append?valueInputOption=RAW`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ values: [['b']] }) });
    assert.deepEqual([append.status, append.body], [400, body]);
    assert.deepEqual(emu.getSheet('xlsx-in-drive', 'Sheet1'), [['a']], 'nothing written');
    emu.setXlsx('xlsx-in-drive', false);
    assert.equal((await call(`${office}/values/Sheet1`, { headers: auth() })).status, 200, 'saved as a Google Sheet');
  });

  it('append requires valueInputOption and reports tableRange and the exact updatedRange', async () => {
    const url = (q: string) => `${base}/values/${encodeRangeForPath('Sparse!B:C')}:append${q}`;
    const headers = { ...auth(), 'content-type': 'application/json' };
    const missing = await call(url(''), { method: 'POST', headers, body: JSON.stringify({ values: [['x']] }) });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /'valueInputOption' is required/);
    // B:C holds two tables, B2:C3 and C5 (a blank row between them): the values go after the last
    // one, from its first column (the guide's B2:D4 example; see tables.ts).
    const ok = await call(url('?valueInputOption=RAW&insertDataOption=INSERT_ROWS'), { method: 'POST', headers, body: JSON.stringify({ values: [['c6', 'd6'], ['c7']] }) });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, {
      spreadsheetId: emu.spreadsheetId,
      tableRange: 'Sparse!C5',
      updates: { spreadsheetId: emu.spreadsheetId, updatedRange: 'Sparse!C6:D7', updatedRows: 2, updatedColumns: 2, updatedCells: 3 },
    });
    emu.setSheet(emu.spreadsheetId, 'Blank', []);
    const first = await call(`${base}/values/Blank:append?valueInputOption=USER_ENTERED`, { method: 'POST', headers, body: JSON.stringify({ values: [["'007", 1, true]] }) });
    assert.equal(first.body.tableRange, undefined, 'no table yet');
    assert.equal(first.body.updates.updatedRange, 'Blank!A1:C1');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Blank'), [['007', '1', 'TRUE']]);
  });

  it('append to a header-row range finds the table below it and appends after its last row', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    const players = [
      ['name', 'code', 'team'],
      ['Alice', 'P001', 'Rouge'],
      ['Bruno', 'P002', 'Rouge'],
      ['Chloé', 'P003', 'Bleu'],
    ];
    const append = (range: string, q: string, values: string[][]) =>
      call(`${base}/values/${encodeRangeForPath(range)}:append?valueInputOption=RAW${q}`, { method: 'POST', headers, body: JSON.stringify({ values }) });

    // INSERT_ROWS: the row goes after the table, not between the header and the data.
    emu.setSheet(emu.spreadsheetId, 'Header', players);
    const inserted = await append('Header!A1:C1', '&insertDataOption=INSERT_ROWS', [['NEW', 'X1']]);
    assert.equal(inserted.status, 200);
    assert.deepEqual(inserted.body, {
      spreadsheetId: emu.spreadsheetId,
      tableRange: 'Header!A1:C4',
      updates: { spreadsheetId: emu.spreadsheetId, updatedRange: 'Header!A5:B5', updatedRows: 1, updatedColumns: 2, updatedCells: 2 },
    });
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Header'), [...players, ['NEW', 'X1']]);

    // OVERWRITE (the default): nothing of the table is overwritten.
    emu.setSheet(emu.spreadsheetId, 'Header', players);
    const overwrite = await append('Header!A1:C1', '', [['NEW', 'X1']]);
    assert.equal(overwrite.body.tableRange, 'Header!A1:C4');
    assert.equal(overwrite.body.updates.updatedRange, 'Header!A5:B5');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Header'), [...players, ['NEW', 'X1']]);

    // A single cell: the idiom `Sheet!A1`.
    emu.setSheet(emu.spreadsheetId, 'Header', players);
    const cell = await append('Header!A1', '&insertDataOption=INSERT_ROWS', [['NEW', 'X1', 'Vert']]);
    assert.equal(cell.body.updates.updatedRange, 'Header!A5:C5');
    // Rows and the first column are pinned; how wide Google reports the table of a one-column
    // range (A1:A4 or the whole block A1:C4) is not.
    assert.match(cell.body.tableRange, /^Header!A1:[A-C]4$/);
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Header'), [...players, ['NEW', 'X1', 'Vert']]);

    // The table stops at the first row with nothing in the range's columns: rows further down
    // belong to another table, and an inserted row pushes them down.
    emu.setSheet(emu.spreadsheetId, 'Header', [...players, [], ['notes', 'below']]);
    const gap = await append('Header!A1:C1', '&insertDataOption=INSERT_ROWS', [['NEW', 'X1']]);
    assert.equal(gap.body.tableRange, 'Header!A1:C4');
    assert.equal(gap.body.updates.updatedRange, 'Header!A5:B5');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Header'), [...players, ['NEW', 'X1'], [], ['notes', 'below']]);

    // Whole-sheet and whole-column ranges are unchanged: after the last row with data.
    const whole = await append('Events', '&insertDataOption=INSERT_ROWS', [['E9001', 'P001']]);
    const e = SEED_EVENTS_ROWS;
    assert.equal(whole.body.tableRange, `Events!A1:E${e}`);
    assert.equal(whole.body.updates.updatedRange, `Events!A${e + 1}:B${e + 1}`);
    const columns = await append('Events!A:E', '&insertDataOption=INSERT_ROWS', [['E9002', 'P001']]);
    assert.equal(columns.body.tableRange, `Events!A1:E${e + 1}`);
    assert.equal(columns.body.updates.updatedRange, `Events!A${e + 2}:B${e + 2}`);
  });

  it('update (PUT) and batchUpdate answer like Google', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    const put = await call(`${base}/values/${encodeRangeForPath('Sparse!E1:F2')}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ values: [['e1', 'f1'], ['e2']] }) });
    assert.deepEqual(put.body, { spreadsheetId: emu.spreadsheetId, updatedRange: 'Sparse!E1:F2', updatedRows: 2, updatedColumns: 2, updatedCells: 3 });
    const tooBig = await call(`${base}/values/${encodeRangeForPath('Sparse!E1:E1')}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ values: [['a'], ['b']] }) });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error.message, /tried writing to row \[2\]/);
    const batch = await call(`${base}/values:batchUpdate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ valueInputOption: 'RAW', data: [{ range: 'Sparse!G1', values: [['g1']] }, { range: 'Players!H1:H2', values: [['h1'], ['h2']] }] }),
    });
    assert.equal(batch.body.totalUpdatedCells, 3);
    assert.equal(batch.body.totalUpdatedSheets, 2);
    // "The total number of rows where at least one cell in the row was updated": two ranges of
    // one row are one row, two columns; the same row of two tabs is two.
    const oneRow = await call(`${base}/values:batchUpdate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ valueInputOption: 'RAW', data: [{ range: 'Sparse!E2', values: [['q']] }, { range: 'Sparse!F2', values: [['r']] }, { range: 'Players!H2', values: [['s']] }] }),
    });
    assert.deepEqual([oneRow.body.totalUpdatedRows, oneRow.body.totalUpdatedColumns, oneRow.body.totalUpdatedCells], [2, 3, 3]);
  });

  it('includeValuesInResponse sends the written cells back as updatedData, from append, update and batchUpdate', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    emu.setSheet(emu.spreadsheetId, 'Echo', [['id', 'name'], ['1', 'Ann']]);
    const appended = await call(`${base}/values/${encodeRangeForPath('Echo!A:B')}:append?valueInputOption=RAW&includeValuesInResponse=true`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ values: [['2', 'Bob'], [3, 'Cy']] }),
    });
    assert.equal(appended.status, 200);
    assert.deepEqual(appended.body.updates, {
      spreadsheetId: emu.spreadsheetId,
      updatedRange: 'Echo!A3:B4',
      updatedRows: 2,
      updatedColumns: 2,
      updatedCells: 4,
      updatedData: { range: 'Echo!A3:B4', majorDimension: 'ROWS', values: [['2', 'Bob'], ['3', 'Cy']] },
    });
    const put = await call(`${base}/values/${encodeRangeForPath('Echo!C1:C2')}?valueInputOption=RAW&includeValuesInResponse=true&responseValueRenderOption=FORMATTED_VALUE`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ values: [['team'], [true]] }),
    });
    assert.deepEqual(put.body.updatedData, { range: 'Echo!C1:C2', majorDimension: 'ROWS', values: [['team'], ['TRUE']] });
    const batch = await call(`${base}/values:batchUpdate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ valueInputOption: 'RAW', includeValuesInResponse: true, data: [{ range: 'Echo!D1', values: [['x']] }] }),
    });
    assert.deepEqual(batch.body.responses[0].updatedData, { range: 'Echo!D1', majorDimension: 'ROWS', values: [['x']] });
    const quiet = await call(`${base}/values/${encodeRangeForPath('Echo!E1')}?valueInputOption=RAW&includeValuesInResponse=false`, { method: 'PUT', headers, body: JSON.stringify({ values: [['y']] }) });
    assert.equal(quiet.body.updatedData, undefined, 'not asked, not sent (the default)');
  });

  it('checks the render options as Google does: FORMATTED_VALUE by default, unknown values refused', async () => {
    const get = (q: string) => call(`${base}/values/${encodeRangeForPath('Players!A1:B2')}?${q}`, { headers: auth() });
    const plain = await get('');
    assert.deepEqual((await get('valueRenderOption=FORMATTED_VALUE&dateTimeRenderOption=FORMATTED_STRING')).body, plain.body);
    assert.deepEqual((await get('dateTimeRenderOption=SERIAL_NUMBER')).body, plain.body, 'ignored under FORMATTED_VALUE');
    const bad = await get('valueRenderOption=PRETTY');
    assert.deepEqual(bad.body, {
      error: { code: 400, message: 'Invalid value at \'value_render_option\' (type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), "PRETTY"', status: 'INVALID_ARGUMENT' },
    });
    assert.match((await get('dateTimeRenderOption=ISO')).body.error.message, /^Invalid value at 'date_time_render_option' \(type\.googleapis\.com\/google\.apps\.sheets\.v4\.DateTimeRenderOption\), "ISO"$/);
    const batch = await call(`${base}/values:batchGet?ranges=Players&valueRenderOption=PRETTY`, { headers: auth() });
    assert.equal(batch.status, 400);
    // The emulator keeps cells as text: it says so rather than answer numbers as strings.
    const unformatted = await get('valueRenderOption=UNFORMATTED_VALUE');
    assert.equal(unformatted.status, 400);
    assert.match(unformatted.body.error.message, /^valueRenderOption=UNFORMATTED_VALUE is not emulated/);
    const headers = { ...auth(), 'content-type': 'application/json' };
    const yes = await call(`${base}/values/${encodeRangeForPath('Echo!F1')}?valueInputOption=RAW&includeValuesInResponse=yes`, { method: 'PUT', headers, body: JSON.stringify({ values: [['z']] }) });
    assert.deepEqual(yes.body.error, { code: 400, message: 'Invalid value at \'include_values_in_response\' (TYPE_BOOL), "yes"', status: 'INVALID_ARGUMENT' });
    assert.equal(emu.getSheet(emu.spreadsheetId, 'Echo')?.[0]?.[5], undefined, 'a refused write wrote nothing');
  });

  it('a null cell in written values leaves the cell as it was; an empty string empties it', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    emu.setSheet(emu.spreadsheetId, 'Nulls', [['a1', 'b1', 'c1'], ['a2', 'b2', 'c2']]);
    const put = await call(`${base}/values/${encodeRangeForPath('Nulls!A1:C2')}?valueInputOption=RAW`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ values: [[null, 'B1', ''], ['A2', null, null]] }),
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.updatedRange, 'Nulls!A1:C2');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Nulls'), [['a1', 'B1'], ['A2', 'b2', 'c2']]);
  });

  it('writes values given by column (majorDimension COLUMNS) as the reference shows', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    emu.setSheet(emu.spreadsheetId, 'Cols', [['x']]);
    // "with range=A1:B2,majorDimension=COLUMNS then [[1,2],[3,4]] will set A1=1,B1=3,A2=2,B2=4"
    const put = await call(`${base}/values/${encodeRangeForPath('Cols!A1:B2')}?valueInputOption=RAW`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ range: 'Cols!A1:B2', majorDimension: 'COLUMNS', values: [[1, 2], [3, 4]] }),
    });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { spreadsheetId: emu.spreadsheetId, updatedRange: 'Cols!A1:B2', updatedRows: 2, updatedColumns: 2, updatedCells: 4 });
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Cols'), [['1', '3'], ['2', '4']]);
    const appended = await call(`${base}/values/Cols:append?valueInputOption=RAW`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ majorDimension: 'COLUMNS', values: [['a3', 'a4'], ['b3']] }),
    });
    assert.equal(appended.body.updates.updatedRange, 'Cols!A3:B4');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Cols'), [['1', '3'], ['2', '4'], ['a3', 'b3'], ['a4']]);
    const bad = await call(`${base}/values/${encodeRangeForPath('Cols!A1')}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ majorDimension: 'DIAGONAL', values: [['z']] }) });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^Invalid value at 'major_dimension' \(type\.googleapis\.com\/google\.apps\.sheets\.v4\.Dimension\), "DIAGONAL"$/);
  });

  it('leaves out counts of 0 and empty lists, as proto3 JSON does', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    const put = await call(`${base}/values/${encodeRangeForPath('Sparse!H1')}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ values: [] }) });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { spreadsheetId: emu.spreadsheetId, updatedRange: 'Sparse!H1' });
    const batch = await call(`${base}/values:batchUpdate`, { method: 'POST', headers, body: JSON.stringify({ valueInputOption: 'RAW', data: [] }) });
    assert.deepEqual(batch.body, { spreadsheetId: emu.spreadsheetId });
  });

  it('update and batchUpdate never grow the grid: past the last row or column is refused, and a batch writes nothing', async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    const put = (range: string, values: string[][]) =>
      call(`${base}/values/${encodeRangeForPath(range)}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ values }) });
    emu.setSheet(emu.spreadsheetId, 'Grid', [['a1']]); // a new tab: 1000 x 26 (A1:Z1000)
    const column = await put('Grid!AA1', [['x']]);
    assert.deepEqual(column.body, { error: { code: 400, message: 'Range (Grid!AA1) exceeds grid limits. Max rows: 1000, max columns: 26', status: 'INVALID_ARGUMENT' } });
    const rows = await put('Grid!A1000:B', [['last'], ['past']]);
    assert.equal(rows.status, 400);
    assert.equal(rows.body.error.message, 'Range (Grid!A1000:B1001) exceeds grid limits. Max rows: 1000, max columns: 26');
    assert.equal((await put('Grid!Z1000', [['corner']])).status, 200, 'the last cell of the grid is inside it');
    const batch = await call(`${base}/values:batchUpdate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ valueInputOption: 'RAW', data: [{ range: 'Grid!A20', values: [['kept?']] }, { range: 'Grid!Y1:AA1', values: [['y', 'z', 'aa']] }] }),
    });
    assert.equal(batch.status, 400);
    assert.match(batch.body.error.message, /^Invalid data\[1\]: Range \(Grid!Y1:AA1\) exceeds grid limits/, 'Google names the entry of a batch');
    assert.equal(emu.getSheet(emu.spreadsheetId, 'Grid')?.[19]?.[0], undefined, 'the batch wrote none of its ranges');
  });

  it("refuses writes into a protected tab by an account the protection leaves out, with Google's 400, writing nothing; reads go on", async () => {
    const headers = { ...auth(), 'content-type': 'application/json' };
    const said = 'You are trying to edit a protected cell or object. Please contact the spreadsheet owner to remove protection if you need to edit.';
    emu.setSheet(emu.spreadsheetId, 'Locked', [['id'], ['r1']]);
    emu.protectTab(emu.spreadsheetId, 'Locked', []);
    try {
      const appended = await call(`${base}/values/Locked:append?valueInputOption=RAW`, { method: 'POST', headers, body: JSON.stringify({ values: [['r2']] }) });
      assert.deepEqual(appended.body, { error: { code: 400, message: said, status: 'INVALID_ARGUMENT' } });
      const put = await call(`${base}/values/${encodeRangeForPath('Locked!B1')}?valueInputOption=RAW`, { method: 'PUT', headers, body: JSON.stringify({ values: [['x']] }) });
      assert.equal(put.body.error.message, said);
      const batch = await call(`${base}/values:batchUpdate`, { method: 'POST', headers, body: JSON.stringify({ valueInputOption: 'RAW', data: [{ range: 'Sparse!H1', values: [['h']] }, { range: 'Locked!C1', values: [['c']] }] }) });
      assert.equal(batch.body.error.message, `Invalid data[1]: ${said}`, 'as values:batchUpdate names the entry');
      assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Locked'), [['id'], ['r1']], 'nothing written');
      assert.equal(emu.getSheet(emu.spreadsheetId, 'Sparse')?.[0]?.[7], undefined, "the batch's other range neither");
      assert.equal((await call(`${base}/values/Locked`, { headers: auth() })).status, 200, 'reads are not protected');
      emu.protectTab(emu.spreadsheetId, 'Locked', [email]);
      assert.equal((await call(`${base}/values/Locked:append?valueInputOption=RAW`, { method: 'POST', headers, body: JSON.stringify({ values: [['r2']] }) })).status, 200, 'an editor of the protection writes');
    } finally {
      emu.protectTab(emu.spreadsheetId, 'Locked', false);
    }
    assert.equal((await call(`${base}/values/Locked:append?valueInputOption=RAW`, { method: 'POST', headers, body: JSON.stringify({ values: [['r3']] }) })).status, 200);
  });

  it('refuses a read past the grid, naming the range as asked, open ends left open', async () => {
    // Google's "Range (FORENSIC_LIVE!A221:ZZ) exceeds grid limits. Max rows: 220, max columns: 18"
    // for A221:ZZ on a 220 x 18 tab.
    emu.setSheet(emu.spreadsheetId, 'Edge', [['e']]);
    const read = async (range: string) => (await call(`${base}/values/${encodeRangeForPath(range)}`, { headers: auth() })).body.error?.message;
    assert.equal(await read('Edge!A1001:B'), 'Range (Edge!A1001:B) exceeds grid limits. Max rows: 1000, max columns: 26');
    assert.equal(await read('Edge!A221:ZZ'), 'Range (Edge!A221:ZZ) exceeds grid limits. Max rows: 1000, max columns: 26');
    assert.equal(await read('Edge!A1:B2000'), 'Range (Edge!A1:B2000) exceeds grid limits. Max rows: 1000, max columns: 26');
    assert.equal(await read('Edge!A1000:Z'), undefined, 'the last row is inside the grid');
  });
});

describe('emulator: what Google refuses before it reads a request', () => {
  let emu: Emulator;
  let base: string;
  let token: string;
  before(async () => {
    emu = await startEmulator();
    const key = emu.registerServiceAccount();
    emu.share(emu.spreadsheetId, key.client_email, 'writer');
    token = (await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key) })).body.access_token;
    base = `${emu.url}/v4/spreadsheets/${emu.spreadsheetId}`;
    emu.setSheet(emu.spreadsheetId, 'Strict', [['a', 'b']]);
  });
  after(() => emu.close());
  const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const put = (q: string, body: unknown, extra: Record<string, string> = {}) =>
    call(`${base}/values/${encodeRangeForPath('Strict!A2')}?valueInputOption=RAW${q}`, { method: 'PUT', headers: { ...headers(), ...extra }, body: JSON.stringify(body) });

  it("refuses a query parameter the method does not take (a misspelt one), and takes Google's system parameters", async () => {
    const typo = await put('&includeValuesInResponce=true', { values: [['x']] });
    assert.equal(typo.status, 400);
    assert.equal(typo.body.error.message, 'Invalid JSON payload received. Unknown name "includeValuesInResponce": Cannot bind query parameter. Field \'includeValuesInResponce\' could not be found in request message.');
    const read = await call(`${base}/values/${encodeRangeForPath('Strict!A1')}?valueRenderOptions=FORMULA`, { headers: headers() });
    assert.equal(read.status, 400);
    assert.match(read.body.error.message, /Unknown name "valueRenderOptions"/);
    const batchGet = await call(`${base}/values:batchGet?ranges=Strict&valueInputOption=RAW`, { headers: headers() });
    assert.match(batchGet.body.error.message, /Unknown name "valueInputOption"/, 'a write option on a read');
    const system = await call(`${base}/values/${encodeRangeForPath('Strict!A1')}?prettyPrint=false&fields=values&quotaUser=u1&%24.xgafv=2`, { headers: headers() });
    assert.equal(system.status, 200, JSON.stringify(system.body));
    assert.equal(emu.getSheet(emu.spreadsheetId, 'Strict')?.length, 1, 'nothing refused was written');
  });

  it('takes the $ spellings of the system parameters and honours them as the plain ones ($prettyPrint, $fields, $key, $ct)', async () => {
    // cloud.google.com/apis/docs/system-parameters: "if you have a system parameter $foo, it's sent
    // as ?$foo=xxx in the URL, or ?%24foo=xxx if URL-encoded", and its table gives `$alt, alt`,
    // `$fields, fields`, `$key, key`, `$prettyPrint, prettyPrint`, `$callback, callback`, and `$ct`
    // (a Content-Type override), `$outputDefaults`, `$unique` with the `$` alone.
    const url = `${base}/values/${encodeRangeForPath('Strict!A1:B1')}?%24prettyPrint=false&%24fields=values&%24alt=json&%24unique=1&%24outputDefaults=false`;
    const res = await fetch(url, { headers: headers() });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"values":[["a","b"]]}');
    const key = emu.registerApiKey();
    emu.setPublic(emu.spreadsheetId, true);
    try {
      const read = await call(`${base}/values/Strict?%24key=${key}`);
      assert.equal(read.status, 200, JSON.stringify(read.body));
    } finally {
      emu.setPublic(emu.spreadsheetId, false);
    }
    emu.setSheet(emu.spreadsheetId, 'Dollar', []);
    const ct = await call(`${base}/values/${encodeRangeForPath('Dollar!A1')}?valueInputOption=RAW&%24ct=${encodeURIComponent('application/json')}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ values: [['c']] }),
    });
    assert.equal(ct.status, 200, JSON.stringify(ct.body));
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Dollar'), [['c']]);
  });

  it('takes a POST standing for another method (X-HTTP-Method-Override), a GET with its query in a form body', async () => {
    // A system parameter's header ("the intended HTTP method for the request; some network proxies
    // don't accept all HTTP methods"). Google's Python client sends a GET whose URL would pass 2 KB
    // this way, its query as the form body (googleapiclient/http.py, MAX_URI_LENGTH).
    emu.setSheet(emu.spreadsheetId, 'Override', [['o1'], ['o2']]);
    const get = await call(`${base}/values:batchGet?majorDimension=ROWS`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-http-method-override': 'GET', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([['ranges', 'Override!A1'], ['ranges', 'Override!A2']]).toString(),
    });
    assert.equal(get.status, 200, JSON.stringify(get.body));
    assert.deepEqual(get.body.valueRanges.map((v: { values: string[][] }) => v.values), [[['o1']], [['o2']]]);
    const put = await call(`${base}/values/${encodeRangeForPath('Override!B1')}?valueInputOption=RAW`, {
      method: 'POST',
      headers: { ...headers(), 'x-http-method-override': 'PUT' },
      body: JSON.stringify({ values: [['b1']] }),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Override'), [['o1', 'b1'], ['o2']]);
  });

  it('refuses a body field its message does not have, at the top and in a batch entry, and a body not sent as JSON', async () => {
    const field = await put('', { values: [['x']], valuse: [['y']] });
    assert.equal(field.status, 400);
    assert.equal(field.body.error.message, 'Invalid JSON payload received. Unknown name "valuse": Cannot find field.');
    const batch = (body: unknown) => call(`${base}/values:batchUpdate`, { method: 'POST', headers: headers(), body: JSON.stringify(body) });
    assert.match((await batch({ valueInputOption: 'RAW', bogus: 1, data: [] })).body.error.message, /^Invalid JSON payload received\. Unknown name "bogus": Cannot find field\.$/);
    const nested = await batch({ valueInputOption: 'RAW', data: [{ range: 'Strict!C1', values: [['q']], junk: 2 }] });
    assert.equal(nested.body.error.message, 'Invalid JSON payload received. Unknown name "junk" at \'data[0]\': Cannot find field.');
    const form = await put('', { values: [['x']] }, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 400);
    assert.match(form.body.error.message, /^Invalid JSON payload received\. Unknown name "\{/);
    assert.equal((await put('', { range: 'Strict!A2', majorDimension: 'ROWS', values: [['ok']] }, { 'content-type': 'application/json; charset=utf-8' })).status, 200);
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Strict'), [['a', 'b'], ['ok']]);
  });

  it("refuses a body range other than the URL's, compared as written, before it looks at the grid (append and update)", async () => {
    // "Request range[Log Absensi] does not match value's range[Log Absensi!A:Z]": an append to
    // values/Log%20Absensi:append with that body range; a quoted name against the same name
    // unquoted is refused too.
    const before = emu.getSheet(emu.spreadsheetId, 'Strict');
    const append = (urlRange: string, bodyRange: string) =>
      call(`${base}/values/${encodeRangeForPath(urlRange)}:append?valueInputOption=RAW`, { method: 'POST', headers: headers(), body: JSON.stringify({ range: bodyRange, values: [['n']] }) });
    assert.deepEqual((await append('Strict', 'Strict!A:Z')).body, {
      error: { code: 400, message: "Request range[Strict] does not match value's range[Strict!A:Z]", status: 'INVALID_ARGUMENT' },
    });
    assert.match((await append("'Strict'!A:A", 'Strict!A:A')).body.error.message, /^Request range\['Strict'!A:A\] does not match value's range\[Strict!A:A\]$/);
    const wide = await put('', { range: 'Strict!ZZ2', values: [['x']] });
    assert.equal(wide.body.error.message, "Request range[Strict!A2] does not match value's range[Strict!ZZ2]", 'the mismatch, not the grid');
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Strict'), before, 'nothing refused was written');
    assert.equal((await put('', { range: '', values: [['x']] })).status, 200, "an empty range is proto3's unset field");
    assert.equal((await append('Strict!A:A', 'Strict!A:A')).status, 200, 'the same text is taken');
    emu.setSheet(emu.spreadsheetId, 'Strict', before ?? []);
  });

  it('answers only the fields a mask selects (fields, or X-Goog-FieldMask), and refuses a path the response lacks, writing nothing', async () => {
    const get = (q: string) => call(`${base}/values/${encodeRangeForPath('Strict!A1:B1')}?${q}`, { headers: headers() });
    assert.deepEqual((await get('fields=values')).body, { values: [['a', 'b']] });
    assert.deepEqual((await get('fields=range,majorDimension')).body, { range: 'Strict!A1:B1', majorDimension: 'ROWS' });
    const batch = await call(`${base}/values:batchGet?ranges=Strict!A1&ranges=Strict!B1&fields=${encodeURIComponent('valueRanges(range,values)')}`, { headers: headers() });
    assert.deepEqual(batch.body, { valueRanges: [{ range: 'Strict!A1', values: [['a']] }, { range: 'Strict!B1', values: [['b']] }] });
    assert.deepEqual((await call(`${base}/values:batchGet?ranges=Strict!A1&fields=valueRanges/range`, { headers: headers() })).body, { valueRanges: [{ range: 'Strict!A1' }] });
    const before = emu.getSheet(emu.spreadsheetId, 'Strict');
    const append = (mask: string) =>
      call(`${base}/values/${encodeRangeForPath('Strict!D:D')}:append?valueInputOption=RAW`, { method: 'POST', headers: { ...headers(), 'x-goog-fieldmask': mask }, body: JSON.stringify({ values: [['m']] }) });
    // Recorded from the Sheets API (r-lib/gargle, response_process snapshot): the generic message,
    // the cause in a BadRequest detail whose field is the mask as sent.
    assert.deepEqual((await append('updates/updatedRang')).body, {
      error: {
        code: 400,
        message: 'Request contains an invalid argument.',
        status: 'INVALID_ARGUMENT',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.BadRequest',
            fieldViolations: [{ field: 'updates/updatedRang', description: "Error expanding 'fields' parameter. Cannot find matching fields for path 'updates.updatedRang'." }],
          },
        ],
      },
    });
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Strict'), before, 'nothing written');
    assert.deepEqual((await append('updates/updatedRange')).body, { updates: { updatedRange: 'Strict!D1' } });
    emu.setSheet(emu.spreadsheetId, 'Strict', before ?? []);
  });

  it('names the entry of a batch a range error is in', async () => {
    const r = await call(`${base}/values:batchUpdate`, { method: 'POST', headers: headers(), body: JSON.stringify({ valueInputOption: 'RAW', data: [{ range: 'Strict!D1', values: [['d']] }, { range: 'Nope!A1', values: [['n']] }] }) });
    assert.deepEqual(r.body, { error: { code: 400, message: 'Invalid data[1]: Unable to parse range: Nope!A1', status: 'INVALID_ARGUMENT' } });
  });

  it('counts the tabs a batch updated by tab, a title with a "!" included', async () => {
    emu.setSheet(emu.spreadsheetId, 'a!b', [['1']]);
    emu.setSheet(emu.spreadsheetId, 'a!c', [['1']]);
    const r = await call(`${base}/values:batchUpdate`, { method: 'POST', headers: headers(), body: JSON.stringify({ valueInputOption: 'RAW', data: [{ range: "'a!b'!B1", values: [['x']] }, { range: "'a!c'!B1", values: [['y']] }] }) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.totalUpdatedSheets, 2);
  });

  it('takes a raw ":" in a range (Sheet1!A:A), and only :append as the custom verb', async () => {
    const whole = await call(`${base}/values/Strict!A:A`, { headers: headers() });
    assert.equal(whole.status, 200, JSON.stringify(whole.body));
    assert.equal(whole.body.range, 'Strict!A1:A1000');
    const cells = await call(`${base}/values/Strict!A1:B1`, { headers: headers() });
    assert.deepEqual(cells.body.values, [['a', 'b']]);
  });

  it('USER_ENTERED: refuses text Google would parse (a formula, a number, a date, a boolean) rather than keep it as typed; keeps text and forced text', async () => {
    const put2 = (values: unknown[][]) =>
      call(`${base}/values/${encodeRangeForPath('Strict!E1:J1')}?valueInputOption=USER_ENTERED`, { method: 'PUT', headers: headers(), body: JSON.stringify({ values }) });
    for (const [cell, what] of [['=1+1', 'a formula'], ['007', 'a number'], ['1.50', 'a number'], ['1,234', 'a number'], ['50%', 'a number'], ['$5', 'a number'], ['2024-03-02', 'a date'], ['12:30', 'a time'], ['true', 'a boolean']]) {
      const r = await put2([[cell]]);
      assert.equal(r.status, 400, cell);
      assert.match(r.body.error.message, new RegExp(`^valueInputOption=USER_ENTERED is not emulated for "${cell!.replace(/[$.+]/g, '\\$&')}" at 'values' \\(Google would parse it as ${what};`), cell);
    }
    const text = await put2([['abc', "'007", 'P001', 'ev-42', 7, false]]);
    assert.equal(text.status, 200, JSON.stringify(text.body));
    assert.deepEqual(emu.getSheet(emu.spreadsheetId, 'Strict')?.[0]?.slice(4), ['abc', '007', 'P001', 'ev-42', '7', 'FALSE']);
  });
});

describe('emulator quotas, faults and control endpoints', () => {
  let emu: Emulator;
  let token: string;
  before(async () => {
    // A clock that stays in one minute: the quota is a fixed window per wall-clock minute, and
    // three calls straddling a minute boundary would all be allowed.
    const clockAt = Date.now();
    emu = await startEmulator({ faults: { readsPerMinute: 2 }, now: () => clockAt });
    const key = emu.registerServiceAccount();
    token = (await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key) })).body.access_token;
  });
  after(() => emu.close());
  const get = () => call(`${emu.url}/v4/spreadsheets/${emu.spreadsheetId}/values/Players`, { headers: { authorization: `Bearer ${token}` } });

  it('answers 429 RESOURCE_EXHAUSTED with Google\'s body past the per-minute quota', async () => {
    assert.equal((await get()).status, 200);
    assert.equal((await get()).status, 200);
    const r = await get();
    assert.equal(r.status, 429);
    assert.equal(r.body.error.status, 'RESOURCE_EXHAUSTED');
    assert.match(r.body.error.message, /^Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'/);
    assert.deepEqual(r.body.error.details, [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'RATE_LIMIT_EXCEEDED',
        domain: 'googleapis.com',
        metadata: {
          service: 'sheets.googleapis.com',
          quota_location: 'global',
          quota_metric: 'sheets.googleapis.com/read_requests',
          quota_limit: 'ReadRequestsPerMinutePerProject',
          quota_limit_value: '2',
          consumer: 'projects/000000000000',
        },
      },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Request a higher quota limit.', url: 'https://cloud.google.com/docs/quota#requesting_higher_quota' }] },
    ]);
  });

  it('holds each service account to the per-user quota, whatever room the project has left, and names that limit', async () => {
    emu.setFaults({ readsPerMinute: 0, readsPerMinutePerUser: 2 });
    try {
      const other = (await tokenRequest(emu, { grant_type: JWT_BEARER_GRANT, assertion: assertion(emu.registerServiceAccount()) })).body.access_token;
      const getAs = (t: string) => call(`${emu.url}/v4/spreadsheets/${emu.spreadsheetId}/values/Players`, { headers: { authorization: `Bearer ${t}` } });
      // The first account already read twice this minute (the test above), when it met the project's quota.
      const r = await getAs(token);
      assert.equal(r.status, 429);
      assert.match(r.body.error.message, /^Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'sheets\.googleapis\.com'/);
      assert.equal(r.body.error.details[0].metadata.quota_limit, 'ReadRequestsPerMinutePerUser');
      assert.equal(r.body.error.details[0].metadata.quota_limit_value, '2');
      // Another account of the same project has its own.
      assert.equal((await getAs(other)).status, 200);
      assert.equal((await getAs(other)).status, 200);
      assert.equal((await getAs(other)).status, 429);
      // A call a quota refused used none: with the project's quota at 5, the first account's refused calls left it room.
      emu.setFaults({ readsPerMinute: 5, readsPerMinutePerUser: 0 });
      assert.equal((await getAs(token)).status, 200, 'the project had used 4 of 5: the refused calls took none');
      assert.equal((await getAs(token)).status, 429);
    } finally {
      emu.setFaults({ readsPerMinute: 2, readsPerMinutePerUser: 60 });
    }
  });

  it('changes faults over HTTP and counts calls per method', async () => {
    const reset = await call(`${emu.url}/__emulator/counters/reset`, { method: 'POST' });
    assert.equal(reset.body.calls['values.get'], 9);
    const set = await call(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 1, errorStatus: 500, readsPerMinute: 0 }) });
    assert.equal(set.status, 200);
    assert.equal(set.body.errorRate, 1);
    const failing = await get();
    assert.deepEqual(failing.body, { error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } });
    // A 502 comes from Google's front end: its HTML error page, not the API's JSON.
    await call(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ errorStatus: 502 }) });
    const gateway = await fetch(`${emu.url}/v4/spreadsheets/${emu.spreadsheetId}/values/Players`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(gateway.status, 502);
    assert.equal(gateway.headers.get('content-type'), 'text/html; charset=UTF-8');
    assert.match(await gateway.text(), /^<!DOCTYPE html>\n<html lang=en>[\s\S]*<title>Error 502 \(Server Error\)!!1<\/title>[\s\S]*The server encountered a temporary error and could not complete your request\./);
    await call(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 0, errorStatus: 500 }) });
    assert.equal((await get()).status, 200);
    const counters = await call(`${emu.url}/__emulator/counters`);
    assert.equal(counters.body.calls['values.get'], 3);
    assert.equal(counters.body.ok['values.get'], 1);
    assert.equal(counters.body.injectedErrors, 2);
    assert.deepEqual(counters.body.statuses, { '200': 1, '500': 1, '502': 1 });
    const invalid = await call(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 2 }) });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error, /errorRate must be a number from 0 to 1/);
    const tab = await call(`${emu.url}/__emulator/spreadsheets/${emu.spreadsheetId}/sheets/Players`);
    assert.equal(tab.body.values[1][1], 'P001');
  });

  it('lists read calls with their time and ranges, and resets the per-minute quotas over HTTP', async () => {
    emu.setFaults({ readsPerMinute: 2 });
    await call(`${emu.url}/__emulator/quotas/reset`, { method: 'POST' });
    assert.equal((await get()).status, 200);
    await call(`${emu.url}/v4/spreadsheets/${emu.spreadsheetId}/values:batchGet?ranges=Players&ranges=${encodeURIComponent('Events!1:1')}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get()).status, 429, 'the quota of 2 spent');
    // The emulator's clock stays at one moment (before()).
    const reads = await call(`${emu.url}/__emulator/reads?since=0`);
    assert.equal(reads.status, 200);
    assert.equal(new Set((reads.body as Array<{ at: number }>).map((r) => r.at)).size, 1);
    assert.equal((await call(`${emu.url}/__emulator/reads?since=${(reads.body as Array<{ at: number }>)[0]!.at + 1}`)).body.length, 0, 'none since a later time');
    assert.deepEqual(
      (reads.body as Array<{ at: number; ranges: string[] }>).slice(-3).map((r) => r.ranges),
      [['Players'], ['Players', 'Events!1:1'], ['Players']],
    );
    const reset = await call(`${emu.url}/__emulator/quotas/reset`, { method: 'POST' });
    assert.deepEqual(reset.body, { reset: true });
    assert.equal((await get()).status, 200, 'a full quota again, in the same minute');
  });

  it("refuses an append that would grow the spreadsheet past its cell limit with Google's body, writing nothing; filling the grid's empty rows adds no cells", async () => {
    const limits = await startEmulator({});
    try {
      assert.equal(limits.faults().workbookCellLimit, 10_000_000, "Google's limit by default");
      const key = limits.registerServiceAccount();
      const t = (await tokenRequest(limits, { grant_type: JWT_BEARER_GRANT, assertion: assertion(key) })).body.access_token;
      // The seed's Players and Events are 1000 x 26 grids: 52,000 cells; one inserted row adds 26.
      limits.setFaults({ workbookCellLimit: 52_026 });
      const append = (insert: string, id: string) =>
        call(`${limits.url}/v4/spreadsheets/${limits.spreadsheetId}/values/Events:append?valueInputOption=RAW&insertDataOption=${insert}&prettyPrint=false`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
          body: JSON.stringify({ values: [[id, 'P001', 'goal', '', '2024-01-01']] }),
        });
      assert.equal((await append('INSERT_ROWS', 'E1')).status, 200);
      const before = limits.getSheet(limits.spreadsheetId, 'Events');
      const full = await append('INSERT_ROWS', 'E2');
      assert.equal(full.status, 400);
      assert.deepEqual(full.body, { error: { code: 400, message: 'This action would increase the number of cells in the workbook above the limit of 52026 cells.', status: 'INVALID_ARGUMENT' } });
      assert.deepEqual(limits.getSheet(limits.spreadsheetId, 'Events'), before, 'nothing written');
      // OVERWRITE fills the grid's empty rows below the table: the grid does not grow.
      assert.equal((await append('OVERWRITE', 'E3')).status, 200);
      limits.setFaults({ workbookCellLimit: 0 });
      assert.equal((await append('INSERT_ROWS', 'E4')).status, 200, '0: no limit');
      const invalid = await call(`${limits.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ workbookCellLimit: -1 }) });
      assert.match(invalid.body.error, /workbookCellLimit must be an integer >= 0/);
    } finally {
      await limits.close();
    }
  });

  it('latency is added to values calls, and hung calls are released on close', async () => {
    emu.setFaults({ latencyMs: 150 });
    const t0 = Date.now();
    assert.equal((await get()).status, 200);
    assert.ok(Date.now() - t0 >= 140, 'the configured latency was applied');
    emu.setFaults({ latencyMs: 0, hangRate: 1 });
    const hung = get().then(
      () => 'answered',
      () => 'connection closed',
    );
    for (let i = 0; i < 100 && emu.hungRequests() === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal(emu.hungRequests(), 1);
    await emu.close();
    assert.equal(await hung, 'connection closed');
  });
});
