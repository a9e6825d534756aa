// Two corral hosts of one sheet (two real masters, each with its own data dir, workers and
// keeper), one emulator standing in for Google, and one real redis-server between them
// (REDIS_URL): a range one host read is served by the other without a call to Google; a cold
// range read on both hosts at once is fetched once; the hosts together stay under the project's
// per-minute quota; with Redis killed both go on serving, alone, and say so. And one host whose
// Redis speaks TLS (rediss://, its CA in REDIS_TLS_CA_FILE).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import type { ServiceAccountKey } from '../../src/sheets/google/credentials.js';
import { waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { redisMissing, redisPerSuite, redisTlsMissing, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { keeperFigures, startSheetHost, type ReadAnswer } from '../helpers/sheets-load.js';

const readCalls = (emu: Emulator) => emu.counters().calls['values.get'] + emu.counters().calls['values.batchGet'];

/**
 * Until `range`'s copy is in Redis (a host writes it there after its answer). Bounded, and paced:
 * a bare loop ran redis-cli every 10 ms, a process a time taking CPU from the hosts it waited on,
 * and waited for good (until the runner's 15 min) had the copy never come.
 */
function inRedis(redis: RedisServer, range: string): Promise<true> {
  return waitFor(() => redis.cli('KEYS', `*:range:${range}`).includes(range) || undefined, 15_000, `the copy of ${range} in Redis`);
}

function startHost(emu: Emulator, key: ServiceAccountKey, redis: RedisServer, env: Record<string, string> = {}): Promise<CorralProcess> {
  return startSheetHost(emu, key, redis.url, { app: 'sheets-app.mjs', env });
}

async function read(c: CorralProcess, range: string): Promise<ReadAnswer> {
  const r = await http(`${c.url}/read?range=${encodeURIComponent(range)}`, { headers: { connection: 'close' } });
  assert.equal(r.status, 200, r.text);
  return r.json<ReadAnswer>();
}

describe('two hosts sharing one sheet through Redis', { skip: redisMissing }, () => {
  const server = redisPerSuite();

  it('a range one host read is served by the other without reading Google; a cold range read on both at once is fetched once', async () => {
    const redis = server();
    const emu = await startEmulator({ faults: { latencyMs: 300 } });
    const key = emu.registerServiceAccount();
    const hosts = await Promise.all([startHost(emu, key, redis, { SHEET_CACHE_TTL: '120' }), startHost(emu, key, redis, { SHEET_CACHE_TTL: '120' })]);
    const [a, b] = hosts as [CorralProcess, CorralProcess];
    try {
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      const fromA = await read(a, 'Players');
      const calls = readCalls(emu);
      await inRedis(redis, 'Players');
      const fromB = await read(b, 'Players');
      assert.deepEqual(fromB.values, fromA.values);
      assert.equal(readCalls(emu), calls, 'B read nothing from Google');
      assert.ok(((await keeperFigures(b)).sharedReads ?? 0) >= 1, "B's keeper counts the range it took from Redis");
      // A worker moves its keeper's times onto its own clock by the two clocks' difference as read
      // when the answer was sent and taken, which counts the answer's time in transit: one time
      // reads apart on two hosts, by a few ms on a quiet box, by 200 ms on a loaded one (a CI run),
      // more in a stall of a few seconds. The call count above is what rules out a copy of B's own.
      assert.ok(Math.abs(fromB.fetchedAt - fromA.fetchedAt) < 3000, `B answers A's copy (${fromB.fetchedAt - fromA.fetchedAt} ms apart)`);

      // Events, cold on both: 40 readers on each host at once.
      const before = readCalls(emu);
      const answers = await Promise.all([...Array.from({ length: 40 }, () => read(a, 'Events')), ...Array.from({ length: 40 }, () => read(b, 'Events'))]);
      assert.equal(readCalls(emu) - before, 1, 'one fetch of Events for both hosts');
      // The one fetch is the point; the times differ by each answer's transit, as above, and forty
      // answers taken in turn by each worker under load add theirs up.
      const times = answers.map((x) => x.fetchedAt);
      assert.ok(Math.max(...times) - Math.min(...times) < 3000, `every reader got the one copy (its time as each host reads it, ${Math.max(...times) - Math.min(...times)} ms apart)`);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
      await emu.close();
    }
  });

  it("the hosts together stay under the project's per-minute quota: no 429 from Google", async () => {
    // A project quota of 8 reads a minute, and each host allowed all 8: alone, two hosts
    // refreshing three ranges every second would spend 16 and draw 429s.
    const redis = server();
    const emu = await startEmulator({ faults: { latencyMs: 20, readsPerMinute: 8, readsPerMinutePerUser: 8 } });
    const key = emu.registerServiceAccount();
    const env = { SHEET_CACHE_TTL: '1', SHEETS_READS_PER_MINUTE: '8' };
    const hosts = await Promise.all([startHost(emu, key, redis, env), startHost(emu, key, redis, env)]);
    try {
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      const end = Date.now() + 8000;
      let answered = 0;
      const reader = async (h: CorralProcess, range: string) => {
        while (Date.now() < end) {
          await read(h, range);
          answered++;
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await Promise.all(hosts.flatMap((h) => ['Players', 'Events', 'Players!A1:B2'].map((range) => reader(h, range))));
      const counters = emu.counters();
      assert.equal(counters.quotaRejections, 0, `Google refused ${counters.quotaRejections} calls`);
      assert.ok(readCalls(emu) <= 8, `${readCalls(emu)} reads reached Google in 8 s`);
      assert.ok(readCalls(emu) >= 3, 'each range was fetched');
      // Every read was answered (read() asserts its 200) with at most 8 calls to Google: most of
      // them stale past the quota. A count of answers in a fixed 8 s says how fast the box was:
      // over 100 on a quiet one, fewer when each new connection's read takes a few hundred ms.
      assert.ok(answered > 30, `${answered} reads answered (stale past the quota)`);
      const [fa, fb] = await Promise.all(hosts.map((h) => keeperFigures(h)));
      assert.equal((fa?.sharedQuotaGrants ?? 0) + (fb?.sharedQuotaGrants ?? 0), readCalls(emu), 'every call was granted by the shared window');
      assert.equal((fa?.aloneQuotaGrants ?? 0) + (fb?.aloneQuotaGrants ?? 0), 0);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
      await emu.close();
    }
  });

  it("a read with no copy on a host whose own bucket has tokens, while the hosts spent the shared window: answered 503 at once, Retry-After the window's wait, not held for it", async () => {
    const redis = server();
    const emu = await startEmulator({ faults: { latencyMs: 20 } });
    const key = emu.registerServiceAccount();
    // The keeper's answer is waited for 8 s: a read held for the window would take that long.
    const env = { SHEETS_READS_PER_MINUTE: '3', SHEETS_TIMEOUT: '3', SHEET_CACHE_TTL: '120' };
    const hosts = await Promise.all([startHost(emu, key, redis, env), startHost(emu, key, redis, env)]);
    const [a, b] = hosts as [CorralProcess, CorralProcess];
    try {
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      // A spends the shared window on three ranges; B has made no call (its own bucket is full).
      for (const range of ['Players!A1:A2', 'Players!A1:B2', 'Players!A1:C2']) await read(a, range);
      assert.equal(readCalls(emu), 3, 'the window spent by A');
      // B's first read with no copy: its keeper has heard the window is full (its presence, every
      // 5 s, or this read's own ask), so the answer comes at once, or after the one ask at most.
      const started = Date.now();
      const r = await http(`${b.url}/read?range=${encodeURIComponent('Events!A1:B2')}`, { headers: { connection: 'close' }, timeoutMs: 30_000 });
      const ms = Date.now() - started;
      assert.equal(r.status, 503, r.text);
      const body = r.json<{ code: string; retryAfterMs: number }>();
      assert.equal(body.code, 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
      assert.ok(body.retryAfterMs > 1000 && body.retryAfterMs <= 61_000, `Retry-After the window's wait (${body.retryAfterMs} ms)`);
      // Held for the window, it answered after the keeper wait (8 s); at once, in well under it.
      assert.ok(ms < 4000, `answered in ${ms} ms, not held for the window`);
      await b.waitForLog((l) => l.event === 'sheets.read_quota_wait', 5000, 'sheets.read_quota_wait');
      assert.equal(readCalls(emu), 3, 'no call over the window');
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
      await emu.close();
    }
  });

  it('with Redis killed, both hosts go on serving (each reading Google itself), say so, and share again once it is back', async () => {
    const redis = server();
    const emu = await startEmulator({ faults: { latencyMs: 50 } });
    const key = emu.registerServiceAccount();
    const hosts = await Promise.all([startHost(emu, key, redis), startHost(emu, key, redis)]);
    const [a, b] = hosts as [CorralProcess, CorralProcess];
    try {
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      await redis.kill();
      const before = readCalls(emu);
      assert.equal((await read(a, 'Players')).values[0]?.[0], 'name');
      assert.equal((await read(b, 'Players')).values[0]?.[0], 'name');
      assert.equal(readCalls(emu) - before, 2, 'each host read Google itself');
      for (const h of hosts) {
        const down = await h.waitForLog((l) => l.event === 'redis.unavailable', 10_000, 'redis.unavailable');
        assert.equal(down.code, 'CORRAL_ERR_REDIS');
        assert.equal(down.level, 'warn');
      }
      await redis.restart();
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.recovered', 15_000, 'redis.recovered');
      await read(a, 'Events');
      const calls = readCalls(emu);
      // A writes its copy into Redis after its answer.
      await inRedis(redis, 'Events');
      await read(b, 'Events');
      assert.equal(readCalls(emu), calls, 'shared again: B took the copy A fetched');
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
      await emu.close();
    }
  });
});

describe('a host sharing through Redis over TLS (rediss://)', { skip: redisTlsMissing }, () => {
  it("connects with REDIS_TLS_CA_FILE and shares what it read; without it, says to set it and serves alone", async () => {
    const redis = await startRedis({ tls: true });
    const emu = await startEmulator({ faults: { latencyMs: 20 } });
    const key = emu.registerServiceAccount();
    const url = `rediss://127.0.0.1:${redis.tls?.port ?? 0}`;
    const trusting = await startSheetHost(emu, key, url, { app: 'sheets-app.mjs', env: { REDIS_TLS_CA_FILE: redis.tls?.caFile ?? '' } });
    const untrusting = await startSheetHost(emu, key, url, { app: 'sheets-app.mjs' });
    try {
      await trusting.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      await read(trusting, 'Players');
      await inRedis(redis, 'Players');

      const down = await untrusting.waitForLog((l) => l.event === 'redis.unavailable', 10_000, 'redis.unavailable');
      assert.match(String(down.msg), /not signed by a CA this host trusts: set REDIS_TLS_CA_FILE/);
      const before = readCalls(emu);
      assert.equal((await read(untrusting, 'Players')).values[0]?.[0], 'name');
      assert.equal(readCalls(emu) - before, 1, 'it read Google itself');
    } finally {
      await Promise.all([trusting.stop(), untrusting.stop()]);
      await emu.close();
      await redis.stop();
    }
  });
});
