// Request limits with clear JSON errors: URL length (414), header count/size (431), body size
// (413), slow headers (408), methods node:http does not know (501) and malformed requests (400).
// Node's parser detects most of them and reports through 'clientError'; we answer with JSON
// instead of its bare default.

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { JSON_HEADER_LINES, jsonHeaders } from '../http/json.js';
import { statusOf, type HttpErrorCode } from '../errors.js';
import { lingerOnClose } from '../http/lingering-close.js';
import { REDACTED } from '../http/logged-target.js';
import { malformedRequestMessage } from '../http/malformed-request.js';
import { unknownMethodMessage, unknownMethodOf } from '../http/unknown-method.js';
import { answeredOnSocket, refusedByWorker } from './request-stats.js';
import { timeoutWhileUnread } from './unread-timeout.js';
import { fieldCount } from '../http/field-count.js';
import { unsupportedVersion } from '../http/version.js';
import { failedRequestLineOf, overflowedInRequestLine, requestLineOf, TARGET_LOGGED_CHARS, targetAfterMethod, UNPARSED, type RequestLine } from './failed-request-line.js';

export interface LimitSettings {
  readonly CORRAL_LIMIT_REQUEST_FIELDS: number;
  readonly CORRAL_LIMIT_REQUEST_BODY_BYTES: number;
}

