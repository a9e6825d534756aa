// The write path when the data disk, not Google, is at fault: CORRAL_DATA_DIR is a real tmpfs of
// 512 KiB, filled to ENOSPC while corral runs and while it starts.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readLogLines, startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { mountSmallDisk, smallDiskUnavailable, type SmallDisk } from '../helpers/small-disk.js';
import { SAMPLE_DIR, sampleSession } from '../fixtures/offline-sheet.js';

const PLAYER = 'Chloé Dubois';
const ADMIN_TOKEN = 'disk-full-admin-token-0123456789';
const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-tmpfs-probe-${process.pid}`));

describe('a full data disk', { skip: unavailable }, () => {
  let dir: string;
  let disk: SmallDisk;
  let c: CorralProcess | undefined;
  let token = '';

  const start = (waitReady: boolean) =>
    // The sheet's files are on the same full disk: an append the flusher sent while it was full
    // failed part-way, so its outcome is unknown and it is read back after SHEETS_UNSURE_DELAY
    // before it is sent again (default 60 s, longer than the test waits).
    startCorral({ cwd: dir, workers: 1, waitReady, env: { CORRAL_RATE_LIMIT: '0', SHEETS_FLUSH_INTERVAL_MS: '200', SHEETS_UNSURE_DELAY: '2', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  const sheetsStats = async () =>
    (await http(`${c?.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json<{ sheets: { journal_writable: boolean | null; journal_appends_refused: number | null } }>().sheets;
  const post = (kind: string) =>
    http(`${c?.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ kind }) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-disk-full-'));
    disk = mountSmallDisk(join(dir, 'data'), 512);
    mkdirSync(join(disk.dir, 'sheet'));
    for (const tab of ['Players', 'Events']) copyFileSync(join(SAMPLE_DIR, `${tab}.csv`), join(disk.dir, 'sheet', `${tab}.csv`));
    c = await start(true);
    token = await sampleSession(c.url, PLAYER);
  });
  after(async () => {
    await c?.stop();
    disk?.unmount();
    rmSync(dir, { recursive: true, force: true });
  });

  const acknowledged: string[] = [];

  it('an event the journal cannot save is a 503 not_saved, and the keeper logs the path and ENOSPC', async () => {
    const first = await post('before');
    assert.equal(first.status, 201, first.text);
    acknowledged.push(first.json<{ id: string }>().id);

    disk.fill();
    // The journal's last page may still have room for a few records: post until the disk says no.
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const r = await post(`full-${i}`);
      if (r.status === 201) acknowledged.push(r.json<{ id: string }>().id);
      else refused = r;
    }
    assert.ok(refused, 'an append was refused once the disk was full');
    assert.equal(refused.status, 503, refused.text);
    const body = refused.json<{ error: string; message: string }>();
    assert.equal(body.error, 'not_saved');
    assert.match(body.message, /could not save the event/);
    assert.doesNotMatch(body.message, /sheet/);
    assert.equal(refused.headers['retry-after'], '30');

    const line = await c!.waitForLog((l) => l.event === 'journal.write_failed', 10_000, 'journal.write_failed');
    assert.equal(line.path, join(c!.dataDir, 'sheets.journal'));
    assert.equal(line.errno, 'ENOSPC');
    assert.equal(line.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
    assert.equal(line.role, 'keeper');

    // The admin API says so too, from the keeper's next heartbeat.
    await waitFor(async () => (await sheetsStats()).journal_writable === false, 5_000, 'journal_writable false in the admin stats');
    assert.ok(((await sheetsStats()).journal_appends_refused ?? 0) >= 1);
  });

  it('refusals in a loop are a line at the first and a count later, not a line each; saved again is said once', async () => {
    // The disk is still full: thirty more refusals within the minute. Filled again first: an
    // append the flusher had in flight when the disk was filled may have given back the space it
    // held since (the offline sheet's files share this disk).
    disk.fill();
    for (let i = 0; i < 30; i++) assert.equal((await post(`loop-${i}`)).status, 503);
    const lines = () => readLogLines(c!.logFile);
    // Access lines are written last (batched, up to a second late): once all are in, so is the rest.
    const refusedAccess = () => lines().filter((l) => l.event === 'access' && l.status === 503 && l.path === '/api/events').length;
    await waitFor(() => refusedAccess() >= 31, 10_000, 'the access lines of the 31 refused appends');
    const appLines = lines().filter((l) => l.event === 'app.event_append_failed');
    assert.equal(appLines.length, 1, `${appLines.length} app.event_append_failed lines for 31 refused appends`);
    assert.equal(appLines[0]!.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
    assert.match(String(appLines[0]!.message), new RegExp(`${join(c!.dataDir, 'sheets.journal')}: ENOSPC`));
    assert.equal(lines().filter((l) => l.event === 'journal.write_failed').length, 1);

    disk.free();
    const saved = await post('freed');
    assert.equal(saved.status, 201, saved.text);
    acknowledged.push(saved.json<{ id: string }>().id);
    const recovered = await c!.waitForLog((l) => l.event === 'app.event_append_recovered', 5_000, 'app.event_append_recovered');
    assert.equal(recovered.failed, 31);
    const journalRecovered = await c!.waitForLog((l) => l.event === 'journal.write_recovered', 5_000, 'journal.write_recovered');
    assert.equal(journalRecovered.refused, 31);
    await waitFor(async () => (await sheetsStats()).journal_writable === true, 5_000, 'journal_writable true again in the admin stats');
    assert.ok(((await sheetsStats()).journal_appends_refused ?? 0) >= 31, 'the count of refusals stays');
  });

  it('a keeper started on the full disk says which file and why, and starts by itself once there is room', async () => {
    await c!.stop();
    // Only this start's lines count below.
    rmSync(c!.logFile);
    // The old keeper's lock is gone, and with it the page it took.
    disk.fill();
    c = await start(false);
    const failed = await c.waitForLog((l) => l.event === 'keeper.boot_failed', 20_000, 'keeper.boot_failed');
    assert.equal(failed.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
    assert.equal(failed.errno, 'ENOSPC');
    assert.equal(failed.path, join(c.dataDir, 'keeper.lock'));
    assert.match(String(failed.msg), new RegExp(`cannot write the keeper lock ${join(c.dataDir, 'keeper.lock')}: ENOSPC.*; free space in ${c.dataDir} \\(df -h ${c.dataDir}\\): the master restarts the keeper`));
    // Not "exited unexpectedly": it said why.
    const exit = await c.waitForLog((l) => l.event === 'keeper.exit' && l.exit_code === 7, 10_000, 'the master to see exit code 7');
    assert.match(String(exit.msg), /^keeper could not start \(code 7\): cannot write the keeper lock .*ENOSPC.*; free space in .*; restarting it in \d+ ms$/);

    disk.free();
    await c.waitForLog((l) => l.event === 'keeper.ready', 30_000, 'keeper.ready once the disk has room');
    const ready = await c.waitForLog((l) => l.event === 'master.ready', 30_000, 'master.ready');
    c.url = `http://127.0.0.1:${String(ready.port)}`;
    const after = await waitFor(async () => {
      const r = await post('after');
      return r.status === 201 ? r : undefined;
    }, 20_000, 'an event saved after the disk was freed');
    acknowledged.push(after.json<{ id: string }>().id);

    // Every acknowledged event reaches the sheet, those journaled before the disk filled included.
    const events = join(c.dataDir, 'sheet', 'Events.csv');
    // The sheet here is files on the same disk: a send while it was full wrote part of a row or
    // none, which is an unsure append, read back SHEETS_UNSURE_DELAY (1 s here) after the start.
    await waitFor(() => acknowledged.every((id) => readFileSync(events, 'utf8').includes(id)), 20_000, 'every acknowledged event in the sheet');
  });
});
