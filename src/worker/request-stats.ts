// Per-worker request figures for the heartbeat and the access log.

import { performance } from 'node:perf_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APP_CUT, HOST_CUT } from '../contract.js';
import { normalizeIp, type ClientIpResolver } from '../http/client-ip.js';
import { targetForAccessLog } from '../http/logged-target.js';
import { LatencyBuckets } from '../latency-buckets.js';
import type { Logger } from '../log/logger.js';
import type { ParserAnswer } from './limits.js';

export interface RequestStats {
  /**
   * Call at the start of each request, `now` its start (performance.now()); logs and counts it
   * when the response closes.
   */
  track(req: IncomingMessage, res: ServerResponse, now?: number): void;
  served(): number;
  errors(): number;
  /**
   * The durations of the requests answered since the last call (then reset): their p99 in ms (0
   * when none), and their counts as latency-buckets.ts pairs, which the master adds up per interval.
   */
  takeLatency(): { readonly p99Ms: number; readonly buckets: number[] };
  /** A request answered raw, before node:http made a request of it (408, 414, 431, 400, 501, CONNECT's 405): its access line, counted. */
  parserAnswer(a: ParserAnswer): void;
  /** Resolves once every tracked response has closed, and so is counted (at once when none is open). */
  allClosed(): Promise<void>;
  /**
   * The drain's graceful time ran out and the worker closed the connections left: an answer cut
   * from now on is the worker's doing, said in its access line (`cut: "drain"`), not the client's.
   */
  forcedClose(): void;
}

/**
 * What one request needs at its end, kept on the response itself. This runs on every request: one
 * listener function shared by all responses, with no closure and no `once` wrapper per request,
 * costs about half a microsecond less per request than `res.once('close', () => ...)` (a cached
 * GET costs about 40 µs of CPU in all; issue 6).
 */
const STARTED = Symbol('corral.started');
const BYTES_BEFORE = Symbol('corral.bytesBefore');
const RAW_STATUS = Symbol('corral.rawStatus');
/** Why the worker refused the request itself (its answer's `error`), and the parser's code of one that does not parse. */
const REFUSED = Symbol('corral.refused');
const PARSER_CODE = Symbol('corral.parserCode');

/** Bytes of the answer still queued on the socket when the send timeout cut it. */
const UNSENT = Symbol('corral.unsent');
type TrackedResponse = ServerResponse & {
  [STARTED]: number;
  [BYTES_BEFORE]: number;
  [BYTES_AFTER]?: number;
  [RAW_STATUS]?: number;
  [UNSENT]?: number;
  [REFUSED]?: string;
  [PARSER_CODE]?: string | undefined;
};

/** BYTES_BEFORE of a response queued behind another on its connection, until it gets the connection. */
const NOT_ON_SOCKET = -1;
/** The connection's bytes written when the next response queued behind this one took it: this one's end. */
const BYTES_AFTER = Symbol('corral.bytesAfter');
/** On a connection: the tracked response that has it now. */
const ON_SOCKET = Symbol('corral.onSocket');
type TrackedSocket = { bytesWritten: number; [ON_SOCKET]?: TrackedResponse };

/**
 * A queued response got its connection (node:http's assignSocket, before it writes): its bytes
 * start here, and the previous response's end here. That one's 'close' comes a tick after its
 * 'finish', and node:http has by then written this one's answer on the connection too.
 */
function onSocket(this: TrackedResponse, socket: TrackedSocket): void {
  const previous = socket[ON_SOCKET];
  if (previous && previous !== this) previous[BYTES_AFTER] = socket.bytesWritten;
  socket[ON_SOCKET] = this;
  this[BYTES_BEFORE] = socket.bytesWritten;
}

/**
 * The request of `res` was answered on its socket, not through `res` (a parser error or a request
 * timeout in the middle of its body): its access line shows that status, not 499, and why.
 */
export function answeredOnSocket(res: ServerResponse, status: number, error: string, parserCode?: string): void {
  (res as TrackedResponse)[RAW_STATUS] = status;
  refusedByWorker(res, error, parserCode);
}

