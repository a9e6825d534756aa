// The worker's heartbeat at its open-files limit: process.memoryUsage() reads /proc/self/statm and
// throws EMFILE there. Thrown from the beat's timer, it crashed a worker holding 454 connections.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChildFigures } from '../../src/ipc/messages.js';
import { readMemory, startHeartbeat } from '../../src/worker/heartbeat.js';

const emfile = (): never => {
  throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
};
const usage = (rss: number): NodeJS.MemoryUsage => ({ rss, heapUsed: 10, heapTotal: 20, external: 0, arrayBuffers: 0 });
const figures = () => ({ activeConnections: 7, requestsServed: 3, errorsServed: 0, latencyP99Ms: 1 });

describe('worker heartbeat when memory use cannot be read', () => {
  it('keeps the last RSS read and takes the heap from V8, without throwing', () => {
    const failures: unknown[] = [];
    const m = readMemory({ rssBytes: 123, heapUsedBytes: 1, heapTotalBytes: 2 }, (err) => failures.push(err), emfile);
    assert.equal(m.rssBytes, 123);
    assert.ok(m.heapUsedBytes > 0 && m.heapTotalBytes >= m.heapUsedBytes, JSON.stringify(m));
    assert.equal(failures.length, 1);
  });

  it('goes on beating through EMFILE, says so once, and reads again once it can', async () => {
    const sent: ChildFigures[] = [];
    const told: unknown[] = [];
    let failing = false;
    let rss = 1000;
    const hb = startHeartbeat(10, (f) => sent.push(f), figures, {
      memoryUsage: () => (failing ? emfile() : usage((rss += 1000))),
      onMemoryUnreadable: (err) => told.push(err),
    });
    // Beats counted, not timed: a busy machine runs a 10 ms interval later, not as often.
    const until = async (done: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      await until(() => sent.length >= 2, 'beats with RSS read');
      failing = true;
      const before = sent.length;
      const lastRss = sent.at(-1)?.rssBytes;
      await until(() => sent.length >= before + 3, 'beats went on through EMFILE');
      for (const f of sent.slice(before)) {
        assert.equal(f.rssBytes, lastRss, 'the last RSS read');
        assert.equal(f.activeConnections, 7);
      }
      assert.equal(told.length, 1, 'said once, not at every beat');
      assert.match(String((told[0] as Error).message), /EMFILE/);
      failing = false;
      await until(() => (sent.at(-1)?.rssBytes ?? 0) > (lastRss ?? 0), 'RSS read again');
    } finally {
      hb.stop();
    }
  });
});
