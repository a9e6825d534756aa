// Requests node:http refuses before the admin routes see them (malformed, a method it does not
// know, headers too large, too slow, an Expect other than 100-continue) and CONNECT, answered in
// the admin API's JSON like every other refusal: node's own answers are a bare status line with
// no body, which a script reading `.error` cannot tell apart.

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { JSON_HEADER_LINES, sendJson } from '../../http/json.js';
import { statusOf, type HttpErrorCode } from '../../errors.js';
import { malformedRequestMessage } from '../../http/malformed-request.js';
import { unknownMethodMessage, unknownMethodOf } from '../../http/unknown-method.js';

/** The response of the request on this socket that node:http already handed to the routes, if any. */
function currentResponse(socket: Duplex): ServerResponse | undefined {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/** `headers`: more header lines, each ending in CRLF (a 405's Allow). */
function rawReply(socket: Duplex, error: HttpErrorCode, message: string, headers = ''): void {
  const status = statusOf(error);
  const reason = STATUS_CODES[status] ?? '';
  // An answer already on its way: a raw one now would land inside it (node's own handler skips
  // writing then too), so the connection is cut.
  if (!socket.writable || currentResponse(socket)?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ success: false, error, message });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${JSON_HEADER_LINES}${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** The methods of the admin API's routes and dashboard (server.ts ROUTES), for a CONNECT's 405. */
export const ADMIN_CONNECT_ALLOW = 'GET, HEAD, POST';

/** Answers node:http's client errors and CONNECT on the admin listener with JSON. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? 'UNKNOWN';
    // The client went away: nobody to answer.
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'HPE_INVALID_EOF_STATE') {
      socket.destroy();
      return;
    }
    if (code === 'HPE_HEADER_OVERFLOW') rawReply(socket, 'headers_too_large', 'the request line and headers are too large (16 KiB at most)');
    else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const what = currentResponse(socket) ? 'the request body was' : 'the request headers were';
      rawReply(socket, 'request_timeout', `${what} not received in time`);
    } else {
      const method = unknownMethodOf(err);
      if (method !== undefined) rawReply(socket, 'method_not_implemented', unknownMethodMessage(method));
      else rawReply(socket, 'bad_request', malformedRequestMessage(err));
    }
  });
  // An Expect other than 100-continue: node:http's own answer is a 417 with an empty body, and the
  // routes never see the request. Closed after it: a body held back for a 100 may follow.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const expect = String(req.headers.expect ?? '').slice(0, 60);
    sendJson(
      res,
      statusOf('expectation_failed'),
      { success: false, error: 'expectation_failed', message: `Expect: ${expect} is not supported; send no Expect header, or Expect: 100-continue` },
      { Connection: 'close' },
    );
  });
  // With no listener node:http destroys a CONNECT's socket without a word, which reads as a reset.
  // RFC 9110 §15.5.6: a 405 names the methods taken, here those of the admin routes together.
  server.on('connect', (_req, socket: Duplex) =>
    rawReply(socket, 'method_not_allowed', 'CONNECT is not allowed: the admin API is not a proxy', `allow: ${ADMIN_CONNECT_ALLOW}\r\n`),
  );
}
