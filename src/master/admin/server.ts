// The admin HTTP listener, run by the master on CORRAL_ADMIN_BIND. It reads arbiter snapshots and
// records intents through AdminView only, so it answers even when every worker is stuck. Every
// answer is read from one settled state: intents recorded so far (a signal in the same turn, an
// earlier request) are handled first, then read, and again after the request records its own.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CorralError, describeError, statusOf, type HttpErrorCode, codeOf } from '../../errors.js';
import { sendJson } from '../../http/json.js';
import { dropBodyAndClose } from '../../http/lingering-close.js';
import { pathOfTarget } from '../../http/logged-target.js';
import { urlOfTarget } from '../../http/target.js';
import { unsupportedVersion } from '../../http/version.js';
import type { Logger } from '../../log/logger.js';
import { laterLines, RepeatedFailure, RepeatedFailures } from '../../log/repeated-failure.js';
import { MAX_WORKERS } from '../../config/schema-daemon.js';
import { checkAdminAuth } from './auth.js';
import { AdminBodyError, readAdminJson } from './body.js';
import { answerClientErrors } from './client-error.js';
import { capacityFromView, reloadOf, statsOf } from './figures.js';
import { healthOf } from './health.js';
import { checkAdminHost } from './host-check.js';
import type { AdminMetrics } from './metrics.js';
import { startMonitoring, type Monitoring } from './monitoring.js';
import { reloadAnswer } from './reload-answer.js';
import { loadDashboard, type StaticFile } from './static.js';
import type { AdminView } from './view.js';

