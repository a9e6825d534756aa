// GET /api/admin/health on the public port: load balancers ask each host this. Under corral the
// worker answers it before the app sees it, whatever its spelling (worker/health-target.ts), and
// knows of a drain; this route answers the app run on its own (tests, an embedding), with the
// same body. A 200 means this worker is serving; it is never rate limited.

import type { AppDeps } from '../deps.js';
import { sendJson } from '../http.js';
import type { Handler } from '../router.js';

export function healthRoute(deps: AppDeps): Handler {
  const { ctx } = deps;
  return ({ res }) => {
    sendJson(res, 200, { status: 'ok', worker: ctx.workerId, generation: ctx.generation });
  };
}
