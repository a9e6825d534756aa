// Reads a request body up to a byte limit: the app's JSON bodies and the admin API's alike.

import type { IncomingMessage } from 'node:http';

/**
 * The whole body, with plain stream events: an async iterator over the request costs more than
 * the rest of a login. Over the limit, reading stops (paused, not drained) and the promise rejects
 * with `tooLarge()`; the caller answers 413 through dropBodyAndClose (lingering-close.ts), which
 * drops the rest as it comes and closes once the client has sent it. A client that goes away
 * before the end of its body rejects it too, so no reader waits forever.
 */
export function readBodyWithin(req: IncomingMessage, limitBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Closed already (its client left while the handler waited before reading: the roster read
    // of POST /api/events, a count the master makes): its 'close' was emitted before these
    // listeners, and no 'data', 'end' or 'close' would ever come, leaving the handler waiting
    // for the life of the worker. A complete body not yet read is gone with it too.
    if (req.destroyed) {
      reject(new Error('the client closed the connection before its body was read'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      done();
      req.pause();
      reject(tooLarge());
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => onError(new Error('the client closed the connection before sending the whole body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
