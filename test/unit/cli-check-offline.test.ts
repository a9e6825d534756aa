// `corral check` without SHEET_ID: the offline sheet. It said "OK" (exit 0) without looking at the
// data dir or the tabs, where `corral start` then refused the data dir (exit 78) or every login
// and event failed (a tab removed from data/sheet/, which is not seeded again once it exists;
// SHEET_EVENTS_RANGE naming a tab the sheet lacks). The check judges the data dir as start does
// and reads the header rows of the two ranges, as it does of a Google sheet.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { encodeRecord } from '../../src/sheets/keeper/journal-file.js';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-check-offline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function check(env: Record<string, string>, json = false) {
  const r = spawnSync(process.execPath, [corral, 'check', ...(json ? ['--json'] : [])], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', ...env }, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('before the first start: OK, the tabs read from the sample sheet the offline sheet is created from, nothing created', () => {
  const dataDir = join(dir, 'fresh');
  const r = check({ CORRAL_DATA_DIR: dataDir }, true);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const v = JSON.parse(r.stdout) as { ok: boolean; backend: string; tabs: { tab: string; header: string[] }[]; line: string };
  assert.equal(v.ok, true);
  assert.equal(v.backend, 'offline');
  assert.deepEqual(v.tabs.map((t) => [t.tab, t.header[0]]), [['Players', 'name'], ['Events', 'event_id']]);
  assert.match(v.line, /^OK: no SHEET_ID is set, so the offline sheet is in use .*at the first start, from the sample sheet/);
  assert.equal(existsSync(dataDir), false, 'check reads; the keeper creates');
});

test('a tab missing from the offline sheet, or a range naming a tab it lacks: FAIL (sheet access), exit 1, naming the tabs it has', () => {
  const dataDir = join(dir, 'no-events');
  mkdirSync(join(dataDir, 'sheet'), { recursive: true });
  writeFileSync(join(dataDir, 'sheet', 'Players.csv'), 'name,code\nAlice Martin,P001\n');
  const gone = check({ CORRAL_DATA_DIR: dataDir });
  assert.equal(gone.status, 1, gone.stdout + gone.stderr);
  assert.match(gone.stdout, /^FAIL \(sheet access\): .*no tab named "Events".*its CSV files \(Players\.csv\).*\[CORRAL_ERR_SHEETS_BAD_RANGE\]\n$/);

  writeFileSync(join(dataDir, 'sheet', 'Events.csv'), 'event_id,player,kind,detail,at\n');
  assert.equal(check({ CORRAL_DATA_DIR: dataDir }).status, 0);
  const misnamed = check({ CORRAL_DATA_DIR: dataDir, SHEET_EVENTS_RANGE: 'Evnts' });
  assert.equal(misnamed.status, 1, misnamed.stdout);
  assert.match(misnamed.stdout, /no tab named "Evnts".*SHEET_EVENTS_RANGE/);
});

test('a data dir start refuses (exit 78) is a FAIL (settings), as config --check says it', () => {
  const r = check({ CORRAL_DATA_DIR: '/proc/corral-check-offline' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^FAIL \(settings\): CORRAL_DATA_DIR=.*procfs.*\[CORRAL_ERR_CONFIG_INVALID\]\n$/);
});

test('no settings file read (no ./.env where it ran, no CORRAL_ENV_FILE): the verdict says so, and how to check the service\'s', () => {
  // `cd /opt/corral && sudo corral check` said "OK: no SHEET_ID is set, so the offline sheet is in
  // use ... set SHEET_ID" (exit 0) while the service's /etc/corral/corral.env set SHEET_ID and its key:
  // the verdict was on the defaults, and nothing said that no settings file had been read.
  const cwd = join(dir, 'no-env-here');
  mkdirSync(cwd, { recursive: true });
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [corral, 'check', '--json'], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CORRAL_DATA_DIR: join(cwd, 'data'), ...env }, timeout: 20_000 });
  const none = run({});
  const v = JSON.parse(none.stdout) as { ok: boolean; warnings: string[] };
  assert.equal(none.status, 0, none.stdout + none.stderr);
  assert.match(v.warnings.join('\n'), /no settings file was read .*CORRAL_ENV_FILE=\/etc\/corral\/corral\.env corral check/);
  // A file read, or none asked for: nothing to say.
  writeFileSync(join(cwd, '.env'), 'CORRAL_WORKERS=2\n');
  assert.doesNotMatch((JSON.parse(run({}).stdout) as { warnings: string[] }).warnings.join('\n'), /no settings file was read/);
  rmSync(join(cwd, '.env'));
  assert.doesNotMatch((JSON.parse(run({ CORRAL_ENV_FILE: 'none' }).stdout) as { warnings: string[] }).warnings.join('\n'), /no settings file was read/);
});

test('a write journal a newer build wrote (declaring a newer format): FAIL (journal), exit 1, as the keeper would refuse it; the journal is only read', () => {
  const dataDir = join(dir, 'newer-journal');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const journal = join(dataDir, 'sheets.journal');
  const text = encodeRecord({ k: 'format', v: 2 }) + encodeRecord({ k: 'add', id: 'ev-1', r: 'Events', rows: [['ev-1', 'P001', 'goal', '', '2024-05-01']], at: 1 });
  writeFileSync(journal, text);
  const r = check({ CORRAL_DATA_DIR: dataDir }, true);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const v = JSON.parse(r.stdout) as { ok: boolean; stage: string; error: { code: string; message: string }; line: string };
  assert.deepEqual([v.ok, v.stage, v.error.code], [false, 'journal', 'CORRAL_ERR_JOURNAL_FORMAT']);
  assert.match(v.line, /^FAIL \(journal\): the write journal .*sheets\.journal declares format 2, and this build of corral writes format 1.*\[CORRAL_ERR_JOURNAL_FORMAT\]$/);
  assert.equal(readFileSync(journal, 'utf8'), text);

  // The journal this build writes (declared, or written before the declaration): OK.
  writeFileSync(journal, encodeRecord({ k: 'format', v: 1 }));
  assert.equal(check({ CORRAL_DATA_DIR: dataDir }).status, 0);
});
