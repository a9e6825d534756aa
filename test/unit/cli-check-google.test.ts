// `corral check` with SHEET_ID, against the emulator: what it said OK to while `corral start`
// refused it (a data dir start refuses with 78: the keeper's lock and journal live there), or the
// app then failed on it (an Events header row without event_id: every POST /api/events 503; a
// Players header row without name or code: no one logs in), though the check had read that row.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-check-google-'));
let emu: Emulator;
let keyFile: string;

before(async () => {
  emu = await startEmulator({ port: 0 });
  keyFile = join(dir, 'key.json');
  writeFileSync(keyFile, JSON.stringify(emu.registerServiceAccount()));
  writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => res.end();\n');
});
after(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Verdict {
  ok: boolean;
  stage?: string;
  backend?: string;
  warnings: string[];
  error?: { code: string };
  line: string;
}

/** Asynchronous: the emulator answers from this process's event loop. */
function check(env: Record<string, string>): Promise<{ status: number | null; verdict: Verdict; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [corral, 'check', '--json'],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'data'), SHEET_ID: emu.spreadsheetId, SHEETS_API_URL: emu.url, NO_PROXY: '127.0.0.1', GOOGLE_APPLICATION_CREDENTIALS: keyFile, ...env },
      },
      (_err, stdout, stderr) => done({ status: child.exitCode, verdict: JSON.parse(stdout) as Verdict, stderr }),
    );
  });
}

test('a data dir start refuses is FAIL (settings), before any call to Google', async () => {
  emu.resetCounters();
  const r = await check({ CORRAL_DATA_DIR: '/proc/corral-check-google' });
  assert.equal(r.status, 1, r.verdict.line + r.stderr);
  assert.equal(r.verdict.stage, 'settings');
  assert.equal(r.verdict.backend, 'google');
  assert.equal(r.verdict.error?.code, 'CORRAL_ERR_CONFIG_INVALID');
  assert.match(r.verdict.line, /^FAIL \(settings\): CORRAL_DATA_DIR=.*the keeper's lock and write journal: .*procfs/);
  assert.equal(emu.counters().calls.token, 0, 'no token fetched');
});

test("header rows the bundled app cannot use are said among the warnings; another app's (CORRAL_APP) are its business", async () => {
  const players = emu.getSheet(emu.spreadsheetId, 'Players') ?? [];
  const events = emu.getSheet(emu.spreadsheetId, 'Events') ?? [];
  try {
    const fine = await check({});
    assert.equal(fine.status, 0, fine.verdict.line);
    assert.deepEqual(fine.verdict.warnings, []);

    emu.setSheet(emu.spreadsheetId, 'Events', [['player', 'kind', 'detail', 'at']]);
    emu.setSheet(emu.spreadsheetId, 'Players', [['Player', 'Code'], ['Alice', 'P1']]);
    const r = await check({});
    assert.equal(r.status, 0, 'a read that works is still OK');
    assert.equal(r.verdict.warnings.length, 2, JSON.stringify(r.verdict.warnings));
    assert.match(r.verdict.warnings[0] ?? '', /^SHEET_PLAYERS_RANGE=Players: its header row lacks name, so no player can be found or log in/);
    assert.match(r.verdict.warnings[1] ?? '', /^SHEET_EVENTS_RANGE=Events: its header row lacks event_id, so every POST \/api\/events is answered 503 events_header_invalid .*\[CORRAL_ERR_EVENTS_HEADER\]/);

    emu.setSheet(emu.spreadsheetId, 'Events', [['player', 'event_id', 'kind', 'detail', 'at']]);
    const notFirst = await check({});
    assert.match(notFirst.verdict.warnings.join('\n'), /SHEET_EVENTS_RANGE=Events: its header row does not start with event_id/);

    const other = await check({ CORRAL_APP: join(dir, 'app.mjs') });
    assert.equal(other.status, 0, other.verdict.line);
    assert.deepEqual(other.verdict.warnings.filter((w) => /SHEET_/.test(w)), []);
  } finally {
    emu.setSheet(emu.spreadsheetId, 'Players', players);
    emu.setSheet(emu.spreadsheetId, 'Events', events);
  }
});
