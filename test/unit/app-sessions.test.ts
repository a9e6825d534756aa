import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PRIVATE_COLUMNS } from '../../src/app/players.js';
import { loadSessionSecret, SECRET_FILE } from '../../src/app/secret.js';
import { createSessions } from '../../src/app/session.js';
import { loadSettings } from '../../src/config/load.js';
import type { AppContext } from '../../src/contract.js';
import { createLogger } from '../../src/log/logger.js';
import { loadApp } from '../../src/worker/app-loader.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';

describe('session tokens', () => {
  const sessions = createSessions('s'.repeat(40), 60);

  it('verifies its own tokens and returns the claims', () => {
    const now = Date.UTC(2025, 0, 1);
    const { token, claims } = sessions.issue('Alice', now);
    assert.equal(claims.exp - claims.iat, 60);
    assert.deepEqual(sessions.verify(token, now + 1000), claims);
  });

  it('writes the token format that tokens already issued use: v1.<claims>.<HMAC-SHA256 of both>', () => {
    const now = Date.UTC(2025, 0, 1);
    const { token } = sessions.issue('Alice', now);
    const [v, payload, sig] = token.split('.') as [string, string, string];
    assert.deepEqual(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), { sub: 'Alice', iat: now / 1000, exp: now / 1000 + 60 });
    assert.equal(sig, createHmac('sha256', 's'.repeat(40)).update(`${v}.${payload}`).digest('base64url'));
    // A secret given as bytes signs as the same secret given as text.
    assert.deepEqual(createSessions(Buffer.from('s'.repeat(40)), 60).verify(token, now), sessions.verify(token, now));
  });

  it('refuses a token once expired', () => {
    const now = Date.UTC(2025, 0, 1);
    const { token } = sessions.issue('Alice', now);
    assert.ok(sessions.verify(token, now + 59_000));
    assert.equal(sessions.verify(token, now + 60_000), undefined);
  });

  it('holds a token to the TTL in force: one issued under a longer TTL, or issued ahead of this host\'s clock, is refused', () => {
    const now = Date.UTC(2025, 0, 1);
    const longer = createSessions('s'.repeat(40), 12 * 3600).issue('Alice', now).token;
    assert.ok(createSessions('s'.repeat(40), 12 * 3600).verify(longer, now + 120_000));
    // CORRAL_SESSION_TTL lowered to 60 s by a reload: the 12-hour token is no session any more.
    assert.equal(sessions.verify(longer, now + 1000), undefined);
    // Raised: tokens issued under the shorter TTL keep their own expiry.
    const shorter = sessions.issue('Alice', now).token;
    assert.ok(createSessions('s'.repeat(40), 12 * 3600).verify(shorter, now + 30_000));
    // Issued by a host whose clock is an hour ahead: refused; a few seconds ahead: taken.
    assert.equal(sessions.verify(sessions.issue('Alice', now + 3600_000).token, now), undefined);
    assert.ok(sessions.verify(sessions.issue('Alice', now + 5000).token, now));
  });

  it('refuses tampered tokens and tokens signed with another secret', () => {
    const { token } = sessions.issue('Alice');
    const [v, payload, sig] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 'Bob', iat: 0, exp: 9e9 })).toString('base64url');
    assert.equal(sessions.verify(`${v}.${forged}.${sig}`), undefined);
    assert.equal(sessions.verify(`${v}.${payload}.${sig.slice(0, -2)}`), undefined);
    assert.equal(sessions.verify('garbage'), undefined);
    assert.equal(createSessions('t'.repeat(40), 60).verify(token), undefined);
  });

  it('refuses a signed token whose claims are not an object or whose times no Date can hold (no 500 from GET /api/me)', () => {
    const secret = 's'.repeat(40);
    const signed = (payload: string) => {
      const data = `v1.${Buffer.from(payload).toString('base64url')}`;
      return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
    };
    const now = Math.floor(Date.now() / 1000);
    // These threw: `null` in verify itself (reading .sub), 1e300 in /api/me's expires_at (toISOString).
    for (const payload of ['null', JSON.stringify({ sub: 'Alice', iat: now, exp: 1e300 }), JSON.stringify({ sub: 'Alice', iat: now, exp: now + 60.5 }), JSON.stringify({ sub: 'Alice', iat: 1e300, exp: now + 60 })]) {
      assert.equal(sessions.verify(signed(payload)), undefined, payload);
    }
    assert.ok(sessions.verify(signed(JSON.stringify({ sub: 'Alice', iat: now, exp: now + 60 }))), 'the shape issue() writes');
  });

  it('accepts only the canonical spelling of the signature (no padding, stray characters or spare bits)', () => {
    const { token } = sessions.issue('Alice');
    assert.ok(sessions.verify(token));
    // 32 bytes are 43 base64url characters whose last carries 2 spare bits: these four
    // characters differ only there, so one of them is the token's and three are not.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(token.at(-1) ?? '');
    const spareBits = [0, 1, 2, 3].map((bits) => `${token.slice(0, -1)}${alphabet[(last & ~3) | bits] ?? ''}`).filter((t) => t !== token);
    assert.equal(spareBits.length, 3);
    const strayInSignature = `${token.slice(0, -10)}!${token.slice(-10)}`;
    for (const spelling of [`${token}=`, `${token}==`, `${token}%`, strayInSignature, ...spareBits]) {
      assert.equal(sessions.verify(spelling), undefined, `${spelling} is not the token`);
    }
  });
});

