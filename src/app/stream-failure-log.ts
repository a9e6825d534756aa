// Answers that failed after their headers were sent (an export whose thread pool failed): the only
// signal left to the client is a cut connection, and the log is the only place that says why. A
// fault that fails every export (a pool that cannot start, a sheet the threads cannot take) would
// be a line per request: `app.stream_failed` is said at the first failure of a method and path,
// with its error, then at most once a minute with the count since; `app.stream_recovered` once an
// answer on that path is sent whole again.

import { monotonicNow } from '../clock.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { pathOfTarget } from '../http/logged-target.js';
import { RepeatedFailures } from '../log/repeated-failure.js';
import { codeOf } from '../errors.js';

function routeOf(req: IncomingMessage): string {
  return `${req.method ?? 'GET'} ${pathOfTarget(req.url)}`;
}

export class StreamFailureLog {
  private readonly failures: RepeatedFailures;
  /** Whether any answer failed yet: until then an answer sent whole costs no lookup. */
  private any = false;

  constructor(
    private readonly logger: Logger,
    now: () => number = monotonicNow,
  ) {
    this.failures = new RepeatedFailures(now);
  }

  /** An answer failed after its headers were sent. */
  failed(req: IncomingMessage, err: unknown): void {
    this.any = true;
    const route = routeOf(req);
    this.failures.failed(route, (failed, total) =>
      this.logger.error(
        { event: 'app.stream_failed', code: codeOf(err, 'CORRAL_ERR_REQUEST'), err, path: pathOfTarget(req.url), route, failed, failed_total: total },
        total === 1 ? 'response failed after headers were sent' : `response failed after headers were sent (${failed} answers on ${route} since the last such line)`,
      ),
    );
  }

  /** A handler finished without an error: its answer ends a failure of its path once sent whole. */
  answered(req: IncomingMessage, res: ServerResponse): void {
    if (!this.any || !res.writableFinished) return;
    const route = routeOf(req);
    this.failures.ended(route, (failed) =>
      this.logger.info({ event: 'app.stream_recovered', route, failed }, `answers on ${route} are sent whole again; ${failed} failed after their headers meanwhile`),
    );
  }
}
