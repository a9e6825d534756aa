// When workers wait for the keeper: at first boot, so the first requests find it (but not
// forever), and after a reload changed its settings, until the new keeper is ready, its failures
// roll the reload back, or it cannot boot even with the settings it ran with.

import { EXIT_MARGIN_MS } from './drain.js';

/** At first boot, workers wait this long for the keeper (it normally needs well under a second). */
export const KEEPER_FIRST_WAIT_MS = 10_000;
/** The time a keeper drained for a restart (new settings or build) has to flush its journal. */
export const KEEPER_RESTART_DRAIN_MS = 5000;
/**
 * How long workers wait for the new keeper when the master restarts it (IPC 'keeper-restarting'),
 * rather than answer 503: the old keeper's drain and its exit margin (EXIT_MARGIN_MS, 2 s, before
 * SIGKILL), then a boot with room to spare (0.3 to 1.2 s measured, longer on a loaded host). Past
 * it the keeper is failing to boot, and a 503 with Retry-After serves a client better than a hang;
 * it stays well inside the 60 s a proxy (nginx's proxy_read_timeout) or a client waits by default.
 */
export const KEEPER_RESTART_WAIT_MS = KEEPER_RESTART_DRAIN_MS + EXIT_MARGIN_MS + 5000;
/** After a serving keeper crashed: the workers wait this long past its respawn for it to boot. */
export const KEEPER_CRASH_BOOT_WAIT_MS = 5000;
/** A crashed keeper respawned later than this (a crash loop's backoff): the workers are not told to wait. */
export const KEEPER_CRASH_NOTICE_MAX_DELAY_MS = 1000;
/** Failed boots of the keeper, restarted by a reload with new settings, before that reload is rolled back. */
export const KEEPER_RELOAD_ATTEMPTS = 3;

/** At first boot, with the keeper not ready: whether workers still wait for it. */
export function waitForFirstKeeper(o: { readonly failures: number; readonly bootAttempts: number; readonly sinceStartMs: number }): boolean {
  return o.failures < o.bootAttempts && o.sinceStartMs < KEEPER_FIRST_WAIT_MS;
}

/**
 * While the keeper restarts for new settings: `ready` (workers go on), `roll-back` (the reload's
 * settings keep it from booting), `give-up` (stop waiting, the workers go on without it), or
 * `wait` (the old generation keeps serving, from its caches, while the new keeper starts).
 */
export function keeperRestartStep(o: { readonly keeperReady: boolean; readonly reloading: boolean; readonly failures: number; readonly bootAttempts: number }): 'ready' | 'roll-back' | 'give-up' | 'wait' {
  if (o.keeperReady) return 'ready';
  // Checked before the branch below, with its bound at most CORRAL_BOOT_ATTEMPTS: with fewer
  // attempts allowed, that one fired first and the reload completed on the broken settings.
  // The new settings keep the keeper from booting (a credentials file that is not there):
  // go back to the settings it ran with, as a reload whose workers cannot boot does.
  if (o.reloading && o.failures >= Math.min(KEEPER_RELOAD_ATTEMPTS, o.bootAttempts)) return 'roll-back';
  // Not even with the settings it ran with: stop waiting, the workers go on without it.
  if (o.failures >= o.bootAttempts) return 'give-up';
  return 'wait';
}
