// The bundled app on the real master: login success and failure, token expiry, tokens valid on
// every worker, and a roster that never leaks codes.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SECRET_FILE } from '../../src/app/secret.js';
import { createSessions } from '../../src/app/session.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { prepareWorkDir, sampleCodes } from '../fixtures/offline-sheet.js';

describe('bundled app: sessions and roster on the real master', () => {
  let c: CorralProcess;
  let dir: string;
  const codes = sampleCodes();
  const login = (name: string, code: string) =>
    http(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ name, code }) });

  before(async () => {
    dir = prepareWorkDir();
    // Round-robin: connections of their own reach every worker, each checking the token itself.
    c = await startCorral({ cwd: dir, workers: 3, app: undefined, env: { CORRAL_ACCEPT: 'round-robin', CORRAL_RATE_LIMIT: '0', CORRAL_SESSION_TTL: '3600' } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with the right code and refuses a wrong one the same way as an unknown name', async () => {
    const ok = await login('Alice Martin', codes.get('Alice Martin') ?? '');
    assert.equal(ok.status, 200, ok.text);
    const body = ok.json<{ token: string; expires_at: string; player: Record<string, string> }>();
    assert.equal(body.player.name, 'Alice Martin');
    assert.equal(body.player.code, undefined);
    const ttl = Date.parse(body.expires_at) - Date.now();
    assert.ok(ttl > 3500_000 && ttl <= 3600_000, `ttl ${ttl}`);
    const wrong = await login('Alice Martin', 'P999');
    const unknown = await login('Nobody Here', codes.get('Alice Martin') ?? '');
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.text, unknown.text);
  });

  it('accepts a token on every worker (stateless, one secret per host) and refuses an expired one', async () => {
    const { token } = (await login('Bruno Leroy', codes.get('Bruno Leroy') ?? '')).json<{ token: string }>();
    // New connection per request: the master spreads connections over the 3 workers.
    for (let i = 0; i < 9; i++) {
      const me = await http(`${c.url}/api/me`, { headers: { authorization: `Bearer ${token}`, connection: 'close' } });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json<{ player: { name: string } }>().player.name, 'Bruno Leroy');
    }
    const secret = readFileSync(join(c.dataDir, SECRET_FILE), 'utf8').trim();
    const sessions = createSessions(secret, 60);
    const expired = sessions.issue('Bruno Leroy', Date.now() - 61_000).token;
    const r = await http(`${c.url}/api/me`, { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(r.status, 401);
    assert.equal(r.json<{ error: string }>().error, 'unauthorized');
    // Expiry has one-second granularity: 50 s into a 60 s life leaves a margin no slow runner eats.
    const valid = sessions.issue('Bruno Leroy', Date.now() - 50_000).token;
    assert.equal((await http(`${c.url}/api/me`, { headers: { authorization: `Bearer ${valid}` } })).status, 200);
  });

  it('lists every player and never a code', async () => {
    const r = await http(`${c.url}/api/players`);
    assert.equal(r.status, 200);
    const body = r.json<{ players: Record<string, string>[]; count: number }>();
    assert.equal(body.count, codes.size);
    for (const p of body.players) assert.deepEqual(Object.keys(p).sort(), ['joined', 'name', 'role', 'team']);
    for (const code of codes.values()) assert.ok(!r.text.includes(code), `code ${code} leaked`);
  });

  it('answers the load-balancer health check on the public port from a serving worker', async () => {
    const seen = new Set<number>();
    await waitFor(async () => {
      const h = await http(`${c.url}/api/admin/health`, { headers: { connection: 'close' } });
      assert.equal(h.status, 200);
      seen.add(h.json<{ worker: number }>().worker);
      return seen.size === 3;
    }, 10_000, 'health from all 3 workers');
  });
});

describe('bundled app: one session secret for every worker of a running corral', () => {
  const TOKEN = 'admin-token-for-the-secret-test-0123456789';
  const auth = { authorization: `Bearer ${TOKEN}` };
  let c: CorralProcess;
  let dir: string;
  const codes = sampleCodes();
  const tokenOf = async (name: string): Promise<string> => {
    const r = await http(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ name, code: codes.get(name) ?? '' }) });
    assert.equal(r.status, 200, r.text);
    return r.json<{ token: string }>().token;
  };
  /** /api/me's status for `token` on `n` new connections, which round-robin spreads over the workers. */
  const meStatuses = async (token: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await http(`${c.url}/api/me`, { headers: { authorization: `Bearer ${token}`, connection: 'close' } })).status);
    return out;
  };

  before(async () => {
    dir = prepareWorkDir();
    c = await startCorral({ cwd: dir, workers: 2, app: undefined, env: { CORRAL_ACCEPT: 'round-robin', CORRAL_RATE_LIMIT: '0', CORRAL_ADMIN_TOKEN: TOKEN } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker added after the secret file was deleted does not make its own (it refuses to boot, saying to reload); the reload makes the new one for all', async () => {
    const file = join(c.dataDir, SECRET_FILE);
    const before = await tokenOf('Alice Martin');
    // The audit's repro: deleted to rotate, no reload yet, and a worker added meanwhile.
    rmSync(file);
    const add = await http(`${c.adminUrl}/api/admin/workers`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"delta":1}' });
    assert.equal(add.status, 202, add.text);
    const failed = await c.waitForLog((l) => l.event === 'worker.boot_failed', 20_000, 'worker.boot_failed');
    const bootError = failed.boot_error as { code?: string; message?: string };
    assert.equal(bootError.code, 'CORRAL_ERR_SESSION_SECRET_CHANGED');
    assert.match(String(bootError.message), /session-secret is gone.*reload corral/);
    assert.ok(!existsSync(file), 'no worker made a secret of its own');
    // Every token issued now passes on every serving worker, as the one issued before does.
    const tokens = [before, ...(await Promise.all(['Bruno Leroy', 'Alice Martin', 'Bruno Leroy'].map(tokenOf)))];
    for (const t of tokens) assert.deepEqual(await meStatuses(t, 6), [200, 200, 200, 200, 200, 200]);

    // The reload the operator meant: its workers make the new secret, and all of them use it.
    const reload = await http(`${c.adminUrl}/api/admin/reload`, { method: 'POST', headers: auth });
    assert.equal(reload.status, 202, reload.text);
    const generation = reload.json<{ generation: number }>().generation;
    await c.waitForLog((l) => l.event === 'reload.done' && l.generation === generation, 30_000, 'reload.done');
    assert.equal(readFileSync(file, 'utf8').trim().length, 64, 'a new secret was made');
    const after = await tokenOf('Bruno Leroy');
    assert.deepEqual(await meStatuses(after, 6), [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(await meStatuses(before, 4), [401, 401, 401, 401], 'the old sessions ended (rotation)');
  });
});
