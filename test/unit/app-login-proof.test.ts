// A client that logged in before proves it with the token it was issued (POST /api/login's `token`)
// and is judged by that proof's own failed-login count, not the name's: someone sending wrong codes
// for a player's name cannot lock out the player's own client.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { createDeps } from '../../src/app/deps.js';
import { HttpError, sendError } from '../../src/app/http.js';
import { createLoginLimit } from '../../src/app/login-limit.js';
import { PROOF_MAX_AGE_SECONDS } from '../../src/app/login-proof.js';
import { loginRoute } from '../../src/app/routes/auth.js';
import { createSessions, digestOf, type Sessions } from '../../src/app/session.js';
import type { Logger } from '../../src/log/logger.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS, type FakeSheets } from '../fixtures/fake-sheets.js';

const SECRET = 'a-session-secret-for-the-proof-tests-0123456789';
const TTL = 43_200;
const FAILURES = 3;
const DAY_MS = 86_400_000;

/** A pino logger whose lines are kept, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(chunk.toString());
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines, text: () => raw.join('') };
}

let nextClient = 1;
/** A login from a client address never used before, with the token when one is given. */
async function login(app: AppHarness, name: string, code: string, token?: unknown): Promise<{ status: number; body: Record<string, string>; retryAfter: string | null }> {
  const n = nextClient++;
  const res = await postJson(`${app.url}/api/login`, token === undefined ? { name, code } : { name, code, token }, {
    'x-forwarded-for': `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}`,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string>, retryAfter: res.headers.get('retry-after') };
}

async function statuses(app: AppHarness, name: string, code: string, times: number, token?: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push((await login(app, name, code, token)).status);
  return out;
}

/** A token this app's secret signs, as POST /api/login issued it at `nowMs` for `code`. */
function tokenFor(player: string, code: string | undefined, nowMs = Date.now(), secret = SECRET): string {
  return createSessions(secret, TTL).issue(player, nowMs, code === undefined ? undefined : digestOf(code)).token;
}

describe('a proof of an earlier login (POST /api/login token)', () => {
  let app: AppHarness;
  let sheets: FakeSheets;
  let log: ReturnType<typeof capturingLogger>;
  beforeEach(async () => {
    log = capturingLogger();
    sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    app = await startApp(
      { CORRAL_RATE_LIMIT: '1000', CORRAL_LOGIN_FAILURES_PER_NAME: String(FAILURES), CORRAL_TRUSTED_PROXIES: '127.0.0.1', CORRAL_SESSION_SECRET: SECRET, CORRAL_SESSION_TTL: String(TTL) },
      sheets,
      { logger: log.logger },
    );
  });
  afterEach(() => app.close());

  /** Locks Alice's name by wrong codes sent without a token, and shows it locked. */
  async function lockAlice(): Promise<{ error: string; message: string }> {
    assert.deepEqual(await statuses(app, 'Alice', 'wrong', FAILURES), Array(FAILURES).fill(401));
    const locked = await login(app, 'Alice', 'a-secret-1');
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error, 'login_locked');
    return { error: locked.body.error ?? '', message: locked.body.message ?? '' };
  }

  it('lets the right code in with the token of an earlier login while the name is locked; without it, 429', async () => {
    const first = await login(app, 'Alice', 'a-secret-1');
    assert.equal(first.status, 200);
    const token = first.body.token;
    assert.ok(token);
    await lockAlice();
    const again = await login(app, 'alice ', 'a-secret-1', token);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.ok(again.body.token, 'a new token');
    // The name stays locked for everyone else.
    assert.equal((await login(app, 'Alice', 'a-secret-1')).status, 429);
  });

  it("takes an expired token issued within the bound: a player comes back after the session ended", async () => {
    const old = tokenFor('Alice', 'a-secret-1', Date.now() - 20 * DAY_MS);
    assert.equal(createSessions(SECRET, TTL).verify(old), undefined, 'expired as a session');
    await lockAlice();
    assert.equal((await login(app, 'Alice', 'a-secret-1', old)).status, 200);
  });

  it("counts wrong codes sent with a proof against the proof alone: 401s, then 429 for that proof only; the name's count is unchanged", async () => {
    const proof = tokenFor('Alice', 'a-secret-1');
    const other = tokenFor('Alice', 'a-secret-1', Date.now() - 60_000);
    assert.deepEqual(await statuses(app, 'Alice', 'wrong', FAILURES, proof), Array(FAILURES).fill(401));
    const locked = await login(app, 'Alice', 'wrong', proof);
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error, 'login_locked');
    const retry = Number(locked.retryAfter);
    assert.ok(retry > 800 && retry <= 900, `Retry-After ${locked.retryAfter}`);
    // The correct code included, for that proof.
    assert.equal((await login(app, 'Alice', 'a-secret-1', proof)).status, 429);
    // Another proof of Alice's, and Alice without a token, are not locked.
    assert.equal((await login(app, 'Alice', 'a-secret-1', other)).status, 200);
    assert.equal((await login(app, 'Alice', 'a-secret-1')).status, 200);
    // The name's count did not take the proof's failures: it still has its whole budget.
    assert.deepEqual(await statuses(app, 'Alice', 'wrong', FAILURES - 1), Array(FAILURES - 1).fill(401));
    assert.equal((await login(app, 'Alice', 'a-secret-1')).status, 200);

    const said = log.lines.filter((l) => l.event === 'login.proof_locked');
    assert.equal(said.length, 1, JSON.stringify(said));
    assert.equal(said[0]?.level, 40, 'warn');
    assert.equal(said[0]?.failures, FAILURES);
    assert.match(String(said[0]?.proof_hash), /^[0-9a-f]{32}$/);
    assert.equal(log.lines.filter((l) => l.event === 'login.locked').length, 0, 'the name was never locked');
    const text = log.text();
    const signature = proof.split('.')[2] ?? '';
    assert.ok(!text.includes(signature) && !text.includes(proof.split('.')[1] ?? ''), 'neither the token nor its signature is logged');
  });

  it('takes no token that is not a proof: too old, another player, a changed code, forged, no fingerprint; each answers as no token does', async () => {
    const first = await login(app, 'Alice', 'a-secret-1');
    assert.equal(first.status, 200);
    const beforeChange = first.body.token ?? '';
    const bobs = await login(app, 'Bob', 'b-secret-2');
    assert.equal(bobs.status, 200);
    // The organiser changes Alice's code in the sheet: her earlier token proves nothing now.
    const players = sheets.tabs.get('Players');
    assert.ok(players?.[1]);
    players[1][1] = 'a-new-secret';
    const locked = await lockAlice();
    const valid = tokenFor('Alice', 'a-new-secret');
    const signature = valid.split('.')[2] ?? '';
    const notProofs: Record<string, string> = {
      'older than the bound': tokenFor('Alice', 'a-new-secret', Date.now() - (PROOF_MAX_AGE_SECONDS + 60) * 1000),
      "another player's": bobs.body.token ?? '',
      "another player's, issued for the same code as hers": tokenFor('Bob', 'a-new-secret'),
      'issued for the code before the change': beforeChange,
      'signed with another secret': tokenFor('Alice', 'a-new-secret', Date.now(), 'another-secret-another-secret-another-secret'),
      'with a signature changed': `${valid.slice(0, -signature.length)}${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`,
      'with no code fingerprint': tokenFor('Alice', undefined),
      'from the future': tokenFor('Alice', 'a-new-secret', Date.now() + 3600_000),
      'not a token at all': 'not-a-token',
    };
    for (const [what, token] of Object.entries(notProofs)) {
      for (const code of ['a-new-secret', 'wrong']) {
        const res = await login(app, 'Alice', code, token);
        assert.equal(res.status, 429, `${what}, ${code}`);
        assert.deepEqual({ error: res.body.error, message: res.body.message?.replace(/\d+ s$/, '') }, { ...locked, message: locked.message.replace(/\d+ s$/, '') }, what);
      }
    }
    // The proof taken, for comparison.
    assert.equal((await login(app, 'Alice', 'a-new-secret', valid)).status, 200);
  });

  it('refuses a token that is not a string, is too long or is not one line of text (400), and takes an empty one as none', async () => {
    for (const token of [123, true, {}, ['x'], 'x'.repeat(2001), 'v1.a\nb.c', 'v1.a\u0000b.c', 'v1.\ud800.c']) {
      const res = await login(app, 'Alice', 'a-secret-1', token);
      assert.equal(res.status, 400, JSON.stringify(token).slice(0, 20));
      assert.equal(res.body.error, 'invalid_field');
      assert.equal(res.body.field, 'token');
    }
    assert.equal((await login(app, 'Alice', 'a-secret-1', '')).status, 200);
    assert.equal((await login(app, 'Alice', 'a-secret-1', null)).status, 200);
  });
});

