// The heartbeat is a timer on the worker's own event loop: a blocked loop (busy loop, huge
// synchronous parse) stops the beats, while slow async I/O does not. The master kills a worker
// whose beats stop for CORRAL_TIMEOUT.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChildFigures } from '../ipc/messages.js';

export const HEARTBEAT_INTERVAL_MS = 1000;

export interface Heartbeat {
  /** Stops beating; `final` sends one last beat first, so the master gets the last figures. */
  stop(options?: { final?: boolean }): void;
}

export function startHeartbeat(send: (figures: ChildFigures) => void, collect: () => Omit<ChildFigures, 'rssBytes' | 'heapUsedBytes' | 'heapTotalBytes' | 'eventLoopLagMs'>): Heartbeat {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const beat = () => {
    const mem = process.memoryUsage();
    // The histogram reports nanoseconds of delay beyond the resolution; mean is NaN when empty.
    const lag = Number.isFinite(delay.mean) ? Math.max(0, delay.mean / 1e6 - 20) : 0;
    delay.reset();
    send({ rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, eventLoopLagMs: Math.round(lag * 10) / 10, ...collect() });
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  // The server keeps the loop alive; the beat alone must not keep a draining worker around.
  timer.unref();
  return {
    stop(options) {
      clearInterval(timer);
      if (options?.final) beat();
      delay.disable();
    },
  };
}
