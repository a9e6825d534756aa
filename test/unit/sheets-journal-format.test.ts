// The journal's format version (journal-format.ts). A rollback to an older build after a newer
// one wrote the journal made the older one take the records it did not know for damage
// (quarantined, cut with a tail, left out by the rewrite at open) or pass over them at replay and
// drop them at that rewrite: acknowledged writes lost. Every file the journal begins now declares
// its format first; one declaring a format newer than this build's is refused, byte for byte as
// it was; one declaring none (every build before) is read as ever, and declared at its rewrite.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { JournalFormatError } from '../../src/errors.js';
import { decodeRecord, encodeRecord, JournalFile } from '../../src/sheets/keeper/journal-file.js';
import { OPEN_CHUNK_BYTES } from '../../src/sheets/keeper/journal-file-open.js';
import { FORMAT_RECORD, JOURNAL_FORMAT, unknownFormatOf } from '../../src/sheets/keeper/journal-format.js';
import { unknownFormatAtStart } from '../../src/sheets/keeper/journal-format-probe.js';
import { JOURNAL_FILE } from '../../src/sheets/keeper/journal-open.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { FakeClock } from '../fixtures/fake-clock.js';

const row = (id: string) => [id, 'P001', 'goal', `detail ${id}`, '2024-03-02T15:12:00Z'];
const add = (id: string, extra: Record<string, unknown> = {}) => encodeRecord({ k: 'add', id, r: 'Events', rows: [row(id)], at: 1_700_000_000_000, d: 'the sheet', ...extra });
const FORMAT_LINE = encodeRecord(FORMAT_RECORD);

/** The records of the file at `path`, in order (a damaged line's as undefined). */
function fileRecords(path: string) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => decodeRecord(l));
}

