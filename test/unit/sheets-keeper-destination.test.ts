// A keeper serves only workers of its own sheet. Two corrals sharing one CORRAL_DATA_DIR share its
// keeper socket, and the second one's rows were acknowledged and appended to the first one's sheet
// (audit): each request now names the worker's destination digest, and a keeper of another sheet
// refuses it before reading or writing anything (CORRAL_ERR_KEEPER_OTHER_SHEET).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sheetsFailure } from '../../src/app/deps.js';
import { CorralError } from '../../src/errors.js';
import { DEFAULT_API_URL, destinationDigest, destinationOf, OFFLINE_DESTINATION } from '../../src/sheets/destination.js';
import { createGoogleBackend } from '../../src/sheets/google/index.js';
import { KeeperLink } from '../../src/sheets/keeper-link.js';
import { askLockHolder, reportOtherSheetHolder } from '../../src/sheets/keeper/lock-holder.js';
import { OtherSheetError, otherSheetRefusal } from '../../src/sheets/keeper/other-sheet.js';
import { KeeperServer } from '../../src/sheets/keeper/server.js';
import { createOfflineBackend } from '../../src/sheets/offline/backend.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import type { SheetsClient } from '../../src/sheets/types.js';
import { createWorkerSheetsClient } from '../../src/sheets/worker-client.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

const SHEET_A = { SHEET_ID: 'sheet-a-0001', SHEETS_API_URL: 'http://127.0.0.1:47300' };
const SHEET_B = { SHEET_ID: 'sheet-a-0001', SHEETS_API_URL: 'http://127.0.0.1:47305' };

