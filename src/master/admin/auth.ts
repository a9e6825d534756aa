// Admin authentication and the startup safety check.
//
// Policy: GET /api/admin/health never needs a token (load balancers, systemd checks). Everything
// else needs `Authorization: Bearer $CORRAL_ADMIN_TOKEN`. With no token configured (allowed only on
// a loopback bind), those routes answer 403 "set CORRAL_ADMIN_TOKEN": a local user on a shared
// host must not be able to reload or resize corral just because the port is on 127.0.0.1.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Settings } from '../../config/schema.js';
import { CorralError } from '../../errors.js';
import { isLoopbackHost } from '../../loopback.js';

export type AuthResult = { ok: true } | { ok: false; error: 'admin_token_unset' | 'unauthorized'; message: string };

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function checkAdminAuth(req: IncomingMessage, token: string | undefined): AuthResult {
  if (!token) return { ok: false, error: 'admin_token_unset', message: 'set CORRAL_ADMIN_TOKEN to use the admin API' };
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(h) : null;
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  if (!m || !timingSafeEqual(digest(m[1] ?? ''), digest(token))) {
    return { ok: false, error: 'unauthorized', message: 'send Authorization: Bearer $CORRAL_ADMIN_TOKEN' };
  }
  return { ok: true };
}

/** Throws CORRAL_ERR_ADMIN_UNSAFE when the admin API would listen beyond loopback without a token. */
export function assertAdminBindSafe(settings: Pick<Settings, 'CORRAL_ADMIN_BIND' | 'CORRAL_ADMIN_TOKEN'>): void {
  const { host, port } = settings.CORRAL_ADMIN_BIND;
  // Port 0 binds an ephemeral port on that host: just as reachable, so it is checked too.
  if (isLoopbackHost(host) || settings.CORRAL_ADMIN_TOKEN) return;
  throw new CorralError(
    'CORRAL_ERR_ADMIN_UNSAFE',
    `CORRAL_ADMIN_BIND=${host}:${port} is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset; set a token (at least 16 characters) or bind to 127.0.0.1`,
  );
}