describe('a login without a token', () => {
  it('never asks for the proof of an earlier login, and answers as before', async () => {
    const log = capturingLogger();
    const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    const harness = await startApp({ CORRAL_RATE_LIMIT: '0', CORRAL_SESSION_SECRET: SECRET }, sheets, { logger: log.logger });
    const real = createSessions(SECRET, TTL);
    let proofsAsked = 0;
    const sessions: Sessions = { ...real, verifyIssued: (...args) => (proofsAsked++, real.verifyIssued(...args)) };
    const limit = await createLoginLimit({ failures: FAILURES, logger: log.logger, hostCounters: undefined });
    const route = loginRoute(createDeps(harness.ctx, sessions), limit);
    const server = createServer((req, res) => {
      Promise.resolve(route({ req, res, target: undefined as never })).catch((err: unknown) => (err instanceof HttpError ? sendError(res, err) : res.destroy()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/login`;
    try {
      const answers: number[] = [];
      for (const code of ['wrong', 'wrong', 'a-secret-1', 'wrong', 'a-secret-1', 'wrong']) {
        const res = await postJson(url, { name: 'Alice', code });
        answers.push(res.status);
        await res.body?.cancel();
      }
      assert.deepEqual(answers, [401, 401, 200, 401, 429, 429]);
      assert.equal(proofsAsked, 0);
      // With a token, it is asked.
      const res = await postJson(url, { name: 'Alice', code: 'a-secret-1', token: tokenFor('Alice', 'a-secret-1') });
      assert.equal(res.status, 200);
      assert.equal(proofsAsked, 1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await harness.close();
    }
  });
});
