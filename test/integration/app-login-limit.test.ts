// The failed-login limit per name on the real master: a guesser spreading wrong codes for one
// player over many client addresses, and over the workers, is stopped after
// CORRAL_LOGIN_FAILURES_PER_NAME of them in total, and then even the correct code answers 429.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/corral.js';
import { withLoginLimitCorral } from '../helpers/login-limit-corral.js';
import { sampleCodes } from '../fixtures/offline-sheet.js';

const FAILURES = 4;

describe('failed logins per name across workers on the real master', () => {
  const host = withLoginLimitCorral(FAILURES);
  const login = (name: string, code: string) => host.login(name, code);

  it('N wrong codes from N addresses lock the name on every worker, the correct code included; another name is unaffected', async () => {
    const codes = sampleCodes();
    const alice = 'Alice Martin';
    const aliceCode = codes.get(alice);
    const brunoCode = codes.get('Bruno Leroy');
    assert.ok(aliceCode && brunoCode);

    const wrong: number[] = [];
    for (let i = 0; i < FAILURES; i++) wrong.push((await login(alice, `${aliceCode}x${i}`)).status);
    assert.deepEqual(wrong, Array(FAILURES).fill(401));

    // Twice, so both workers answer one at least.
    for (let i = 0; i < 2; i++) {
      const locked = await login(alice, aliceCode);
      assert.equal(locked.status, 429, locked.text);
      assert.equal(locked.json<{ error: string }>().error, 'login_locked');
      const retry = Number(locked.headers['retry-after']);
      assert.ok(retry > 800 && retry <= 900, `Retry-After ${retry}`);
    }
    // As the lookup spells it: case and spaces do not make another name.
    assert.equal((await login('  alice MARTIN ', aliceCode)).status, 429);

    // A name not in the roster is never counted: always 401, never locked, never logged.
    const madeUp: number[] = [];
    for (let i = 0; i < FAILURES + 2; i++) madeUp.push((await login('Nobody In The Roster', `x${i}`)).status);
    assert.deepEqual(madeUp, Array(FAILURES + 2).fill(401));

    const bruno = await login('Bruno Leroy', brunoCode);
    assert.equal(bruno.status, 200, bruno.text);
    assert.equal(bruno.json<{ player: { name: string } }>().player.name, 'Bruno Leroy');

    const c = host.corral;
    // The failures and the refusals really were spread over both workers (the master deals each
    // new connection to the next; access lines arrive within a second).
    const workersAnswering = (status: number) => new Set(c.events('access').filter((l) => l.path === '/api/login' && l.status === status).map((l) => l.worker));
    await waitFor(() => workersAnswering(401).size >= 2 && workersAnswering(429).size >= 2, 10_000, '401s and 429s to logins from both workers');

    // Logged once on the host, by hash: never the name. Counted once every login has its access
    // line: a worker logs login.locked before it answers, and writes it at once (access lines wait
    // up to a second in their batch), so by then every line that could say it is in the file, a
    // second one included.
    await waitFor(() => c.events('access').filter((l) => l.path === '/api/login').length >= host.logins, 10_000, `access lines of all ${host.logins} logins`);
    const hash = createHash('sha256').update('alice martin').digest('hex').slice(0, 32);
    const locked = c.events('login.locked');
    assert.equal(locked.length, 1, JSON.stringify(locked));
    const line = locked[0] ?? {};
    assert.equal(line.name_hash, hash);
    assert.equal(line.level, 'warn');
    assert.equal(line.failures, FAILURES);
    assert.doesNotMatch(readFileSync(c.logFile, 'utf8'), /alice martin/i);
  });
});
