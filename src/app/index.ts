// The bundled players app (the default CORRAL_APP): login, roster, events, export, health.
// Order of work per request: find the path (request-target.ts) and its handler → health (never
// limited) → per-IP rate limit (keyed by client-ip.ts's clientKey: the address, an IPv6 client's
// /64) → route. A request with no handler (400 bad target, 404, 405) is counted by the same limit
// without waiting for the count, and refused with 429 once this worker knows its client is over.
// POST /api/login adds a host-wide limit on failed logins per name (login-limit.ts), counted by all
// the sheet's hosts together with REDIS_URL; a login sending the proof of an earlier login
// (login-proof.ts) is counted against that proof instead.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AppContext } from '../contract.js';
import { withAdminHint } from './admin-elsewhere.js';
import { createAdminRefusalLog } from './admin-refusals.js';
import { clientKey, createClientIpResolver } from '../http/client-ip.js';
import { createDeps } from './deps.js';
import { createCsvPool } from './export/pool.js';
import { HttpError, sendError } from './http.js';
import { createLoginLimit, sharedAcrossHosts } from './login-limit.js';
import { applyRateLimitHeaders, createRateLimit, tooManyRequests } from './rate-limit.js';
import { RequestTarget } from './request-target.js';
import { createRouter, type Handler } from './router.js';
import { loginRoute, meRoute } from './routes/auth.js';
import { eventsRoute } from './routes/events.js';
import { exportRoute } from './routes/export.js';
import { healthRoute } from './routes/health.js';
import { playersRoute } from './routes/players.js';
import { loadSessionSecret } from './secret.js';
import { createSessions } from './session.js';
import { describeError } from '../errors.js';
import { FIRST_LINES_PER_MINUTE, RequestErrorLog } from '../log/request-errors.js';
import { dropBodyAndClose } from '../http/lingering-close.js';
import { pathOfTarget } from '../http/logged-target.js';
import { StreamFailureLog } from './stream-failure-log.js';

