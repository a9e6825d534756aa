// The per-worker export thread pool (CORRAL_EXPORT_THREADS threads), created on the first export
// and destroyed when the worker drains.

import type { Piscina } from 'piscina';
import type { CsvTask } from './worker-thread.js';

export interface CsvPool {
  format(task: CsvTask): Promise<Buffer>;
  close(): Promise<void>;
}

export function createCsvPool(threads: number): CsvPool {
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
          }),
      );
      const bytes = await (await pool).run(task);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
