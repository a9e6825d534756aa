// The offline default (no SHEET_ID): the sample sheet is copied into the data dir, served in the
// Sheets API's shapes, and appends are stored there, through the real master, keeper and workers.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createOfflineBackend } from '../../src/sheets/offline/backend.js';
import { parseCsv } from '../../src/sheets/offline/csv.js';
import { startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { captureLogger } from '../fixtures/capture-logger.js';

describe('offline sheet backend', () => {
  it('seeds from config/sample-sheet, answers like the API, appends durably, keeps operator edits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-offline-'));
    const log = await captureLogger();
    try {
      const sheetDir = join(dir, 'sheet');
      const b = await createOfflineBackend({ dir: sheetDir, logger: log.logger });
      const players = await b.getValues('Players');
      assert.equal(players.values?.length, 21, 'header + 20 players');
      assert.deepEqual(players.values?.[0], ['name', 'code', 'team', 'role', 'joined']);
      assert.equal(players.range, 'Players!A1:E21');
      assert.deepEqual((await b.getValues('Players!A1:B2')).values, [['name', 'code'], ['Alice Martin', 'P001']]);
      assert.deepEqual((await b.getValues("'Players'!B2:B3")).values, [['P001'], ['P002']]);
      const empty = await b.getValues('Players!H1:J5');
      assert.equal('values' in empty, false, 'an empty range has no values key, as Google sends it');
      await assert.rejects(b.getValues('Nope!A1'), (e: Error & { code?: string; applied?: string }) => e.code === 'CORRAL_ERR_SHEETS_BAD_RANGE' && e.applied === 'no');
      // A range that is no A1 at all: said once, with what is wrong (the parser's message was
      // nested in the backend's, "Unable to parse range: X (Unable to parse range: X (...))").
      await assert.rejects(b.getValues('Players!A1:'), (e: Error) => /^Unable to parse range: Players!A1: \([^()]+\)$/.test(e.message) && e.message.split('Unable to parse').length === 2);

      const res = await b.appendValues('Events', [
        ['ev-o1', 'P001', 'goal', 'quoted, "detail"\nwith a line break', '2024-06-01T10:00:00Z'],
        ['ev-o2', 'P002', 'card', '', ''],
      ]);
      assert.equal(res.updatedRange, 'Events!A5:E6');
      assert.equal(res.updatedRows, 2);
      const events = await b.getValues('Events');
      assert.deepEqual(events.values?.at(-2), ['ev-o1', 'P001', 'goal', 'quoted, "detail"\nwith a line break', '2024-06-01T10:00:00Z']);
      assert.deepEqual(events.values?.at(-1), ['ev-o2', 'P002', 'card'], 'trailing empty cells trimmed');
      const onDisk = parseCsv(readFileSync(join(sheetDir, 'Events.csv'), 'utf8'));
      assert.equal(onDisk.length, 6);
      await b.close();

      // An operator edit survives a restart: the sample is copied only once.
      writeFileSync(join(sheetDir, 'Players.csv'), 'name,code\nOnly One,P100\n');
      const again = await createOfflineBackend({ dir: sheetDir, logger: log.logger });
      assert.deepEqual((await again.getValues('Players')).values, [['name', 'code'], ['Only One', 'P100']]);
      assert.equal((await again.getValues('Events')).values?.length, 6);
      await again.close();
    } finally {
      log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a tab with more rows than a function takes arguments (200k), and appends after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-offline-big-'));
    const log = await captureLogger();
    try {
      const sheetDir = join(dir, 'sheet');
      (await createOfflineBackend({ dir: sheetDir, logger: log.logger })).close();
      const rows = ['event_id,player,kind,detail,at'];
      for (let i = 0; i < 200_000; i++) rows.push(`big-${i},P001,goal,,2024-06-01T10:00:00Z`);
      writeFileSync(join(sheetDir, 'Events.csv'), `${rows.join('\n')}\n`);
      const b = await createOfflineBackend({ dir: sheetDir, logger: log.logger });
      const events = await b.getValues('Events');
      assert.equal(events.values?.length, 200_001);
      assert.equal(events.range, 'Events!A1:E200001');
      const res = await b.appendValues('Events', [['big-last', 'P002', 'card', '', '']]);
      assert.equal(res.updatedRange, 'Events!A200002:E200002');
      await b.close();
    } finally {
      log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the sample's published login codes served beyond loopback are a warning at the keeper's start, with the ways out", async () => {
    const c = await startCorral({ workers: 1, env: { CORRAL_BIND: '0.0.0.0:0' } });
    try {
      const warned = await c.waitForLog((l) => l.event === 'sheets.sample_roster_exposed', 15000, 'sheets.sample_roster_exposed');
      assert.deepEqual([warned.level, warned.code, warned.role], ['warn', 'CORRAL_ERR_SAMPLE_ROSTER', 'keeper']);
      assert.match(String(warned.msg), /0\.0\.0\.0:0 \(CORRAL_BIND\).*SHEET_ID/);
    } finally {
      await c.stop();
    }
  });

  it("a reload that moves CORRAL_BIND beyond loopback says the sample's codes are exposed, as the keeper it keeps said nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-sample-reload-'));
    const envFile = join(dir, 'corral.env');
    writeFileSync(envFile, 'CORRAL_BIND=127.0.0.1:0\n');
    // CORRAL_BIND from the file only: the environment would win over it.
    const c = await startCorral({ workers: 1, unset: ['CORRAL_BIND'], env: { CORRAL_ENV_FILE: envFile } });
    try {
      await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 15000, 'the keeper');
      assert.deepEqual(c.events('sheets.sample_roster_exposed'), [], 'on loopback: nothing');
      writeFileSync(envFile, 'CORRAL_BIND=0.0.0.0:0\n');
      c.kill('SIGHUP');
      const warned = await c.waitForLog((l) => l.event === 'sheets.sample_roster_exposed', 20000, 'sheets.sample_roster_exposed after the reload');
      assert.deepEqual([warned.level, warned.code, warned.role], ['warn', 'CORRAL_ERR_SAMPLE_ROSTER', 'master']);
      assert.match(String(warned.msg), /0\.0\.0\.0:0 \(CORRAL_BIND\).*SHEET_ID/);
      await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
      assert.equal(c.events('sheets.sample_roster_exposed').length, 1, 'said once');
    } finally {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with no SHEET_ID the daemon serves and stores rows in the offline sheet', async () => {
    const c = await startCorral({ app: 'sheets-app.mjs', workers: 2, env: { SHEETS_FLUSH_INTERVAL_MS: '100' } });
    try {
      const backendLine = await c.waitForLog((l) => l.role === 'keeper' && String(l.msg).startsWith('sheets backend:'), 15000, 'the backend line');
      assert.equal(backendLine.backend, 'offline');
      assert.deepEqual(c.events('sheets.sample_roster_exposed'), [], "the sample's codes on loopback are said nowhere");
      const read = await waitFor(async () => {
        const r = await http(`${c.url}/read?range=Players`);
        return r.status === 200 ? r.json<{ values: string[][]; backend: string; stale: boolean }>() : undefined;
      }, 15000, 'a read of Players');
      assert.equal(read.backend, 'offline');
      assert.equal(read.values.length, 21);
      const recs = (await http(`${c.url}/records?range=Players`)).json<{ records: Array<Record<string, string>> }>();
      assert.equal(recs.records[0]?.code, 'P001');

      const row = ['ev-int-1', 'P003', 'goal', 'from the integration test', '2024-06-02T12:00:00Z'];
      const ack = await http(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [row] }) });
      assert.equal(ack.status, 201, ack.text);
      // Read-your-writes through any worker, before or after the flush.
      for (let i = 0; i < 4; i++) {
        const ev = (await http(`${c.url}/read?range=Events`, { headers: { connection: 'close' } })).json<{ values: string[][] }>();
        assert.equal(ev.values.filter((r) => r[0] === 'ev-int-1').length, 1);
      }
      const csv = join(c.dataDir, 'sheet', 'Events.csv');
      await waitFor(() => readFileSync(csv, 'utf8').includes('ev-int-1'), 10000, 'the row in Events.csv');
      assert.equal(parseCsv(readFileSync(csv, 'utf8')).filter((r) => r[0] === 'ev-int-1').length, 1);
      const bad = await http(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [['', 'no id']] }) });
      assert.equal(bad.status, 400);
      assert.equal(bad.json<{ code: string }>().code, 'CORRAL_ERR_APPEND_INVALID');
      // A row acknowledged just before stop is flushed by the keeper's drain.
      const late = await http(`${c.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Events', rows: [['ev-int-late', 'P004', 'goal', '', '']] }) });
      assert.equal(late.status, 201);
      c.kill('SIGTERM');
      await c.exited;
      const drained = c.logs().find((l) => l.event === 'keeper.drained');
      assert.equal(drained?.rowsLeftInJournal, 0);
      assert.ok(readFileSync(csv, 'utf8').includes('ev-int-late'));
    } finally {
      await c.stop();
    }
  });
});
