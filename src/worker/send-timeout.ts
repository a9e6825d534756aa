// Connections whose client stopped reading. node:http's request timeouts cover only what the client
// sends: once a request is in, a client that never reads its answer (or pipelines requests and
// reads none of the answers) leaves the response unfinished and the connection open for good,
// holding a slot of the connection cap (and the buffered answer) until the worker exits. Every
// CORRAL_SEND_TIMEOUT / 2 the worker looks at its connections: one with bytes of an answer waiting
// (`writableLength`) whose progress has not moved for CORRAL_SEND_TIMEOUT is cut. Progress is the
// bytes the app handed the socket and the bytes the kernel has yet to take of the write in flight
// (libuv's write queue, which a partial write shrinks), so a client reading slowly is never cut.
// A connection is looked at only while bytes wait: the first look that sees them starts its clock,
// so the cut comes between one and one and a half CORRAL_SEND_TIMEOUTs after the client's last
// byte. Likewise `unsentBytes` counts a write the kernel took only part of as unsent: net exposes
// how much of it left only through internals.
//
// Why a sweep and not node:http's `server.timeout` (a socket inactivity timer, as before): that
// timer is made anew at every request and moved in its list at every read and write, about 0.6 µs
// of CPU per cached GET, a fifth of what corral's request path cost over a bare node:http server's
// (2.9 µs, both measured in one process on the same connections).

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

/** What a look found of a connection's answer waiting for its client, and since when it has not moved. */
interface Waiting {
  readonly handed: number;
  readonly queued: number;
  readonly inKernelQueue: number;
  readonly since: number;
}

const WAITING = Symbol('corral.sendWaiting');

type HttpSocket = Socket & {
  _httpMessage?: ServerResponse | null;
  parser?: { duration(): number } | null;
  _handle?: { writeQueueSize?: number } | null;
  [WAITING]?: Waiting | undefined;
};

/** The app handles timeouts of this request itself (node:http's contract for a 'timeout' listener on the request or the response). */
function appTimesOut(res: ServerResponse): boolean {
  return res.listenerCount('timeout') > 0 || res.req.listenerCount('timeout') > 0;
}

/**
 * `connections`: the worker's open connections, looked at every `timeoutMs / 2`. node:http's own
 * socket timers (the keep-alive timeout, a timeout the app set) still come to the server's
 * 'timeout' listener, which decides every case of those too.
 */
export function attachSendTimeout(server: Server, timeoutMs: number, connections: () => Iterable<Socket>, onCut: (cut: SendTimeoutCut) => void): void {
  const cut = (socket: HttpSocket, res: ServerResponse | undefined): void => {
    if (res) onCut({ method: res.req.method, path: pathOfTarget(res.req.url), unsentBytes: socket.writableLength, remote: socket.remoteAddress, response: res });
    // A client that takes none of its answer gets a reset, not a FIN: closed normally, the kernel
    // kept the unsent bytes (megabytes of pipelined answers) as an orphan probing a zero window
    // for minutes, memory every connection of the host shares, and a client repeating it every
    // cut grew it (nginx's reset_timedout_connection). An idle keep-alive connection closes.
    if (socket.writableLength > 0) socket.resetAndDestroy();
    else socket.destroy();
  };

  /** One look at `socket`: starts, restarts or ends its clock, or cuts it. */
  const look = (socket: HttpSocket, now: number): void => {
    const queued = socket.writableLength;
    if (queued === 0 || socket.destroyed) {
      // Nothing waits for the client (a handler slow to answer is not the client's stall).
      if (socket[WAITING] !== undefined) socket[WAITING] = undefined;
      return;
    }
    const res = socket._httpMessage ?? undefined;
    if (res && appTimesOut(res)) return;
    const handed = socket.bytesWritten;
    const inKernelQueue = socket._handle?.writeQueueSize ?? 0;
    const seen = socket[WAITING];
    if (seen === undefined || seen.handed !== handed || seen.queued !== queued || seen.inKernelQueue !== inKernelQueue) {
      socket[WAITING] = { handed, queued, inKernelQueue, since: now };
      return;
    }
    if (now - seen.since >= timeoutMs) cut(socket, res);
  };

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const socket of connections()) look(socket as HttpSocket, now);
  }, Math.max(1, Math.floor(timeoutMs / 2)));
  sweep.unref();
  server.once('close', () => clearInterval(sweep));

  // With a listener here node:http no longer destroys a timed-out socket itself (nor an idle
  // keep-alive one at CORRAL_KEEPALIVE, which fires this event): every case is decided below.
  server.on('timeout', (socket: HttpSocket) => {
    const res = socket._httpMessage ?? undefined;
    // No answer at all: a request whose headers are still arriving, or a connection that has sent
    // nothing since it was accepted (node:http's parser times both from their start: duration()
    // is 0 only between requests, where this is the keep-alive timeout). Nothing waits for the
    // client to read; the headers timeout answers it 408.
    if (!res && (socket.parser?.duration() ?? 0) > 0) return;
    if (!res && socket.writableLength === 0) {
      closeIfStillIdle(socket);
      return;
    }
    if (res && socket.writableLength === 0) {
      // An answer in progress whose bytes all went out: the app is still working on it (a slow
      // upstream, a long poll) or the client is still sending its request, which the request and
      // headers timeouts bound. Not the client's stall.
      return;
    }
    if (res && appTimesOut(res)) return;
    cut(socket, res);
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