describe('session secret file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-secret-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is generated once, mode 0600, and concurrent loaders agree on it', async () => {
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadSessionSecret(undefined, dir)));
    for (const s of secrets) assert.deepEqual(s, secrets[0]);
    const file = join(dir, SECRET_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), secrets[0]?.toString('utf8'));
    assert.deepEqual(await loadSessionSecret(undefined, dir), secrets[0]);
  });

  it('prefers the configured secret', async () => {
    assert.equal((await loadSessionSecret('x'.repeat(32), dir)).toString(), 'x'.repeat(32));
  });

  it('refuses a file shorter than CORRAL_SESSION_SECRET may be (empty included), naming the file and the fix', async () => {
    // The audit's repro: `printf 'x\n' > data/session-secret` made `x` the HMAC key.
    for (const [text, length] of [['x\n', 1], ['', 0], ['  \n', 0], [`${'s'.repeat(31)}\n`, 31]] as const) {
      const weak = await mkdtemp(join(tmpdir(), 'corral-secret-weak-'));
      try {
        const file = join(weak, SECRET_FILE);
        await writeFile(file, text, { mode: 0o600 });
        await assert.rejects(loadSessionSecret(undefined, weak), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'CORRAL_ERR_SESSION_SECRET_WEAK');
          assert.ok(err.message.includes(file), err.message);
          assert.match(err.message, new RegExp(`holds ${length} character\\(s\\); a session secret needs at least 32`));
          assert.match(err.message, /Delete the file to have a new one made.*or write at least 32/);
          return true;
        });
        // Refused, not replaced: the operator's file is left for them to fix.
        assert.equal(await readFile(file, 'utf8'), text);
      } finally {
        await rm(weak, { recursive: true, force: true });
      }
    }
  });

  it('refuses a file it cannot read (a directory in its place; owned by another user), naming the file and the fix, not a bare errno', async () => {
    const odd = await mkdtemp(join(tmpdir(), 'corral-secret-unreadable-'));
    try {
      const file = join(odd, SECRET_FILE);
      await mkdir(file);
      await assert.rejects(loadSessionSecret(undefined, odd), (err: Error & { code?: string; cause?: { code?: string } }) => {
        assert.equal(err.code, 'CORRAL_ERR_SESSION_SECRET_UNREADABLE');
        assert.equal(err.cause?.code, 'EISDIR');
        assert.ok(err.message.includes(file), err.message);
        assert.match(err.message, /EISDIR/);
        assert.match(err.message, /readable by the user corral runs as.*or delete it/);
        return true;
      });
      // Left for the operator: it is not theirs to lose.
      assert.ok((await stat(file)).isDirectory());
    } finally {
      await rm(odd, { recursive: true, force: true });
    }
  });

  it('a worker loading the bundled app with such a file fails its boot with that code (not CORRAL_ERR_APP_LOAD)', async () => {
    const weak = await mkdtemp(join(tmpdir(), 'corral-secret-boot-'));
    try {
      await writeFile(join(weak, SECRET_FILE), 'x\n', { mode: 0o600 });
      const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: weak, CORRAL_LOG_LEVEL: 'silent' } });
      const logger = createLogger(settings, { role: 'worker', worker: 1, generation: 1 }).logger;
      const ctx: AppContext = { settings, logger, sheets: undefined, hostCounters: undefined, workerId: 1, generation: 1, onClose: () => {} };
      await assert.rejects(loadApp(undefined, ctx), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CORRAL_ERR_SESSION_SECRET_WEAK');
        assert.match(err.message, /session-secret holds 1 character/);
        return true;
      });
    } finally {
      await rm(weak, { recursive: true, force: true });
    }
  });

  describe('in a worker joining a generation that serves (a replacement, a recycle, TTIN)', () => {
    let joinDir: string;
    before(async () => {
      joinDir = await mkdtemp(join(tmpdir(), 'corral-secret-join-'));
    });
    after(() => rm(joinDir, { recursive: true, force: true }));

    it('reads the file the generation started with', async () => {
      const first = await loadSessionSecret(undefined, joinDir);
      const readyAt = Date.now() + 5;
      assert.deepEqual(await loadSessionSecret(undefined, joinDir, readyAt), first);
      // A chmod (the README's `chmod -R go=`) is not a new secret.
      await chmod(join(joinDir, SECRET_FILE), 0o600);
      assert.deepEqual(await loadSessionSecret(undefined, joinDir, readyAt), first);
    });

    it('does not make a new secret when the file is gone (deleted to rotate, no reload yet): it refuses to boot, saying to reload', async () => {
      // The audit's repro: the others kept the old secret, the added worker made a new one, and a
      // token passed or failed by which worker a request reached.
      const file = join(joinDir, SECRET_FILE);
      await rm(file);
      await assert.rejects(loadSessionSecret(undefined, joinDir, Date.now()), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CORRAL_ERR_SESSION_SECRET_CHANGED');
        assert.ok(err.message.includes(`${file} is gone`), err.message);
        assert.match(err.message, /reload corral .* to rotate the session secret/);
        return true;
      });
      await assert.rejects(stat(file), { code: 'ENOENT' }, 'no file made');
      // The next generation's first boot makes it.
      assert.equal((await loadSessionSecret(undefined, joinDir)).length, 64);
    });

    it('refuses a file written after the generation was ready (rewritten by hand, or made by a reload rolled back)', async () => {
      const file = join(joinDir, SECRET_FILE);
      const readyAt = Date.now();
      await writeFile(file, `${'n'.repeat(40)}\n`, { mode: 0o600 });
      await utimes(file, new Date(readyAt + 2000), new Date(readyAt + 2000));
      await assert.rejects(loadSessionSecret(undefined, joinDir, readyAt), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CORRAL_ERR_SESSION_SECRET_CHANGED');
        assert.match(err.message, /was written at .*, after its generation's first worker was ready/);
        return true;
      });
      // Written before: the generation's own.
      await utimes(file, new Date(readyAt - 2000), new Date(readyAt - 2000));
      assert.equal((await loadSessionSecret(undefined, joinDir, readyAt)).toString(), 'n'.repeat(40));
    });

    it('uses CORRAL_SESSION_SECRET, which is the generation\'s settings, whatever the file', async () => {
      assert.equal((await loadSessionSecret('c'.repeat(32), join(joinDir, 'nowhere'), Date.now())).toString(), 'c'.repeat(32));
    });
  });

  it('accepts a file of 32 characters, as CORRAL_SESSION_SECRET', async () => {
    const ok = await mkdtemp(join(tmpdir(), 'corral-secret-32-'));
    try {
      await writeFile(join(ok, SECRET_FILE), `${'k'.repeat(32)}\n`, { mode: 0o600 });
      assert.equal((await loadSessionSecret(undefined, ok)).toString(), 'k'.repeat(32));
    } finally {
      await rm(ok, { recursive: true, force: true });
    }
  });
});

