// The failed-login limit per name on two corral hosts of one sheet (two real masters running the
// bundled app, one emulator standing in for Google, one real redis-server: REDIS_URL): wrong codes
// for one player spread over both hosts lock the name on both once CORRAL_LOGIN_FAILURES_PER_NAME
// of them were made in all; with Redis killed each host counts alone again, and says so.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameHash } from '../../src/app/login-limit.js';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import type { ServiceAccountKey } from '../../src/sheets/google/credentials.js';
import type { CorralProcess } from '../helpers/corral.js';
import { startSheetHost } from '../helpers/sheets-load.js';
import { http, type Reply } from '../helpers/http.js';
import { redisMissing, redisPerSuite, type RedisServer } from '../helpers/redis-server.js';

const FAILURES = 4;

function startHost(emu: Emulator, key: ServiceAccountKey, redis: RedisServer): Promise<CorralProcess> {
  return startSheetHost(emu, key, redis.url, {
    env: {
      // The same secret on both hosts, as the README asks of several hosts.
      CORRAL_SESSION_SECRET: 'a-session-secret-shared-by-both-hosts-0123456789',
      CORRAL_LOGIN_FAILURES_PER_NAME: String(FAILURES),
      // The per-IP limit stays per host and is not what is tested here.
      CORRAL_RATE_LIMIT: '0',
      // Logins on new connections reach both workers in turn (each worker asks its keeper).
      CORRAL_ACCEPT: 'round-robin',
    },
  });
}

function login(host: CorralProcess, name: string, code: string): Promise<Reply> {
  return http(`${host.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ name, code }) });
}

async function startHosts(redis: RedisServer): Promise<{ emu: Emulator; hosts: [CorralProcess, CorralProcess]; stop(): Promise<void> }> {
  const emu = await startEmulator({});
  const key = emu.registerServiceAccount();
  const started = await Promise.allSettled([startHost(emu, key, redis), startHost(emu, key, redis)]);
  const hosts = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await emu.close();
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
  return { emu, hosts: hosts as [CorralProcess, CorralProcess], stop };
}

describe('failed logins per name on two hosts sharing one sheet through Redis', { skip: redisMissing }, () => {
  const server = redisPerSuite();

  it(`wrong codes alternating between the hosts lock the name on both after ${FAILURES} in all; logged once, shared`, async () => {
    const { hosts, stop } = await startHosts(server());
    const [a, b] = hosts;
    try {
      const wrong: number[] = [];
      for (let i = 0; i < FAILURES; i++) wrong.push((await login(i % 2 === 0 ? a : b, 'Alice Martin', `P00${i}x`)).status);
      assert.deepEqual(wrong, Array(FAILURES).fill(401));
      // Each host saw two failures: alone it would let the correct code in.
      for (const h of hosts) {
        const locked = await login(h, 'Alice Martin', 'P001');
        assert.equal(locked.status, 429, locked.text);
        assert.equal(locked.json<{ error: string }>().error, 'login_locked');
        const retry = Number(locked.headers['retry-after']);
        assert.ok(retry > 800 && retry <= 900, `Retry-After ${retry}`);
      }
      const other = await login(a, 'Emma Laurent', 'P005');
      assert.equal(other.status, 200, other.text);

      // Said once, by the host whose failure reached the limit of both together (b: the 4th).
      const line = await b.waitForLog((l) => l.event === 'login.locked', 10_000, 'login.locked on the host of the last failure');
      assert.equal(line.name_hash, nameHash('Alice Martin'));
      assert.equal(line.shared, true);
      assert.equal(line.failures, FAILURES);
      assert.equal(line.level, 'warn');
      assert.deepEqual(a.events('login.locked'), [], 'not logged again by the other host');
      assert.deepEqual([...a.events('login_limit.shared_unavailable'), ...b.events('login_limit.shared_unavailable')], []);
    } finally {
      await stop();
    }
  });

  it('with Redis killed each host counts alone again, says so, and shares again once Redis is back', async () => {
    const redis = server();
    const { hosts, stop } = await startHosts(redis);
    const [a, b] = hosts;
    try {
      await redis.kill();
      const wrong: number[] = [];
      for (let i = 0; i < FAILURES; i++) wrong.push((await login(i % 2 === 0 ? a : b, 'Chloé Dubois', `P00${i}x`)).status);
      assert.deepEqual(wrong, Array(FAILURES).fill(401));
      // Two failures on each host: under the limit on both.
      for (const h of hosts) assert.equal((await login(h, 'Chloé Dubois', 'P003')).status, 200);
      // Two more on a: a alone has had four.
      for (let i = 0; i < 2; i++) assert.equal((await login(a, 'Chloé Dubois', `P01${i}x`)).status, 401);
      assert.equal((await login(a, 'Chloé Dubois', 'P003')).status, 429);
      assert.equal((await login(b, 'Chloé Dubois', 'P003')).status, 200);
      const local = await a.waitForLog((l) => l.event === 'login.locked', 10_000, 'login.locked on a');
      assert.equal(local.shared, undefined, "locked by a's own count");
      for (const h of hosts) {
        const down = await h.waitForLog((l) => l.event === 'login_limit.shared_unavailable', 10_000, 'login_limit.shared_unavailable');
        assert.equal(down.level, 'warn');
        assert.equal(down.code, 'CORRAL_ERR_REDIS');
      }

      await redis.restart();
      await a.waitForLog((l) => l.event === 'redis.recovered', 15_000, 'redis.recovered');
      // A worker that said the outage says its end at its next login (the two workers take turns).
      for (let i = 0; i < 4; i++) assert.equal((await login(a, 'David Moreau', 'P004')).status, 200);
      const up = await a.waitForLog((l) => l.event === 'login_limit.shared_recovered', 10_000, 'login_limit.shared_recovered');
      assert.equal(up.level, 'info');
      assert.ok(Number(up.logins) >= 1);
      // Counted in Redis again.
      assert.equal((await login(a, 'David Moreau', 'wrong')).status, 401);
      const key = redis.cli('KEYS', `*:login:${nameHash('David Moreau')}`).trim();
      assert.equal(redis.cli('GET', key).trim(), '1');
    } finally {
      await stop();
    }
  });
});
