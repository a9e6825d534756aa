// Acknowledged means durable: 100 appends while the master is kill -9'd midway (its keeper and
// workers go down with it, appends in flight to "Google" included) and then restarted on the same
// data dir. Every acknowledged row must reach the emulator exactly once.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent, Client, request } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import { JOURNAL_FILE } from '../../src/sheets/keeper/journal-open.js';
import { scanRecords } from '../../src/sheets/keeper/journal-scan.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { isAlive } from '../../src/master/pidfile.js';

const TOTAL = 100;
const idOf = (i: number) => `crash-${String(i).padStart(3, '0')}`;
const rowOf = (i: number) => [idOf(i), `P${String(i % 20).padStart(3, '0')}`, 'goal', `append ${i}`, '2024-07-01T12:00:00Z'];


interface KeeperFigures {
  journalBacklogRows: number;
  writeTokensLeft: number;
}

async function keeperFigures(dataDir: string): Promise<KeeperFigures> {
  const client = new Client('http://keeper', { socketPath: keeperSocketPath(dataDir) });
  try {
    const res = await client.request({ method: 'GET', path: '/figures' });
    return (await res.body.json()) as KeeperFigures;
  } finally {
    await client.close();
  }
}

/** The done records the journal file holds whole, as a replay after kill -9 would read them. */
function doneRecordsOnDisk(dataDir: string): number {
  return scanRecords(readFileSync(join(dataDir, JOURNAL_FILE))).records.filter((r) => r.k === 'done').length;
}

async function keeperBacklog(dataDir: string): Promise<number> {
  return (await keeperFigures(dataDir)).journalBacklogRows;
}

