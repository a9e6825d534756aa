// One virtual user's login, against answers given by the test: what it counts, and what it does next.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Reply, SendRequest } from '../../src/loadtest/client.js';
import { LOGIN_LOCKED, LOGIN_WITHOUT_TOKEN } from '../../src/loadtest/login-answer.js';
import { ThinkTimePacer } from '../../src/loadtest/pacing.js';
import { VirtualUser } from '../../src/loadtest/vuser.js';

function answer(req: SendRequest, status: number, json: unknown, contentType = 'application/json'): Reply {
  return { sample: { kind: req.kind, route: `${req.method} ${req.path}`, status, outcome: status >= 200 && status < 300 ? 'ok' : 'http', latencyUs: 1000, startMs: 0, endMs: 1, bytes: 10 }, json, contentType };
}

/** Runs one user against `reply` until it has sent `n` requests; returns what it counted. */
async function run(reply: (req: SendRequest) => Reply, n: number): Promise<Reply[]> {
  const counted: Reply[] = [];
  const controller = new AbortController();
  const user = new VirtualUser(0, {
    target: new URL('http://127.0.0.1:1'),
    send: async (req) => reply(req),
    onReply: (r) => {
      counted.push(r);
      if (counted.length >= n) user.stop();
    },
    onAction: () => undefined,
    mix: { read: 1, write: 0, export: 0 },
    exportToken: undefined,
    runSignal: controller.signal,
    random: () => 0.5,
  }, { name: 'Alice Martin', code: 'P001' }, new ThinkTimePacer(0, () => 0.5));
  await user.start();
  return counted;
}

describe('virtual user login', () => {
  it('counts a 200 login without a token as an error, and never sends anything but logins', async () => {
    const counted = await run((req) => answer(req, 200, undefined, 'text/html'), 5);
    assert.equal(counted.length, 5);
    for (const r of counted) {
      assert.equal(r.sample.route, 'POST /api/login');
      assert.equal(r.sample.outcome, 'http', 'not ok: nobody was logged in');
      assert.equal(r.sample.error, LOGIN_WITHOUT_TOKEN);
    }
  });

  it('counts a login answered 429 login_locked under its own code, apart from the per-IP limit\'s 429', async () => {
    const locked = await run((req) => answer(req, 429, { success: false, error: 'login_locked', message: 'too many failed logins for this name; retry in 900 s' }), 2);
    assert.deepEqual(locked.map((r) => [r.sample.status, r.sample.outcome, r.sample.error]), [[429, 'http', LOGIN_LOCKED], [429, 'http', LOGIN_LOCKED]]);
    const limited = await run((req) => answer(req, 429, { success: false, error: 'rate_limited' }), 1);
    assert.equal(limited[0]?.sample.error, undefined);
  });

  it('counts a login with a token as ok, then acts', async () => {
    const counted = await run((req) => (req.kind === 'login' ? answer(req, 200, { token: 'abc' }) : answer(req, 200, undefined)), 3);
    assert.deepEqual(counted.map((r) => [r.sample.kind, r.sample.outcome]), [['login', 'ok'], ['read', 'ok'], ['read', 'ok']]);
  });
});
