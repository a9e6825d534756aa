// The heartbeat is a timer on the worker's own event loop: a blocked loop (busy loop, huge
// synchronous parse) stops the beats, while slow async I/O does not. The master kills a worker
// whose beats stop for CORRAL_TIMEOUT.

import type { ChildFigures } from '../ipc/messages.js';
import { startLoopLag } from '../loop-lag.js';
import { readMemory, type MemoryFigures } from '../process-memory.js';

export interface Heartbeat {
  /** Sends the figures now, besides the regular beats. */
  beat(): void;
  /** Stops beating; `final` sends one last beat first, so the master gets the last figures. */
  stop(options?: { final?: boolean }): void;
}

// Kept here for the worker's callers; the keeper's heartbeat reads its memory the same way.
export { readMemory };

/** What the worker adds to a beat; the beat itself reads the memory and the loop's lag. */
export type CollectedFigures = Omit<ChildFigures, 'rssBytes' | 'heapUsedBytes' | 'heapTotalBytes' | 'eventLoopLagMs'>;

export interface HeartbeatOptions {
  /**
   * The memory figures could not be read (EMFILE at the open-files limit): told at the first
   * failure only, not at every beat of a worker that stays at its limit.
   */
  readonly onMemoryUnreadable?: (err: unknown) => void;
  /** For tests: what process.memoryUsage() returns. */
  readonly memoryUsage?: () => NodeJS.MemoryUsage;
}

/** `intervalMs`: heartbeatIntervalMs of the worker's CORRAL_TIMEOUT. */
export function startHeartbeat(
  intervalMs: number,
  send: (figures: ChildFigures) => void,
  collect: () => CollectedFigures,
  options: HeartbeatOptions = {},
): Heartbeat {
  const lag = startLoopLag();
  let memory: MemoryFigures | undefined;
  let told = false;
  const beat = () => {
    memory = readMemory(
      memory,
      (err) => {
        if (!told) options.onMemoryUnreadable?.(err);
        told = true;
      },
      options.memoryUsage,
    );
    send({ ...memory, eventLoopLagMs: lag.takeMs(), ...collect() });
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
