// The ceiling and the login floor send the headers corral's JSON answers carry, and the floor's
// token has corral's claims: a server that sends fewer bytes per answer is faster for free, and
// corral/bare, corral/floor measured that too (the ceiling left out three headers and the charset,
// the floor's token the code fingerprint).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOGIN_BODY, startBareWithBody, startLoginFloor } from '../../bench/lib/sheets-app.js';
import { JSON_HEADER_LINES } from '../../src/http/json.js';

/** corral's JSON headers, as name → value. */
const corralHeaders = Object.fromEntries(
  JSON_HEADER_LINES.trim()
    .split('\r\n')
    .map((line) => line.split(': ') as [string, string]),
);

test('the ceiling answers with the headers of corral\'s JSON answers', async () => {
  const bare = await startBareWithBody(1, '{"players":[]}');
  try {
    const res = await fetch(`${bare.url}/api/players`);
    assert.equal(await res.text(), '{"players":[]}');
    for (const [name, value] of Object.entries(corralHeaders)) assert.equal(res.headers.get(name), value, name);
  } finally {
    await bare.stop();
  }
});

test('the login floor answers with the headers of corral\'s JSON answers and a token with its claims', async () => {
  const floor = await startLoginFloor(1, JSON.stringify({ token: 'x', expires_at: 'x', player: { name: 'Alice Martin' } }));
  try {
    const res = await fetch(`${floor.url}/api/login`, { method: 'POST', body: LOGIN_BODY });
    assert.equal(res.status, 200);
    for (const [name, value] of Object.entries(corralHeaders)) assert.equal(res.headers.get(name), value, name);
    const { token } = (await res.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(claims), ['sub', 'iat', 'exp', 'cfp']);
    assert.equal(Buffer.from(String(claims.cfp), 'base64url').length, 12);
  } finally {
    await floor.stop();
  }
});
