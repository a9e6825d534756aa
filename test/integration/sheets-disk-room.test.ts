// A full data disk freed while nobody posts an event: the keeper finds the room back by itself
// (space-probe.ts), and health, the stats and the log say so without waiting for an append.
// CORRAL_DATA_DIR is a real tmpfs of 512 KiB. The offline sheet's files are kept off it (the data
// dir's `sheet` is a link to the test's own dir), so that the flusher's sends neither take nor
// give back its pages: the disk stays full until the test frees it.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SPACE_PROBE_FILE, SPACE_PROBE_INTERVAL_MS } from '../../src/sheets/keeper/space-probe.js';
import { SAMPLE_DIR, sampleSession } from '../fixtures/offline-sheet.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { mountSmallDisk, smallDiskUnavailable, type SmallDisk } from '../helpers/small-disk.js';

const PLAYER = 'Chloé Dubois';
const ADMIN_TOKEN = 'disk-room-admin-token-0123456789';
const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-tmpfs-probe-room-${process.pid}`));

describe('a full data disk freed with no event posted', { skip: unavailable }, () => {
  let dir: string;
  let disk: SmallDisk;
  let c: CorralProcess;
  let token = '';

  type Health = { status: string; journal?: string };
  type SheetsFigures = { journal_writable: boolean | null; journal_appends_refused: number | null };
  const health = async () => (await http(`${c.adminUrl}/api/admin/health`)).json<Health>();
  const sheetsStats = async () =>
    (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json<{ sheets: SheetsFigures }>().sheets;
  const post = (kind: string) =>
    http(`${c.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ kind }) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-disk-room-'));
    disk = mountSmallDisk(join(dir, 'data'), 512);
    const sheetFiles = join(dir, 'sheet-files');
    mkdirSync(sheetFiles);
    for (const tab of ['Players', 'Events']) copyFileSync(join(SAMPLE_DIR, `${tab}.csv`), join(sheetFiles, `${tab}.csv`));
    symlinkSync(sheetFiles, join(disk.dir, 'sheet'));
    c = await startCorral({ cwd: dir, workers: 1, env: { CORRAL_RATE_LIMIT: '0', SHEETS_FLUSH_INTERVAL_MS: '200', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
    token = await sampleSession(c.url, PLAYER);
  });
  after(async () => {
    await c?.stop();
    disk?.unmount();
    rmSync(dir, { recursive: true, force: true });
  });

  it('health says degraded while the disk is full and ok once it is freed, the probe saying so in the log', async () => {
    assert.equal((await post('before')).status, 201);
    disk.fill();
    // The journal's last page may still have room for a few records: post until the disk says no.
    let refusals = 0;
    for (let i = 0; i < 200 && refusals === 0; i++) if ((await post(`full-${i}`)).status === 503) refusals++;
    assert.equal(refusals, 1, 'an append was refused once the disk was full');
    for (let i = 0; i < 4; i++) {
      assert.equal((await post(`more-${i}`)).status, 503);
      refusals++;
    }
    const failed = await c.waitForLog((l) => l.event === 'journal.write_failed', 10_000, 'journal.write_failed');
    assert.equal(failed.errno, 'ENOSPC');
    await waitFor(async () => (await health()).journal === 'not_writable', 5_000, 'health: journal not_writable');
    assert.equal((await health()).status, 'degraded');

    // While it stays full, the probes find no room: over two of their intervals, from the first
    // refusal on, health never says the journal can be written.
    const fullUntil = Date.now() + 2 * SPACE_PROBE_INTERVAL_MS + 1_000;
    while (Date.now() < fullUntil) {
      assert.equal((await health()).journal, 'not_writable', 'the full disk is not taken for one with room');
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(c.events('journal.write_recovered').length, 0);

    // Freed, and no event posted: the next probe finds the room.
    disk.free();
    const recovered = await c.waitForLog((l) => l.event === 'journal.write_recovered', SPACE_PROBE_INTERVAL_MS + 10_000, 'journal.write_recovered by the probe');
    assert.equal(recovered.by, 'probe');
    assert.equal(recovered.refused, refusals);
    assert.equal(recovered.level, 'info');
    await waitFor(async () => (await health()).status === 'ok', 5_000, 'health ok again with no event posted');
    assert.equal((await health()).journal, undefined);
    const sheets = await sheetsStats();
    assert.equal(sheets.journal_writable, true);
    assert.equal(sheets.journal_appends_refused, refusals, 'the count of refusals stays');
    assert.equal(existsSync(join(c.dataDir, SPACE_PROBE_FILE)), false, 'the probe leaves no file');

    // And the journal does take the next event; the keeper's recovery is not said twice.
    assert.equal((await post('after')).status, 201);
    await c.waitForLog((l) => l.event === 'app.event_append_recovered', 5_000, 'app.event_append_recovered');
    assert.equal(c.events('journal.write_recovered').length, 1);
  });
});