describe("the write journal's format", () => {
  let dir: string;
  let path: string;
  const opened: Journal[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-journal-format-'));
    path = join(dir, JOURNAL_FILE);
  });
  afterEach(async () => {
    for (const j of opened.splice(0)) await j.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openJournal(onOpenProgress?: (read: number, total: number) => void) {
    const result = await Journal.open({ dir, destination: 'the sheet', clock: new FakeClock(), unsureDelayMs: 1000, ...(onOpenProgress ? { onOpenProgress } : {}) });
    opened.push(result.journal);
    return result;
  }

  it('this build writes format 1, the format of every journal written before the declaration', () => {
    assert.equal(JOURNAL_FORMAT, 1);
    assert.deepEqual(FORMAT_RECORD, { k: 'format', v: 1 });
    assert.equal(unknownFormatOf(FORMAT_RECORD), undefined);
    assert.deepEqual(unknownFormatOf({ k: 'format', v: 2 }), { v: 2 });
    // A declaration it cannot make out declares no format it knows.
    assert.deepEqual(unknownFormatOf({ k: 'format', v: '1' }), { v: '1' });
    assert.deepEqual(unknownFormatOf({ k: 'format' }), { v: undefined });
    assert.equal(unknownFormatOf({ k: 'add', v: 2 }), undefined);
  });

  it('a journal declaring a newer format is refused with CORRAL_ERR_JOURNAL_FORMAT and left byte for byte as it was', async () => {
    // What a newer build may write: an add record of a shape this one cannot replay (taken for
    // damage: quarantined, then left out by the rewrite), a kind it would pass over and drop at
    // the rewrite, and, at the end, a write a crash cut short (a tail this one would cut).
    const text =
      encodeRecord({ k: 'format', v: 2 }) +
      add('n1') +
      encodeRecord({ k: 'add', id: 'n2', r: 'Events', rows: { packed: 'n2,P001,goal' }, at: 1_700_000_000_001 }) +
      encodeRecord({ k: 'acked', ids: ['n1', 'n2'], at: 1_700_000_000_002 }) +
      add('n3').slice(0, 40);
    writeFileSync(path, text);
    const before = statSync(path);
    let err: unknown;
    await openJournal().catch((e: unknown) => (err = e));
    assert.ok(err instanceof JournalFormatError, `refused as JournalFormatError (got ${String(err)})`);
    assert.equal(err.code, 'CORRAL_ERR_JOURNAL_FORMAT');
    assert.deepEqual([err.path, err.found, err.known], [path, 2, 1]);
    assert.match(err.message, new RegExp(`journal ${path} declares format 2, and this build of corral writes format 1`));
    assert.match(err.message, /left untouched and the keeper does not start/);
    assert.match(err.message, /Run the newer build again; or let it drain the journal first .*then move .* aside and start this build/);

    assert.equal(readFileSync(path, 'latin1'), text, 'not a byte changed: no cut tail, no rewrite');
    const after = statSync(path);
    assert.deepEqual([after.ino, after.size, after.mtimeMs], [before.ino, before.size, before.mtimeMs], 'the same file, never written');
    assert.deepEqual(readdirSync(dir).sort(), [JOURNAL_FILE], 'no quarantine file, no temporary file');
  });

  it('a newer format declared anywhere in the file counts, not only in its first record; so does one it cannot make out', async () => {
    // A newer build whose rewrite at open failed may declare its format in an appended record.
    const appended = add('o1') + add('o2') + encodeRecord({ k: 'format', v: 3 }) + add('n1');
    writeFileSync(path, appended);
    await assert.rejects(JournalFile.open(path), (e: JournalFormatError) => e.code === 'CORRAL_ERR_JOURNAL_FORMAT' && e.found === 3);
    assert.equal(readFileSync(path, 'utf8'), appended);

    const unreadable = encodeRecord({ k: 'format', v: 'two' }) + add('n1');
    writeFileSync(path, unreadable);
    await assert.rejects(JournalFile.open(path), (e: JournalFormatError) => e.code === 'CORRAL_ERR_JOURNAL_FORMAT' && /declares format "two"/.test(e.message));
    assert.equal(readFileSync(path, 'utf8'), unreadable);
  });

  it('a refused journal is read no further than its declaration: a keeper started again and again reads one chunk each time', async () => {
    const big = encodeRecord({ k: 'format', v: 2 }) + add('n1', { pad: 'x'.repeat(OPEN_CHUNK_BYTES) }) + add('n2');
    writeFileSync(path, big);
    const progress: number[] = [];
    await assert.rejects(
      openJournal((read) => progress.push(read)),
      (e: Error & { code?: string }) => e.code === 'CORRAL_ERR_JOURNAL_FORMAT',
    );
    assert.deepEqual(progress, [OPEN_CHUNK_BYTES]);
    assert.equal(statSync(path).size, Buffer.byteLength(big));
  });

  it('a journal without the declaration (every build before it) replays as ever, an unknown kind passed over as ever, and is declared at its rewrite at open', async () => {
    const undeclared =
      add('p1') +
      add('u1') +
      encodeRecord({ k: 'send', ids: ['u1'], at: 1_700_000_000_010 }) +
      add('d1') +
      encodeRecord({ k: 'done', ids: ['d1'], at: 1_700_000_000_020, how: 'sent' }) +
      // A kind this build does not know, within its own format: passed over, not damage.
      encodeRecord({ k: 'note', text: 'a kind of a build that may be passed over', at: 1_700_000_000_030 });
    writeFileSync(path, undeclared);
    const { journal, replayed, quarantined } = await openJournal();
    assert.equal(quarantined, undefined, 'nothing taken for damage');
    assert.deepEqual([replayed.pending, replayed.unsure, replayed.skippedLines, replayed.truncatedBytes], [1, 1, 0, 0]);
    assert.deepEqual(
      journal.live().map((e) => [e.rows[0]?.[0], e.state]),
      [
        ['p1', 'pending'],
        ['u1', 'unsure'],
      ],
    );
    // The rewrite at open: the declaration first, then the entries as they were.
    const records = fileRecords(path);
    assert.deepEqual(records[0], FORMAT_RECORD);
    assert.deepEqual(
      records.slice(1).map((r) => [r?.k, r?.id ?? r?.ids]),
      [
        ['add', 'p1'],
        ['add', 'u1'],
        ['send', ['u1']],
        ['add', 'd1'],
        ['done', ['d1']],
      ],
    );
  });

  it('an append to an undeclared journal (its rewrite at open failed: a disk nearly full) declares nothing behind its records, and it is read as before', async () => {
    writeFileSync(path, add('p1'));
    const { file } = await JournalFile.open(path);
    await file.append([{ k: 'add', id: 'p2', r: 'Events', rows: [row('p2')], at: 1 }]);
    await file.close();
    assert.equal(fileRecords(path)[0]?.k, 'add', 'a file with records is not declared by an append');
    const { journal } = await openJournal();
    assert.deepEqual(
      journal.live().map((e) => e.rows[0]?.[0]),
      ['p1', 'p2'],
    );
  });

  it('a new journal carries the declaration first, and keeps it across compactions, a file put back and restarts', async () => {
    const first = await openJournal();
    assert.equal(readFileSync(path, 'utf8'), FORMAT_LINE, 'declared before its first append');
    for (const id of ['a1', 'a2', 'a3']) await first.journal.add('Events', [row(id)]);
    await first.journal.markDone(first.journal.live().slice(0, 1), 'sent');
    await first.journal.compact();
    assert.deepEqual(fileRecords(path)[0], FORMAT_RECORD, 'kept by a compaction');
    assert.equal(fileRecords(path).filter((r) => r?.k === 'format').length, 1, 'once');

    // Deleted under the keeper: put back from memory, declared.
    rmSync(path);
    await first.journal.verifyFile();
    assert.deepEqual(fileRecords(path)[0], FORMAT_RECORD, 'kept by the file put back');
    await first.journal.add('Events', [row('a4')]);
    await first.journal.close();
    opened.splice(opened.indexOf(first.journal), 1);

    const second = await openJournal();
    assert.deepEqual(
      second.journal.live().map((e) => e.rows[0]?.[0]),
      ['a2', 'a3', 'a4'],
    );
    assert.equal(second.quarantined, undefined);
    const records = fileRecords(path);
    assert.deepEqual(records[0], FORMAT_RECORD, 'kept by the restart');
    assert.equal(records.filter((r) => r?.k === 'format').length, 1);
  });

  it('a file the journal begins without a rewrite (a new one, or one emptied at open) declares its format with its first append', async () => {
    const { file } = await JournalFile.open(path);
    await Promise.all([file.append([{ k: 'add', id: 'g1' }]), file.append([{ k: 'add', id: 'g2' }])]);
    await file.append([{ k: 'add', id: 'g3' }]);
    await file.close();
    assert.deepEqual(
      fileRecords(path).map((r) => r?.id ?? r?.k),
      ['format', 'g1', 'g2', 'g3'],
    );
    assert.equal(fileRecords(path).filter((r) => r?.k === 'format').length, 1, 'only the write that begins the file');
    const reopened = await JournalFile.open(path);
    await reopened.file.close();
    assert.deepEqual([reopened.truncatedBytes, reopened.damaged.length], [0, 0]);
  });

  it("`corral check`'s probe: the start of the file, read only", async () => {
    assert.equal(await unknownFormatAtStart(path), undefined, 'no journal yet');
    writeFileSync(path, FORMAT_LINE + add('a1'));
    assert.equal(await unknownFormatAtStart(path), undefined);
    writeFileSync(path, add('a1'));
    assert.equal(await unknownFormatAtStart(path), undefined, 'undeclared: format 1');
    const newer = encodeRecord({ k: 'format', v: 2 }) + add('a1');
    writeFileSync(path, newer);
    assert.deepEqual(await unknownFormatAtStart(path), { v: 2 });
    assert.equal(readFileSync(path, 'utf8'), newer);
  });
});
