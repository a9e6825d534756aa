// The worker's HTTP server: limits, connection cap, health, access log, per-request error
// isolation, and a graceful drain (stop accepting, Connection: close, wait, force).

import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer,
  ServerResponse,
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import { monotonicNow } from '../clock.js';
import { APP_CUT } from '../contract.js';
import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { FIRST_LINES_PER_MINUTE, RequestErrorLog } from '../log/request-errors.js';
import { describeError, statusOf, type HttpErrorCode } from '../errors.js';
import { createClientIpResolver } from '../http/client-ip.js';
import { sendJson } from '../http/json.js';
import { pathOfTarget } from '../http/logged-target.js';
import { closeAfterAnswer, withoutConnection } from './connection-close.js';
import { BURST_QUIET_MS, createBurst } from './burst.js';
import { attachConnectionCap, type ConnectionCap, type HostGaugeCap } from './connection-cap.js';
import { isHealthTarget } from './health-target.js';
import { attachClientErrorHandler, enforceRequestLimits, refuseConnect, refuseExpectation } from './limits.js';
import { createRequestStats, cutUnsent, type RequestStats } from './request-stats.js';
import { awaitTurn, PIPELINE_WAITING_BUDGET, pipelinedWaiting, type PipelineCut } from './pipelined-turn.js';
import { attachSendTimeout } from './send-timeout.js';

const netClose = NetServer.prototype.close;

/**
 * Expect: 100-continue: the 100 goes out when the app first reads the body, not before the app
 * runs, so a request the app refuses unread (401 without a token, 404) is answered without
 * inviting its upload (a client waiting for the 100 sent half a megabyte the worker then read and
 * dropped). node:http asks for the body through _read whenever a reader wants it.
 */
function continueOnRead(req: IncomingMessage, res: ServerResponse): void {
  const read = req._read;
  req._read = function (this: IncomingMessage, size: number): void {
    req._read = read;
    if (!res.headersSent && !res.writableEnded) res.writeContinue();
    read.call(this, size);
  };
}

/** On a response whose connection closes after it, whatever the app asks (an upgrade no one takes). */
const CLOSE_AFTER = Symbol('corral.closeAfter');

/** `Upgrade` with `Connection: upgrade`: the request llhttp parses only up to its head. */
function asksUpgrade(req: IncomingMessage): boolean {
  const { upgrade, connection } = req.headers;
  return upgrade !== undefined && connection !== undefined && /(?:^|,)\s*upgrade\s*(?:,|$)/i.test(connection);
}

/** node:http's response being written on a connection (`_httpMessage`): an earlier one while a pipelined request waits. */
type PipelinedSocket = Socket & { _httpMessage?: ServerResponse | null };

/** A drain waits at most this long, after the last connection closed, for the responses on it to close. */
const RESPONSES_CLOSE_WAIT_MS = 1000;

/** How often a draining worker looks for connections silent past their grace (SILENT_GRACE_MS). */
const SILENT_SWEEP_MS = 250;

export interface WorkerServer {
  readonly server: Server;
  readonly cap: ConnectionCap;
  readonly stats: RequestStats;
  listen(): Promise<{ address: string; port: number }>;
  /**
   * Idempotent: stop accepting, close keep-alive, wait for in-flight requests up to gracefulMs.
   * `hostStopping` (the default): the host goes away, and health answers 503 from now on; false
   * (a reload, a recycle), other workers go on serving, and health answers 200 until a drain says
   * the host stops.
   */
  drain(gracefulMs: number, hostStopping?: boolean): Promise<void>;
  isDraining(): boolean;
}

