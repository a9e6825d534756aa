// The per-worker export thread pool (CORRAL_EXPORT_THREADS threads), created on the first export
// and destroyed when the worker drains.

import type { ResourceLimits } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { CsvTask } from './worker-thread.js';

export interface CsvPool {
  format(task: CsvTask): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * `resourceLimits`: the threads' V8 limits (node:worker_threads), none by default; a test gives
 * ones no thread can start with, as a process or thread limit refuses it.
 */
export function createCsvPool(threads: number, options: { readonly resourceLimits?: ResourceLimits } = {}): CsvPool {
  // A promise, so concurrent first exports share one pool and close() can wait for it.
  let pool: Promise<Piscina<CsvTask, Uint8Array>> | undefined;
  let closed = false;
  return {
    async format(task) {
      if (closed) throw new Error('export pool is closed');
      // Loaded with the first export: most workers never export.
      pool ??= import('piscina').then(
        ({ Piscina }) =>
          new Piscina<CsvTask, Uint8Array>({
            filename: new URL('./worker-thread.js', import.meta.url).href,
            minThreads: 0,
            maxThreads: threads,
            // Threads are reaped after a quiet minute: exports are rare, memory is not free.
            idleTimeout: 60_000,
            ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
          }),
      );
      const current = pool;
      try {
        const bytes = await (await current).run(task);
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (err) {
        // A thread the system would not start (a process or thread limit): piscina had queued the
        // task before its thread failed, and lost the promise that would settle it. Destroyed, the
        // pool rejects those orphans with no handler: uncaught exceptions of the worker at its drain.
        // Such a pool is let go instead (its orphans never settle); the next export makes another.
        if ((err as { code?: unknown }).code === 'ERR_WORKER_INIT_FAILED' && pool === current) pool = undefined;
        throw err;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      const p = pool;
      pool = undefined;
      await (await p)?.destroy();
    },
  };
}
