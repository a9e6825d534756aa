// `corral status`'s sheets line on a host that reads a sheet (the emulator standing in for Google)
// with a REDIS_URL nobody answers: a host acting alone is still "ok" to the health, so the line is
// where an operator learns it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { CORRAL_BIN, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { redisMissing, startRedis } from '../helpers/redis-server.js';
import { startSheetHost } from '../helpers/sheets-load.js';

const TOKEN = 'status-sheets-token-0123456789';

test('corral status says Google answers, the journal is empty, and Redis is down: this host alone', async () => {
  const emu = await startEmulator({});
  const adminBind = `127.0.0.1:${await freePort()}`;
  // A port nothing listens on: the keeper serves alone and says so.
  const deadRedis = `redis://127.0.0.1:${await freePort()}`;
  const host = await startSheetHost(emu, emu.registerServiceAccount(), deadRedis, { env: { CORRAL_ADMIN_BIND: adminBind, CORRAL_ADMIN_TOKEN: TOKEN } });
  try {
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    await waitFor(
      async () => (await http(`${host.adminUrl}/api/admin/stats`, auth)).json<{ sheets: { redis_connected: boolean | null } }>().sheets.redis_connected === false,
      20_000,
      "the keeper's figures, Redis down",
    );
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: host.pidFile, CORRAL_ADMIN_BIND: adminBind, CORRAL_ADMIN_TOKEN: TOKEN };
    const { stdout } = await promisify(execFile)(process.execPath, [CORRAL_BIN, 'status'], { cwd: host.dir, env, timeout: 20_000 });
    const line = stdout.split('\n').find((l) => l.startsWith('sheets: '));
    assert.equal(line, 'sheets: Google answering, journal empty, Redis down: this host reads and spends quota alone (redis.unavailable in the log)', stdout);
  } finally {
    await host.stop();
    await emu.close();
  }
});

// A Redis that answers but refuses the keeper (here its login; memory full and a user without
// scripts are the same) is not down: the line said "Redis down ... (redis.unavailable in the
// log)" while the log held only redis.misconfigured, the line with the fix, and Redis answered
// every PING the operator sent it.
test('corral status says what an answering Redis refuses and where the fix is said, not that Redis is down', { skip: redisMissing }, async () => {
  const redis = await startRedis();
  const emu = await startEmulator({});
  redis.cli('CONFIG', 'SET', 'requirepass', 'the-right-password');
  const adminBind = `127.0.0.1:${await freePort()}`;
  const host = await startSheetHost(emu, emu.registerServiceAccount(), `${redis.url}?password=a-wrong-password`, { env: { CORRAL_ADMIN_BIND: adminBind, CORRAL_ADMIN_TOKEN: TOKEN } });
  try {
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    await host.waitForLog((l) => l.event === 'redis.misconfigured', 10_000, 'redis.misconfigured');
    const sheets = await waitFor(
      async () => {
        const s = (await http(`${host.adminUrl}/api/admin/stats`, auth)).json<{ sheets: { redis_connected: boolean | null; redis_refused: string | null } }>().sheets;
        return s.redis_connected === false && s.redis_refused !== null ? s : undefined;
      },
      20_000,
      "the keeper's figures, Redis refusing",
    );
    assert.equal(sheets.redis_refused, 'login');
    const env = { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: host.pidFile, CORRAL_ADMIN_BIND: adminBind, CORRAL_ADMIN_TOKEN: TOKEN };
    const { stdout } = await promisify(execFile)(process.execPath, [CORRAL_BIN, 'status'], { cwd: host.dir, env, timeout: 20_000 });
    const line = stdout.split('\n').find((l) => l.startsWith('sheets: '));
    assert.equal(line, 'sheets: Google answering, journal empty, Redis refuses the login of REDIS_URL: this host reads and spends quota alone (redis.misconfigured in the log, with the fix)', stdout);
    assert.deepEqual(host.events('redis.unavailable'), [], 'no redis.unavailable line: Redis answered');
  } finally {
    await host.stop();
    await emu.close();
    await redis.stop();
  }
});
