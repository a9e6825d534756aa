// A tiny exact-path router: unknown paths get 404 JSON, known paths with another method get 405
// with Allow. HEAD is served by the GET handler (node:http drops the body of HEAD answers).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';
import type { RequestTarget } from './request-target.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestInfo {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path and, parsed on first use, the whole URL. */
  readonly target: RequestTarget;
}

export type Handler = (info: RequestInfo) => Promise<void> | void;

export interface Router {
  on(method: Method, path: string, handler: Handler): Router;
  /** Finds the handler or throws the 404/405 HttpError. */
  resolve(method: string, pathname: string): Handler;
}

export function createRouter(): Router {
  const routes = new Map<string, Map<string, Handler>>();
  const router: Router = {
    on(method, path, handler) {
      let byMethod = routes.get(path);
      if (!byMethod) routes.set(path, (byMethod = new Map()));
      byMethod.set(method, handler);
      return router;
    },
    resolve(method, pathname) {
      // Tolerate one trailing slash (`/api/players/`), never more.
      const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
      const byMethod = routes.get(path);
      if (!byMethod) throw new HttpError(404, 'not_found', `no route for ${path}`);
      const handler = byMethod.get(method === 'HEAD' ? 'GET' : method);
      if (handler) return handler;
      const allow = [...byMethod.keys()];
      if (allow.includes('GET')) allow.push('HEAD');
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; use ${allow.join(', ')}`, {
        headers: { Allow: allow.join(', ') },
      });
    },
  };
  return router;
}
