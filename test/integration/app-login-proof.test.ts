// The proof of an earlier login on the real master: a guesser's wrong codes lock a player's name on
// every worker, and the player's own client, sending the token of its earlier login, still logs
// in; wrong codes sent with that token lock that token alone, said once by login.proof_locked.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/corral.js';
import { withLoginLimitCorral } from '../helpers/login-limit-corral.js';
import { sampleCodes } from '../fixtures/offline-sheet.js';

const FAILURES = 3;

describe('the proof of an earlier login on the real master', () => {
  const host = withLoginLimitCorral(FAILURES);
  const login = (name: string, code: string, token?: string) => host.login(name, code, token);

  it("a name locked by a guesser's wrong codes answers 429 without a token and 200 to the player's client sending its earlier token; wrong codes with the token lock the token alone", async () => {
    const alice = 'Alice Martin';
    const code = sampleCodes().get(alice);
    assert.ok(code);
    const first = await login(alice, code);
    assert.equal(first.status, 200, first.text);
    const token = first.json<{ token: string }>().token;

    const wrong: number[] = [];
    for (let i = 0; i < FAILURES; i++) wrong.push((await login(alice, `${code}x${i}`)).status);
    assert.deepEqual(wrong, Array(FAILURES).fill(401));
    // Twice each, so both workers answer one at least.
    for (let i = 0; i < 2; i++) {
      const locked = await login(alice, code);
      assert.equal(locked.status, 429, locked.text);
      assert.equal(locked.json<{ error: string }>().error, 'login_locked');
      const back = await login(alice, code, token);
      assert.equal(back.status, 200, back.text);
      assert.equal(back.json<{ player: { name: string } }>().player.name, alice);
    }

    // The token in a thief's hands: its own tries, then 429 for it, the correct code included.
    const thief: number[] = [];
    for (let i = 0; i < FAILURES + 1; i++) thief.push((await login(alice, `guess${i}`, token)).status);
    assert.deepEqual(thief, [...Array(FAILURES).fill(401), 429]);
    assert.equal((await login(alice, code, token)).status, 429);

    const c = host.corral;
    await waitFor(() => c.events('access').filter((l) => l.path === '/api/login').length >= host.logins, 10_000, `access lines of all ${host.logins} logins`);
    assert.equal(c.events('login.locked').length, 1, 'the name, locked once');
    const proofLocked = c.events('login.proof_locked');
    assert.equal(proofLocked.length, 1, JSON.stringify(proofLocked));
    assert.equal(proofLocked[0]?.level, 'warn');
    assert.match(String(proofLocked[0]?.proof_hash), /^[0-9a-f]{32}$/);
    const logText = readFileSync(c.logFile, 'utf8');
    assert.ok(!logText.includes(token.split('.')[2] ?? ''), 'no token in the log');
  });
});