describe('write journal across crashes', () => {
  it('100 appends, master kill -9 midway and restarted: every acknowledged row reaches the emulator exactly once', async () => {
    // Slow appends (so some are in flight at the kill), and one in five applied-then-answered-500.
    const emu = await startEmulator({ faults: { latencyMs: 300, appliedErrorRate: 0.2 }, randomSeed: 7 });
    const key = JSON.stringify(emu.registerServiceAccount());
    const dir = mkdtempSync(join(tmpdir(), 'corral-crash-'));
    const env = {
      SHEET_ID: emu.spreadsheetId,
      SHEETS_API_URL: emu.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: key,
      SHEETS_FLUSH_INTERVAL_MS: '100',
      SHEETS_TIMEOUT: '3',
      // The emulator applies or refuses each append before it answers: nothing lands late here.
      SHEETS_UNSURE_DELAY: '3',
      CORRAL_ACCESS_LOG: 'false',
    };
    const acked = new Set<string>();
    let c: CorralProcess | undefined;
    try {
      c = await startCorral({ cwd: dir, app: 'sheets-app.mjs', workers: 2, env });
      const first = c;
      const oldKeeper = await first.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, 'keeper.ready');
      const agent = new Agent({ connections: 4 });
      let next = 0;
      let killed = false;
      let failedAtKill = 0;
      // Four clients append one row each at a time; the master dies once half are acknowledged.
      const client = async () => {
        while (next < TOTAL && !killed) {
          const i = next++;
          try {
            const res = await request(`${first.url}/append`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ range: 'Events', rows: [rowOf(i)] }) });
            const text = await res.body.text();
            if (res.statusCode === 201) acked.add(idOf(i));
            else failedAtKill++;
            void text;
          } catch {
            failedAtKill++;
          }
          if (acked.size >= TOTAL / 2 && !killed) {
            killed = true;
            first.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, client));
      await first.exited;
      await agent.close().catch(() => undefined);
      const ackedBeforeKill = acked.size;
      // The orphaned keeper notices its IPC channel closed and exits by itself.
      const oldKeeperPid = Number(oldKeeper.pid);
      await waitFor(() => !isAlive(oldKeeperPid), 15_000, 'the old keeper to exit');
      const inFlight = emu.counters().calls['values.append'] - emu.counters().ok['values.append'];

      // Same dir (same data dir and journal); the old log moves aside so the helper finds the new
      // master's ready line, not the dead one's.
      renameSync(first.logFile, `${first.logFile}.before-kill`);
      c = await startCorral({ cwd: dir, app: 'sheets-app.mjs', workers: 2, env });
      const second = c;
      // Clients retry what was not acknowledged (same ids, same content), then send the rest.
      for (let i = 0; i < TOTAL; i++) {
        if (acked.has(idOf(i))) continue;
        const res = await request(`${second.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [rowOf(i)] }) });
        const text = await res.body.text();
        assert.equal(res.statusCode, 201, text);
        acked.add(idOf(i));
      }
      await waitFor(async () => (await keeperBacklog(second.dataDir)) === 0, 60_000, 'the journal to drain into the emulator');
      const rows = emu.getSheet(emu.spreadsheetId, 'Events') ?? [];
      const counts = new Map<string, number>();
      for (const r of rows) if (r[0]?.startsWith('crash-')) counts.set(r[0], (counts.get(r[0]) ?? 0) + 1);
      const missing = [...acked].filter((id) => !counts.has(id));
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      const replay = second.logs().find((l) => l.role === 'keeper' && l.event === 'journal.replayed');
      const readBacks = second.logs().filter((l) => l.role === 'keeper' && l.event === 'sheets.read_back');
      const found = readBacks.reduce((n, l) => n + Number(l.alreadyThere ?? 0), 0);
      const counters = emu.counters();
      console.log(
        `journal crash: ${ackedBeforeKill} acknowledged before kill -9, ${failedAtKill} requests cut by it, ${inFlight} append calls without a 2xx answer before the restart; ` +
          `replay: ${replay ? `${String(replay.pending)} pending, ${String(replay.unsure)} unsure` : 'nothing to replay'}; ` +
          `${found} rows found by read-back instead of resent; emulator: ${counters.calls['values.append']} append calls, ${counters.appliedErrors} applied-then-500, ` +
          `${counters.rowsAppended} rows kept; ${acked.size} acknowledged rows, ${missing.length} missing, ${duplicated.length} duplicated`,
      );
      assert.deepEqual(missing, [], 'every acknowledged row is in the sheet');
      assert.deepEqual(duplicated, [], 'no row is in the sheet twice');
      assert.equal(counts.size, TOTAL);
      assert.ok(counters.appliedErrors > 0, 'the applied-but-answered-500 path was exercised');
    } finally {
      await c?.stop();
      rmSync(dir, { recursive: true, force: true });
      await emu.close();
    }
  });

  it('keeper kill -9: the master restarts it, reads keep answering, appends resume, no row lost or doubled', async () => {
    const emu = await startEmulator({ faults: { latencyMs: 150 }, randomSeed: 11 });
    const key = JSON.stringify(emu.registerServiceAccount());
    const c = await startCorral({
      app: 'sheets-app.mjs',
      workers: 2,
      env: { SHEET_ID: emu.spreadsheetId, SHEETS_API_URL: emu.url, GOOGLE_SERVICE_ACCOUNT_JSON: key, SHEETS_FLUSH_INTERVAL_MS: '100', SHEETS_UNSURE_DELAY: '3', CORRAL_ACCESS_LOG: 'false' },
    });
    const agent = new Agent({ connections: 8 });
    try {
      const keeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, 'keeper.ready');
      // Every worker holds a copy of Players before the keeper dies.
      await waitFor(async () => {
        const res = await request(`${c.url}/read?range=Players`, { headers: { connection: 'close' } });
        await res.body.text();
        return res.statusCode === 200 && c.logs().length > 0;
      }, 30_000, 'a first read');
      for (let i = 0; i < 8; i++) await (await request(`${c.url}/read?range=Players`, { headers: { connection: 'close' } })).body.text();

      const acked = new Set<string>();
      let unavailable = 0;
      let readErrors = 0;
      let reads = 0;
      let next = 0;
      let killed = false;
      const appender = async () => {
        while (next < TOTAL) {
          const i = next++;
          // A client retries a refused append with the same id and content until it is acknowledged.
          for (;;) {
            const res = await request(`${c.url}/append`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ range: 'Events', rows: [rowOf(i)] }) });
            const body = (await res.body.json()) as { code?: string };
            if (res.statusCode === 201) {
              acked.add(idOf(i));
              break;
            }
            assert.equal(body.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE', JSON.stringify(body));
            unavailable++;
            await new Promise((r) => setTimeout(r, 200));
          }
          if (acked.size >= TOTAL / 2 && !killed) {
            killed = true;
            process.kill(Number(keeper.pid), 'SIGKILL');
          }
        }
      };
      let appending = true;
      const reader = async () => {
        while (appending) {
          const res = await request(`${c.url}/read?range=Players`, { dispatcher: agent });
          await res.body.text();
          reads++;
          if (res.statusCode !== 200) readErrors++;
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const readers = Promise.all([reader(), reader()]);
      await Promise.all(Array.from({ length: 4 }, appender));
      appending = false;
      await readers;
      await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper' && l.pid !== keeper.pid, 30_000, 'the restarted keeper');
      await waitFor(async () => (await keeperBacklog(c.dataDir)) === 0, 60_000, 'the journal to drain');
      const counts = new Map<string, number>();
      for (const r of emu.getSheet(emu.spreadsheetId, 'Events') ?? []) if (r[0]?.startsWith('crash-')) counts.set(r[0], (counts.get(r[0]) ?? 0) + 1);
      console.log(`keeper crash: ${acked.size} acknowledged, ${unavailable} appends answered 503 while it restarted, ${reads} reads with ${readErrors} errors, ${counts.size} distinct rows in the emulator`);
      assert.equal(acked.size, TOTAL);
      assert.deepEqual([...counts].filter(([, n]) => n !== 1), []);
      assert.equal(counts.size, TOTAL);
      assert.ok(c.events('keeper.exit').some((l) => l.signal === 'SIGKILL'), 'the master saw the keeper die');
    } finally {
      await agent.close().catch(() => undefined);
      await c.stop();
      await emu.close();
    }
  });

  it("keeper kill -9 does not reset the quota: the new keeper counts its predecessor's calls of the last minute", async () => {
    const emu = await startEmulator({ randomSeed: 5 });
    const key = JSON.stringify(emu.registerServiceAccount());
    const c = await startCorral({
      app: 'sheets-app.mjs',
      workers: 1,
      env: {
        SHEET_ID: emu.spreadsheetId,
        SHEETS_API_URL: emu.url,
        GOOGLE_SERVICE_ACCOUNT_JSON: key,
        // One write a minute: one append spends it. With more, the flusher spaces its appends a
        // pace apart (the window over the limit: 20 s at 3 a minute), and spending them took minutes.
        SHEETS_WRITES_PER_MINUTE: '1',
        SHEETS_FLUSH_INTERVAL_MS: '100',
        CORRAL_ACCESS_LOG: 'false',
      },
    });
    const appends = () => emu.counters().calls['values.append'];
    const append = async (i: number) => {
      const res = await request(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [rowOf(i)] }) });
      assert.equal(res.statusCode, 201, await res.body.text());
    };
    try {
      const keeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 30_000, 'keeper.ready');
      // A row in its own values:append: the minute's write quota is spent.
      await append(0);
      await waitFor(() => appends() === 1, 10_000, 'the first append to reach the emulator');
      await append(1);
      // The first append's answer taken in too, and its done record in the file: the emulator
      // counts the call before the keeper reads its answer, and the keeper drops the row from its
      // backlog figure before it writes the record (journal.ts markDone). A kill before the record
      // left that row unsure in the journal, two rows waiting after the restart instead of one.
      await waitFor(
        async () => {
          const f = await keeperFigures(c.dataDir);
          return f.writeTokensLeft === 0 && f.journalBacklogRows === 1 && appends() === 1 && doneRecordsOnDisk(c.dataDir) === 1;
        },
        10_000,
        'the second row to wait for quota, alone',
      );
      process.kill(Number(keeper.pid), 'SIGKILL');
      await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper' && l.pid !== keeper.pid, 30_000, 'the restarted keeper');
      const restored = await c.waitForLog((l) => l.event === 'quota.restored', 5_000, 'quota.restored');
      assert.equal(restored.writes, 1);
      const after = await keeperFigures(c.dataDir);
      assert.equal(after.writeTokensLeft, 0, 'the restarted keeper has no write token this minute');
      assert.equal(after.journalBacklogRows, 1, 'the second row waits in the journal');
      // Before the ledger, the new keeper sent the waiting row within one flush interval (100 ms);
      // a second is ten of them.
      const deadline = Date.now() + 1000;
      while (Date.now() < deadline) {
        assert.equal(appends(), 1, 'no second values:append within the minute');
        await new Promise((r) => setTimeout(r, 100));
      }
      const replay = c.logs().find((l) => l.pid !== keeper.pid && l.event === 'journal.replayed');
      assert.deepEqual({ pending: replay?.pending, unsure: replay?.unsure }, { pending: 1, unsure: 0 }, 'the row waiting for quota was not journaled as sent');
    } finally {
      await c.stop();
      await emu.close();
    }
  });
});
