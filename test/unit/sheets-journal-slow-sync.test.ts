// A journal write whose fsync is slow: every append of the group waited as long for its
// acknowledgement. Told by the journal file (SLOW_SYNC_MS), said by the keeper as
// `journal.slow_sync`: at the first, then at most once a minute with the count and the longest.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JournalFile, SLOW_SYNC_MS } from '../../src/sheets/keeper/journal-file.js';
import { JournalSlowSyncLog } from '../../src/sheets/keeper/slow-sync-log.js';
import { captureLogger } from '../fixtures/capture-logger.js';

test('a group whose write and fsync take SLOW_SYNC_MS or longer is told with how long and its bytes; a fast one is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-slow-sync-'));
  let slowMs = 0;
  // The handle's fsync held back as a saturated disk holds it.
  const slowDisk = (fh: FileHandle): FileHandle =>
    new Proxy(fh, {
      get(target, prop) {
        if (prop === 'datasync') return async () => {
          if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs));
          return target.datasync();
        };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  try {
    const { file } = await JournalFile.open(join(dir, 'sheets.journal'), { wrapHandle: slowDisk });
    const told: Array<[number, number]> = [];
    file.onSlowSync((ms, bytes) => told.push([ms, bytes]));
    await file.append([{ k: 'add', id: 'fast' }]);
    assert.deepEqual(told, []);
    slowMs = SLOW_SYNC_MS + 100;
    await file.append([{ k: 'add', id: 'slow' }]);
    assert.equal(told.length, 1);
    assert.ok((told[0]?.[0] ?? 0) >= SLOW_SYNC_MS, `${told[0]?.[0]} ms`);
    assert.ok((told[0]?.[1] ?? 0) > 0);
    // A telling that throws (a log that cannot be written) fails no append: the group is durable.
    file.onSlowSync(() => {
      throw new Error('the log cannot be written');
    });
    await file.append([{ k: 'add', id: 'slow-again' }]);
    await file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal.slow_sync is said at the first, then at most once a minute with the count and the longest', async () => {
  const log = await captureLogger();
  try {
    let now = 0;
    const said = new JournalSlowSyncLog(log.logger, '/var/lib/corral/sheets.journal', () => now);
    said.said(3200, 512);
    said.said(45_000, 256);
    now += 61_000;
    said.said(1500, 128);
    const lines = log.lines().filter((l) => l.event === 'journal.slow_sync');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.level, 'warn');
    assert.equal(lines[0]?.ms, 3200);
    assert.match(String(lines[0]?.msg), /^keeper: writing and fsyncing the journal \/var\/lib\/corral\/sheets\.journal took 3\.2 s: the appends of that write, and the requests that added them, waited as long/);
    assert.equal(lines[1]?.slow, 2);
    assert.equal(lines[1]?.longest_ms, 45_000);
    assert.match(String(lines[1]?.msg), /^keeper: 2 more journal writes took a second or more since the last such line, the longest 45 s/);
  } finally {
    log.close();
  }
});
