// A child's memory figures for its heartbeat (workers and the keeper).

import { getHeapStatistics } from 'node:v8';
import type { ChildFigures } from './ipc/messages.js';

export type MemoryFigures = Pick<ChildFigures, 'rssBytes' | 'heapUsedBytes' | 'heapTotalBytes'>;

/**
 * process.memoryUsage() reads the RSS from /proc/self/statm, which takes a file descriptor: at its
 * open-files limit (a worker holding as many connections as RLIMIT_NOFILE allows) it throws EMFILE
 * ("uv_resident_set_memory"), and thrown from the timer it crashed the worker and dropped every
 * connection it held. Then the heap comes from V8 (no file), and the RSS is the last one read.
 */
export function readMemory(last: MemoryFigures | undefined, onFailure: (err: unknown) => void, usage: () => NodeJS.MemoryUsage = () => process.memoryUsage()): MemoryFigures {
  try {
    const mem = usage();
    return { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal };
  } catch (err) {
    onFailure(err);
    const heap = getHeapStatistics();
    return { rssBytes: last?.rssBytes ?? 0, heapUsedBytes: heap.used_heap_size, heapTotalBytes: heap.total_heap_size };
  }
}
