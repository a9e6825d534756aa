import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS, type FakeSheets } from '../fixtures/fake-sheets.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';

interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

describe('input validation', () => {
  let app: AppHarness;
  let sheets: FakeSheets;
  let token: string;
  before(async () => {
    sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets);
    const res = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-secret-1' });
    token = ((await res.json()) as { token: string }).token;
  });
  after(() => app.close());

  async function expect400(body: unknown, field: string | undefined, error = 'invalid_field', init?: RequestInit): Promise<void> {
    const res = init
      ? await fetch(`${app.url}/api/events`, init)
      : await postJson(`${app.url}/api/events`, body, { authorization: `Bearer ${token}` });
    const json = (await res.json()) as ErrorBody;
    assert.equal(res.status, 400, JSON.stringify(json));
    assert.equal(json.error, error);
    assert.equal(json.field, field);
    assert.ok(json.message.length > 0);
  }

  it('names the missing or bad field', async () => {
    await expect400({}, 'kind');
    await expect400({ kind: '' }, 'kind');
    await expect400({ kind: '   ' }, 'kind');
    await expect400({ kind: 42 }, 'kind');
    await expect400({ kind: 'x'.repeat(65) }, 'kind');
    await expect400({ kind: 'a\nb' }, 'kind');
    await expect400({ kind: 'ok', detail: 7 }, 'detail');
    await expect400({ kind: 'ok', detail: 'd'.repeat(2001) }, 'detail');
    await expect400({ kind: 'ok', detail: 'bell\u0007' }, 'detail');
    await expect400({ kind: 'ok', knd: 'typo' }, 'knd');
    assert.equal(sheets.appended.length, 0, 'nothing invalid was appended');
  });

  it('refuses unpaired surrogates (they would be stored as U+FFFD), keeps paired ones', async () => {
    const before = sheets.appended.length;
    await expect400({ kind: 'a\ud83d' }, 'kind');
    await expect400({ kind: 'ok', detail: '\udc00x' }, 'detail');
    assert.equal(sheets.appended.length, before, 'nothing invalid was appended');
    const res = await postJson(`${app.url}/api/events`, { kind: 'goal \u{1F600}' }, { authorization: `Bearer ${token}` });
    assert.equal(res.status, 201);
    assert.equal(sheets.appended.at(-1)?.rows[0]?.[2], 'goal \u{1F600}');
  });

  it('refuses C1 control characters too (NEL breaks lines, CSI drives terminals)', async () => {
    const before = sheets.appended.length;
    await expect400({ kind: 'a\u0085b' }, 'kind');
    await expect400({ kind: 'ok', detail: 'x\u009b31mred' }, 'detail');
    await postJson(`${app.url}/api/login`, { name: 'Alice\u0080', code: 'a-secret-1' }).then(async (res) => {
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as ErrorBody).field, 'name');
    });
    assert.equal(sheets.appended.length, before, 'nothing invalid was appended');
  });

  it('refuses malformed JSON and non-object bodies with 400', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    await expect400(undefined, undefined, 'invalid_json', { method: 'POST', headers, body: '{"kind":' });
    await expect400(undefined, undefined, 'invalid_json', { method: 'POST', headers, body: '[1,2]' });
    await expect400(undefined, undefined, 'invalid_json', { method: 'POST', headers, body: '' });
  });

  it('refuses two Content-Type headers with a 400 naming the header, whichever comes first', async () => {
    // node:http keeps the first: text/plain then application/json was refused 415 as text/plain.
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${app.url}/api/login`, { method: 'POST', headers: { 'content-type': ['text/plain', 'application/json'] } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ name: 'a', code: 'b' }));
    });
    assert.equal(status, 400);
    const parsed = JSON.parse(body) as ErrorBody & { message: string };
    assert.equal(parsed.error, 'bad_request');
    assert.match(parsed.message, /send one Content-Type header, not several/);
  });

  it('refuses a non-JSON content type with 415 and an oversized body with 413', async () => {
    const r1 = await fetch(`${app.url}/api/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'name=a' });
    assert.equal(r1.status, 415);
    assert.equal(((await r1.json()) as ErrorBody).error, 'unsupported_media_type');
    // A structured-syntax +json type (RFC 6839) is JSON too, as the error table says.
    const r0 = await fetch(`${app.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ name: 'a', code: 'b' }) });
    assert.equal(((await r0.json()) as ErrorBody).error, 'invalid_credentials');
    const r2 = await postJson(`${app.url}/api/login`, { name: 'a', code: 'x'.repeat(20_000) });
    assert.equal(r2.status, 413);
    const over = (await r2.json()) as ErrorBody & { message: string };
    assert.equal(over.error, 'body_too_large');
    // The route's own limit, not the server's (1 MiB, which the worker's 413 names).
    assert.equal(over.message, 'the body may be at most 16384 bytes on this route');
  });

  it('refuses a body in another charset (415) or with bytes that are not UTF-8 (400), storing nothing', async () => {
    const before = sheets.appended.length;
    const latin1 = Buffer.from('{"kind":"caf\u00e9"}', 'latin1');
    const auth = { authorization: `Bearer ${token}` };
    const r1 = await fetch(`${app.url}/api/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json; charset=ISO-8859-1' }, body: latin1 });
    const j1 = (await r1.json()) as ErrorBody;
    assert.equal(r1.status, 415, JSON.stringify(j1));
    assert.equal(j1.error, 'unsupported_charset');
    assert.match(j1.message, /iso-8859-1.*UTF-8/);
    // The same bytes without a charset: é alone (0xE9) is no UTF-8, it would be stored as U+FFFD.
    await expect400(undefined, undefined, 'invalid_json', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: latin1 });
    assert.equal(sheets.appended.length, before, 'nothing was appended');
  });

  it('refuses a compressed body with 415 and says which coding it takes', async () => {
    const before = sheets.appended.length;
    const res = await fetch(`${app.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{"kind":"goal"}'),
    });
    const json = (await res.json()) as ErrorBody;
    assert.equal(res.status, 415, JSON.stringify(json));
    assert.equal(json.error, 'unsupported_content_encoding');
    assert.match(json.message, /gzip.*uncompressed/);
    assert.equal(res.headers.get('accept-encoding'), 'identity');
    assert.equal(sheets.appended.length, before, 'nothing was appended');
    const identity = await fetch(`${app.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': 'identity' },
      body: '{"kind":"goal"}',
    });
    assert.equal(identity.status, 201);
  });

  it('ignores a UTF-8 byte order mark before the JSON (RFC 8259 §8.1)', async () => {
    const res = await fetch(`${app.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"kind":"bom"}')]),
    });
    assert.equal(res.status, 201, await res.text());
    assert.equal(sheets.appended.at(-1)?.rows[0]?.[2], 'bom');
  });

  it('takes the spellings of UTF-8 clients send in charset', async () => {
    for (const charset of ['utf-8', 'UTF-8', '"utf-8"', 'utf8']) {
      const res = await fetch(`${app.url}/api/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': `application/json;charset=${charset}` },
        body: Buffer.from('{"kind":"caf\u00e9"}', 'utf8'),
      });
      assert.equal(res.status, 201, `charset=${charset}: ${await res.text()}`);
      assert.equal(sheets.appended.at(-1)?.rows[0]?.[2], 'caf\u00e9');
    }
  });

  it('refuses a body that sends a field twice (JSON.parse would keep the last one silently)', async () => {
    const before = sheets.appended.length;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await expect400(undefined, 'kind', 'invalid_json', { method: 'POST', headers: auth, body: '{"kind":"goal","kind":"=cmd"}' });
    await expect400(undefined, 'kind', 'invalid_json', { method: 'POST', headers: auth, body: '{"kind":"goal","detail":"d","k\\u0069nd":"x"}' });
    assert.equal(sheets.appended.length, before, 'nothing was appended');
    // A wrong code then the right one: the right one, read last, must not log in.
    const login = await fetch(`${app.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Alice","code":"wrong","code":"a-secret-1"}' });
    const json = (await login.json()) as ErrorBody;
    assert.equal(login.status, 400, JSON.stringify(json));
    assert.equal(json.error, 'invalid_json');
    assert.equal(json.field, 'code');
  });

  it('validates login fields before looking anything up', async () => {
    const before = sheets.reads;
    const res = await postJson(`${app.url}/api/login`, { name: 'Alice' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as ErrorBody).field, 'code');
    assert.equal(sheets.reads, before);
  });
});
