// An upload as Python's http.client (and curl without Expect) sends one: the whole body first, then
// the answer is read. A server that answers early and closes with the body's bytes unread makes
// the kernel reset the connection: such a client gets EPIPE or ECONNRESET while still writing and
// never reads the answer that was waiting for it.

import { connect, type Socket } from 'node:net';

export interface UploadOptions {
  readonly port: number;
  /** Request line and headers, each line ending in CRLF, without the framing header or the empty line. */
  readonly head: string;
  readonly bodyBytes: number;
  /** Chunked (no declared length), or a Content-Length of bodyBytes. */
  readonly chunked: boolean;
  readonly timeoutMs: number;
}

export interface UploadResult {
  /** Everything read from the connection. */
  readonly answer: string;
  /** The transport error the client saw (EPIPE, ECONNRESET, TIMEOUT), if any. */
  readonly error?: string;
}

const PIECE = Buffer.alloc(64 * 1024, 0x20);
const CRLF = Buffer.from('\r\n');

function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      socket.off('drain', go);
      socket.off('close', go);
      resolve();
    };
    socket.on('drain', go);
    socket.on('close', go);
  });
}

/**
 * Sends the request and its whole body, honouring backpressure, then ends its side and reads
 * until the server closes. The server's end of the connection (a FIN) does not stop the upload.
 */
export function uploadThenRead(o: UploadOptions): Promise<UploadResult> {
  return new Promise((resolve) => {
    const socket = connect({ port: o.port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    let error: string | undefined;
    const deadline = setTimeout(() => {
      error ??= 'TIMEOUT';
      socket.destroy();
    }, o.timeoutMs);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve({ answer, ...(error !== undefined ? { error } : {}) });
    });
    socket.on('connect', async () => {
      const framing = o.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${o.bodyBytes}`;
      socket.write(`${o.head}${framing}\r\n\r\n`);
      for (let sent = 0; sent < o.bodyBytes && !socket.destroyed; sent += PIECE.length) {
        const piece = PIECE.subarray(0, Math.min(PIECE.length, o.bodyBytes - sent));
        // false: the socket holds enough; wait for it to drain (or close: a reset ends the upload).
        const more = socket.write(o.chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, CRLF]) : piece);
        if (!more) await drainedOrClosed(socket);
      }
      if (!socket.destroyed) socket.end(o.chunked ? '0\r\n\r\n' : '');
    });
  });
}
