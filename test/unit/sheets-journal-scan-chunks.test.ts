// The journal is read a chunk at a time at open (audit F3: one Buffer of the whole file blocked the
// keeper's loop for the whole scan, and could not hold a file over 2 GiB): the scan must find the
// same records and the same damage however the file is cut.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPEN_CHUNK_BYTES } from '../../src/sheets/keeper/journal-file-open.js';
import { JournalFile } from '../../src/sheets/keeper/journal-file.js';
import { JournalEntries } from '../../src/sheets/keeper/journal-entries.js';
import type { JournalEntry } from '../../src/sheets/keeper/journal-replay.js';
import { rangeKeyOf } from '../../src/sheets/keeper/journal-rows.js';
import { encodeRecord, JournalScanner, scanRecords, type ScannedFile } from '../../src/sheets/keeper/journal-scan.js';

const rec = (i: number) => encodeRecord({ k: 'add', id: `e${i}`, r: 'Events', rows: [[`ev-${i}`, 'x'.repeat(i % 7)]], at: i });

const FILES: Record<string, string> = {
  empty: '',
  clean: rec(1) + rec(2) + rec(3),
  'a damaged line between records': rec(1) + 'garbage line\n' + 'more garbage\n' + rec(2),
  'a torn group then a record on its line': rec(1) + rec(2).slice(0, 20) + rec(3) + rec(4),
  'a cut last write': rec(1) + rec(2) + rec(3).slice(0, 30),
  'whole damaged lines in the tail': rec(1) + 'bad\n' + 'worse\n' + 'cut',
  'no newline at all': 'no newline in this file at all',
  'damage only': 'x\ny\n',
};

/** Comparable: records as JSON, damaged bytes as text. */
const plain = (s: ScannedFile) => ({ ...s, records: s.records.map((r) => JSON.stringify(r)), damaged: s.damaged.map((p) => ({ ...p, bytes: p.bytes.toString('latin1') })) });

function scanInPieces(buf: Buffer, size: number): ScannedFile {
  const scanner = new JournalScanner();
  // One reused piece, as JournalFile.open reads: the scanner must copy what it keeps.
  const piece = Buffer.alloc(size);
  for (let at = 0; at < buf.length; at += size) {
    const n = buf.copy(piece, 0, at, Math.min(buf.length, at + size));
    scanner.feed(piece.subarray(0, n));
    piece.fill(0x21);
  }
  return scanner.end();
}

test('the scan in pieces of any size finds what the scan of the whole file finds', () => {
  for (const [name, text] of Object.entries(FILES)) {
    const buf = Buffer.from(text, 'latin1');
    const whole = plain(scanRecords(buf));
    for (const size of [1, 2, 13, 64, 200, buf.length + 1]) assert.deepEqual(plain(scanInPieces(buf, size)), whole, `${name}, pieces of ${size}`);
  }
  const torn = plain(scanRecords(Buffer.from(FILES['a damaged line between records'] ?? '', 'latin1')));
  assert.deepEqual(
    torn.damaged.map((p) => [p.kind, p.bytes, p.lines]),
    [['skipped', 'garbage line\nmore garbage\n', 2]],
  );
});

test('open() reads a journal larger than a chunk piece by piece, telling its progress, with the event loop turning between pieces', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-scan-chunks-'));
  try {
    const path = join(dir, 'sheets.journal');
    const line = encodeRecord({ k: 'add', id: 'e', r: 'Events', rows: [['ev', 'y'.repeat(1000)]], at: 1 });
    const count = Math.ceil((2.5 * OPEN_CHUNK_BYTES) / line.length);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(encodeRecord({ k: 'add', id: `e${i}`, r: 'Events', rows: [[`ev-${i}`, 'y'.repeat(1000)]], at: i }));
    const text = lines.join('') + 'torn';
    writeFileSync(path, text);
    const progress: Array<[number, number]> = [];
    // One count per turn of the event loop (each check phase runs the next setImmediate).
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const turnsAtProgress: number[] = [];
    const opened = await JournalFile.open(path, { onProgress: (read, total) => (progress.push([read, total]), turnsAtProgress.push(turns)) });
    spinning = false;
    try {
      assert.equal(opened.records.length, count);
      assert.equal(opened.truncatedBytes, 4);
      const size = Buffer.byteLength(text);
      assert.deepEqual(progress.map(([, total]) => total), progress.map(() => size));
      assert.deepEqual(progress.map(([read]) => read), [OPEN_CHUNK_BYTES, 2 * OPEN_CHUNK_BYTES, size]);
      assert.ok(turnsAtProgress.every((t, i) => i === 0 || t > (turnsAtProgress[i - 1] ?? 0)), `the loop turned between pieces: ${turnsAtProgress.join(',')}`);
      assert.equal(opened.file.bytes(), size - 4);
    } finally {
      await opened.file.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restoring the replayed entries lets the event loop turn between slices, so a large journal does not stop the keeper beating', async () => {
  const entries = new Map<string, JournalEntry>();
  for (let i = 0; i < 100; i++) {
    const rows = Array.from({ length: 1000 }, (_, j) => [`ev-${i}-${j}`, 'P001']);
    entries.set(`e${i}`, { id: `e${i}`, range: 'Events', sheet: 'Events', rangeKey: rangeKeyOf('Events'), rows, at: i, destination: 'the sheet', state: 'pending', durable: true, attempts: 0, nextAttemptAt: 0, doneAt: undefined });
  }
  const table = new JournalEntries({ retainDoneMs: 60_000, retainDoneRows: 1000, copyOlderThan: undefined });
  let turns = 0;
  const restoring = table.restore(entries, 0, 0, 'the sheet');
  const counting = (async () => {
    let done = false;
    void restoring.then(() => (done = true));
    while (!done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turns++;
    }
  })();
  await restoring;
  await counting;
  assert.equal(table.backlogRows(), 100_000);
  assert.ok(turns >= 4, `the loop turned ${turns} times while 100,000 rows were indexed`);
});

test("the replay of a large journal's records lets the keeper's loop turn: its lock's heartbeat and its boot heartbeats go on", async () => {
  // replayRecords ran in one stretch: 2 to 5 s for a million add records (188 MiB, under the
  // default SHEETS_JOURNAL_MAX_MB) on a loaded 2-core box. The lock's mtime is refreshed every
  // second by a timer of that loop, and a keeper of another pid namespace takes a lock unrefreshed
  // for FOREIGN_LOCK_STALE_MS (5 s) for a dead keeper's: two keepers on one journal.
  const { replayRecords } = await import('../../src/sheets/keeper/journal-replay.js');
  const records = Array.from({ length: 200_000 }, (_, i) => ({ k: 'add', id: `e${i}`, r: i % 2 ? 'Events!A:E' : "'Other tab'!A:C", rows: [[`ev-${i}`, 'x']], at: i }));
  let turns = 0;
  let done = false;
  const tick = () => {
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  const entries = await replayRecords(records, 'the sheet');
  done = true;
  assert.equal(entries.size, 200_000);
  assert.deepEqual([entries.get('e1')?.sheet, entries.get('e2')?.sheet], ['events', 'other tab'], 'keyed by their tabs, whatever the case');
  assert.deepEqual([entries.get('e1')?.range, entries.get('e2')?.range], ['Events!A:E', "'Other tab'!A:C"], 'the ranges as written');
  assert.ok(turns >= 2, `the loop turned ${turns} times during the replay of 200,000 records`);
});
