// Two processes append to one log file on a disk that fills: one's write is cut short by the
// kernel (what fitted in the file's last page), the other's fails whole. Once there is room, the
// one that writes first must not run its first held line on from the other's part: a master's
// `worker.exit` was lost to JSON readers that way (write-failure.ts, startsOnNewLine).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { watchWriteFailures, type WatchedDestination } from '../../src/log/write-failure.js';
import { mountSmallDisk, smallDiskUnavailable } from '../helpers/small-disk.js';

const unavailable = smallDiskUnavailable(join(tmpdir(), `corral-tmpfs-probe-${process.pid}`));
const root = mkdtempSync(join(tmpdir(), 'corral-log-lines-'));
after(() => rmSync(root, { recursive: true, force: true }));

type Destination = ReturnType<typeof pino.destination>;

/** A process's destination and its watch, as logger.ts sets them up (async writes, appending). */
async function processLog(file: string, failures: string[]): Promise<Destination> {
  const d = pino.destination({ dest: file, append: true, sync: false });
  await once(d, 'ready');
  const watch = watchWriteFailures({
    failed: (err) => failures.push(err.message),
    recovered: () => undefined,
    dropped: () => undefined,
    reopenFailed: () => assert.fail('no reopen here'),
  });
  watch.watch(d as unknown as WatchedDestination);
  return d;
}

/** Writes `line` (or, empty, what the destination holds) and waits for its write to end, done or failed. */
function written(d: Destination, line: string): Promise<'written' | 'failed'> {
  // Not events.once: it rejects on 'error', and an error is one of the two answers here.
  return new Promise((resolve) => {
    const done = (outcome: 'written' | 'failed') => () => {
      d.off('write', onWrite);
      d.off('error', onError);
      resolve(outcome);
    };
    const onWrite = done('written');
    const onError = done('failed');
    d.on('write', onWrite);
    d.on('error', onError);
    d.write(line);
  });
}

const line = (fields: Record<string, unknown>) => `${JSON.stringify(fields)}\n`;

test('a disk that fills under two writers: once there is room, the first to write starts on a new line, so only the cut line is not JSON', { skip: unavailable }, async () => {
  const disk = mountSmallDisk(join(root, 'disk'), 256);
  try {
    const file = join(disk.dir, 'corral.log');
    const failures: string[] = [];
    const master = await processLog(file, failures);
    const worker = await processLog(file, failures);
    assert.equal(await written(master, line({ role: 'master', event: 'master.ready' })), 'written');
    assert.equal(await written(worker, line({ role: 'worker', event: 'worker.ready' })), 'written');

    disk.fill();
    // The file's last page has room for some bytes only: the worker's long line is cut there.
    const long = line({ role: 'worker', event: 'request.error', detail: 'x'.repeat(6000) });
    const cut = await new Promise<'cut'>((resolve, reject) => {
      let wrote = 0;
      worker.on('write', (n: number) => (wrote += n));
      worker.once('error', () => (wrote > 0 && wrote < Buffer.byteLength(long) ? resolve('cut') : reject(new Error(`the long line was not cut: ${wrote} bytes written`))));
      worker.write(long);
    });
    assert.equal(cut, 'cut');
    // The master's line fails whole: no room left at all.
    assert.equal(await written(master, line({ role: 'master', event: 'worker.exit', worker_pid: 4242 })), 'failed');
    assert.equal(await written(master, ''), 'failed', 'a retry on a full disk fails again');
    assert.ok(failures.length >= 2, `each process said its failure: ${JSON.stringify(failures)}`);

    // Room again: the master writes first, the worker's rest of its line after.
    disk.free();
    assert.equal(await written(master, ''), 'written');
    assert.equal(await written(worker, ''), 'written');

    const lines = readFileSync(file, 'utf8').split('\n');
    const parsed = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    assert.deepEqual(
      parsed.map((l) => l.event),
      ['master.ready', 'worker.ready', 'worker.exit'],
      `every line but the cut one is whole: ${JSON.stringify(lines.map((l) => l.slice(0, 60)))}`,
    );
    const notJson = lines.filter((l) => l !== '' && !parsed.some((p) => JSON.stringify(p) === l));
    assert.equal(notJson.length, 2, 'the cut line, in its two pieces');
    assert.equal(notJson.join(''), long.trimEnd(), 'both pieces of it are in the file');
    master.destroy();
    worker.destroy();
  } finally {
    disk.unmount();
  }
});