export interface AdminServerOptions {
  /** Overrides CORRAL_ADMIN_BIND's host/port (tests use port 0). */
  readonly host?: string;
  readonly port?: number;
  /** The master's monitoring; when absent the server starts (and later stops) its own. */
  readonly monitoring?: Monitoring;
  /** Overrides the time a client has to send its headers, and its whole request (tests use short ones). */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface AdminServer {
  readonly port: number;
  /** The address it is bound to (a host name in CORRAL_ADMIN_BIND is resolved to one). */
  readonly address: string;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/** Open connections the admin listener holds at most: dashboards, a scraper and the CLI need a few. */
export const ADMIN_MAX_CONNECTIONS = 64;

const send = (res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void => sendJson(res, status, body, headers);

const fail = (res: ServerResponse, error: HttpErrorCode, message: string, headers: Record<string, string> = {}) =>
  send(res, statusOf(error), { success: false, error, message }, headers);

// The dashboard page loads only its own files and talks only to this origin.
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
};

const ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/api/admin/health': ['GET'],
  '/api/admin/capacity': ['GET'],
  '/api/admin/stats': ['GET'],
  '/api/admin/history': ['GET'],
  '/metrics': ['GET'],
  '/api/admin/reload': ['GET', 'POST'],
  '/api/admin/workers': ['POST'],
};

export async function startAdminServer(view: AdminView, logger: Logger, options: AdminServerOptions = {}): Promise<AdminServer> {
  const bind = view.settings().CORRAL_ADMIN_BIND;
  const host = options.host ?? bind.host;
  const port = options.port ?? bind.port;
  const ownMonitoring = options.monitoring === undefined;
  const monitoring = options.monitoring ?? startMonitoring(view, logger);
  // Built at the first scrape: prom-client and what it loads (some ninety modules) took 0.13 s of
  // CPU at every master start, for a page many installs never scrape.
  let metrics: Promise<AdminMetrics> | undefined;
  // A load that failed is not kept: loaded from disk long after the start, the module (or
  // prom-client) may be missing or half written just then (an upgrade in place: npm ci, a build),
  // and a kept failure answered every scrape 500 until a restart, the files long whole again.
  const loadMetrics = () =>
    (metrics ??= import('./metrics.js').then(
      (m) => m.createAdminMetrics(view, () => monitoring.host.latest(), monitoring.host.intervalMs),
      (err: unknown) => {
        metrics = undefined;
        throw err;
      },
    ));
  let files: Map<string, StaticFile>;
  try {
    files = await loadDashboard();
  } catch (err) {
    // The API is worth more than the page: serve it without the dashboard and say why.
    logger.error({ event: 'admin.dashboard_missing', code: 'CORRAL_ERR_ADMIN_DASHBOARD', err }, 'the /admin dashboard files could not be read; the admin API still works');
    files = new Map();
  }

  // Requests with a wrong or missing token (a script with an old token, someone guessing): said at
  // the first with who sent it, then at most once a minute with the count; the 401s themselves
  // cost the sender nothing, so a line each would let anyone fill the log.
  const refused = new RepeatedFailure();
  // The last refused request: a line said on the timer (a burst that stopped) names it.
  let lastRefused: { remote: string | null; path: string; token: 'missing' | 'wrong' } | undefined;
  const sayRefusedLine = (requests: number) => {
    if (!lastRefused) return;
    const { remote, path, token } = lastRefused;
    logger.warn({ event: 'admin.unauthorized', remote, path, token, requests }, `admin API: ${requests} request(s) refused 401 (no or wrong CORRAL_ADMIN_TOKEN), the last from ${remote ?? 'an unknown address'} for ${path}`);
  };
  // A burst shorter than a minute (guessed tokens) is said in full once the minute has passed,
  // not left at its first line's count until a refusal that may never come.
  const refusedLater = laterLines(refused, sayRefusedLine);
  const sayRefused = (req: IncomingMessage, path: string) => {
    lastRefused = { remote: req.socket.remoteAddress ?? null, path, token: req.headers.authorization === undefined ? 'missing' : 'wrong' };
    refused.failed(sayRefusedLine);
    refusedLater.after();
  };

  const serveFile = (req: IncomingMessage, res: ServerResponse, f: StaticFile) => {
    if (req.headers['if-none-match'] === f.etag) {
      // The headers a 200 would carry but the body's: a cache updates its stored ones from a 304
      // (RFC 9110, 15.4.5), so the page keeps its CSP and frame refusal however it was revalidated.
      res.writeHead(304, { ...PAGE_HEADERS, ETag: f.etag, 'Cache-Control': 'no-cache' });
      res.end();
      return;
    }
    res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': f.type, 'Content-Length': f.body.length, ETag: f.etag, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = urlOfTarget(req.url ?? '/', 'http://admin.invalid');
    } catch {
      return fail(res, 'bad_request', 'the request target is not a valid URL');
    }
    const path = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    // As the workers refuse it (it was answered as HTTP/1.1, with a 200).
    const version = unsupportedVersion(req);
    if (version !== undefined) return fail(res, 'http_version_not_supported', version, { Connection: 'close' });
    // Before any route, the dashboard's files and health included: see host-check.ts.
    const hostCheck = checkAdminHost(req, host);
    if (!hostCheck.ok) return fail(res, hostCheck.error, hostCheck.message, hostCheck.error === 'host_not_allowed' ? {} : { Connection: 'close' });

    if (path === '/') {
      if (method !== 'GET') return fail(res, 'method_not_allowed', `${req.method} is not allowed on /; use GET, HEAD`, { Allow: 'GET, HEAD' });
      // The page's framing refusal too: a redirect is a document a browser may render or frame.
      res.writeHead(302, { ...PAGE_HEADERS, Location: '/admin', 'Cache-Control': 'no-store', 'Content-Length': 0 });
      res.end();
      return;
    }
    // Static dashboard files carry no data; the page asks for the token and sends it with every API call.
    const file = files.get(path);
    if (file) {
      if (method !== 'GET') return fail(res, 'method_not_allowed', `${req.method} is not allowed on ${path}; use GET, HEAD`, { Allow: 'GET, HEAD' });
      return serveFile(req, res, file);
    }
    const allowed = ROUTES[path];
    if (!allowed) return fail(res, 'not_found', `no admin route for ${path}`);
    if (!allowed.includes(method)) {
      const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
      return fail(res, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow.join(', ')}`, { Allow: allow.join(', ') });
    }

    // Before the first read: a document read partly before and partly after an intent is handled
    // would list the children of one state and count the workers of the other.
    view.settle();
    if (path === '/api/admin/health') {
      const { status, ready, expected, notBeating, keeper, journal } = healthOf(view);
      const keeperDown = keeper !== undefined;
      const wait = view.respawnWait();
      const keeperWait = keeperDown ? view.keeperRespawnWait() : undefined;
      // The capacity status and share, as the workers' own health answers carry them: the seeds'
      // uptime check alerts on capacity.status == "FULL" or capacity.percent_used >= 90 in the
      // health answer beside /api/admin/capacity, and never fired here, where neither was.
      const capacity = capacityFromView(view);
      return send(res, ready > 0 ? 200 : 503, {
        status,
        workers_ready: ready,
        workers_expected: expected,
        ...(notBeating > 0 ? { workers_not_beating: notBeating } : {}),
        // Why none may be ready: a stop has begun, not an outage (corral status says so).
        ...(view.stopping() ? { stopping: true } : {}),
        // Why none may be ready yet: the first workers boot (corral status says "starting").
        ...(view.starting() && !view.stopping() ? { starting: true } : {}),
        ...(keeperDown ? { keeper } : {}),
        ...(journal ? { journal } : {}),
        ...(keeperWait ? { keeper_respawn_in_ms: keeperWait.inMs } : {}),
        ...(wait ? { respawn_in_ms: wait.inMs } : {}),
        capacity: { status: capacity.status, percent_used: capacity.percent_used },
      });
    }

    // Where reloads stand, without a token as health: `corral reload --wait` (systemd's ExecReload=,
    // as the service's user) follows the reload it signalled with it. Outcomes and codes only.
    // Its pid too: the command that signalled a master by its pidfile checks that this is the one.
    if (path === '/api/admin/reload' && method === 'GET') return send(res, 200, { success: true, master_pid: process.pid, ...reloadOf(view, false), stopping: view.stopping() });

    const auth = checkAdminAuth(req, view.settings().CORRAL_ADMIN_TOKEN);
    if (!auth.ok) {
      if (auth.error === 'unauthorized') sayRefused(req, path);
      return fail(res, auth.error, auth.message, auth.error === 'unauthorized' ? { 'WWW-Authenticate': 'Bearer realm="corral-admin"' } : {});
    }

    // The arbiter drops these intents once a shutdown has begun: say so rather than 202.
    if (method === 'POST' && view.stopping()) return fail(res, 'shutting_down', 'corral is shutting down; reload and worker-count changes are ignored');

    switch (path) {
      case '/api/admin/capacity':
        return send(res, 200, { success: true, capacity: capacityFromView(view) });
      case '/api/admin/stats': {
        const latest = monitoring.history.latest();
        // Over the 5 s before this answer, not the last 5-second sample (up to 5 s late).
        const rates = monitoring.ratesNow();
        return send(res, 200, statsOf(view, { host: monitoring.host.latest(), hostIntervalMs: monitoring.host.intervalMs, rates, upstreamPerMinute: latest?.upstream_per_min ?? null, alerts: monitoring.alerts.active() }));
      }
      case '/api/admin/history':
        return send(res, 200, { success: true, interval_s: 5, samples: monitoring.history.samples() });
      case '/metrics': {
        const loaded = await loadMetrics();
        // The first scrape waited for the module: an intent may have arrived meanwhile.
        view.settle();
        const text = await loaded.render();
        res.writeHead(200, { 'Content-Type': loaded.contentType, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
        res.end(text);
        return;
      }
      case '/api/admin/reload': {
        view.requestReload();
        view.settle();
        const outcome = view.reloadOutcome();
        logger.info({ event: 'admin.reload', remote: req.socket.remoteAddress, outcome: outcome?.outcome ?? null }, `reload requested through the admin API: ${outcome?.outcome ?? 'dropped'}`);
        const answer = reloadAnswer(outcome, view.generation());
        return send(res, answer.status, answer.body);
      }
      case '/api/admin/workers': {
        let body: Record<string, unknown>;
        try {
          body = await readAdminJson(req, { example: '{"delta":1} or {"delta":-1}', fields: ['delta'] });
        } catch (err) {
          if (!(err instanceof AdminBodyError)) {
            // The client went away before its whole body came (or was cut off as too slow, answered
            // 408 by answerClientErrors): nobody to answer, and no fault of the master's to log.
            if (req.socket.destroyed || !req.socket.writable) return;
            throw err;
          }
          // The rest of a body too large is not kept for keep-alive: the connection closes once the
          // client has sent it (read and dropped, within a bound), so it reads the 413, not a reset.
          if (err.status === 413) dropBodyAndClose(req, res);
          if (err.field !== undefined) return send(res, err.status, { success: false, error: err.error, field: err.field, message: err.message });
          return fail(res, err.error, err.message);
        }
        const delta = body.delta;
        if (delta !== 1 && delta !== -1) return send(res, statusOf('invalid_field'), { success: false, error: 'invalid_field', field: 'delta', message: 'delta must be 1 or -1' });
        // Intents may have been recorded while the body arrived, a stop among them.
        view.settle();
        if (view.stopping()) return fail(res, 'shutting_down', 'corral is shutting down; reload and worker-count changes are ignored');
        const before = view.expectedWorkers();
        if (delta === -1 && before <= 1) return fail(res, 'min_workers', 'corral keeps at least one worker');
        if (delta === 1 && before >= MAX_WORKERS) return fail(res, 'max_workers', `corral runs at most ${MAX_WORKERS} workers (the bound of CORRAL_WORKERS)`);
        view.requestWorkerDelta(delta);
        view.settle();
        logger.info({ event: 'admin.workers', delta, before, remote: req.socket.remoteAddress }, `worker count change ${delta > 0 ? '+1' : '-1'} requested through the admin API`);
        // Read again rather than before + delta: what the master steers towards with this change.
        return send(res, 202, { success: true, delta, workers_expected_before: before, workers_expected: view.expectedWorkers() });
      }
    }
  }

  // A bug behind a route fails every request to it, and a dashboard polls its routes every few
  // seconds: said once per path and error with the stack, then at most once a minute with the count.
  const handlerErrors = new RepeatedFailures();
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  // Node checks these timeouts every connectionsCheckingInterval (30 s by default), so a 30 s
  // request timeout cut a slow client off anywhere between 30 and 60 s.
  // requireHostHeader off: an HTTP/1.1 request without Host is answered in JSON (host-check.ts).
  const server = createServer({ connectionsCheckingInterval: Math.min(1000, headersTimeout), requireHostHeader: false }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const d = describeError(err);
      // The path alone: a query may hold a secret sent there by mistake (logged-target.ts).
      const path = pathOfTarget(req.url);
      handlerErrors.failed(`${req.method} ${path} ${d.code ?? ''} ${d.message}`, (requests) =>
        logger.error({ event: 'admin.error', code: codeOf(d, 'CORRAL_ERR_REQUEST'), err, method: req.method, path, requests }, 'admin request failed'),
      );
      if (!res.headersSent) fail(res, 'internal_error', 'admin request failed; see the master log');
      else res.destroy();
    });
  });
  // Admin clients are few; idle keep-alive sockets should not linger past a dashboard refresh.
  // Every admin connection holds one of the master's file descriptors, the ones its IPC pipes,
  // forks and (with round-robin accept) every new connection need too: without a cap any local user could open thousands of
  // idle sockets here and starve the master itself. Over the cap Node closes a new connection at
  // once; only the admin API is then refused, and only while they are held.
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  server.keepAliveTimeout = 10_000;
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  answerClientErrors(server);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      if (ownMonitoring) monitoring.close();
      reject(new CorralError('CORRAL_ERR_LISTEN', `admin listener cannot bind ${host}:${port}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port: actual, address: boundAddress } = server.address() as AddressInfo;
  logger.info({ event: 'admin.listening', host, port: actual, token: Boolean(view.settings().CORRAL_ADMIN_TOKEN) }, `admin API on http://${host.includes(':') ? `[${host}]` : host}:${actual}/admin`);

  let closing: Promise<void> | undefined;
  return {
    port: actual,
    address: boundAddress,
    close() {
      closing ??= new Promise<void>((resolve) => {
        refusedLater.close();
        if (ownMonitoring) monitoring.close();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Dashboards hold keep-alive sockets; admin requests are instant, so do not wait on them.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      return closing;
    },
  };
}
