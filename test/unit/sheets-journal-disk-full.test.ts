// The journal on a real small filesystem (a tmpfs of 256 KiB) that fills up: what an append that
// cannot be written says, and an open on a disk with room for appends but not for the rewrite.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DataDirWriteError } from '../../src/errors.js';
import { Journal } from '../../src/sheets/keeper/journal.js';
import { mountSmallDisk, smallDiskUnavailable, type SmallDisk } from '../helpers/small-disk.js';

const row = (id: string) => [id, 'P001', 'goal', `detail ${id} ${'x'.repeat(2000)}`, '2024-03-02T15:12:00Z'];
const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-tmpfs-probe-${process.pid}`));

describe('write journal on a full disk', { skip: unavailable }, () => {
  let root: string;
  let disk: SmallDisk;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'corral-journal-full-'));
    disk = mountSmallDisk(join(root, 'data'), 256);
  });
  afterEach(() => {
    disk.unmount();
    rmSync(root, { recursive: true, force: true });
  });

  it('an append that cannot be written fails with CORRAL_ERR_JOURNAL_UNWRITABLE, the path and the errno', async () => {
    const { journal } = await Journal.open({ dir: disk.dir, destination: 'the sheet' });
    try {
      disk.fill();
      let failure: unknown;
      let saved = 0;
      for (let i = 0; i < 100 && failure === undefined; i++) {
        await journal.add('Events', [row(`f${i}`)]).then(
          () => saved++,
          (err: unknown) => (failure = err),
        );
      }
      assert.ok(failure instanceof DataDirWriteError, `refused with ${String(failure)}`);
      assert.equal(failure.code, 'CORRAL_ERR_JOURNAL_UNWRITABLE');
      assert.equal(failure.path, journal.path);
      assert.equal(failure.errno, 'ENOSPC');
      assert.match(failure.message, new RegExp(`cannot write the journal ${journal.path}: ENOSPC`));
      // The refused rows are neither kept nor shown to reads: only the acknowledged ones are.
      assert.equal(journal.backlogRows(), saved);
      assert.equal(journal.rowsFor('Events', 0).length, saved);
    } finally {
      await journal.close();
    }
  });

  it('opens on a disk with room for appends but not for the rewrite, and says the rewrite failed', async () => {
    const first = (await Journal.open({ dir: disk.dir, destination: 'the sheet' })).journal;
    for (let i = 0; i < 40; i++) await first.add('Events', [row(`p${i}`)]);
    await first.close();
    // About 90 KiB of journal, and 16 KiB left free.
    const gap = join(disk.dir, 'gap');
    writeFileSync(gap, Buffer.alloc(16 * 1024));
    disk.fill();
    rmSync(gap);

    const failures: Error[] = [];
    const { journal, replayed } = await Journal.open({ dir: disk.dir, destination: 'the sheet', onCompactionFailed: (err) => failures.push(err) });
    try {
      assert.equal(replayed.pending, 40);
      assert.equal(failures.length, 1, 'the rewrite at open failed, and was said');
      assert.match(failures[0]?.message ?? '', /ENOSPC/);
      // The file as it was still takes appends.
      await journal.add('Events', [row('after')]);
      assert.equal(journal.backlogRows(), 41);
    } finally {
      await journal.close();
    }
    const again = await Journal.open({ dir: disk.dir, destination: 'the sheet', onCompactionFailed: () => undefined });
    assert.equal(again.replayed.pending, 41);
    await again.journal.close();
  });
});
