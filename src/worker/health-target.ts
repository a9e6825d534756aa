// Which request targets ask for the worker's own health answer. Load balancers probe
// /api/admin/health as it is, but also with a query (`?lb=1`, a cache buster) or a trailing slash,
// which the app's router takes for the same route (one trailing slash tolerated): those reached
// the bundled app's health route, which knows nothing of a drain, and a stopping host answered
// 200 "ok" to them while the plain path said 503 "draining".

import { urlOfTarget } from '../http/target.js';

/** Answered by every worker, whatever the app, for load balancers. */
export const HEALTH_PATH = '/api/admin/health';

/** The path alone, once the app's router would have normalized it (dot segments, an absolute-form target). */
function normalizedPath(target: string): string | undefined {
  try {
    return urlOfTarget(target, 'http://worker.invalid').pathname;
  } catch {
    return undefined;
  }
}

/**
 * True when `target` is the health path, with any query and at most one trailing slash, or any
 * other spelling the app would route there (`/api/admin/./health`, an absolute-form target): the
 * app's own health route answered those, without the worker's drain and with a body of its own.
 * Only a target that holds `health` is parsed; every other request pays a startsWith and an
 * includes. `thorough` (a host stopping, when a 200 from the app would keep it in a load
 * balancer's rotation) parses every target, whatever spelling the app's router would take.
 */
export function isHealthTarget(target: string | undefined, thorough: boolean): boolean {
  if (target === HEALTH_PATH) return true;
  if (target === undefined) return false;
  if (target.startsWith(HEALTH_PATH)) {
    const rest = target.charCodeAt(HEALTH_PATH.length) === 0x2f ? target.slice(HEALTH_PATH.length + 1) : target.slice(HEALTH_PATH.length);
    if (rest === '' || rest[0] === '?' || rest[0] === '#') return true;
  }
  if (!thorough && !target.includes('health')) return false;
  const path = normalizedPath(target);
  return path === HEALTH_PATH || path === `${HEALTH_PATH}/`;
}
