// Connections whose client stopped reading. node:http's request timeouts cover only what the client
// sends: once a request is in, a client that never reads its answer (or pipelines requests and
// reads none of the answers) leaves the response unfinished and the connection open for good,
// holding a slot of the connection cap (and the buffered answer) until the worker exits. Every
// socket gets an inactivity timeout of CORRAL_SEND_TIMEOUT (node:http's `server.timeout`): it is
// pushed back by every byte read or written, including a large write's partial progress (net's
// _onTimeout checks the write queue), and fires only after that long with no progress at all.
// That check compares the queue with its size at the last write or check: progress made early in
// a period (the kernel taking part of the last write) postpones the cut by a whole period, so it
// comes between one and two CORRAL_SEND_TIMEOUTs after the last byte went (the README says so).
// Likewise `unsentBytes` counts a write the kernel took only part of as unsent: net exposes how
// much of it left only through internals.

import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pathOfTarget } from '../http/logged-target.js';

/** What the worker needs to know about a connection it cut. */
export interface SendTimeoutCut {
  readonly method: string | undefined;
  /** Without the query (logged-target.ts). */
  readonly path: string;
  /** Bytes of the answer the client never took. */
  readonly unsentBytes: number;
  /** The answer cut short: its access line says so (request-stats.ts, cutUnsent). */
  readonly response: ServerResponse;
  readonly remote: string | undefined;
}

type HttpSocket = Socket & { _httpMessage?: ServerResponse | null; parser?: { duration(): number } | null };

export function attachSendTimeout(server: Server, timeoutMs: number, onCut: (cut: SendTimeoutCut) => void): void {
  server.timeout = timeoutMs;
  // With a listener here node:http no longer destroys a timed-out socket itself (nor an idle
  // keep-alive one at CORRAL_KEEPALIVE, which fires the same event): every case is decided below.
  server.on('timeout', (socket: HttpSocket) => {
    const res = socket._httpMessage ?? undefined;
    // No answer at all: a request whose headers are still arriving, or a connection that has sent
    // nothing since it was accepted (node:http's parser times both from their start: duration()
    // is 0 only between requests, where this is the keep-alive timeout). Nothing waits for the
    // client to read; the headers timeout answers it 408. Destroyed here, it was closed without a
    // word whenever CORRAL_SEND_TIMEOUT was not above CORRAL_HEADERS_TIMEOUT (whose deadlines are
    // checked once a second).
    if (!res && (socket.parser?.duration() ?? 0) > 0) return;
    if (!res && socket.writableLength === 0) {
      closeIfStillIdle(socket);
      return;
    }
    if (res && socket.writableLength === 0) {
      // An answer in progress whose bytes all went out: the app is still working on it (a slow
      // upstream, a long poll) or the client is still sending its request, which the request and
      // headers timeouts bound. Not the client's stall; the next write re-arms the timeout.
      return;
    }
    // The app asked to handle timeouts of this request itself (node:http's contract for a
    // 'timeout' listener on the request or the response).
    if (res && (res.listenerCount('timeout') > 0 || res.req.listenerCount('timeout') > 0)) return;
    if (res) onCut({ method: res.req.method, path: pathOfTarget(res.req.url), unsentBytes: socket.writableLength, remote: socket.remoteAddress, response: res });
    // A client that takes none of its answer gets a reset, not a FIN: closed normally, the kernel
    // kept the unsent bytes (megabytes of pipelined answers) as an orphan probing a zero window
    // for minutes, memory every connection of the host shares, and a client repeating it every
    // cut grew it (nginx's reset_timedout_connection). An idle keep-alive connection closes.
    if (socket.writableLength > 0) socket.resetAndDestroy();
    else socket.destroy();
  });
}

/**
 * An idle keep-alive connection at its timeout, closed unless the client's next request was
 * waiting: after the event loop was blocked past CORRAL_KEEPALIVE (a long synchronous step), the
 * timer fires before the loop reads what came meanwhile (timers run before I/O in a loop turn),
 * and a request sent during the block was answered with a reset: a POST whose client cannot tell
 * whether it was saved. Decided once the loop has read what waits (setImmediate runs after the
 * turn's I/O): bytes read since, or a request begun, keep the connection.
 */
function closeIfStillIdle(socket: HttpSocket): void {
  const read = socket.bytesRead;
  setImmediate(() => {
    if (socket.destroyed || socket.bytesRead !== read || socket._httpMessage || (socket.parser?.duration() ?? 0) > 0) return;
    socket.destroy();
  });
}
