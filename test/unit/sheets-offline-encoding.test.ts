// The offline sheet's tabs in the encodings spreadsheets save CSV in (offline/tab-text.ts): a file
// that is not UTF-8 (Excel's "CSV (Comma delimited)", Windows-1252) is read as Windows-1252 and
// said, and rewritten as UTF-8 with a byte order mark at its next append, its letters kept; a
// UTF-8 file with a BOM ("CSV UTF-8") keeps it.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { OfflineBackend } from '../../src/sheets/offline/backend.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-offline-encoding-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

it('a Windows-1252 tab is read with its letters, said once per version of the file, and rewritten as UTF-8 with a BOM at its next append', async () => {
  const players = join(dir, 'Players.csv');
  // "Chloé" and "Müller" as Excel's "CSV (Comma delimited)" saves them, CRLF and all.
  writeFileSync(players, Buffer.from('name,code\r\nChlo\xe9,C1\r\nM\xfcller,M2\r\n', 'latin1'), { mode: 0o600 });
  const said: string[] = [];
  const sheet = new OfflineBackend(dir, (tab, path) => said.push(`${tab} ${path}`));
  assert.deepEqual((await sheet.getValues('Players')).values, [['name', 'code'], ['Chloé', 'C1'], ['Müller', 'M2']]);
  await sheet.getValues('Players!A1:B1');
  assert.deepEqual(said, [`Players ${players}`], 'once, not at each read');
  await sheet.appendValues('Players!A:B', [['Zoë', 'Z3']]);
  const bytes = readFileSync(players);
  assert.deepEqual(bytes.subarray(0, 3), BOM, 'a BOM, so Excel reads the UTF-8 it now is');
  assert.equal(bytes.subarray(3).toString('utf8'), 'name,code\nChloé,C1\nMüller,M2\nZoë,Z3\n', 'every letter kept, none replaced by U+FFFD');
  assert.deepEqual((await new OfflineBackend(dir).getValues('Players')).values, [['name', 'code'], ['Chloé', 'C1'], ['Müller', 'M2'], ['Zoë', 'Z3']]);
  assert.equal(said.length, 1, 'UTF-8 now: not said again');
});

it('a UTF-8 tab with a BOM keeps it through appends, whole rewrites and copies alike', async () => {
  const events = join(dir, 'Events.csv');
  // CRLF: the first append rewrites the file whole; the next one copies it and adds its rows.
  writeFileSync(events, Buffer.concat([BOM, Buffer.from('event_id,player\r\ne0,Chloé\r\n')]), { mode: 0o600 });
  const said: string[] = [];
  const sheet = new OfflineBackend(dir, (tab) => said.push(tab));
  await sheet.appendValues('Events!A:B', [['e1', 'Zoë']]);
  await sheet.appendValues('Events!A:B', [['e2', 'Léa']]);
  const bytes = readFileSync(events);
  assert.deepEqual(bytes.subarray(0, 3), BOM);
  assert.equal(bytes.subarray(3).toString('utf8'), 'event_id,player\ne0,Chloé\ne1,Zoë\ne2,Léa\n');
  assert.deepEqual((await sheet.getValues('Events!A1:A1')).values, [['event_id']], 'the BOM is no part of the first header');
  assert.deepEqual(said, []);
});

it('a UTF-8 tab with one line in Windows-1252 (added by another tool) keeps its UTF-8 letters and its first header', async () => {
  const players = join(dir, 'Players.csv');
  // Saved as "CSV UTF-8" (a BOM), then a line added from a Windows-1252 terminal or editor.
  writeFileSync(players, Buffer.concat([BOM, Buffer.from('name,code\nChloé,C1\n'), Buffer.from('Zo\xeb,Z3\n', 'latin1')]), { mode: 0o600 });
  const said: string[] = [];
  const sheet = new OfflineBackend(dir, (tab) => said.push(tab));
  // Read whole as Windows-1252, the BOM was the first header's "ï»¿" (no name column: every login
  // refused) and Chloé was ChloÃ©, written so for good at the next append.
  assert.deepEqual((await sheet.getValues('Players')).values, [['name', 'code'], ['Chloé', 'C1'], ['Zoë', 'Z3']]);
  assert.deepEqual(said, ['Players']);
  await sheet.appendValues('Players!A:B', [['Léa', 'L4']]);
  const bytes = readFileSync(players);
  assert.deepEqual(bytes.subarray(0, 3), BOM);
  assert.equal(bytes.subarray(3).toString('utf8'), 'name,code\nChloé,C1\nZoë,Z3\nLéa,L4\n');
});