export interface WorkerServerOptions {
  readonly settings: Settings;
  readonly logger: Logger;
  /** Where access lines go; undefined when CORRAL_ACCESS_LOG is off. */
  readonly accessLogger: Logger | undefined;
  readonly workerId: number;
  readonly generation: number;
  readonly perWorkerCap: number;
  /** The host's exact count and cap, when workers accept on their own and the shared table is there. */
  readonly hostGauge?: HostGaugeCap;
  /** Descriptors the worker may spend on connections under its open-files limit (fd-limit.ts). */
  readonly fdBudget?: number;
  readonly onServed: (served: number) => void;
  /**
   * The host's capacity as the master last told it (up to 5 s old), for the health answer: a
   * monitor that checked the old app's health for `capacity.status == "FULL"` or
   * `capacity.percent_used >= 90` (the seeds' uptime check) has them on the public health path.
   */
  readonly hostCapacity?: () => { readonly status: string; readonly percent_used: number } | undefined;
}

/** The headers an app set that stay on the 500 corral answers in its place (see handleError). */
function keptOnFailure(name: string): boolean {
  return name === 'connection' || name === 'vary' || name.startsWith('access-control-');
}

export function createWorkerServer(app: RequestListener, o: WorkerServerOptions): WorkerServer {
  const { settings, logger } = o;
  let draining = false;
  /** Told the host is stopping: health answers 503 draining (load balancers take the host out). */
  let hostStopping = false;
  const keepAliveOff = settings.CORRAL_KEEPALIVE === 0;
  let drainPromise: Promise<void> | undefined;
  // The drain's forced close: when, and how to move it earlier.
  let force: NodeJS.Timeout | undefined;
  let forceAt = Infinity;
  let scheduleForce: (ms: number) => void = () => {};

  // The cap learns that an answer went out from the stats' 'close' listener: one listener per response.
  const stats = createRequestStats(
    o.accessLogger,
    o.onServed,
    o.accessLogger && settings.CORRAL_TRUSTED_PROXIES.length > 0 ? createClientIpResolver(settings.CORRAL_TRUSTED_PROXIES) : undefined,
    (res, now) => cap.answerSent(res, now),
  );

  // A handler that throws for a request throws for every such request (a client retrying it, a
  // bug on a busy route): said once with the stack, then at most once a minute with the count,
  // whatever the paths it comes with (request-errors.ts).
  const handlerErrors = new RequestErrorLog(({ held, first }) =>
    logger.error(
      { event: 'request.errors_held', code: 'CORRAL_ERR_REQUEST', held, first },
      first
        ? `over ${FIRST_LINES_PER_MINUTE} distinct handler errors this minute: the others are counted, not said one by one (a message that names the request, a scanner's paths)`
        : `${held} distinct handler errors in the last minute not said one by one`,
    ),
  );
  const handleError = (err: unknown, req: IncomingMessage, res: ServerResponse) => {
    const d = describeError(err);
    // The path alone: the same failure comes with any query, and a query may hold a secret (logged-target.ts).
    const path = pathOfTarget(req.url);
    handlerErrors.failed({ method: req.method, ...d }, (requests) =>
      logger.error({ event: 'request.error', code: 'CORRAL_ERR_REQUEST', method: req.method, path, err: d, requests }, 'request handler threw'),
    );
    if (!res.headersSent) {
      // The 500 is corral's answer, not the app's: headers the app set for its own (a gzip
      // Content-Encoding, a chunked Transfer-Encoding, a cookie, an attachment's name) went out
      // with it, a JSON body said to be gzip that no client could read, or framed two ways at once.
      // A Connection: close stays (an app that will not read the body: lingering-close.ts), and so
      // do the app's CORS headers (with the Vary that goes with them): without them a page of the
      // app's other origin cannot read the 500, only a network error that says nothing.
      for (const name of res.getHeaderNames()) if (!keptOnFailure(name)) res.removeHeader(name);
      sendJson(res, statusOf('internal_error'), { error: 'internal_error' satisfies HttpErrorCode, message: 'the server failed to answer this request' });
    }
    // An answer half sent is cut, so the client cannot take it for whole. One the app ended before
    // it threw (an audit call after res.end() that rejects) is left to go out: destroyed, its body
    // still in the socket's buffer was cut short, and the kept-alive connection lost with it.
    else if (!res.writableEnded) {
      // Said in its access line as the worker's cut: a bare 499 is the client's doing.
      const cut = res as ServerResponse & { [APP_CUT]?: unknown };
      cut[APP_CUT] ??= 'handler_error';
      res.destroy();
    }
  };
  /**
   * node:http's 'error' on a response: a write or an end with a body after the answer ended (an
   * early `res.end(...)` without a `return`, then the normal one). With no listener it was an
   * uncaught exception: the worker was retired and replaced for that one request. One function
   * for every response, as `this`.
   */
  function onResponseError(this: ServerResponse, err: unknown): void {
    handleError(err, this.req, this);
  }

  // Connections closed for the requests waiting their turn past the worker's budget
  // (pipelined-turn.ts): told once per burst, as refusals are (a flood of such clients is one event).
  const pipelineCuts = createBurst<PipelineCut>({
    started: (f) =>
      logger.warn(
        { event: 'request.pipeline_overflow', waiting: f.waiting, remote: f.remote, worker_waiting: pipelinedWaiting(), budget: PIPELINE_WAITING_BUDGET },
        `over ${PIPELINE_WAITING_BUDGET} pipelined requests wait for their turn in this worker: connections with more than a few waiting are closed, their requests not run`,
      ),
    ended: (f) => logger.info({ event: 'request.pipeline_overflow_end', closed: f.count, ms: f.ms }, `${f.count} connections closed for pipelined requests past the budget in ${f.ms} ms, then none for ${BURST_QUIET_MS / 1000} s`),
  });
  const onPipelineCut = (cut: PipelineCut): void => pipelineCuts.count(() => cut);

  /** `continueFirst`: the client sent Expect: 100-continue and waits for the 100 before its body. */
  const onRequest = (req: IncomingMessage, res: ServerResponse, continueFirst = false) => {
    const socket = req.socket as PipelinedSocket;
    // Pipelined behind an answer not yet sent: handled once that answer is sent and the connection
    // stays open for this one, never if it closes instead (a draining worker's Connection: close,
    // CORRAL_KEEPALIVE=0, a refusal that closes). node:http hands such a request over at once, and
    // the app ran it (a POST /api/events saved) while its answer, queued behind a closing one, was
    // never sent: the client saw the connection close and could not tell it from a request never
    // read. Handled in turn, as nginx does, it is answered or was not run (pipelined-turn.ts).
    if (socket._httpMessage && socket._httpMessage !== res) {
      awaitTurn(req, res, () => onRequest(req, res, continueFirst), onPipelineCut);
      return;
    }
    // The answer before it was sent and closed the connection (its write side ended) before this
    // request was read (a refusal that reads and drops the rest of what the client sends): nothing
    // more can be answered on it. Its body, if any, is read and dropped with the rest.
    if (!socket.writable) {
      req.resume();
      return;
    }
    // One clock reading for the cap's busy peak and the request's duration.
    const now = performance.now();
    if (cap.screen(req, res, now)) return;
    stats.track(req, res, now);
    if (!enforceRequestLimits(req, res, settings)) return;
    // Only a request the worker will hand to the app is invited to send its body: one refused
    // above (503 over the cap, 413 for a declared body over the limit, 400, 431, 501) is answered
    // without the 100, and the client never uploads it.
    if (continueFirst) continueOnRead(req, res);
    // An upgrade no one takes (corral has no 'upgrade' listener): node:http answers it as a plain
    // request, but its parser stopped at the request's head and the bytes after it, requests the
    // client pipelined behind it, are dropped: unanswered until the keep-alive timeout. Closing
    // after the answer tells the client to send them again (RFC 9112 §9.3.1).
    if (asksUpgrade(req)) (res as WorkerResponse)[CLOSE_AFTER] = true;
    // HEAD too (node:http sends the headers without the body): load balancers probe with either.
    if ((req.method === 'GET' || req.method === 'HEAD') && isHealthTarget(req.url, hostStopping)) {
      // A worker draining for a reload or a recycle is one of a host that goes on serving: a 503
      // there, read on a kept-alive connection by a load balancer's health check (Envoy reuses
      // its connection), took the whole host out of rotation during a zero-downtime reload.
      const capacity = o.hostCapacity?.();
      const withCapacity = capacity ? { capacity: { status: capacity.status, percent_used: capacity.percent_used } } : {};
      if (hostStopping) sendJson(res, 503, { status: 'draining', worker: o.workerId, generation: o.generation, ...withCapacity });
      else sendJson(res, 200, { status: 'ok', worker: o.workerId, generation: o.generation, ...(draining ? { draining: true } : {}), ...withCapacity });
      return;
    }
    res.on('error', onResponseError);
    try {
      const result = app(req, res) as unknown;
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).catch((err) => handleError(err, req, res));
      }
    } catch (err) {
      handleError(err, req, res);
    }
  };

  // While draining, tell keep-alive clients to reconnect (to a fresh worker). Decided when the
  // headers go out, not when the request arrives: a request already in flight when the drain
  // starts must close its connection too, or the worker waits for the keep-alive timeout. So
  // must one whose app asked for keep-alive itself (see connection-close.ts).
  class WorkerResponse extends ServerResponse {
    // Declared only: a field would be defined on every response, for the few that need it.
    declare [CLOSE_AFTER]?: true;
    override writeHead(statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
    override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
    // Two fixed parameters, not a rest array: this runs on every response. node:http reads a
    // missing or undefined second argument alike.
    override writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
      if (draining || keepAliveOff || this[CLOSE_AFTER]) {
        closeAfterAnswer(this);
        // The app's own `Connection: keep-alive`, passed here, would win over it too.
        if (typeof reasonOrHeaders === 'string') headers = withoutConnection(headers);
        else reasonOrHeaders = withoutConnection(reasonOrHeaders);
      }
      return super.writeHead(statusCode, reasonOrHeaders as string, headers);
    }
  }

  const server = createServer(
    {
      ServerResponse: WorkerResponse,
      // node:http refuses a head that reaches its maxHeaderSize, not only one past it: one more, so
      // that a head of exactly CORRAL_LIMIT_REQUEST_HEADER_BYTES passes, as the setting says.
      maxHeaderSize: settings.CORRAL_LIMIT_REQUEST_HEADER_BYTES + 1,
      // Node requires headersTimeout <= requestTimeout.
      headersTimeout: Math.min(settings.CORRAL_HEADERS_TIMEOUT, settings.CORRAL_REQUEST_TIMEOUT) * 1000,
      requestTimeout: settings.CORRAL_REQUEST_TIMEOUT * 1000,
      // 0 would mean "never time out" to Node; CORRAL_KEEPALIVE=0 means no keep-alive (as in
      // gunicorn), handled per response below.
      keepAliveTimeout: Math.max(1, settings.CORRAL_KEEPALIVE) * 1000,
      // Check slow-header deadlines every second, not Node's default 30 s.
      connectionsCheckingInterval: 1000,
      // Checked in enforceRequestLimits instead, which answers JSON (node's 400 has no body).
      requireHostHeader: false,
    },
    onRequest,
  );
  // One more than the limit, so a request over it is detected rather than silently truncated.
  server.maxHeadersCount = settings.CORRAL_LIMIT_REQUEST_FIELDS + 1;
  // One line when refusals start and one when they stop: an access line per refusal would cost
  // what the cap is there to save, and with no line at all a worker's 503s leave no trace in the
  // log (the master's capacity alert speaks only of the whole host). Idle keep-alive connections
  // closed to make room are told the same way (nginx warns "worker_connections are not enough,
  // reusing connections").
  const cap = attachConnectionCap(server, o.perWorkerCap, {
    refusals: {
      started: (f) =>
        logger.warn(
          { event: 'worker.connections_refused', active_connections: f.active, cap: f.cap, host_full: f.hostFull, connections: f.current, max_connections: f.max },
          `${f.hostFull ? `host full (${f.current}/${f.max})` : `connection cap reached (${f.current}/${f.max})`}: new connections answered 503 (more room: CORRAL_WORKER_CONNECTIONS, CORRAL_WORKERS or CORRAL_MAX_CONNECTIONS where the host can carry it, or another host)`,
        ),
      ended: (f) => logger.info({ event: 'worker.connections_refused_end', refused: f.count, ms: f.ms }, `${f.count} ${f.count === 1 ? 'connection' : 'connections'} answered 503 in ${f.ms} ms, then none for ${BURST_QUIET_MS / 1000} s`),
    },
    idleClosures: {
      started: (f) =>
        logger.warn(
          { event: 'worker.idle_connections_closed', active_connections: f.active, cap: f.cap, host_full: f.hostFull, connections: f.current, max_connections: f.max },
          f.hostFull ? `host full (${f.current}/${f.max}): idle connections closed to admit new ones` : `connection cap reached (${f.current}/${f.max}): idle connections closed to admit new ones`,
        ),
      ended: (f) => logger.info({ event: 'worker.idle_connections_closed_end', closed: f.count, ms: f.ms }, `${f.count} idle connections closed in ${f.ms} ms to admit new ones, then none for ${BURST_QUIET_MS / 1000} s`),
    },
  }, o.hostGauge, o.fdBudget);
  // accept() failing once the worker listens: EMFILE at the open-files limit (or ENFILE, the
  // host's). libuv then accepts and closes the connections waiting (its reserved descriptor, see
  // uv__emfile_trick), so their clients see the connection closed without an answer, and node's
  // net.Server emits 'error', which with no listener was an uncaught exception: the worker crashed
  // and dropped every connection it held. Told once per burst; the worker serves on.
  const acceptFailures = createBurst<{ code: string }>({
    started: (f) =>
      logger.error(
        { event: 'worker.accept_failed', code: 'CORRAL_ERR_FD_LIMIT', errno: f.code, active_connections: cap.active() },
        `cannot accept connections (${f.code}): new clients are closed without an answer while ${cap.active()} connections are open; raise the open-files limit (ulimit -n, LimitNOFILE=) or lower CORRAL_WORKER_CONNECTIONS`,
      ),
    ended: (f) => logger.info({ event: 'worker.accept_failed_end', failures: f.count, ms: f.ms }, `accept() failed ${f.count} times in ${f.ms} ms, then not for ${BURST_QUIET_MS / 1000} s`),
  });
  const onServerError = (err: NodeJS.ErrnoException): void => {
    if (err.syscall !== 'accept') throw err;
    acceptFailures.count(() => ({ code: err.code ?? 'unknown' }));
  };
  attachClientErrorHandler(server, (code) => logger.debug({ event: 'request.client_error', code }), (a) => stats.parserAnswer(a));
  attachSendTimeout(server, settings.CORRAL_SEND_TIMEOUT * 1000, () => cap.connections(), (cut) => {
    cutUnsent(cut.response, cut.unsentBytes);
    logger.info(
      { event: 'request.send_timeout', method: cut.method, path: cut.path, unsent_bytes: cut.unsentBytes, remote: cut.remote, timeout_s: settings.CORRAL_SEND_TIMEOUT },
      `the client took no bytes of its answer for ${settings.CORRAL_SEND_TIMEOUT} s or more; connection closed`,
    );
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex) => refuseConnect(req, socket, (a) => stats.parserAnswer(a)));
  // An Expect other than 100-continue: refused with JSON (node's own 417 has no body).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const now = performance.now();
    if (cap.screen(req, res, now)) return;
    stats.track(req, res, now);
    refuseExpectation(req, res);
  });
  // Expect: 100-continue. node:http sends the 100 before 'request' unless told otherwise, which
  // invited a body the worker then refused (curl sends Expect with bodies over 1 MB, and uploaded
  // megabytes before reading the 413 or the 503): the 100 goes out only once the checks passed.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));

  return {
    server,
    cap,
    stats,
    isDraining: () => draining,
    listen() {
      const { host, port } = settings.CORRAL_BIND;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        // In a cluster worker the socket is the master's. With round-robin accept the first
        // worker's listen() sizes its queue; with shared accept every worker's listen() does,
        // which is why the master hands all workers the CORRAL_BACKLOG it started with.
        server.listen({ host, port, backlog: settings.CORRAL_BACKLOG }, () => {
          server.off('error', reject);
          server.on('error', onServerError);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? { address: addr.address, port: addr.port } : { address: host, port });
        });
      });
    },
    drain(gracefulMs, stopping = true) {
      if (stopping) hostStopping = true;
      // A second, shorter drain (QUIT after TERM) brings the forced close forward; a longer one
      // never pushes it back. Compared on the monotonic clock: with Date.now, a system clock
      // stepped forward meanwhile made a QUIT look later than the TERM's deadline, and the worker
      // kept draining until the master's SIGKILL.
      if (drainPromise) {
        if (monotonicNow() + gracefulMs < forceAt) scheduleForce(gracefulMs);
        return drainPromise;
      }
      draining = true;
      drainPromise = new Promise<void>((resolve) => {
        // Ends once every request is counted: a response cut at the graceful timeout closes a
        // turn of the event loop after its socket is destroyed (and after the server's own close),
        // and the figures the worker sends next must include it (the master keeps those).
        let settling = false;
        // A connection that has sent nothing since it was accepted (a browser's preconnect, a
        // client gone quiet) has no request to finish: closed once past the grace a new one gets
        // to send its first (idle-connections.ts). Left, it held the drain until
        // CORRAL_HEADERS_TIMEOUT, then got a 408 for a request it never sent.
        cap.closeSilent();
        const silentSweep = setInterval(() => cap.closeSilent(), SILENT_SWEEP_MS);
        silentSweep.unref();
        const settle = () => {
          if (settling) return;
          settling = true;
          clearInterval(silentSweep);
          const bound = setTimeout(resolve, RESPONSES_CLOSE_WAIT_MS);
          void stats.allClosed().then(() => {
            clearTimeout(bound);
            resolve();
          });
        };
        scheduleForce = (ms) => {
          // The drain is over (every connection closed, or the force already ran): a later,
          // shorter order (a QUIT read during the close hooks) has nothing left to close, and
          // said worker.drain_forced with 0 open connections.
          if (settling) return;
          clearTimeout(force);
          forceAt = monotonicNow() + ms;
          force = setTimeout(() => {
            // No graceful time at all is a fast stop (QUIT), not a timeout that was reached.
            const why = ms === 0 ? 'fast stop (no graceful time)' : `graceful timeout reached (${ms} ms)`;
            logger.warn({ event: 'worker.drain_forced', open_connections: cap.active(), graceful_ms: ms }, `${why}, closing remaining connections`);
            stats.forcedClose();
            server.closeAllConnections();
            settle();
          }, ms);
        };
        scheduleForce(gracefulMs);
        // net.Server's close, not http.Server's: since Node 19 the latter also closes idle
        // keep-alive sockets at once, racing clients that are just sending their next request on
        // them ("socket hang up"). Instead each keep-alive connection ends after its next
        // response (Connection: close) or at the keep-alive timeout, which clients anticipate.
        netClose.call(server, () => {
          clearTimeout(force);
          settle();
        });
      });
      return drainPromise;
    },
  };
}
