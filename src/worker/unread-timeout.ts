// node:http times a request from the read that began it: its head must be whole within the headers
// timeout (CORRAL_HEADERS_TIMEOUT), all of it within the request timeout (CORRAL_REQUEST_TIMEOUT),
// checked every second against each connection's parser. The worker stops reading a connection
// while more than PIPELINE_READ_AHEAD requests pipelined on it wait their turn (pipelined-turn.ts),
// as node:http does while a client's answers back up. Either stop takes effect after the read at
// hand, whose end cuts a request in two more often than not: its start parsed, the rest left in the
// socket. The clock ran on for bytes the client had sent and the worker had not read, and a client
// pipelining deeply behind a slow answer (400 requests of 500 bytes behind one held 2.5 s, with a
// 1 s headers timeout) was answered 408 for a request it had sent whole, the rest of its requests
// never run. So a timeout found while the worker does not read the connection is not answered
// then. node:http's check no longer times that request once it has reported it: from the moment
// the connection is read again, it gets the time node:http gives a request begun then, its head the
// headers timeout and the whole of it the request timeout, and past that it is answered 408 as
// node:http answers it. A client that really sends slowly is refused as ever, only later by the
// time its connection was not read. node:http also stops reading for a body its reader takes more
// slowly than it comes (16 KiB held): the app's doing when the request is the app's (the request
// timeout still bounds a handler that reads no more of its body), the worker's when it waits its
// turn, no one may read it before then (a pipelined POST of 200 KB behind an answer held past the
// request timeout was refused 408 though whole).

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * node:http's parser of a connection: ms since the request in progress began (0: none), whether
 * its head is whole, and the last request whose head it read (`incoming`).
 */
interface RequestParser {
  duration(): number;
  headersCompleted(): boolean;
  incoming?: IncomingMessage | null;
}

/**
 * `_paused`: node:http's mark of a connection it, or the worker, stopped reading
 * (pipelined-turn.ts). `_httpMessage`: the answer being written on it, the app's request's.
 */
type UnreadSocket = Socket & { _paused?: boolean; parser?: RequestParser | null; _httpMessage?: ServerResponse | null };

/**
 * `s` is not read, and not for the app: node:http stopped (its client's answers backed up), the
 * worker did (requests waiting their turn), or node:http stopped for a body read ahead of its
 * turn. One it stopped for the body of the request the app has is the app's doing.
 */
function heldUnread(s: UnreadSocket): boolean {
  if (s._paused === true) return true;
  if (!s.isPaused()) return false;
  const incoming = s.parser?.incoming;
  return !(incoming != null && !incoming.complete && incoming === s._httpMessage?.req);
}

/** node:http's own error for a request past its timeout (its class is internal: the code is what 'clientError' listeners read). */
function requestTimeout(): NodeJS.ErrnoException {
  return Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
}

/**
 * For node:http's ERR_HTTP_REQUEST_TIMEOUT on `socket` ('clientError'): true when the connection is
 * not being read (the timeout is the worker's wait, not the client's), and then no answer is owed:
 * the request in progress is timed again from when reading resumes, and past its time `server`
 * gets the 'clientError' node:http would have emitted.
 */
export function timeoutWhileUnread(server: Server, socket: Duplex): boolean {
  const s = socket as UnreadSocket;
  if (!s.parser || s.destroyed || !heldUnread(s)) return false;
  timeOnceRead(server, s);
  return true;
}

/** Times the request in progress on `s` from the moment the connection is read again. */
function timeOnceRead(server: Server, s: UnreadSocket): void {
  const onResume = (): void => {
    // node:http's own 'resume' listener stops again a socket resumed while it is marked paused.
    if (s.isPaused()) return;
    s.off('resume', onResume);
    s.off('close', onClose);
    timeFrom(server, s, performance.now());
  };
  const onClose = (): void => void s.off('resume', onResume);
  s.on('resume', onResume);
  s.once('close', onClose);
}

function timeFrom(server: Server, s: UnreadSocket, readFrom: number): void {
  let timer: NodeJS.Timeout | undefined;
  const onClose = (): void => clearTimeout(timer);
  const check = (): void => {
    s.off('close', onClose);
    const parser = s.parser;
    if (s.destroyed || !parser) return;
    const since = performance.now() - readFrom;
    // Whole since (0: none in progress), or a request begun since reading resumed: node:http times
    // that one itself, as any other.
    if (parser.duration() <= since) return;
    // Not read again (its head came whole, and it waits its turn past the read-ahead).
    if (heldUnread(s)) {
      timeOnceRead(server, s);
      return;
    }
    const limit = parser.headersCompleted() ? server.requestTimeout : server.headersTimeout;
    if (limit <= 0) return;
    if (since >= limit) {
      server.emit('clientError', requestTimeout(), s);
      return;
    }
    timer = setTimeout(check, limit - since);
    timer.unref();
    s.once('close', onClose);
  };
  check();
}
