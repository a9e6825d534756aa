// A tiny exact-path router: unknown paths get 404 JSON, known paths with another method get 405
// with Allow. HEAD is served by the GET handler (node:http drops the body of HEAD answers).
// The asterisk-form target `*` names the server, not a path (RFC 9112 §3.2.4): `OPTIONS *` answers
// 204 with the methods of all routes in Allow, any other method with it is a 400.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';
import { ASTERISK, isPlainPath, type RequestTarget } from './request-target.js';

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

/** An Allow value: the methods given, HEAD after GET (served by its handler), in a stable order. */
function allowOf(methods: Iterable<string>): string[] {
  const allow = [...new Set(methods)];
  if (allow.includes('GET') && !allow.includes('HEAD')) allow.splice(allow.indexOf('GET') + 1, 0, 'HEAD');
  return allow;
}

/** The answer to OPTIONS on a path: no body, its methods in Allow. */
function pathOptions(allow: readonly string[]): Handler {
  return ({ res }) => {
    res.writeHead(204, { Allow: allow.join(', ') });
    res.end();
  };
}

export function createRouter(): Router {
  const routes = new Map<string, Map<string, Handler>>();
  /** `OPTIONS *`: what the server takes on any of its paths, and OPTIONS itself (RFC 9110 §9.3.7). */
  const serverOptions: Handler = ({ res }) => {
    const methods = [...routes.values()].flatMap((byMethod) => [...byMethod.keys()]);
    res.writeHead(204, { Allow: allowOf([...methods, 'OPTIONS']).join(', ') });
    res.end();
  };
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
      if (pathname === ASTERISK) {
        if (method === 'OPTIONS') return serverOptions;
        throw new HttpError('bad_request', `the request target * (asterisk-form) is for OPTIONS only; send ${method} to a path`);
      }
      // Tolerate one trailing slash (`/api/players/`), never more.
      const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
      const byMethod = routes.get(path);
      // The path as the client sent it (less its query): `/api/players//` was said to be `/api/players/`.
      if (!byMethod) throw new HttpError('not_found', `no route for ${pathname}`);
      const handler = byMethod.get(method === 'HEAD' ? 'GET' : method);
      if (handler) return handler;
      const allow = allowOf([...byMethod.keys(), 'OPTIONS']);
      // OPTIONS on a path says what it takes (RFC 9110 §9.3.7), as `OPTIONS *` does for the server,
      // which names OPTIONS among the methods: a route that refused it with a 405 contradicted that.
      if (method === 'OPTIONS') return pathOptions(allow);
      throw new HttpError('method_not_allowed', `${method} is not allowed on ${path}; use ${allow.join(', ')}`, {
        headers: { Allow: allow.join(', ') },
      });
    },
  };
  return router;
}
