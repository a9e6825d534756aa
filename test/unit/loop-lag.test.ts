import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOOP_LAG_RESOLUTION_MS, startLoopLag } from '../../src/loop-lag.js';

const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits `intervals` timer periods of the resolution, one after the other, and returns how late
 * they fired on average: the lag a plain timer of this loop saw meanwhile. A loaded box delays
 * every timer of the process alike (idle loops read 141 and 198 ms beside three test suites), so
 * the readings are bounded by this, not by a fixed number.
 */
async function timerLatenessMs(intervals: number): Promise<number> {
  let late = 0;
  for (let i = 0; i < intervals; i++) {
    const start = performance.now();
    await waitMs(LOOP_LAG_RESOLUTION_MS);
    late += Math.max(0, performance.now() - start - LOOP_LAG_RESOLUTION_MS);
  }
  return late / intervals;
}

/** What a reading of a loop that only waited may hold: what its timers saw, and some slack. */
const idleBoundMs = (lateness: number) => 50 + 1.5 * lateness;

describe('event-loop lag', () => {
  it('reports 0 before any sample and little for a loop that waits', async () => {
    const lag = startLoopLag();
    try {
      assert.equal(lag.takeMs(), 0);
      const lateness = await timerLatenessMs(4);
      const idle = lag.takeMs();
      assert.ok(idle >= 0 && idle < idleBoundMs(lateness), `idle loop lag ${idle} ms, timers ${lateness.toFixed(1)} ms late`);
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
      const lateness = await timerLatenessMs(4);
      const after = lag.takeMs();
      // Counted again, the block would add about 300 ms (1.2 s over four samples) to the mean of
      // this reading; the bound is the idle loop's above.
      assert.ok(after < idleBoundMs(lateness), `after the block: ${after} ms, timers ${lateness.toFixed(1)} ms late (during: ${blocked} ms)`);
    } finally {
      lag.stop();
    }
  });
});