/**
 * The worker answered the request of `res` itself, refusing it (a limit, a bad Host, a parser
 * error): its access line says why (`error`, the answer's, and `parser_code`), so that an operator
 * can tell a wave of 400s or 413s apart, and from the app's own, in the access log.
 */
export function refusedByWorker(res: ServerResponse, error: string, parserCode?: string): void {
  (res as TrackedResponse)[REFUSED] = error;
  (res as TrackedResponse)[PARSER_CODE] = parserCode;
}

/**
 * The send timeout cut the connection of `res` with `unsentBytes` of its answer still queued: its
 * access line says 499 with the bytes that went out. node:http counts an answer handed to the
 * socket whole as finished, and the socket's bytesWritten counts what it queued: a large answer
 * the client never read was logged 200 with every byte, beside the line saying none was taken.
 */
export function cutUnsent(res: ServerResponse, unsentBytes: number): void {
  (res as TrackedResponse)[UNSENT] = unsentBytes;
}

/** Why the app cut this answer itself (contract.ts APP_CUT), when it said so. */
function appCut(res: ServerResponse): string | undefined {
  const why = (res as ServerResponse & { [APP_CUT]?: unknown })[APP_CUT];
  return typeof why === 'string' && why !== '' ? why.slice(0, 64) : undefined;
}

/** The longest X-Request-Id an access line carries: a proxy's id is 32 characters (nginx's $request_id). */
const REQUEST_ID_MAX = 128;

/**
 * The request's X-Request-Id (nginx's $request_id, as config/nginx/corral.conf sends it), so an
 * access line can be matched with the proxy's own for the same request; undefined without one.
 */
function requestIdOf(req: IncomingMessage): string | undefined {
  const id = req.headers['x-request-id'];
  if (typeof id !== 'string' || id === '') return undefined;
  return id.length > REQUEST_ID_MAX ? id.slice(0, REQUEST_ID_MAX) : id;
}

/** The client a trusted proxy forwarded `req` for; undefined when that is the peer itself. */
function forwardedFor(req: IncomingMessage, resolve: ClientIpResolver): string | undefined {
  const client = resolve(req);
  return client === normalizeIp(req.socket.remoteAddress ?? '') ? undefined : client;
}

/**
 * `accessLogger` undefined: no access log. Its lines carry the worker's id from the logger's base fields.
 * `forwardedClient`: with CORRAL_TRUSTED_PROXIES, the client a trusted proxy's X-Forwarded-For
 * names, as the rate limit counts it: the access line's `client`, beside `remote` (the connection's
 * peer, the proxy), when the two differ. Behind nginx every line's remote was nginx's address.
 */
/**
 * `closed`: told of every tracked response as it closes, before it is counted, with the time
 * (the connection cap's answerSent: one 'close' listener per response serves both).
 */
