import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOOP_LAG_RESOLUTION_MS, startLoopLag } from '../../src/loop-lag.js';

const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('event-loop lag', () => {
  it('reports 0 before any sample and little for a loop that waits', async () => {
    const lag = startLoopLag();
    try {
      assert.equal(lag.takeMs(), 0);
      await waitMs(LOOP_LAG_RESOLUTION_MS * 4);
      const idle = lag.takeMs();
      assert.ok(idle >= 0 && idle < 100, `idle loop lag ${idle} ms`);
    } finally {
      lag.stop();
    }
  });

  it('reports a loop blocked for 1.2 s right after a reading, and only in that reading', async () => {
    const lag = startLoopLag();
    try {
      await waitMs(LOOP_LAG_RESOLUTION_MS * 2);
      // Blocked right after a reading: the interval that spans the block still counts.
      lag.takeMs();
      const until = Date.now() + 1200;
      while (Date.now() < until) {
        // blocked, as a stuck request handler would be
      }
      // The sample due during the block fires once the loop is free again.
      await waitMs(LOOP_LAG_RESOLUTION_MS * 2);
      const blocked = lag.takeMs();
      assert.ok(blocked >= 100, `blocked loop lag ${blocked} ms`);
      await waitMs(LOOP_LAG_RESOLUTION_MS * 4);
      const after = lag.takeMs();
      // Counted again, the block would add well over 100 ms to the mean of this reading; the
      // bound is the idle loop's above (a loaded box reads 50 ms of lag on an idle loop).
      assert.ok(after < 100, `after the block: ${after} ms (during: ${blocked} ms)`);
    } finally {
      lag.stop();
    }
  });
});