/** The response of the request already handed to the app on this socket (node:http's current message), if any. */
function currentResponse(socket: Duplex): ServerResponse | undefined {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * That response if its request is still arriving (headers read, body not whole): a parser error
 * now came in that request's body. Once a request is whole, the parser reads on into the next
 * one, pipelined behind it, and an error then is that next request's.
 */
function unfinishedResponse(socket: Duplex): ServerResponse | undefined {
  const res = currentResponse(socket);
  return res && !res.req.complete ? res : undefined;
}

/**
 * True when the request whose bytes the parser was reading has had its answer already: the app
 * answered it without reading its body, the connection kept alive, and node:http reads the rest
 * of that body and drops it (the parser's request is not whole, and no answer is owed on the
 * connection). An error in that rest (it comes too slowly for the request timeout, or its chunks
 * do not parse) is that request's, and it was answered: a 408 or 400 written now was an answer
 * to no request, which a client reusing the connection read as the answer to its next one.
 * So is one the app ended but node:http has not yet seen leave (its 'finish' comes a turn later,
 * or once a client that is not reading takes it): the parser failed in the same read as the
 * request's head (a chunk size that does not parse), or the request timeout passed while a large
 * answer waited for its client; the 400 or 408 was written after that answer.
 */
function alreadyAnswered(socket: Duplex): boolean {
  const incoming = (socket as Duplex & { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming;
  if (incoming == null || incoming.complete) return false;
  const res = currentResponse(socket);
  return res === undefined || (res.req === incoming && res.writableEnded);
}

/**
 * Set on a socket whose raw answer is queued behind the answers before it, or written: the
 * parser's later errors are the same one, and the connection is closing as that answer says.
 */
const REPLY_QUEUED = Symbol('corral.replyQueued');
type QueuingSocket = Duplex & { [REPLY_QUEUED]?: true };

/**
 * Writes `text` once every answer node:http still owes on `socket` has gone out (or the
 * connection closed): answers go in the order of the requests (RFC 9112 section 9.3.2).
 */
function replyAfterAnswers(socket: QueuingSocket, text: string, written: () => void): void {
  socket[REPLY_QUEUED] = true;
  const next = (): void => {
    // node:http hands the socket to the next pipelined response before this 'close' (its own
    // 'finish' listener runs first), so the loop finds each one in turn.
    const res = currentResponse(socket);
    if (res) res.once('close', next);
    // Not writable: that answer closed the connection (Connection: close), or the client went.
    else if (socket.writable) {
      endAndClose(socket, text);
      written();
    }
  };
  next();
}

/**
 * Writes a raw answer and closes the connection once the client has read it: what the client still
 * sends is read and dropped until it closes its side, for LINGER_MS at most (lingering-close.ts).
 * end() alone left a client that never closes its side (a slowloris answered 408) holding the
 * connection, and its slot of the cap, until the send timeout, which does not cut a connection
 * whose request is still underway.
 */
function endAndClose(socket: Duplex, text: string): void {
  // The failed parser reports each read the client still sends as another error: answered, that
  // error found the socket no longer writable and reset it, and a client still sending (Python's
  // http.client, curl uploading) lost the 400/414/431/501 to the reset the lingering close avoids.
  (socket as QueuingSocket)[REPLY_QUEUED] = true;
  if (text !== '') socket.write(text);
  lingerOnClose(socket as Socket);
  (socket as Socket).destroySoon();
}


/**
 * Closes a connection whose request has had its answer (alreadyAnswered) once that answer has
 * left node:http: the linger's bound runs from the close, and a large answer a client was still
 * reading slowly was cut there, its access line saying it went out whole. A client that stops
 * reading it is the send timeout's to cut.
 */
function closeOnceAnswered(socket: QueuingSocket): void {
  socket[REPLY_QUEUED] = true;
  const res = currentResponse(socket);
  if (res === undefined || res.writableFinished) endAndClose(socket, '');
  else res.once('finish', () => socket.writable && endAndClose(socket, ''));
}

/**
 * `line` and `onAnswer`: an answer written here to a request node:http made no request object of
 * (nothing else logs or counts it) is reported, once it is written, for its access line. One that
 * answers a request the app has (an error in its body) is that request's, whose access line says
 * the status (answeredOnSocket); none is reported when no answer is written (the client went).
 * `headers`: more header lines, each ending in CRLF (a 405's Allow). `head`: the request is known
 * to be a HEAD, whose answer has no body (RFC 9110 §9.3.2), as node:http drops it from its own.
 * `parserCode`: the parser's code (HPE_…) of a request that does not parse, for the access line.
 */
function rawReply(
  socket: Duplex,
  error: HttpErrorCode,
  message: string,
  line: RequestLine,
  onAnswer: ((a: ParserAnswer) => void) | undefined,
  { headers = '', head = false, parserCode }: { headers?: string; head?: boolean; parserCode?: string } = {},
): void {
  const status = statusOf(error);
  const reason = STATUS_CODES[status] ?? '';
  const body = JSON.stringify({ error, message });
  // Date as node:http sends it on every answer (RFC 9110 §6.6.1: an origin server with a clock must).
  const text = `HTTP/1.1 ${status} ${reason}\r\ndate: ${new Date().toUTCString()}\r\n${JSON_HEADER_LINES}${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? '' : body}`;
  const started = currentResponse(socket);
  // Read now: net caches the peer address on first use, and a closed socket has none to give.
  const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
  const written = (): void => onAnswer?.({ method: line.method, target: line.target, status, error, parserCode, remote });
  if (started?.req.complete) {
    // The error is in a request pipelined behind a whole one the app is still answering (a POST
    // whose handler awaits the keeper): that one gets its own answer, and its side effects are
    // real, so the raw answer waits for it rather than replacing it.
    replyAfterAnswers(socket, text, written);
    return;
  }
  // An answer whose every byte is already written (a pipelined request answered at once, before
  // node:http parsed the next one) is whole on the wire: the raw answer follows it.
  const midAnswer = started !== undefined && started.headersSent && !started.writableEnded;
  if (!socket.writable || midAnswer) {
    // A raw answer now would land inside the body the app is already sending (node:http's own
    // socketOnError skips writing then too): cut the connection. The access line says why.
    if (midAnswer) answeredOnSocket(started, status, error, parserCode);
    socket.destroy();
    return;
  }
  // The error came in that request's body: its own response will never go out, and its access
  // line must say what the client got, not 499.
  if (started && !started.headersSent) answeredOnSocket(started, status, error, parserCode);
  endAndClose(socket, text);
  if (!started) written();
}

/** A request answered with a raw answer, no response object of node:http's: for its access line and the counts. */
export interface ParserAnswer {
  readonly method: string;
  /** The start of the request target, at most TARGET_LOGGED_CHARS; '' when the parser did not read it. */
  readonly target: string;
  readonly status: number;
  /** Why, as the answer's body says it; and the parser's code (HPE_…) of a request that does not parse. */
  readonly error: HttpErrorCode;
  readonly parserCode?: string | undefined;
  readonly remote: string | undefined;
}

/**
 * Maps parser errors to JSON answers. `onAnswer`: each answer written to a request node:http made
 * no request object of (408, 414, 431, 400, 501) gets an access line and is counted, as a 431 for
 * too many fields is (that one is answered with a request object): without it, a slowloris wave
 * answered 408 left no trace in the access log, where nginx logs its 408s and 400s.
 */
export function attachClientErrorHandler(server: Server, onError: (code: string) => void, onAnswer?: (a: ParserAnswer) => void): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A raw answer is already queued: the parser, failed, reports every later read the same way.
    if ((socket as QueuingSocket)[REPLY_QUEUED]) return;
    const code = err.code ?? 'UNKNOWN';
    // The worker, not the client, held the request back (unread-timeout.ts): timed again once read.
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT' && timeoutWhileUnread(server, socket)) return;
    onError(code);
    // The client went away (a reset, or its end of the connection in the middle of a request:
    // node's parser reports HPE_INVALID_EOF_STATE): nobody to answer, and its request, if one had
    // started, is logged as the client's 499, not as a 400 the client never read.
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'HPE_INVALID_EOF_STATE') {
      socket.destroy();
      return;
    }
    // Its answer went out: nothing more to say; closed as a raw answer's connection is.
    if (socket.writable && alreadyAnswered(socket)) {
      closeOnceAnswered(socket);
      return;
    }
    if (code === 'HPE_HEADER_OVERFLOW') {
      if (overflowedInRequestLine(err, socket)) {
        const line = requestLineOf(err);
        rawReply(socket, 'uri_too_long', 'the request line (its URL) is too long', line, onAnswer, { head: line.method === 'HEAD' });
      }
      else {
        const line = failedRequestLineOf(err, socket);
        rawReply(socket, 'headers_too_large', 'request headers are too large', line, onAnswer, { head: line.method === 'HEAD' });
      }
    }
    else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // A timeout has no bytes with it: the method and target of headers still arriving are the parser's alone.
      const what = unfinishedResponse(socket) ? 'the request body was' : 'request headers were';
      rawReply(socket, 'request_timeout', `${what} not received in time`, UNPARSED, onAnswer);
    } else {
      const method = unknownMethodOf(err);
      if (method !== undefined) rawReply(socket, 'method_not_implemented', unknownMethodMessage(method), { method, target: targetAfterMethod(err, method) }, onAnswer);
      else {
        const line = failedRequestLineOf(err, socket);
        rawReply(socket, 'bad_request', malformedRequestMessage(err), line, onAnswer, { head: line.method === 'HEAD', parserCode: code });
      }
    }
  });
}

