// Refusals of CORRAL_ADMIN_TOKEN on the public port (GET /api/export), said the way the admin API
// says its own (admin.unauthorized): the first at once with who sent it, then at most once a
// minute with the count. Before, the app logged nothing but an access line, so someone guessing
// the token through the public port raised no alert, even with CORRAL_RATE_LIMIT=0 behind a proxy
// (as the README recommends), where nothing slows the guesses either. One line per refusal would
// let anyone fill the log; the token sent is never written, only whether there was one.

import type { IncomingMessage } from 'node:http';
import { monotonicNow } from '../clock.js';
import { pathOfTarget } from '../http/logged-target.js';
import type { Logger } from '../log/logger.js';
import { laterLines, RepeatedFailure } from '../log/repeated-failure.js';
import type { ClientIpResolver } from '../http/client-ip.js';

/** Counts one refused request and logs `app.admin_unauthorized` when a line is due. */
export type AdminRefusalLog = (req: IncomingMessage) => void;

export function createAdminRefusalLog(logger: Logger, clientIp: ClientIpResolver, now: () => number = monotonicNow): AdminRefusalLog {
  const refused = new RepeatedFailure(now);
  // The last refused request: a line said on the timer (a burst that stopped) names it.
  let last: { remote: string; path: string; token: 'missing' | 'wrong' } | undefined;
  const say = (requests: number) => {
    if (!last) return;
    const { remote, path, token } = last;
    logger.warn({ event: 'app.admin_unauthorized', remote, path, token, requests }, `app: ${requests} request(s) refused 401 (no or wrong CORRAL_ADMIN_TOKEN), the last from ${remote} for ${path}`);
  };
  const later = laterLines(refused, say);
  return (req) => {
    last = {
      // The client as the rate limit counts it: behind a trusted proxy, the address it forwarded.
      remote: clientIp(req),
      // The path alone: a query may hold a secret sent there by mistake (logged-target.ts).
      path: pathOfTarget(req.url),
      token: req.headers.authorization === undefined ? 'missing' : 'wrong',
    };
    refused.failed(say);
    // The rest of a burst shorter than a minute, said once the minute has passed.
    later.after();
  };
}
