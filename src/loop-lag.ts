// Event-loop lag, as the heartbeats of workers and the keeper report it: how late a periodic timer
// fires, on average, since the last reading.

import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * How often the loop is sampled. Every sample wakes an idle process: at 20 ms (50 wakeups a
 * second) the sampling alone cost an idle process about 2.3 ms of CPU per second, and a corral
 * runs one sampling process per worker plus the keeper. A loop blocked for longer than this still
 * delays the next sample by about as long as it was blocked.
 */
export const LOOP_LAG_RESOLUTION_MS = 100;

export interface LoopLag {
  /** Mean lag in ms (one decimal) over the samples since the last call; 0 when there were none. */
  takeMs(): number;
  stop(): void;
}

export function startLoopLag(): LoopLag {
  const delay = monitorEventLoopDelay({ resolution: LOOP_LAG_RESOLUTION_MS });
  delay.enable();
  // Readings are differences of running totals, not resets: a reset also forgets when the last
  // sample fired, and the interval that spans a block starting just after a reading would go
  // uncounted (up to one resolution in every heartbeat).
  let lastCount = 0;
  let lastSumNs = 0;
  return {
    takeMs() {
      // The histogram holds whole intervals between samples in ns: the resolution plus the lag.
      const count = delay.count;
      const sumNs = count > 0 ? delay.mean * count : 0;
      const samples = count - lastCount;
      const intervalsNs = sumNs - lastSumNs;
      lastCount = count;
      lastSumNs = sumNs;
      if (samples <= 0) return 0;
      const lag = Math.max(0, intervalsNs / samples / 1e6 - LOOP_LAG_RESOLUTION_MS);
      return Math.round(lag * 10) / 10;
    },
    stop() {
      delay.disable();
    },
  };
}