export const HEALTH_PATH = '/api/admin/health';

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export async function createApp(ctx: AppContext): Promise<RequestListener> {
  const { settings, logger } = ctx;
  const secret = await loadSessionSecret(settings.CORRAL_SESSION_SECRET, settings.CORRAL_DATA_DIR ?? 'data', ctx.generationReadyAt);
  const sessions = createSessions(secret, settings.CORRAL_SESSION_TTL);
  const clientIp = createClientIpResolver(settings.CORRAL_TRUSTED_PROXIES);
  const deps = createDeps(ctx, sessions, createAdminRefusalLog(logger, clientIp));
  const rateLimit = await createRateLimit({ perMinute: settings.CORRAL_RATE_LIMIT, logger, hostCounters: ctx.hostCounters });
  const loginLimit = await createLoginLimit({
    failures: settings.CORRAL_LOGIN_FAILURES_PER_NAME,
    logger,
    hostCounters: ctx.hostCounters,
    // Read at each login: the worker creates its Sheets client on first use.
    shared: sharedAcrossHosts(settings) ? () => ctx.sheets : undefined,
  });
  const pool = createCsvPool(settings.CORRAL_EXPORT_THREADS);
  ctx.onClose(() => pool.close());

  const health = healthRoute(deps);
  const router = createRouter()
    .on('GET', HEALTH_PATH, health)
    .on('POST', '/api/login', loginRoute(deps, loginLimit))
    .on('GET', '/api/players', playersRoute(deps))
    .on('GET', '/api/me', meRoute(deps))
    .on('POST', '/api/events', eventsRoute(deps))
    .on('GET', '/api/export', exportRoute(deps, pool));

  // Not async: a handler that answers synchronously (a held cached read) costs no promise.
  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const raw = req.url ?? '/';
    const method = req.method ?? 'GET';
    const known = router.exact(method, raw);
    let target: RequestTarget | undefined;
    let handler: Handler;
    try {
      target = known ? RequestTarget.plainPath(raw) : new RequestTarget(raw);
      handler = known ?? router.resolve(method, target.pathname);
    } catch (err) {
      // No handler (400, 404, 405): counted, so a scanner probing paths runs out of budget, but
      // answered at once (no wait for the master) unless this worker knows the client is over.
      const refused = rateLimit?.count(clientKey(clientIp(req)));
      throw refused ? tooManyRequests(refused) : withAdminHint(err, target?.pathname);
    }
    if (handler === health || !rateLimit) return handler({ req, res, target });
    return rateLimit.consume(clientKey(clientIp(req))).then((decision) => {
      // The worker may have answered while the count was asked (a chunked body over
      // CORRAL_LIMIT_REQUEST_BODY_BYTES gets its 413 there): nothing left to do.
      if (res.headersSent) return;
      if (!decision.allowed) throw tooManyRequests(decision);
      applyRateLimitHeaders(res, decision);
      return handler({ req, res, target });
    });
  }

  logger.info(
    { event: 'app.ready', rate_limit: settings.CORRAL_RATE_LIMIT, login_failures_per_name: settings.CORRAL_LOGIN_FAILURES_PER_NAME, sheets: ctx.sheets?.backend ?? 'none' },
    'players app ready',
  );

  const handlerErrors = new RequestErrorLog(({ held, first }) =>
    logger.error(
      { event: 'app.errors_held', code: 'CORRAL_ERR_REQUEST', held, first },
      first
        ? `over ${FIRST_LINES_PER_MINUTE} distinct request failures this minute: the others are counted, not said one by one`
        : `${held} distinct request failures in the last minute not said one by one`,
    ),
  );
  const streamFailures = new StreamFailureLog(logger);
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    if (res.destroyed && !res.headersSent) {
      // The client went away (mid-upload, say): nobody to answer, and not a fault of the server.
      logger.debug({ event: 'request.aborted', path: pathOfTarget(req.url), err: (err as Error).message }, 'client closed the connection before its answer');
      return;
    }
    if (res.writableEnded) {
      // Already answered in full (the worker's 413 for a body over its limit, which also ends the
      // body this handler was reading): not a failure of the answer.
      logger.debug({ event: 'request.already_answered', path: pathOfTarget(req.url), err: (err as Error).message }, 'the request was answered before its handler failed');
      return;
    }
    if (res.headersSent) {
      // Mid-stream failure (an export): the only honest signal left is cutting the connection.
      streamFailures.failed(req, err);
      // Too late for the client, but the access line and the error count must not read it as a
      // client that went away (499).
      res.statusCode = 500;
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      // A body left unread (a 413, a 404 for a POST) is not worth reading through for keep-alive:
      // the connection closes, but only once the client has sent it (read and dropped, within a
      // bound), else the client, still uploading, gets a reset instead of this answer. A request
      // without a body keeps its connection (req.complete is still false while the handler runs
      // synchronously, so it cannot tell the two apart).
      if (!req.complete && hasBody(req)) dropBodyAndClose(req, res);
      sendError(res, err);
      return;
    }
    // A bug on a route fails every request to it: said once with the stack, then at most once a
    // minute with the count, whatever the paths it comes with (request-errors.ts).
    // The path alone: the same failure comes with any query, and a query may hold a secret (logged-target.ts).
    const d = describeError(err);
    const path = pathOfTarget(req.url);
    handlerErrors.failed({ method: req.method, ...d }, (requests) =>
      logger.error({ event: 'app.error', code: 'CORRAL_ERR_REQUEST', err, method: req.method, path, requests }, 'request handler failed'),
    );
    sendError(res, new HttpError('internal_error', 'internal error; the log has the details'));
  };

  return (req, res) => {
    try {
      const pending = handle(req, res);
      if (pending)
        pending.then(
          () => streamFailures.answered(req, res),
          (err: unknown) => fail(req, res, err),
        );
    } catch (err) {
      fail(req, res, err);
    }
  };
}
