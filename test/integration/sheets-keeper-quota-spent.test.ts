// A keeper killed with the minute's read quota spent: the new one starts with no cache and with
// the quota its predecessor spent, so a read of a range no worker holds waits for a token for up
// to a minute. In the chaos soak, an export of Events!A:A on a poster's connection got no answer
// in 20 s after a kill -9 of the keeper. The real master, the bundled app and the emulator.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { keeperAnswerWaitMs } from '../../src/sheets/keeper-read-patience.js';
import { mostInAnyMinute } from '../helpers/calls-in-a-minute.js';
import { http } from '../helpers/http.js';
import { startWithEmulator } from '../helpers/sheets-load.js';

const TOKEN = 'quota-spent-admin-token-0123456789';
const READS_PER_MINUTE = 3;
/** As in the chaos soak: the keeper wait is then 8 s. */
const SHEETS_TIMEOUT_S = 3;

test('after a kill -9 of the keeper with the read quota spent, an export of a tab no worker holds is answered 503 sheets_unavailable at once, Retry-After the wait for the next token, not held for it', async () => {
  const emu = await startEmulator();
  const c = await startWithEmulator(emu, 1, { SHEETS_READS_PER_MINUTE: String(READS_PER_MINUTE), SHEETS_TIMEOUT: String(SHEETS_TIMEOUT_S), CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' }, { bundledApp: true });
  const upstreamReads = () => emu.counters().calls['values.get'] + emu.counters().calls['values.batchGet'];
  const exportOf = (range: string) => http(`${c.url}/api/export?sheet=${encodeURIComponent(range)}`, { headers: { authorization: `Bearer ${TOKEN}` }, timeoutMs: 30_000 });
  try {
    // Ranges nobody read, one upstream read each, until the minute's quota is spent.
    for (const range of ['Players!A:A', 'Players!A:B', 'Events!A:A', 'Events!A:B']) {
      if (upstreamReads() >= READS_PER_MINUTE) break;
      const r = await exportOf(range);
      assert.equal(r.status, 200, r.text);
    }
    assert.ok(upstreamReads() >= READS_PER_MINUTE, `the quota spent (${upstreamReads()} reads)`);
    const keeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'master', 5000, 'keeper.ready');
    process.kill(Number(keeper.worker_pid), 'SIGKILL');
    await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'master' && l.worker_pid !== keeper.worker_pid, 30_000, 'the new keeper');
    const restored = await c.waitForLog((l) => l.event === 'quota.restored', 5000, 'quota.restored');
    assert.equal(restored.reads, READS_PER_MINUTE, 'the new keeper counts the reads its predecessor made');

    const started = Date.now();
    const r = await exportOf('Events!A:C');
    const ms = Date.now() - started;
    // Before, the read waited for the keeper's token (up to a minute after the first read), then
    // for the worker's wait for the keeper; now the keeper answers at once that no token is free.
    assert.equal(r.status, 503, `answered ${r.status} after ${ms} ms: ${r.text.slice(0, 200)}`);
    const body = JSON.parse(r.text) as { error?: string; message?: string };
    assert.equal(body.error, 'sheets_unavailable');
    assert.match(body.message ?? '', /read quota is spent for now/);
    assert.ok(Number(r.headers['retry-after']) > 1, `Retry-After ${r.headers['retry-after']}: the wait for the next token`);
    assert.ok(ms < keeperAnswerWaitMs(SHEETS_TIMEOUT_S), `answered after ${ms} ms, not after the keeper wait`);
    const said = await c.waitForLog((l) => l.event === 'sheets.read_quota_wait', 5000, 'sheets.read_quota_wait');
    assert.equal(said.code, 'CORRAL_ERR_SHEETS_QUOTA_WAIT');
    // Across the kill -9: never more reads reached Google within a minute than the quota.
    const most = mostInAnyMinute(emu.reads(0).map((call) => call.at));
    assert.ok(most <= READS_PER_MINUTE, `${most} reads within a minute across the keeper's kill (quota ${READS_PER_MINUTE})`);
  } finally {
    await c.stop();
    await emu.close();
  }
});