/** RFC 9110 §7.2's Host: uri-host [":" port], uri-host an IP literal in brackets or a reg-name (empty allowed). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

/** The 413's message: the worker's limit is the server's; a route's own may be lower (the app's 413 says so). */
function overServerLimit(max: number): string {
  return `the body is over ${max} bytes, this server's limit for any request`;
}

/**
 * The Allow of the 405 to a CONNECT, which RFC 9110 §15.5.6 requires of every 405. Its target is a
 * host:port to tunnel to, no resource of the app, so it names the methods the worker hands its app
 * at all (the app, any CORRAL_APP, is not asked); the app's own 405s narrow them per path.
 */
export const CONNECT_ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Answers a CONNECT (server 'connect'): node:http hands the raw socket over for tunnelling and,
 * with no listener, destroys it without a word, which a client reads as a reset.
 */
export function refuseConnect(req: IncomingMessage, socket: Duplex, onAnswer?: (a: ParserAnswer) => void): void {
  // Its target is an authority (host:port), where an '@' can only end a user and password: those
  // are not logged, as an absolute-form target's are not (logged-target.ts).
  const target = (req.url ?? '').replace(/^.*@/s, `${REDACTED}@`).slice(0, TARGET_LOGGED_CHARS);
  const line = { method: req.method ?? 'CONNECT', target };
  rawReply(socket, 'method_not_allowed', 'CONNECT is not supported: this server is not a proxy', line, onAnswer, { headers: `allow: ${CONNECT_ALLOW}\r\n` });
}

function reply(res: ServerResponse, error: HttpErrorCode, message: string): void {
  refusedByWorker(res, error);
  const body = JSON.stringify({ error, message });
  res.writeHead(statusOf(error), jsonHeaders(Buffer.byteLength(body), { Connection: 'close' }));
  res.end(body);
}

/**
 * A request refused before its body is read (its headers, its declared size): the client may still
 * be sending it, and a close with its bytes unread would reset the connection under the answer
 * (lingering-close.ts).
 */
function refuseUnread(req: IncomingMessage, res: ServerResponse, error: HttpErrorCode, message: string): void {
  lingerOnClose(req.socket);
  // The body read and dropped may not parse (chunks a refused coding framed otherwise): the
  // parser's error then is no new answer after this one, which closes the connection.
  (req.socket as QueuingSocket)[REPLY_QUEUED] = true;
  reply(res, error, message);
}

/** The request's Content-Length is over CORRAL_LIMIT_REQUEST_BODY_BYTES: enforceRequestLimits answers 413. */
function declaresBodyOverLimit(req: IncomingMessage, limits: LimitSettings): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > limits.CORRAL_LIMIT_REQUEST_BODY_BYTES;
}