describe('the destination a worker works out from its settings', () => {
  it("is the backend's own, for Google (trailing slashes or not) and for the offline sheet", async () => {
    const log = await captureLogger();
    const dir = mkdtempSync(join(tmpdir(), 'corral-dest-'));
    try {
      for (const url of ['http://127.0.0.1:47300', 'http://127.0.0.1:47300/', undefined]) {
        const settings = { SHEET_ID: 'sheet-a-0001', SHEETS_API_URL: url as string, GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: undefined, SHEETS_API_KEY: 'k', SHEETS_TIMEOUT: 5 };
        const google = createGoogleBackend(settings, log.logger);
        assert.equal(destinationOf(settings), google.destination, `SHEETS_API_URL ${String(url)}`);
        await google.close();
      }
      assert.equal(destinationOf({ SHEET_ID: 'x' }), `google sheet x via ${DEFAULT_API_URL}`);
      const offline = await createOfflineBackend({ dir: join(dir, 'sheet'), logger: log.logger });
      assert.equal(destinationOf({ SHEET_ID: undefined, SHEETS_API_URL: 'http://127.0.0.1:47300' }), offline.destination);
      assert.equal(offline.destination, OFFLINE_DESTINATION, 'the string journal entries were tagged with before');
    } finally {
      log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("meets the other hosts of the sheet in Redis (REDIS_URL) however the API URL is spelt: a trailing slash or the host's case made another key prefix, and the hosts shared neither quota, ranges nor failed logins, silently", async () => {
    const log = await captureLogger();
    try {
      const prefixes = new Set<string>();
      const spellings = [undefined, DEFAULT_API_URL, `${DEFAULT_API_URL}/`, 'HTTPS://Sheets.GoogleAPIs.com', 'https://sheets.googleapis.com:443'];
      for (const url of spellings) {
        const settings = { SHEET_ID: 'sheet-a-0001', SHEETS_API_URL: url as string, GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: undefined, SHEETS_API_KEY: 'k', SHEETS_TIMEOUT: 5 };
        const google = createGoogleBackend(settings, log.logger);
        prefixes.add(sharedPrefix(google.source));
        await google.close();
      }
      assert.equal(prefixes.size, 1, [...prefixes].join(' '));
      assert.ok(prefixes.has(sharedPrefix(`google sheet-a-0001 via ${DEFAULT_API_URL} with an API key`)), 'the prefix of the default URL as before (a rolling upgrade keeps sharing)');
    } finally {
      log.close();
    }
  });

  it('has a digest that tells sheets and API URLs apart without naming them', () => {
    const a = destinationDigest(destinationOf(SHEET_A));
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(a, destinationDigest(destinationOf({ ...SHEET_A, SHEETS_API_URL: `${SHEET_A.SHEETS_API_URL}/` })));
    assert.notEqual(a, destinationDigest(destinationOf(SHEET_B)), 'another API URL');
    assert.notEqual(a, destinationDigest(destinationOf({ ...SHEET_A, SHEET_ID: 'sheet-b' })), 'another spreadsheet');
    assert.notEqual(a, destinationDigest(OFFLINE_DESTINATION));
    assert.ok(!a.includes('sheet') && !a.includes('47300'));
  });
});

describe("the keeper's check", () => {
  it('serves a request naming its destination or none, and refuses one naming another', () => {
    assert.equal(otherSheetRefusal(undefined, 'aaaa', 1), undefined, 'no header: a client of a build before the check, or curl');
    assert.equal(otherSheetRefusal('aaaa', 'aaaa', 1), undefined);
    const refusal = otherSheetRefusal('bbbb', 'aaaa', 42);
    assert.ok(refusal instanceof OtherSheetError);
    assert.equal(refusal.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
    assert.equal(refusal.keeperDestination, 'aaaa');
    assert.equal(refusal.keeperMasterPid, 42);
    assert.match(refusal.message, /serves another sheet \(digest aaaa\).*\(digest bbbb\); nothing was read or written/);
    assert.ok(otherSheetRefusal(['aaaa', 'aaaa'], 'aaaa', 1), 'a header given twice is not taken for one');
  });
});

describe('a keeper of another sheet, over its socket', () => {
  let dir: string;
  let keeperLog: CapturedLogger;
  let workerLog: CapturedLogger;
  let server: KeeperServer;
  let calls: string[];
  const clients: SheetsClient[] = [];
  const links: KeeperLink[] = [];
  const served = destinationDigest(destinationOf(SHEET_A));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-dest-'));
    keeperLog = await captureLogger('keeper');
    workerLog = await captureLogger('worker');
    calls = [];
    const values = Buffer.from(JSON.stringify({ range: 'Players', values: [['name']], fetchedAt: 0, expiresAt: Date.now() + 60_000, stale: false, staleSeconds: 0, pendingRows: 0, backend: 'google', now: Date.now() }));
    server = new KeeperServer(
      join(dir, 'keeper.sock'),
      {
        read: async (range) => (calls.push(`read ${range}`), [values]),
        append: async (range) => (calls.push(`append ${range}`), { id: 'e1', rows: 1, duplicates: 0 }),
        watch: async () => (calls.push('watch'), { version: 0, epoch: 'e', sheets: [], all: false }),
        settleLogin: async () => (calls.push('login'), { shared: false, reason: 'none' }),
        figures: () => (calls.push('figures'), {}),
      },
      keeperLog.logger,
      served,
    );
    await server.listen();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const l of links.splice(0)) await l.close();
    await server.close();
    keeperLog.close();
    workerLog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const link = (destination?: string) => {
    const l = new KeeperLink({ socketPath: join(dir, 'keeper.sock'), retryDelayMs: 10, ...(destination !== undefined ? { destination } : {}) });
    links.push(l);
    return l;
  };

  it('refuses every call of a worker of another sheet before doing anything, and says which sheet it serves', async () => {
    const other = link(destinationDigest(destinationOf(SHEET_B)));
    const refused = (err: unknown) => {
      assert.ok(err instanceof OtherSheetError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
      assert.equal(err.keeperDestination, served);
      assert.equal(err.keeperMasterPid, process.ppid, "the keeper's master: its parent");
      return true;
    };
    await assert.rejects(other.call('GET', '/read?range=Players'), refused);
    await assert.rejects(other.write('/append', JSON.stringify({ range: 'Events', rows: [['x']] })), refused);
    await assert.rejects(other.brief('POST', '/login', '{}', 1000), refused);
    await assert.rejects(other.watch('/watch?since=0', new AbortController().signal), refused);
    assert.deepEqual(calls, [], 'nothing read, journaled, counted or watched');
    assert.equal(other.retries, 0, 'an answer, not a keeper to wait for');

    // The keeper's own line: once for the four refusals (then at most once a minute).
    const lines = keeperLog.lines().filter((l) => l.event === 'keeper.other_sheet_refused');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
    assert.equal(lines[0]?.level, 'warn');
    assert.equal(lines[0]?.destination, served);
    assert.match(String(lines[0]?.msg), /another corral uses this CORRAL_DATA_DIR.*give each corral its own CORRAL_DATA_DIR/);
    assert.ok(!JSON.stringify(lines).includes(SHEET_A.SHEET_ID) && !JSON.stringify(lines).includes('47305'), 'digests only');

    // Its own workers, and a client that names no sheet, are served.
    assert.ok(await link(served).call('GET', '/read?range=Players'));
    assert.ok(await link().call('GET', '/read?range=Players'));
    assert.deepEqual(calls, ['read Players', 'read Players']);
  });

  it("a worker's client answers no read or write through it, logs the fix once, and the app answers 503", async () => {
    const worker = createWorkerSheetsClient({ ...SHEET_B, CORRAL_DATA_DIR: dir, CORRAL_L1_CACHE_MB: 4, SHEET_CACHE_MAX_STALE: 3600, SHEETS_TIMEOUT: 10 }, workerLog.logger, { watch: false, retryDelayMs: 10 });
    clients.push(worker);
    for (let i = 0; i < 3; i++) {
      const err = await worker.read('Players').then(
        () => assert.fail('a read of the other sheet was served'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CorralError && err.code === 'CORRAL_ERR_KEEPER_OTHER_SHEET', String(err));
      assert.equal(sheetsFailure(err).status, 503);
      await assert.rejects(worker.append('Events', [['ev', 'P001', 'goal', '', '2024']]), { code: 'CORRAL_ERR_KEEPER_OTHER_SHEET' });
    }
    assert.deepEqual(calls, []);
    const lines = workerLog.lines().filter((l) => l.event === 'sheets.keeper_other_sheet');
    assert.equal(lines.length, 1, 'six refusals, one line (then at most one a minute)');
    const line = lines[0] ?? {};
    assert.equal(line.level, 'error');
    assert.equal(line.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
    assert.equal(line.keeper_destination, served);
    assert.equal(line.destination, destinationDigest(destinationOf(SHEET_B)));
    assert.equal(line.socket, join(dir, 'keeper.sock'));
    // In a test the "keeper" is in this process: its master pid is this process's parent, as the
    // worker's own, which reads as a reload's overlap. The other-corral wording is the integration test's.
    assert.match(String(line.msg), /serves another sheet \(digest [0-9a-f]{16}\) than this worker's SHEET_ID and SHEETS_API_URL name \(digest [0-9a-f]{16}\); it refuses this worker's reads and writes/);
    assert.equal(workerLog.lines().filter((l) => l.event === 'sheets.keeper_read_fallback').length, 0);
  });

  it('a keeper waiting for the lock asks its holder, and says so when it is another corral\'s keeper of another sheet', async () => {
    const socket = join(dir, 'keeper.sock');
    const mine = destinationDigest(destinationOf(SHEET_B));
    assert.deepEqual(await askLockHolder(socket, mine), { destination: served, masterPid: process.ppid });
    assert.equal(await askLockHolder(socket, served), undefined, 'the holder serves this sheet');
    assert.equal(await askLockHolder(join(dir, 'nobody.sock'), mine), undefined, 'nothing listens');

    // The holder's master is this keeper's own: a reload that changed the sheet, nothing to say.
    await reportOtherSheetHolder(keeperLog.logger, socket, mine, 1234, process.ppid);
    assert.deepEqual(keeperLog.lines().filter((l) => l.event === 'keeper.lock_other_sheet'), []);
    await reportOtherSheetHolder(keeperLog.logger, socket, served, 1234, -1);
    assert.deepEqual(keeperLog.lines().filter((l) => l.event === 'keeper.lock_other_sheet'), []);
    // Another corral's.
    await reportOtherSheetHolder(keeperLog.logger, socket, mine, 1234, -1);
    const lines = keeperLog.lines().filter((l) => l.event === 'keeper.lock_other_sheet');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 'error');
    assert.equal(lines[0]?.code, 'CORRAL_ERR_KEEPER_OTHER_SHEET');
    assert.equal(lines[0]?.holder_destination, served);
    assert.equal(lines[0]?.holder_master_pid, process.ppid);
    assert.match(String(lines[0]?.msg), /lock is held by a keeper \(pid 1234, master pid \d+\) of another sheet.*two corrals share CORRAL_DATA_DIR.*Give each corral its own CORRAL_DATA_DIR/);
    assert.deepEqual(calls, ['figures', 'figures'], 'only the questions naming its own sheet were answered (figures: nothing read or written)');
  });

  it('a worker of the same sheet is served; a refused one says so once the keeper on the socket serves its sheet again', async () => {
    const own = createWorkerSheetsClient({ ...SHEET_A, CORRAL_DATA_DIR: dir, CORRAL_L1_CACHE_MB: 4, SHEET_CACHE_MAX_STALE: 3600, SHEETS_TIMEOUT: 10 }, workerLog.logger, { watch: false, retryDelayMs: 10 });
    clients.push(own);
    assert.deepEqual((await own.read('Players')).values, [['name']]);
    assert.equal((await own.append('Events', [['ev']])).id, 'e1');
    assert.deepEqual(workerLog.lines().filter((l) => String(l.event).startsWith('sheets.keeper_other_sheet')), []);

    const refusedOne = createWorkerSheetsClient({ ...SHEET_B, CORRAL_DATA_DIR: dir, CORRAL_L1_CACHE_MB: 4, SHEET_CACHE_MAX_STALE: 3600, SHEETS_TIMEOUT: 10 }, workerLog.logger, { watch: false, retryDelayMs: 10 });
    clients.push(refusedOne);
    await assert.rejects(refusedOne.append('Events', [['ev']]), { code: 'CORRAL_ERR_KEEPER_OTHER_SHEET' });
    await assert.rejects(refusedOne.append('Events', [['ev']]), { code: 'CORRAL_ERR_KEEPER_OTHER_SHEET' });
    // The other corral stops; this one's keeper takes the data dir and binds the socket.
    await server.close();
    server = new KeeperServer(join(dir, 'keeper.sock'), { read: async () => [], append: async () => ({ id: 'e2', rows: 1, duplicates: 0 }), watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }), settleLogin: async () => ({ shared: false, reason: 'none' }), figures: () => ({}) }, keeperLog.logger, destinationDigest(destinationOf(SHEET_B)));
    await server.listen();
    assert.equal((await refusedOne.append('Events', [['ev']])).id, 'e2');
    const over = workerLog.lines().filter((l) => l.event === 'sheets.keeper_other_sheet_over');
    assert.equal(over.length, 1);
    assert.equal(over[0]?.refused_total, 2);
    assert.equal(over[0]?.level, 'info');
  });
});
