// The offline sheet's appends: a tab it wrote last is copied and the new rows' text added (no
// parse and rewrite of the whole tab at each append), with the same bytes and answers as a whole
// rewrite gives; a tab edited by hand meanwhile is read again, and one whose text a rewrite would
// change (trailing commas, CRLF) is rewritten whole, as before.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { OfflineBackend } from '../../src/sheets/offline/backend.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-offline-append-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('an append to a tab it wrote last gives the answers and bytes of a whole rewrite, renamed over the tab, private', async () => {
  // (That it copies the file rather than parse and rewrite it is a matter of time, measured, not asserted.)
  const events = join(dir, 'Events.csv');
  writeFileSync(events, 'event_id,player,note\n', { mode: 0o600 });
  const sheet = new OfflineBackend(dir);
  const first = await sheet.appendValues('Events!A:C', [['e1', 'P001', 'a, "quoted" note']]);
  assert.equal(first.updatedRange, 'Events!A2:C2');
  const inode = statSync(events).ino;
  const second = await sheet.appendValues('Events!A:C', [['e2', 'P002'], ['e3', 'P003', ' spaced ']]);
  assert.equal(second.updatedRange, 'Events!A3:C4');
  assert.notEqual(statSync(events).ino, inode, 'a new file renamed over the tab, as a rewrite is');
  assert.equal((statSync(events).mode & 0o777).toString(8), '600');
  assert.equal(readFileSync(events, 'utf8'), 'event_id,player,note\ne1,P001,"a, ""quoted"" note"\ne2,P002\ne3,P003," spaced "\n');
  const read = await sheet.getValues('Events!A1:C9');
  assert.deepEqual(read.values, [['event_id', 'player', 'note'], ['e1', 'P001', 'a, "quoted" note'], ['e2', 'P002'], ['e3', 'P003', ' spaced ']]);
  // A second backend (a restarted keeper) reads the same rows from the file.
  assert.deepEqual((await new OfflineBackend(dir).getValues('Events!A1:C9')).values, read.values);
});

it('reads a tab edited by hand since its last append again, and one a rewrite would change is rewritten whole', async () => {
  const events = join(dir, 'Events.csv');
  writeFileSync(events, 'event_id,player\r\ne0,P000,\r\n', { mode: 0o600 });
  const sheet = new OfflineBackend(dir);
  // CRLF and a trailing comma: not the text a rewrite makes, so the tab is rewritten whole.
  await sheet.appendValues('Events!A:B', [['e1', 'P001']]);
  assert.equal(readFileSync(events, 'utf8'), 'event_id,player\ne0,P000\ne1,P001\n');
  // An operator adds a row by hand (another size and mtime): the next append keeps it.
  writeFileSync(events, `${readFileSync(events, 'utf8')}hand,P009\n`);
  const after = await sheet.appendValues('Events!A:B', [['e2', 'P002']]);
  assert.equal(after.updatedRange, 'Events!A5:B5');
  assert.equal(readFileSync(events, 'utf8'), 'event_id,player\ne0,P000\ne1,P001\nhand,P009\ne2,P002\n');
  // Rows that end empty are popped by a read, as Google trims them: the next append's row follows the last with cells.
  await sheet.appendValues('Events!A:B', [['e3', 'P003'], []]);
  const last = await sheet.appendValues('Events!A:B', [['e4', 'P004']]);
  assert.equal(last.updatedRange, 'Events!A7:B7');
  assert.deepEqual((await sheet.getValues('Events!A1:B9')).values?.at(-1), ['e4', 'P004']);
  // A row with trailing empty cells is read trimmed: the next append rewrites the tab whole, and
  // every row reads as it did.
  await sheet.appendValues('Events!A:C', [['e5', 'P005', '']]);
  await sheet.appendValues('Events!A:B', [['e6', 'P006']]);
  assert.equal(readFileSync(events, 'utf8'), 'event_id,player\ne0,P000\ne1,P001\nhand,P009\ne2,P002\ne3,P003\ne4,P004\ne5,P005\ne6,P006\n');
  assert.deepEqual((await new OfflineBackend(dir).getValues('Events!A8:C9')).values, [['e5', 'P005'], ['e6', 'P006']]);
});

it('finds a tab named in another case, as Google does, and answers with its own name', async () => {
  const events = join(dir, 'Events.csv');
  writeFileSync(events, 'event_id,player\ne1,P001\n', { mode: 0o600 });
  const sheet = new OfflineBackend(dir);
  const read = await sheet.getValues('events!A:B');
  assert.equal(read.range, 'Events!A1:B2');
  assert.deepEqual(read.values, [['event_id', 'player'], ['e1', 'P001']]);
  const appended = await sheet.appendValues('EVENTS!A:A', [['e2', 'P002']]);
  assert.equal(appended.updatedRange, 'Events!A3:B3');
  assert.equal(readFileSync(events, 'utf8'), 'event_id,player\ne1,P001\ne2,P002\n');
  await assert.rejects(sheet.getValues('Evens!A:B'), /Unable to parse range: Evens!A:B \(no tab named "Evens"\)/);
});
