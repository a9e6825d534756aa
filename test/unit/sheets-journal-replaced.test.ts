// The journal's file deleted, replaced or cut by something other than corral while the keeper runs
// (an rm, a cleanup job, `truncate -s 0`): appends went on into the open handle of a file nobody
// would open again, acknowledged, and a restart replayed none of them. The journal now checks its
// file before each write and at verifyFile(), and writes its memory back to the path.

import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FileReplacement } from '../../src/sheets/keeper/journal-file-replacement.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { FakeClock } from '../fixtures/fake-clock.js';

const row = (id: string) => [id, 'P001', 'goal', `detail ${id}`, '2024-03-02T15:12:00Z'];

describe('write journal whose file is removed or changed under it', () => {
  let dir: string;
  let told: { what: FileReplacement; rowsNotInSheet: number }[];
  const opened: Journal[] = [];

  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'corral-journal-replaced-')), 'data');
    told = [];
  });
  afterEach(async () => {
    for (const j of opened.splice(0)) await j.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  async function openJournal(): Promise<{ journal: Journal; pending: number }> {
    const { journal, replayed } = await Journal.open({
      dir,
      destination: 'fake sheet',
      clock: new FakeClock(),
      onFileReplaced: (what, d) => told.push({ what, rowsNotInSheet: d.rowsNotInSheet }),
    });
    opened.push(journal);
    return { journal, pending: replayed.pending };
  }

  /** Closes `journal` as a stop does, then opens the data dir again as the next keeper would. */
  async function restart(journal: Journal): Promise<number> {
    await journal.close();
    opened.splice(opened.indexOf(journal), 1);
    return (await openJournal()).pending;
  }

  it('a deleted file: the next append writes every acknowledged row back first, and a restart replays them all', async () => {
    const { journal } = await openJournal();
    for (const id of ['a1', 'a2', 'a3']) await journal.add('Events', [row(id)]);
    rmSync(journal.path);
    for (const id of ['b1', 'b2', 'b3']) await journal.add('Events', [row(id)]);
    assert.deepEqual(told, [{ what: 'deleted', rowsNotInSheet: 3 }]);
    assert.equal(await restart(journal), 6);
  });

  it('a file cut to nothing (truncate -s 0) or replaced by another file is written back too', async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('t1')]);
    await journal.add('Events', [row('t2')]);
    truncateSync(journal.path, 0);
    await journal.add('Events', [row('t3')]);
    writeFileSync(`${journal.path}.other`, 'not a journal\n');
    renameSync(`${journal.path}.other`, journal.path);
    await journal.add('Events', [row('t4')]);
    assert.deepEqual(
      told.map((t) => t.what),
      ['resized', 'replaced'],
    );
    assert.equal(await restart(journal), 4);
  });

  it('with no append coming: verifyFile() puts back a file deleted with the whole data dir, and a stop does too', async () => {
    const { journal } = await openJournal();
    for (const id of ['q1', 'q2']) await journal.add('Events', [row(id)]);
    rmSync(dir, { recursive: true });
    await journal.verifyFile();
    assert.deepEqual(told, [{ what: 'deleted', rowsNotInSheet: 2 }]);
    rmSync(journal.path);
    // A graceful stop with nothing appended since: close() checks before it closes.
    assert.equal(await restart(journal), 2);
    assert.deepEqual(
      told.map((t) => t.what),
      ['deleted', 'deleted'],
    );
  });

  it('an untouched file is left alone: no rewrite, nothing told', async () => {
    const { journal } = await openJournal();
    await journal.add('Events', [row('u1')]);
    const fsyncs = journal.fsyncs();
    await journal.verifyFile();
    await journal.add('Events', [row('u2')]);
    assert.deepEqual(told, []);
    assert.equal(journal.fsyncs(), fsyncs + 1, 'one fsync: the append, no rewrite');
  });
});
