// The quota ledger on a real small filesystem (a tmpfs of 64 KiB) that fills up: each grant
// rewrites it, so a full disk fails every call's write.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { QUOTA_LEDGER_FILE, QuotaLedger } from '../../src/sheets/keeper/quota-ledger.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { mountSmallDisk, smallDiskUnavailable } from '../helpers/small-disk.js';

const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-tmpfs-probe-${process.pid}`));

describe('quota ledger on a full data disk', { skip: unavailable }, () => {
  it('says it cannot be written once with the path and ENOSPC, not at every grant, and once when it can again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'corral-ledger-full-'));
    const disk = mountSmallDisk(join(root, 'data'), 64);
    const log = await captureLogger();
    try {
      const clock = new FakeClock();
      const buckets = {
        reads: new QuotaBucket({ name: 'reads', perMinute: 1000, maxQueue: 10, clock }),
        writes: new QuotaBucket({ name: 'writes', perMinute: 1000, maxQueue: 10, clock }),
      };
      const ledger = QuotaLedger.open(disk.dir, buckets, log.logger);
      disk.fill();
      for (let i = 0; i < 50; i++) {
        assert.ok(buckets.reads.tryAcquire());
        await clock.advance(1000);
      }
      const failed = log.lines().filter((l) => l.event === 'quota.ledger_unwritable');
      assert.equal(failed.length, 1, `${failed.length} lines for 50 failed writes`);
      assert.equal(failed[0]!.path, join(disk.dir, QUOTA_LEDGER_FILE));
      assert.equal(failed[0]!.errno, 'ENOSPC');
      disk.free();
      assert.ok(buckets.reads.tryAcquire());
      const written = log.lines().filter((l) => l.event === 'quota.ledger_written');
      assert.equal(written.length, 1);
      assert.equal(written[0]!.failures, 50);
      ledger.close();
    } finally {
      log.close();
      disk.unmount();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