describe('login, me and players over HTTP', () => {
  let app: AppHarness;
  before(async () => {
    app = await startApp({ CORRAL_RATE_LIMIT: '0', CORRAL_SESSION_TTL: '60' }, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }));
  });
  after(() => app.close());

  it('logs in with the right code and returns token, expiry and public fields', async () => {
    const res = await postJson(`${app.url}/api/login`, { name: 'alice ', code: 'a-secret-1' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string; expires_at: string; player: Record<string, string> };
    assert.deepEqual(body.player, { name: 'Alice', team: 'red', score: '12' });
    const ttl = Date.parse(body.expires_at) - Date.now();
    assert.ok(ttl > 50_000 && ttl <= 60_000, `expires in ${ttl} ms`);
    const me = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${body.token}` } });
    assert.equal(me.status, 200);
    assert.deepEqual(((await me.json()) as { player: unknown }).player, { name: 'Alice', team: 'red', score: '12' });
  });

  it('answers the same 401 for a wrong code and an unknown name', async () => {
    const wrong = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'b-secret-2' });
    const unknown = await postJson(`${app.url}/api/login`, { name: 'Mallory', code: 'a-secret-1' });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    // Every 401 names the scheme the API takes (RFC 9110), as /api/me's does.
    assert.deepEqual([wrong.headers.get('www-authenticate'), unknown.headers.get('www-authenticate')], ['Bearer', 'Bearer']);
    assert.deepEqual(await wrong.json(), await unknown.json());
  });

  it('refuses /api/me without a token, with a bad one, and with an expired one; a token sent and refused is said so in the challenge (RFC 6750)', async () => {
    const none = await fetch(`${app.url}/api/me`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer', 'no token sent: the scheme alone');
    const bad = await fetch(`${app.url}/api/me`, { headers: { authorization: 'Bearer v1.abc.def' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    const secret = await loadSessionSecret(undefined, app.dataDir);
    const old = createSessions(secret, 60).issue('Alice', Date.now() - 61_000).token;
    const expired = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${old}` } });
    assert.equal(expired.status, 401);
    assert.equal(expired.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    const fresh = createSessions(secret, 60).issue('Alice').token;
    assert.equal((await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${fresh}` } })).status, 200);
  });

  it('refuses two Authorization headers with a 400 saying so, not a 401 about the first token', async () => {
    const secret = await loadSessionSecret(undefined, app.dataDir);
    const old = createSessions(secret, 60).issue('Alice', Date.now() - 61_000).token;
    const fresh = createSessions(secret, 60).issue('Alice').token;
    // Two header lines, as a client library adding a default header before its own sends them
    // (fetch would join them into one line).
    const raw = (lines: string[]) =>
      new Promise<string>((resolve, reject) => {
        const { port } = new URL(app.url);
        const sock = connect(Number(port), '127.0.0.1');
        let text = '';
        sock.on('data', (d: Buffer) => {
          text += d.toString('utf8');
          if (/\r\n\r\n[^]*\}$/.test(text)) sock.destroy();
        });
        sock.on('close', () => resolve(text));
        sock.on('error', reject);
        sock.write(`GET /api/me HTTP/1.1\r\nHost: x\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`);
      });
    const two = await raw([`Authorization: Bearer ${old}`, `authorization: Bearer ${fresh}`]);
    assert.match(two, /^HTTP\/1\.1 400 /);
    assert.match(two, /"error":"bad_request","message":"send one Authorization header, not several/);
    assert.match(await raw([`Authorization: Bearer ${fresh}`]), /^HTTP\/1\.1 200 /);
    // The same two merged into one header by a proxy or a library: no "send a token" 401.
    const merged = await raw([`Authorization: Bearer ${old}, Bearer ${fresh}`]);
    assert.match(merged, /^HTTP\/1\.1 400 /);
    assert.match(merged, /"message":"the Authorization header must be \\"Bearer <token>\\" alone: it holds more after the token/);
    assert.match(await raw([`Authorization: bearer\t${fresh}  `]), /^HTTP\/1\.1 200 /, 'a tab, and blanks after it');
    assert.match(await raw(['Authorization: Basic dXNlcjpwYXNz']), /^HTTP\/1\.1 401 /, 'another scheme: no token sent');
  });

  it('lists players without any private column', async () => {
    const res = await fetch(`${app.url}/api/players`);
    assert.equal(res.status, 200);
    const text = await res.text();
    const body = JSON.parse(text) as { players: Record<string, string>[]; count: number };
    assert.equal(body.count, 3, 'the empty row is not a player');
    for (const p of body.players) for (const col of PRIVATE_COLUMNS) assert.equal(p[col], undefined);
    for (const code of ['a-secret-1', 'b-secret-2', 'c-secret-3']) assert.ok(!text.includes(code), `${code} leaked`);
    assert.deepEqual(body.players[2], { name: 'Chloé', team: 'red', score: '' });
  });
});

describe('a session after its code is changed in the sheet', () => {
  it('a token issued under the old code is refused once the roster shows the new code (a leaked code, changed, ends its sessions)', async () => {
    // README (Security) says tokens stay valid "also after the player's code is changed in the
    // sheet": changing a leaked code leaves the guesser's token working for CORRAL_SESSION_TTL
    // (12 h), and the only way out is a new secret, which logs every player out. The roster is
    // looked up on every request anyway (requireRosterPlayer), so a code fingerprint in the claims
    // would end exactly that player's sessions at the next roster refresh.
    const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    const app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets);
    try {
      const res = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-secret-1' });
      assert.equal(res.status, 200);
      const { token } = (await res.json()) as { token: string };
      const bob = ((await (await postJson(`${app.url}/api/login`, { name: 'Bob', code: 'b-secret-2' })).json()) as { token: string }).token;
      const players = sheets.tabs.get('Players');
      assert.ok(players?.[1]);
      players[1][1] = 'a-new-code-9';
      const me = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.status, 401, 'the old token still works after the code changed');
      assert.equal(me.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      // Said as an expired token is: the holder of a token opened with a leaked code is not told
      // that the leak was noticed.
      assert.deepEqual(await me.json(), { error: 'unauthorized', message: 'the session token is invalid or expired; log in again' });
      const again = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-new-code-9' });
      const fresh = ((await again.json()) as { token: string }).token;
      assert.equal((await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${fresh}` } })).status, 200, 'a login with the new code');
      assert.equal((await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${bob}` } })).status, 200, "another player's session is untouched");
    } finally {
      await app.close();
    }
  });

  it('keeps the session when the code is only written another way (spaces around it, another Unicode form), and ends it when the code is emptied', async () => {
    const sheets = createFakeSheets({ Players: [['name', 'code'], ['Zoé', 'caf\u00e9-7']], Events: SAMPLE_EVENTS });
    const app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets);
    try {
      const res = await postJson(`${app.url}/api/login`, { name: 'Zoé', code: 'caf\u00e9-7' });
      const { token } = (await res.json()) as { token: string };
      const me = async () => (await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status;
      sheets.tabs.set('Players', [['name', 'code'], ['Zoé', ' cafe\u0301-7 ']]);
      assert.equal(await me(), 200, 'the same code as logins compare it');
      sheets.tabs.set('Players', [['name', 'code'], ['Zoé', '']]);
      assert.equal(await me(), 401, 'no code: no session');
    } finally {
      await app.close();
    }
  });

  it('keeps the sessions while the roster has lost its code column (503, as for the name column), and takes them again once it is back', async () => {
    const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    const app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets);
    try {
      const res = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-secret-1' });
      const { token } = (await res.json()) as { token: string };
      const me = () => fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      sheets.tabs.set('Players', [['name', 'Code secret'], ['Alice', 'a-secret-1']]);
      const broken = await me();
      assert.equal(broken.status, 503);
      assert.match(((await broken.json()) as { message: string }).message, /no code column, which the server's operator must fix; the session is kept/);
      sheets.tabs.set('Players', [['name', 'code'], ['Alice', 'a-secret-1']]);
      assert.equal((await me()).status, 200);
    } finally {
      await app.close();
    }
  });

  it('takes a token issued before codes were fingerprinted until it expires (upgrading logs no one out)', async () => {
    const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    const app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets);
    try {
      const secret = await loadSessionSecret(undefined, app.dataDir);
      const earlier = createSessions(secret, 60).issue('Alice').token;
      assert.equal(JSON.parse(Buffer.from(earlier.split('.')[1] ?? '', 'base64url').toString('utf8')).cfp, undefined);
      assert.equal((await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${earlier}` } })).status, 200);
    } finally {
      await app.close();
    }
  });
});