/**
 * Answers a request whose Expect is not `100-continue` (server 'checkExpectation'): node:http's own
 * answer is a 417 with an empty body.
 */
export function refuseExpectation(req: IncomingMessage, res: ServerResponse): void {
  const expect = String(req.headers.expect ?? '').slice(0, 60);
  // A client that expects something else than a 100 does not wait for one: its body may be on its
  // way, read and dropped as a refused body's (closed at once, it reset the connection under the 417).
  refuseUnread(req, res, 'expectation_failed', `Expect: ${expect} is not supported; send no Expect header, or Expect: 100-continue`);
  req.resume();
}

/**
 * Checks the Host header, header count and declared body size before the app sees the request,
 * and caps chunked bodies while they stream. Returns false when the request was answered here.
 */
export function enforceRequestLimits(req: IncomingMessage, res: ServerResponse, limits: LimitSettings): boolean {
  const version = unsupportedVersion(req);
  if (version !== undefined) {
    refuseUnread(req, res, 'http_version_not_supported', version);
    return false;
  }
  // Before any check of a field: node:http keeps the fields up to its count (one more than the
  // limit) and drops the rest without a word, a Host among them (refused as missing: 400).
  if (req.rawHeaders.length / 2 > limits.CORRAL_LIMIT_REQUEST_FIELDS) {
    refuseUnread(req, res, 'too_many_headers', `more than ${limits.CORRAL_LIMIT_REQUEST_FIELDS} header fields`);
    return false;
  }
  // HTTP/1.1 requires Host (RFC 9112 §3.2). The server is created with requireHostHeader off so
  // that this answer is JSON: node:http's own is a 400 with an empty body.
  const host = req.headers.host;
  if (host === undefined) {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
      refuseUnread(req, res, 'missing_host', 'an HTTP/1.1 request needs a Host header');
      return false;
    }
  } else if (!HOST_VALUE.test(host) || fieldCount(req.rawHeaders, 'host') > 1) {
    // RFC 9112 §3.2: a 400 for more than one Host or one that is not a host[:port]. node:http keeps
    // the first of two and accepts any value: a proxy in front that routed on the other, or on
    // what follows a space or a slash, would disagree with the app about which site was asked for.
    refuseUnread(req, res, 'invalid_host', 'a request needs exactly one Host header, of the form host[:port]');
    return false;
  }
  const max = limits.CORRAL_LIMIT_REQUEST_BODY_BYTES;
  const declared = req.headers['content-length'];
  if (declaresBodyOverLimit(req, limits)) {
    // The body may be on its way (no Expect: 100-continue): read and dropped, not reset.
    refuseUnread(req, res, 'body_too_large', overServerLimit(max));
    req.resume();
    return false;
  }
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
    // node:http accepts any codings before a final `chunked` (`gzip, chunked`, or two header
    // lines) and hands the app the still-coded bytes as the body. RFC 9112 §6.1: a server answers
    // 501 to a transfer coding it does not understand (nginx does too).
    // Its body may be on its way, as a refused body's: read and dropped, not reset.
    refuseUnread(req, res, 'unsupported_transfer_encoding', `Transfer-Encoding ${JSON.stringify(coding.slice(0, 60))} is not supported; send chunked or a Content-Length`);
    req.resume();
    return false;
  }
  if (declared === undefined && coding !== undefined) {
    // Chunked bodies have no declared size: count what the parser pushes, whoever reads it. A
    // request pipelined behind another comes here once that one is answered (server.ts), with
    // what arrived of its body meanwhile already pushed: counted too, and refused now if over.
    let received = req.readableLength;
    if (received > max) {
      refuseUnread(req, res, 'body_too_large', overServerLimit(max));
      req.resume();
      return false;
    }
    const push = req.push.bind(req);
    req.push = (chunk: unknown, encoding?: BufferEncoding) => {
      const bytes = chunk ? (chunk as Buffer).length : 0;
      received += bytes;
      if (received > max) {
        // What the client still sends is read and dropped (true: keep reading) until it stops or
        // the linger ends, so that it reads the 413 rather than a reset (lingering-close.ts).
        if (received - bytes > max) return true;
        lingerOnClose(req.socket);
        if (!res.headersSent) reply(res, 'body_too_large', overServerLimit(max));
        req.socket.destroySoon();
        return true;
      }
      return push(chunk, encoding);
    };
  }
  return true;
}
