// Closing a connection whose request body is still arriving (a chunked upload over the body
// limit). Closed at once with the upload's bytes unread, the kernel answers them with a reset: the
// client, still writing, gets EPIPE or ECONNRESET and may never read the 413 waiting for it. As
// nginx's lingering_close: after the answer, the write side is ended (the client reads the answer,
// then the end), what the client still sends is read and dropped, and the connection is destroyed
// once the client closes its side, or after LINGER_MS at the latest.

import type { Socket } from 'node:net';

/** The longest a refused upload is read and dropped after its answer (nginx: lingering_time 30 s). */
export const LINGER_MS = 5000;

const LINGERING = Symbol('corral.lingering');
type LingeringSocket = Socket & { [LINGERING]?: true };

/**
 * From now on, closing `socket` (node:http's destroySoon() after a `Connection: close` answer, or
 * the caller's) ends its write side and reads on until the client closes or LINGER_MS passes.
 * The caller drops what is read (the parser keeps consuming it).
 */
export function lingerOnClose(socket: Socket): void {
  const s = socket as LingeringSocket;
  if (s[LINGERING]) return;
  s[LINGERING] = true;
  s.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    const cut = setTimeout(() => this.destroy(), LINGER_MS);
    cut.unref();
    this.once('close', () => clearTimeout(cut));
    // The client's end: nothing more will come; close once the answer has left (destroying with
    // it still buffered would drop it).
    this.once('end', () => (this.writableFinished ? this.destroy() : this.once('finish', () => this.destroy())));
  };
}
