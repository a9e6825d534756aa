// The journal on a real small filesystem (a tmpfs of 256 KiB) that fills up: what an append that
// cannot be written says.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
    const { journal } = await Journal.open({ dir: disk.dir });
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
});
