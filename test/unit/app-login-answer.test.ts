// POST /api/login's 200 is written from the player's fields serialized once per roster record:
// its text must stay what JSON.stringify({ token, expires_at, player }) makes, whatever the sheet
// holds (quotes, backslashes, control characters, non-ASCII), and hold no private column.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { publicFields, publicFieldsJson } from '../../src/app/players.js';
import { startApp, postJson, type AppHarness } from '../fixtures/app-harness.js';
import { createFakeSheets } from '../fixtures/fake-sheets.js';

const ROSTER = [
  ['name', 'code', 'team', 'Password ', 'note'],
  ['Zoë "Z" Ünal', 'c-1', 'red\\blue', 'pw', 'tab\there, line\u2028sep 🎯'],
  ['Bob', 'c-2', '', '', '</script>'],
];

describe('POST /api/login answer', () => {
  let app: AppHarness | undefined;
  after(async () => app?.close());

  it('is the text JSON.stringify gives the token, expiry and public fields, for every player', async () => {
    app = await startApp({}, createFakeSheets({ Players: ROSTER }));
    for (const [name, code] of [
      ['Zoë "Z" Ünal', 'c-1'],
      ['bob', 'c-2'],
    ]) {
      const res = await postJson(`${app.url}/api/login`, { name, code });
      assert.equal(res.status, 200);
      const text = await res.text();
      const answer = JSON.parse(text) as { token: string; expires_at: string; player: Record<string, string> };
      assert.equal(text, JSON.stringify({ token: answer.token, expires_at: answer.expires_at, player: answer.player }));
      assert.equal(answer.player['code'], undefined);
      assert.equal(answer.player['Password '], undefined);
      assert.equal(answer.player['name'], name === 'bob' ? 'Bob' : name);
      // The expiry is the token's own.
      const claims = JSON.parse(Buffer.from(answer.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp: number };
      assert.equal(answer.expires_at, new Date(claims.exp * 1000).toISOString());
    }
  });

  it('serializes a record once, as JSON.stringify(publicFields()) does', () => {
    const record = Object.freeze({ name: 'A "quoted" \\ name', code: 'secret', pin: '1', ' ': 'x', team: 'é\u0001' });
    const text = publicFieldsJson(record);
    assert.equal(text, JSON.stringify(publicFields(record)));
    assert.equal(publicFieldsJson(record), text);
    assert.deepEqual(Object.keys(JSON.parse(text) as object), ['name', 'team']);
  });
});
