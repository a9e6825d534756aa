// The heartbeat is a timer on the worker's own event loop: a blocked loop (busy loop, huge
// synchronous parse) stops the beats, while slow async I/O does not. The master kills a worker
// whose beats stop for CORRAL_TIMEOUT.

import type { ChildFigures } from '../ipc/messages.js';
import { startLoopLag } from '../loop-lag.js';

export interface Heartbeat {
  /** Sends the figures now, besides the regular beats. */
  beat(): void;
  /** Stops beating; `final` sends one last beat first, so the master gets the last figures. */
  stop(options?: { final?: boolean }): void;
}

/** `intervalMs`: heartbeatIntervalMs of the worker's CORRAL_TIMEOUT. */
export function startHeartbeat(intervalMs: number, send: (figures: ChildFigures) => void, collect: () => Omit<ChildFigures, 'rssBytes' | 'heapUsedBytes' | 'heapTotalBytes' | 'eventLoopLagMs'>): Heartbeat {
  const lag = startLoopLag();
  const beat = () => {
    const mem = process.memoryUsage();
    send({ rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, eventLoopLagMs: lag.takeMs(), ...collect() });
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  // The server keeps the loop alive; the beat alone must not keep a draining worker around.
  timer.unref();
  return {
    beat,
    stop(options) {
      clearInterval(timer);
      if (options?.final) beat();
      lag.stop();
    },
  };
}
