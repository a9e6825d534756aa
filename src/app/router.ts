// A tiny exact-path router: unknown paths get 404 JSON, known paths with another method get 405
// with Allow. HEAD is served by the GET handler (node:http drops the body of HEAD answers).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';
import { isPlainPath, type RequestTarget } from './request-target.js';

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
  /**
   * The handler when `target` (the request target as received) is exactly one of the registered
   * paths, else undefined: most requests name a route as it was registered, and need neither
   * normalizing nor resolve().
   */
  exact(method: string, target: string): Handler | undefined;
}

export function createRouter(): Router {
  const routes = new Map<string, Map<string, Handler>>();
  const router: Router = {
    on(method, path, handler) {
      // exact() compares request targets as received with these paths, which is only right for
      // paths that URL parsing leaves as they are.
      if (!isPlainPath(path)) throw new Error(`route path ${JSON.stringify(path)} is not a plain path (/segment/...)`);
      let byMethod = routes.get(path);
      if (!byMethod) routes.set(path, (byMethod = new Map()));
      byMethod.set(method, handler);
      return router;
    },
    exact(method, target) {
      return routes.get(target)?.get(method === 'HEAD' ? 'GET' : method);
    },
    resolve(method, pathname) {
      // Tolerate one trailing slash (`/api/players/`), never more.
      const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
      const byMethod = routes.get(path);
      if (!byMethod) throw new HttpError('not_found', `no route for ${path}`);
      const handler = byMethod.get(method === 'HEAD' ? 'GET' : method);
      if (handler) return handler;
      const allow = [...byMethod.keys()];
      if (allow.includes('GET')) allow.push('HEAD');
      throw new HttpError('method_not_allowed', `${method} is not allowed on ${path}; use ${allow.join(', ')}`, {
        headers: { Allow: allow.join(', ') },
      });
    },
  };
  return router;
}