export function createRequestStats(accessLogger: Logger | undefined, onServed: (n: number) => void, forwardedClient?: ClientIpResolver, closed?: (res: ServerResponse, now: number) => void): RequestStats {
  let served = 0;
  let errors = 0;
  /** Tracked responses not closed yet, and who waits for there to be none. */
  let open = 0;
  let whenAllClosed: (() => void)[] = [];
  let forced = false;
  const latency = new LatencyBuckets();

  // 'close' is emitted once per response (node:http emits it after 'finish', or when the
  // connection ends first), and a response is never reused: nothing to remove afterwards.
  function onClose(this: TrackedResponse): void {
    const now = performance.now();
    // Tracked before the app's handler ran, so this listener runs before the app's own: an
    // export it was streaming reads why it ended (contract.ts HOST_CUT).
    if (forced && !this.writableFinished) (this as TrackedResponse & { [HOST_CUT]?: string })[HOST_CUT] = 'drain';
    try {
      closed?.(this, now);
      record(this, now);
    } finally {
      // Whatever the access log or onServed did: a drain waits on allClosed().
      if (--open === 0 && whenAllClosed.length > 0) {
        const waiting = whenAllClosed;
        whenAllClosed = [];
        for (const resolve of waiting) resolve();
      }
    }
  }

  function record(res: TrackedResponse, now: number): void {
    const ms = now - res[STARTED];
    latency.recordMs(ms);
    served++;
    if (res.statusCode >= 500) errors++;
    if (accessLogger) {
      const req = res.req;
      const socket = req.socket;
      // nginx's 499: the connection closed before the whole answer went out (statusCode would
      // still say 200 for a request that was never answered), unless the server cut it itself
      // after a failure and said so with a 5xx statusCode.
      const status = res[RAW_STATUS] ?? (res[UNSENT] === undefined && (res.writableFinished || res.statusCode >= 500) ? res.statusCode : 499);
      // A 499 the worker caused is said apart: one counting 499s as clients giving up would lay
      // the send timeout's cuts and a forced drain's on the clients.
      const cut = status !== 499 ? undefined : res[UNSENT] !== undefined ? 'send_timeout' : forced ? 'drain' : appCut(res);
      accessLogger.info({
        event: 'access',
        method: req.method,
        // The query stays, as in nginx's access log, but not a value named like a credential.
        path: targetForAccessLog(req.url),
        status,
        // Left out of the line when undefined (pino skips undefined fields): no spread per request.
        cut,
        error: res[REFUSED],
        parser_code: res[PARSER_CODE],
        ms: Math.round(ms * 100) / 100,
        // A response that never got the connection (its client left first) sent nothing.
        bytes: res[BYTES_BEFORE] === NOT_ON_SOCKET ? 0 : Math.max(0, (res[BYTES_AFTER] ?? socket.bytesWritten) - res[BYTES_BEFORE] - (res[UNSENT] ?? 0)),
        remote: socket.remoteAddress,
        client: forwardedClient === undefined ? undefined : forwardedFor(req, forwardedClient),
        request_id: requestIdOf(req),
      });
    }
    onServed(served);
  }

  return {
    track(req, res, now = performance.now()) {
      const tracked = res as TrackedResponse;
      // performance.now() is a plain double (no BigInt per request); bytes are read only for the
      // access log.
      tracked[STARTED] = now;
      if (accessLogger) {
        // A request pipelined behind one still being answered gets the connection only once that
        // answer is sent (node:http queues its response): its bytes start then. Counted from now,
        // its access line's bytes held every answer queued before it (a 170-byte answer logged
        // as 243 KB behind a client that pipelines and reads slowly).
        if ((req.socket as { _httpMessage?: unknown })._httpMessage === res) {
          tracked[BYTES_BEFORE] = req.socket.bytesWritten;
          (req.socket as TrackedSocket)[ON_SOCKET] = tracked;
        } else {
          tracked[BYTES_BEFORE] = NOT_ON_SOCKET;
          res.once('socket', onSocket);
        }
        // Read now: net caches the peer address on first use, and a socket the client already
        // closed has none to give, so a 499's access line would have no remote.
        void req.socket.remoteAddress;
      } else tracked[BYTES_BEFORE] = 0;
      open++;
      res.on('close', onClose);
    },
    parserAnswer(a) {
      // A request as any other in the figures (a 431 for header bytes counts as one for too many
      // fields, which has a request object), a 5xx (the 501) among the errors; not in the
      // latency, which the parser's refusals have none of to tell (a 408 waited for the client).
      served++;
      if (a.status >= 500) errors++;
      // The fields as the parser read them: method and path '' when it had not (a 408).
      accessLogger?.info({ event: 'access', method: a.method, path: targetForAccessLog(a.target), status: a.status, error: a.error, parser_code: a.parserCode, ms: 0, bytes: 0, remote: a.remote });
      onServed(served);
    },
    allClosed: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => void whenAllClosed.push(resolve))),
    forcedClose: () => void (forced = true),
    served: () => served,
    errors: () => errors,
    takeLatency() {
      const p99 = latency.percentileMs(0.99) ?? 0;
      const buckets = latency.toPairs();
      latency.reset();
      return { p99Ms: Math.round(p99 * 10) / 10, buckets };
    },
  };
}
