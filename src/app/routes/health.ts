// GET /api/admin/health on the public port: load balancers ask each host this. It answers from the
// worker itself, so a 200 means this worker is serving; it is never rate limited.

import type { AppDeps } from '../deps.js';
import { sendJson } from '../http.js';
import type { Handler } from '../router.js';

export function healthRoute(deps: AppDeps): Handler {
  const { ctx } = deps;
  return ({ res }) => {
    sendJson(res, 200, { status: 'ok', worker: ctx.workerId, generation: ctx.generation, pid: process.pid });
  };
}
