// Admin authentication. (Whether the admin API may listen where it is told: config/whole-checks.ts.)
//
// Policy: GET /api/admin/health never needs a token (load balancers, systemd checks), nor GET
// /api/admin/reload (where reloads stand, outcomes without messages: systemd's ExecReload= waits on
// it). Everything else needs `Authorization: Bearer $CORRAL_ADMIN_TOKEN`. With no token configured
// (allowed only on a loopback bind), those routes answer 403 "set CORRAL_ADMIN_TOKEN": a local user
// on a shared host must not be able to reload or resize corral just because the port is on 127.0.0.1.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { fieldCount } from '../../http/field-count.js';

export type AuthResult = { ok: true } | { ok: false; error: 'admin_token_unset' | 'unauthorized' | 'bad_request'; message: string };

/**
 * Whether the request carries more than one Authorization header. node:http keeps the first and
 * drops the others, so a script whose HTTP library adds a default header before its own (an old
 * token first) was told 401 "send Authorization: Bearer $CORRAL_ADMIN_TOKEN" while it sent the right
 * one, and one with the right token first passed whatever followed. Authorization is not a list
 * (RFC 9110 §11.6.2): two are refused, as the bundled app refuses them (src/app/http.ts).
 */
function severalAuthorizations(req: IncomingMessage): boolean {
  return fieldCount(req.rawHeaders, 'authorization') > 1;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function checkAdminAuth(req: IncomingMessage, token: string | undefined): AuthResult {
  if (!token) return { ok: false, error: 'admin_token_unset', message: 'set CORRAL_ADMIN_TOKEN to use the admin API' };
  if (severalAuthorizations(req)) return { ok: false, error: 'bad_request', message: 'send one Authorization header, not several: only one of them could be read' };
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(h) : null;
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  if (!m || !timingSafeEqual(digest(m[1] ?? ''), digest(token))) {
    return { ok: false, error: 'unauthorized', message: 'send Authorization: Bearer $CORRAL_ADMIN_TOKEN' };
  }
  return { ok: true };
}
