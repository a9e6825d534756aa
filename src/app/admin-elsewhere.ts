// The admin API and the /admin dashboard are the master's, on CORRAL_ADMIN_BIND (loopback by
// default), never on the app's port: the operators' earlier Flask app served /api/admin/capacity,
// /api/admin/stats and /admin on its own port (seeds/004), so `curl :8080/api/admin/capacity` is
// what a migrated habit sends. "no route for /api/admin/capacity" read as the route missing from
// corral altogether; the 404 now says where it is. Only the setting's name, not its address, is
// said: the app's port may face the internet.

import { HttpError } from './http.js';

/** Paths the admin listener serves (GET /api/admin/health excepted: every worker answers it). */
const ADMIN_PATH = /^\/(?:api\/admin(?:\/.*)?|admin(?:\/.*)?|metrics\/?)$/;

/** `err` with a message naming the admin listener when it is a 404 for one of its paths, else `err` as it is. */
export function withAdminHint(err: unknown, pathname: string | undefined): unknown {
  if (!(err instanceof HttpError) || err.error !== 'not_found' || pathname === undefined || !ADMIN_PATH.test(pathname)) return err;
  return new HttpError(
    'not_found',
    `no route for ${pathname} on the app's port: the admin API (/api/admin/capacity, /api/admin/stats, ...), /metrics and the /admin dashboard are served by corral's master on its admin listener (CORRAL_ADMIN_BIND, 127.0.0.1:9090 unless set), with Authorization: Bearer $CORRAL_ADMIN_TOKEN`,
  );
}
