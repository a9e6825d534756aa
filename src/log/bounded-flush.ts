// A flush that always returns. pino's destination (sonic-boom 4; pino 10 depends on ^4) retries a
// write that fails inside flushSync() forever, 100 ms apart, whatever the error: only EAGAIN and
// EBUSY are worth a retry, and sonic-boom 5 throws the others. A flush that met a pipe whose reader
// had gone (EPIPE: `corral start | head` once head had its lines) or a file that fails (EIO) never
// returned: the master, flushing before its exit, hung with its pidfile gone and deaf to TERM.
// The failures watched in write-failure.ts come from sonic-boom's asynchronous writes; a flush that
// meets the failure first is covered here.
//
// While the flush runs, the synchronous write sonic-boom calls (fs.writeSync, looked up at each
// call) is wrapped: the first error other than EAGAIN/EBUSY ends the flush. Every write after it
// is reported done without being made, so the flush's loop empties its buffers (those lines are
// lost: their destination cannot take them), and the error is returned for the caller to report.
// The flush is synchronous: no other code runs while the wrapper is in place.
//
// EAGAIN and EBUSY (a pipe full: its reader is slow) are retried, 100 ms apart, but only while the
// reader takes something now and then: a reader that stays open and takes nothing (a stopped
// `corral start | less`, a pager or `tee` blocked on its own output, a stalled journald) made that
// loop endless, and the master hung in its exit, its pidfile already removed, deaf to TERM. After
// FLUSH_STALL_MS without a byte taken, the flush ends as for any other failure.

import fs from 'node:fs';

const RETRIED = new Set(['EAGAIN', 'EBUSY']);

/** How long a flush retries a full pipe whose reader takes nothing before it gives the rest up. */
export const FLUSH_STALL_MS = 5000;

function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  return ArrayBuffer.isView(data) ? data.byteLength : 0;
}

/** Runs `flush` (a sonic-boom flushSync); the write error that ended it, if one did. */
export function flushBounded(flush: () => void, stallMs: number = FLUSH_STALL_MS): NodeJS.ErrnoException | undefined {
  const writeSync = fs.writeSync;
  let failed: NodeJS.ErrnoException | undefined;
  let progressAt = Date.now();
  const bounded = function (this: unknown, fd: number, data: unknown, ...rest: unknown[]): number {
    if (failed) return byteLength(data);
    try {
      const n = (writeSync as (...args: unknown[]) => number).call(fs, fd, data, ...rest);
      if (n > 0) progressAt = Date.now();
      return n;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== undefined && RETRIED.has(e.code) && Date.now() - progressAt < stallMs) throw err;
      failed = e;
      return byteLength(data);
    }
  };
  fs.writeSync = bounded as typeof fs.writeSync;
  try {
    flush();
  } finally {
    fs.writeSync = writeSync;
  }
  return failed;
}
