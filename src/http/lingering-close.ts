// Closing a connection whose request body is still arriving (an upload refused before or while it
// is read: a body over a limit, a 404 or a 401 for a POST, a connection over the cap). Closed at
// once with the upload's bytes unread, the kernel answers them with a reset: the client, still
// writing, gets EPIPE or ECONNRESET and may never read the answer waiting for it (Python's
// http.client and curl read only once the whole body is sent). As nginx's lingering_close: after
// the answer, the write side is ended (the client reads the answer, then the end), what the client
// still sends is read and dropped, and the connection is destroyed once the client closes its
// side, or after a bound at the latest. The worker, its app and the admin API share it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The longest a refused upload is read and dropped after its answer (nginx: lingering_time 30 s). */
export const LINGER_MS = 5000;

const LINGERING = Symbol('corral.lingering');
/**
 * `_paused`: node:http's mark of a connection it stopped reading (its answers backed up, or the
 * worker's requests pipelined behind one not yet answered), with its parser paused.
 */
type LingeringSocket = Socket & { [LINGERING]?: true; _paused?: boolean; parser?: { resume(): void } | null };

/**
 * From now on, closing `socket` (node:http's destroySoon() after a `Connection: close` answer, or
 * the caller's) ends its write side and reads on until the client closes or `ms` passes. The
 * caller drops what is read (the parser keeps consuming it). The first call's bound holds.
 */
export function lingerOnClose(socket: Socket, ms = LINGER_MS): void {
  const s = socket as LingeringSocket;
  if (s[LINGERING]) return;
  s[LINGERING] = true;
  s.destroySoon = function lingeringClose(this: LingeringSocket) {
    if (this.writable) this.end();
    // Not read, the client's end never came: the connection and its slot were held until the cut.
    // Read again, whatever was pipelined is dropped (nothing more is answered on it).
    if (this._paused) {
      this._paused = false;
      this.parser?.resume();
      this.resume();
    }
    // The client's end: nothing more will come; close once the answer has left (destroying with
    // it still buffered would drop it).
    const closeWhenSent = () => (this.writableFinished ? this.destroy() : this.once('finish', () => this.destroy()));
    // A client that ended its side with its body (a half-close) has nothing more to send.
    if (this.readableEnded) {
      closeWhenSent();
      return;
    }
    const cut = setTimeout(() => this.destroy(), ms);
    cut.unref();
    this.once('close', () => clearTimeout(cut));
    this.once('end', closeWhenSent);
  };
}

/**
 * For an answer given while the request's body may still be arriving unread (read-body.ts stops
 * reading at its limit; a handler that refuses the request reads none of it): the answer closes
 * the connection, and the rest of the body is read and dropped until the client stops sending,
 * so that it reads the answer rather than a reset. Call before the answer is written.
 */
export function dropBodyAndClose(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  lingerOnClose(req.socket);
  req.resume();
}