describe('the code fingerprint in the claims', () => {
  const secret = 's'.repeat(40);
  const sessions = createSessions(secret, 60);
  const digest = createHash('sha256').update('P123').digest();

  it('is an HMAC under the secret: neither the code nor a hash of it anyone can test a guess against', () => {
    const { token, claims } = sessions.issue('Alice', Date.now(), digest);
    const payload = Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8');
    assert.equal(typeof claims.cfp, 'string');
    assert.equal(claims.cfp?.length, 16);
    assert.doesNotMatch(payload, /P123/);
    for (const plain of [digest, createHash('sha256').update(digest).digest()]) {
      for (const enc of ['hex', 'base64url', 'base64'] as const) assert.ok(!payload.includes(plain.toString(enc).slice(0, 12)), `no ${enc} of a plain hash`);
    }
    // Another secret makes another fingerprint of the same code.
    assert.notEqual(createSessions('t'.repeat(40), 60).issue('Alice', Date.now(), digest).claims.cfp, claims.cfp);
    assert.deepEqual(sessions.verify(token), claims);
  });

  it('holds a token to the code it was issued for; one without a fingerprint to none', () => {
    const { claims } = sessions.issue('Alice', Date.now(), digest);
    assert.equal(sessions.holdsCode(claims, createHash('sha256').update('P123').digest()), true, 'the same code, another digest object');
    assert.equal(sessions.holdsCode(claims, createHash('sha256').update('P124').digest()), false);
    assert.equal(sessions.holdsCode(claims, undefined), false);
    const earlier = sessions.issue('Alice').claims;
    assert.equal(sessions.holdsCode(earlier, createHash('sha256').update('P124').digest()), true);
  });

  it('refuses a signed token whose fingerprint is not one issue() writes', () => {
    const signed = (claims: object) => {
      const data = `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
    };
    const now = Math.floor(Date.now() / 1000);
    for (const cfp of [null, 7, '', 'short', 'x'.repeat(17)]) assert.equal(sessions.verify(signed({ sub: 'Alice', iat: now, exp: now + 60, cfp })), undefined, String(cfp));
  });
});

describe('a token as the proof of an earlier login (verifyIssued)', () => {
  const secret = 's'.repeat(40);
  const sessions = createSessions(secret, 60);
  const digest = createHash('sha256').update('P123').digest();
  const DAY = 86_400;

  it('takes a token this secret signed for a code, expired or not, within the age given; verify still refuses the expired one', () => {
    const issuedAt = Date.UTC(2025, 0, 1);
    const { token, claims } = sessions.issue('Alice', issuedAt, digest);
    for (const later of [0, 61, 29 * DAY, 30 * DAY]) assert.deepEqual(sessions.verifyIssued(token, 30 * DAY, issuedAt + later * 1000), claims, `${later} s later`);
    assert.equal(sessions.verify(token, issuedAt + 61_000), undefined, 'no session once expired');
    assert.equal(sessions.verifyIssued(token, 30 * DAY, issuedAt + (30 * DAY + 1) * 1000), undefined, 'older than the age given');
    assert.equal(sessions.verifyIssued(token, 30 * DAY, issuedAt - 3600_000), undefined, 'issued ahead of the clock beyond the slack');
  });

  it('refuses a token without a fingerprint, another secret\'s, a tampered one, and claims not in the shape issue() writes', () => {
    const now = Date.now();
    assert.equal(sessions.verifyIssued(sessions.issue('Alice', now).token, 30 * DAY, now), undefined, 'no fingerprint');
    const { token } = sessions.issue('Alice', now, digest);
    assert.equal(createSessions('t'.repeat(40), 60).verifyIssued(token, 30 * DAY, now), undefined);
    assert.equal(sessions.verifyIssued(`${token}=`, 30 * DAY, now), undefined);
    assert.equal(sessions.verifyIssued('garbage', 30 * DAY, now), undefined);
    const signed = (claims: object) => {
      const data = `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
    };
    const iat = Math.floor(now / 1000);
    for (const claims of [{ sub: 7, iat, exp: iat + 60, cfp: 'x'.repeat(16) }, { sub: 'Alice', iat, exp: 1e300, cfp: 'x'.repeat(16) }, { sub: 'Alice', iat, exp: iat + 60, cfp: 'short' }]) {
      assert.equal(sessions.verifyIssued(signed(claims), 30 * DAY, now), undefined, JSON.stringify(claims));
    }
  });
});
