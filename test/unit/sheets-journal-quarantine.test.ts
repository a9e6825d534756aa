// Damaged journal bytes are copied to a quarantine file, durably, before the journal drops them.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { decodeRecord, encodeRecord, JournalFile, type JournalRecord } from '../../src/sheets/keeper/journal-file.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { quarantineDamage } from '../../src/sheets/keeper/journal-quarantine.js';
import { replayable, replayRecords } from '../../src/sheets/keeper/journal-replay.js';

const row = (id: string) => [id, 'P001', 'goal', `detail ${id}`, '2024-03-02T15:12:00Z'];
const line = (id: string) => encodeRecord({ k: 'add', id, r: 'Events', rows: [row(id)], at: 1 });
/** One character of the record changed: valid JSON, wrong checksum (a bit flip). */
const flipped = (id: string) => line(id).replace(`"detail ${id}"`, `"detaiL ${id}"`);
const ids = (records: readonly JournalRecord[]) => records.map((r) => r.id);

interface QuarantinedPiece {
  kind: string;
  offset: number;
  bytes: Buffer;
  lines: number;
}

/** Reads a quarantine file as an operator's script would: the header line, then per piece its "# piece" line, its bytes, a newline. */
function readQuarantine(path: string): { header: string; pieces: QuarantinedPiece[] } {
  const buf = readFileSync(path);
  let at = buf.indexOf(0x0a) + 1;
  const header = buf.toString('utf8', 0, at - 1);
  const pieces: QuarantinedPiece[] = [];
  while (at < buf.length) {
    const eol = buf.indexOf(0x0a, at);
    const head = buf.toString('utf8', at, eol);
    assert.match(head, /^# piece \{/);
    const meta = JSON.parse(head.slice('# piece '.length)) as { kind: string; offset: number; bytes: number; lines: number };
    const bytes = buf.subarray(eol + 1, eol + 1 + meta.bytes);
    assert.equal(buf[eol + 1 + meta.bytes], 0x0a, 'each piece is followed by a newline');
    pieces.push({ kind: meta.kind, offset: meta.offset, bytes, lines: meta.lines });
    at = eol + 1 + meta.bytes + 1;
  }
  return { header, pieces };
}

const quarantineFiles = (dir: string) => readdirSync(dir).filter((n) => n.includes('.damaged-'));

/** Handles that record what is done to which file, and can fail the quarantine file's write. */
function recordingHandles(events: string[], fail: { quarantineWrite?: boolean } = {}): (fh: FileHandle, path: string) => FileHandle {
  return (fh, path) => {
    const name = basename(path).includes('.damaged-') ? 'quarantine' : basename(path);
    return new Proxy(fh, {
      get(target, prop) {
        if (prop === 'writeFile' || prop === 'sync' || prop === 'truncate') {
          return async (...args: unknown[]) => {
            events.push(`${String(prop)} ${name}`);
            if (prop === 'writeFile' && name === 'quarantine' && fail.quarantineWrite) {
              // A full disk: part of the copy is written, then ENOSPC.
              await target.write(Buffer.from('# corral: damaged bytes of'));
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            }
            return (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
}

describe('journal quarantine', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-quarantine-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('damaged lines and a damaged tail are copied verbatim, with their offsets, before the truncate; the valid records are kept', async () => {
    const path = join(dir, 'file.journal');
    // A flipped character in an acknowledged record, zeroes from a bad sector, then a tail: a
    // flipped record and a write cut short.
    const middle1 = flipped('m1');
    const middle2 = '\0'.repeat(64) + '\n' + flipped('m2');
    const tail = flipped('t1') + line('t2').slice(0, 30);
    const text = Buffer.from(line('a') + middle1 + line('b') + middle2 + line('c') + tail, 'utf8');
    writeFileSync(path, text);
    const expected = [
      { kind: 'skipped', offset: Buffer.byteLength(line('a')), text: middle1, lines: 1 },
      { kind: 'skipped', offset: Buffer.byteLength(line('a') + middle1 + line('b')), text: middle2, lines: 2 },
      { kind: 'tail', offset: Buffer.byteLength(line('a') + middle1 + line('b') + middle2 + line('c')), text: tail, lines: 2 },
    ];

    const events: string[] = [];
    const syncDir = async (d: string) => {
      events.push(`syncDir ${d === dir ? 'data dir' : d}`);
    };
    const opened = await JournalFile.open(path, { syncDir, wrapHandle: recordingHandles(events) });
    try {
      assert.deepEqual(ids(opened.records), ['a', 'b', 'c']);
      assert.equal(opened.truncatedBytes, Buffer.byteLength(tail));
      assert.equal(statSync(path).size, text.length - Buffer.byteLength(tail), 'the tail is cut');
      assert.ok(opened.quarantine, 'a quarantine file is named');
      assert.deepEqual(quarantineFiles(dir), [basename(opened.quarantine)]);
      assert.match(basename(opened.quarantine), /^file\.journal\.damaged-\d{8}T\d{6}\.\d{3}Z$/);
      assert.equal(statSync(opened.quarantine).mode & 0o777, 0o600, 'as private as the journal');
      // Written and made durable (the file, then its directory entry) before the journal is cut.
      assert.deepEqual(events, ['writeFile quarantine', 'sync quarantine', 'syncDir data dir', 'truncate file.journal', 'sync file.journal']);

      const q = readQuarantine(opened.quarantine);
      assert.ok(q.header.includes(path), 'the file says which journal it comes from');
      assert.deepEqual(
        q.pieces.map((p) => ({ kind: p.kind, offset: p.offset, lines: p.lines })),
        expected.map(({ kind, offset, lines }) => ({ kind, offset, lines })),
      );
      for (const [i, p] of q.pieces.entries()) {
        const want = expected[i];
        assert.ok(want);
        assert.deepEqual(p.bytes, Buffer.from(want.text, 'utf8'), `piece ${i} is verbatim`);
        assert.deepEqual(p.bytes, text.subarray(p.offset, p.offset + p.bytes.length), `piece ${i} is at its offset in the journal`);
      }
      // A person can recover the flipped record: undo the flip and its checksum matches again.
      const repaired = q.pieces[0]?.bytes.toString('utf8').replace('detaiL', 'detail').trimEnd() ?? '';
      assert.equal(decodeRecord(repaired)?.id, 'm1');

      // The rewrite drops the skipped lines from the journal; the copy keeps them.
      await opened.file.rewrite(() => opened.records);
    } finally {
      await opened.file.close();
    }
    assert.ok(!readFileSync(path).includes(Buffer.from(middle1)), 'the rewrite left the damaged line out');
    assert.deepEqual(readQuarantine(opened.quarantine).pieces.map((p) => p.bytes.toString('utf8')), expected.map((e) => e.text));
    const reopened = await JournalFile.open(path);
    await reopened.file.close();
    // Written before the format declaration, the file carries one from its rewrite (journal-format.ts).
    assert.deepEqual(reopened.records.map((r) => r.id ?? r.k), ['format', 'a', 'b', 'c']);
    assert.equal(reopened.quarantine, undefined, 'a clean journal makes no quarantine file');
    assert.equal(quarantineFiles(dir).length, 1);
  });

  it('a quarantine copy that cannot be written fails the open with CORRAL_ERR_JOURNAL_QUARANTINE and leaves the journal whole', async () => {
    const path = join(dir, 'file.journal');
    const text = line('a') + flipped('m1') + line('b') + flipped('t1') + line('t2').slice(0, 30);
    writeFileSync(path, text);
    const events: string[] = [];
    await assert.rejects(JournalFile.open(path, { wrapHandle: recordingHandles(events, { quarantineWrite: true }) }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CORRAL_ERR_JOURNAL_QUARANTINE');
      assert.match(err.message, /cannot copy \d+ damaged bytes of the journal .*file\.journal/);
      assert.match(err.message, /ENOSPC/);
      assert.match(err.message, /the journal was left as it is.*free space in/);
      return true;
    });
    assert.ok(!events.some((e) => e.startsWith('truncate')), 'nothing was cut');
    assert.equal(readFileSync(path, 'utf8'), text, 'the journal is as it was');
    assert.deepEqual(quarantineFiles(dir), [], 'no partial copy left to mislead');

    // Its directory entry not durable: not cut either.
    const syncDir = async () => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    };
    await assert.rejects(JournalFile.open(path, { syncDir }), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_JOURNAL_QUARANTINE');
    assert.equal(readFileSync(path, 'utf8'), text);

    // Once the copy can be written, the journal opens (nothing stays stuck).
    const opened = await JournalFile.open(path);
    await opened.file.close();
    assert.deepEqual(ids(opened.records), ['a', 'b']);
    assert.ok(opened.quarantine);
    assert.equal(readQuarantine(opened.quarantine).pieces.length, 2);
  });

  it('copies made within the same millisecond never overwrite an earlier one', async () => {
    const journal = join(dir, 'file.journal');
    const at = new Date(Date.UTC(2026, 10, 25, 0, 51, 8, 123));
    const io = { syncDir: async () => undefined, wrapHandle: (fh: FileHandle) => fh };
    const paths: string[] = [];
    for (const text of ['first', 'second', 'third']) {
      paths.push(await quarantineDamage(journal, [{ kind: 'skipped', offset: 10, bytes: Buffer.from(text), lines: 1 }], io, at));
    }
    assert.deepEqual(paths.map((p) => basename(p)), ['file.journal.damaged-20261125T005108.123Z', 'file.journal.damaged-20261125T005108.123Z-2', 'file.journal.damaged-20261125T005108.123Z-3']);
    assert.deepEqual(paths.map((p) => readQuarantine(p).pieces[0]?.bytes.toString('utf8')), ['first', 'second', 'third']);
  });

  it('Journal.open says whether the damage may hold acknowledged rows: a write cut short does not, a whole damaged line does', async () => {
    const path = join(dir, 'sheets.journal');
    writeFileSync(path, line('a') + line('b').slice(0, 40));
    const cut = await Journal.open({ dir, destination: 'the sheet' });
    await cut.journal.close();
    assert.equal(cut.quarantined?.mayHoldAcknowledged, false);
    assert.deepEqual(cut.quarantined?.pieces, [{ kind: 'tail', offset: Buffer.byteLength(line('a')), bytes: 40, lines: 1 }]);

    writeFileSync(path, line('a') + flipped('b'));
    const whole = await Journal.open({ dir, destination: 'the sheet' });
    await whole.journal.close();
    assert.equal(whole.quarantined?.mayHoldAcknowledged, true, 'a whole line after the last valid record may be a damaged acknowledged record');
    assert.deepEqual(whole.journal.live().map((e) => e.id), ['a']);

    const clean = await Journal.open({ dir, destination: 'the sheet' });
    await clean.journal.close();
    assert.equal(clean.quarantined, undefined);
  });

  it("an unfinished group at the end is a write that did not complete: its entries' send record made no call, its rows were refused; nothing was acknowledged", async () => {
    const path = join(dir, 'sheets.journal');
    const marked = (rec: JournalRecord, g: number) => encodeRecord({ ...rec, g });
    const add = (id: string): JournalRecord => ({ k: 'add', id, r: 'Events', rows: [row(`ev-${id}`)], at: 1 });
    // e1 and e2 acknowledged; then a complete group (e4, and the send record of its batch);
    // then a group whose write failed after two of its three records: e1's send record (the
    // flusher awaits it before calling Google: no call followed) and e3's add (refused).
    const complete = marked(add('e4'), 2) + marked({ k: 'send', ids: ['e4'], at: 2 }, 1);
    const unfinished = marked({ k: 'send', ids: ['e1'], at: 3 }, 3) + marked(add('e3'), 2);
    writeFileSync(path, line('e1') + line('e2') + complete + unfinished);
    const opened = await Journal.open({ dir, destination: 'the sheet' });
    await opened.journal.close();
    const states = Object.fromEntries(opened.journal.live().map((e) => [e.id, e.state]));
    assert.deepEqual(states, { e1: 'pending', e2: 'pending', e4: 'unsure' }, 'e1 sent at once (no read-back), e3 gone, the complete group replayed');
    assert.equal(opened.quarantined?.mayHoldAcknowledged, false, 'said as a write cut short (journal.torn_tail), not as damage');
    assert.deepEqual(opened.quarantined?.pieces, [{ kind: 'tail', offset: Buffer.byteLength(line('e1') + line('e2') + complete), bytes: Buffer.byteLength(unfinished), lines: 2 }]);
    assert.deepEqual(opened.quarantined?.cutRows, ['ev-e3'], 'the rows it began are named');
    assert.equal(opened.replayed.truncatedBytes, Buffer.byteLength(unfinished));
    const [copy] = quarantineFiles(dir);
    assert.ok(copy);
    assert.deepEqual(readQuarantine(join(dir, copy)).pieces.map((p) => p.bytes.toString('utf8')), [unfinished]);
  });

  it('a corral from before the group marks reads a file with them as its own: replay takes the records, the mark ignored', async () => {
    const records = [{ k: 'add', id: 'e1', r: 'Events', rows: [row('ev-1')], at: 1, g: 2 }, { k: 'send', ids: ['e1'], at: 2, g: 1 }] as JournalRecord[];
    assert.ok(records.every((r) => replayable(r)));
    const entries = await replayRecords(records, 'the sheet');
    assert.deepEqual([...entries.values()].map((e) => [e.id, e.state, e.rows]), [['e1', 'unsure', [row('ev-1')]]]);
  });

  it('a record with a valid checksum but a shape replay cannot take is damage, quarantined, not a start that fails every time', async () => {
    const path = join(dir, 'sheets.journal');
    const malformed = [
      encodeRecord({ k: 'add', id: 'no-rows', r: 'Events', at: 1 }),
      encodeRecord({ k: 'add', id: 'bad-range', r: "'Ev", rows: [row('x')], at: 1 }),
      encodeRecord({ k: 'add', id: 'bad-row', r: 'Events', rows: [5], at: 1 }),
      encodeRecord({ k: 'split', id: 'a', nid: 'no-rows-split', at: 2 }),
    ];
    writeFileSync(path, line('a') + malformed.join('') + line('b'));
    const opened = await Journal.open({ dir, destination: 'the sheet' });
    await opened.journal.close();
    assert.deepEqual(opened.journal.live().map((e) => e.id).sort(), ['a', 'b']);
    assert.equal(opened.quarantined?.mayHoldAcknowledged, true, 'a whole line was lost: every pending entry is read back');
    assert.deepEqual(opened.journal.live().map((e) => e.state), ['unsure', 'unsure']);
    const [copy] = quarantineFiles(dir);
    assert.ok(copy, 'the lines are copied before the rewrite drops them');
    assert.deepEqual(readQuarantine(join(dir, copy)).pieces.map((p) => p.bytes.toString('utf8')), [malformed.join('')]);
  });
});
