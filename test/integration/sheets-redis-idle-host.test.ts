// Three corral hosts of one sheet through a real redis-server; the first to connect makes no call
// to Google while the two others spend the whole read limit. Redis is then killed, and the idle
// host starts reading. It knows the others and their calls only from its presence in Redis: said
// every 30 s, it went alone on what it heard when it connected (one keeper, an empty window) and
// spent the whole limit on top of theirs (585 reads in a minute of 300 in the audit). Said every
// few seconds, it counts the three keepers and the window the others filled, and the hosts
// together stay within the limit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import type { CorralProcess } from '../helpers/corral.js';
import { mostInAnyMinute } from '../helpers/calls-in-a-minute.js';
import { waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { redisMissing, startRedis } from '../helpers/redis-server.js';
import { startSheetHost } from '../helpers/sheets-load.js';

/** The project's read limit, as every host is told it (SHEETS_READS_PER_MINUTE). */
const LIMIT = 30;
/** More ranges than the limit lets the busy hosts read in the test: they spend it all. */
const RANGES = Array.from({ length: 24 }, (_, i) => `Players!A1:B${i + 2}`);

const readCalls = (emu: Emulator) => emu.counters().calls['values.get'] + emu.counters().calls['values.batchGet'];
const ADMIN_TOKEN = 'idle-host-admin-token-1234';

async function metric(h: CorralProcess, name: string): Promise<string> {
  const metrics = (await http(`${h.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text;
  return new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? '?';
}

describe('an idle host going alone when Redis dies', { skip: redisMissing }, () => {
  it('counts the keepers that connected after it and the calls the others made: the hosts together stay within the limit', async () => {
    const redis = await startRedis();
    const emu = await startEmulator({ faults: { latencyMs: 20 } });
    const key = emu.registerServiceAccount();
    const env = { CORRAL_ADMIN_TOKEN: ADMIN_TOKEN, SHEET_CACHE_TTL: '1', SHEETS_READS_PER_MINUTE: String(LIMIT) };
    const hosts: CorralProcess[] = [];
    let stopped = false;
    const reading: Promise<void>[] = [];
    const reader = async (h: CorralProcess, range: string) => {
      while (!stopped) {
        // Short: a read the quota holds back is abandoned, not waited for; only Google's calls count here.
        await http(`${h.url}/read?range=${encodeURIComponent(range)}`, { headers: { connection: 'close' }, timeoutMs: 2000 }).catch(() => undefined);
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    try {
      // At debug, the idle host says what each answer to its presence (every 5 s) told it.
      const idle = await startSheetHost(emu, key, redis.url, { app: 'sheets-app.mjs', env: { ...env, CORRAL_LOG_LEVEL: 'debug' } });
      hosts.push(idle);
      await idle.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      const busy = await Promise.all([0, 1].map(() => startSheetHost(emu, key, redis.url, { app: 'sheets-app.mjs', env })));
      hosts.push(...busy);
      for (const h of busy) await h.waitForLog((l) => l.event === 'redis.connected', 10_000, 'redis.connected');
      for (const h of busy) for (const range of RANGES) reading.push(reader(h, range));
      // The busy hosts spend the limit between them through the shared window, and the idle host
      // hears of it at a presence of its own (every 5 s): the three keepers and the window full.
      await waitFor(() => readCalls(emu) >= LIMIT, 15_000, `${LIMIT} read calls`);
      await idle.waitForLog(
        (l) => l.event === 'quota.presence' && Number(l.keepers) >= 3 && Number(l.reads) >= LIMIT,
        30_000,
        `the idle host hearing of the 3 keepers and ${LIMIT} reads in the window`,
      );
      assert.equal(await metric(idle, 'corral_sheets_upstream_calls_total'), '0', 'the idle host has made no call');

      await redis.kill();
      for (const range of RANGES) reading.push(reader(idle, range));
      await waitFor(async () => (await metric(idle, 'corral_sheets_redis_connected')) === '0', 5000, 'the idle host acting alone');
      // It reads for a while: each of its 24 ranges it has no copy of.
      await new Promise((res) => setTimeout(res, 6000));
      const alone = await metric(idle, 'corral_sheets_quota_alone_grants_total');
      // The most calls that arrived within any minute: usually every call made is in one, but the
      // waits above may last longer on a loaded box, and a second minute has a limit of its own.
      const calls = mostInAnyMinute(emu.reads(0).map((r) => r.at));
      assert.ok(calls <= LIMIT, `${calls} read calls reached Google within a minute (limit ${LIMIT}); the idle host made ${alone} alone`);
    } finally {
      stopped = true;
      await Promise.all(reading);
      await Promise.all(hosts.map((h) => h.stop()));
      await emu.close();
      await redis.stop();
    }
  });
});
