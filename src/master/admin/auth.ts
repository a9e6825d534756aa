// Admin authentication. (Whether the admin API may listen where it is told: config/whole-checks.ts.)
//
// Policy: GET /api/admin/health never needs a token (load balancers, systemd checks). Everything
// else needs `Authorization: Bearer $CORRAL_ADMIN_TOKEN`. With no token configured (allowed only on
// a loopback bind), those routes answer 403 "set CORRAL_ADMIN_TOKEN": a local user on a shared
// host must not be able to reload or resize corral just because the port is on 127.0.0.1.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

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
