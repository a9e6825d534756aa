// Two corral hosts of one sheet through a real redis-server that runs out of memory (maxmemory
// with noeviction): it refuses every write, and still answers PING and GET. Taken for an outage
// that any answer ended, each keeper said redis.unavailable then redis.recovered a second later,
// every minute, and its corral_sheets_redis_connected flipped 0 and 1, while every call to Google
// was made alone. Now it is one refusal, said once with its fix; the hosts act alone, not
// connected throughout, until Redis takes writes again, and then share again within seconds.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import type { CorralProcess } from '../helpers/corral.js';
import { waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { redisMissing, startRedis } from '../helpers/redis-server.js';
import { startSheetHost } from '../helpers/sheets-load.js';

const ADMIN_TOKEN = 'write-refused-admin-token-1234';
const RANGES = ['Players', 'Events', 'Players!A1:B2'];
/** How long the hosts are watched while memory is full: past a pause after a failure (5 s) and its probes. */
const WATCH_MS = 9000;

/** What the stats say Redis refuses the host's keeper (null: nothing). */
async function refused(h: CorralProcess): Promise<string | null> {
  return (await http(`${h.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json<{ sheets: { redis_refused: string | null } }>().sheets.redis_refused;
}

async function connected(h: CorralProcess): Promise<string> {
  const metrics = (await http(`${h.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text;
  return /^corral_sheets_redis_connected (\d)/m.exec(metrics)?.[1] ?? '?';
}

describe('two hosts sharing through a Redis that refuses writes', { skip: redisMissing }, () => {
  it('memory full: one redis.misconfigured (writes) with the fix, not connected throughout, no unavailable/recovered in turn; shared again once it takes writes', async () => {
    const redis = await startRedis();
    const emu = await startEmulator({ faults: { latencyMs: 20 } });
    const key = emu.registerServiceAccount();
    const env = { CORRAL_ADMIN_TOKEN: ADMIN_TOKEN, SHEET_CACHE_TTL: '1', SHEETS_READS_PER_MINUTE: '120' };
    let stopped = false;
    const reading: Promise<void>[] = [];
    const hosts: CorralProcess[] = [];
    try {
      hosts.push(...(await Promise.all([0, 1].map(() => startSheetHost(emu, key, redis.url, { app: 'sheets-app.mjs', env })))));
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      const failures: string[] = [];
      for (const h of hosts) {
        for (const range of RANGES) {
          reading.push(
            (async () => {
              while (!stopped) {
                const r = await http(`${h.url}/read?range=${encodeURIComponent(range)}`, { headers: { connection: 'close' } });
                if (r.status !== 200) failures.push(`read ${range}: ${r.status} ${r.text}`);
                await new Promise((res) => setTimeout(res, 100));
              }
            })(),
          );
        }
      }
      for (const h of hosts) await waitFor(async () => (await connected(h)) === '1', 5000, 'sharing');

      redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      redis.cli('CONFIG', 'SET', 'maxmemory', '1');
      for (const h of hosts) await h.waitForLog((l) => l.event === 'redis.misconfigured', 10_000, 'redis.misconfigured');
      // The figures are the keeper's as of its last heartbeat: a second behind the log at most.
      for (const h of hosts) await waitFor(async () => (await connected(h)) === '0', 5000, 'not connected');
      // Said as a refusal of writes (corral status: "Redis refuses writes"), not as Redis down.
      for (const h of hosts) assert.equal(await refused(h), 'writes');
      // Watched: no host says connected at any sample (the PING probe a second after each failed
      // call, or a GET of a cached range, used to end it).
      const samples: string[] = [];
      const until = Date.now() + WATCH_MS;
      while (Date.now() < until) {
        samples.push((await Promise.all(hosts.map(connected))).join(''));
        await new Promise((res) => setTimeout(res, 250));
      }
      assert.ok(
        samples.every((s) => s === '00'),
        `corral_sheets_redis_connected per host, every 250 ms while memory was full: ${samples.join(' ')}`,
      );
      for (const [i, h] of hosts.entries()) {
        const said = h.logs().filter((l) => typeof l.event === 'string' && l.event.startsWith('redis.'));
        assert.deepEqual(
          said.map((l) => l.event),
          ['redis.connected', 'redis.misconfigured'],
          `host ${i}: one line for it, neither unavailable nor recovered`,
        );
        assert.equal(said[1]?.code, 'CORRAL_ERR_REDIS_REFUSED');
        assert.equal(said[1]?.refused, 'writes');
        assert.match(String(said[1]?.fix), /raise maxmemory/);
      }

      redis.cli('CONFIG', 'SET', 'maxmemory', '0');
      for (const h of hosts) await waitFor(async () => (await connected(h)) === '1', 5000, 'sharing again once Redis takes writes');
      for (const h of hosts) assert.equal(h.events('redis.recovered').length, 1);
      for (const h of hosts) await waitFor(async () => (await refused(h)) === null, 5000, 'nothing refused any more');
      assert.deepEqual(failures, [], 'every read answered meanwhile');
    } finally {
      stopped = true;
      await Promise.all(reading);
      await Promise.all(hosts.map((h) => h.stop()));
      await emu.close();
      await redis.stop();
    }
  });
});
