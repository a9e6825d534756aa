// How long systemd gives corral for each of its phases: written into the unit by `corral
// systemd-unit` from the settings it was generated for, and sent again by the running master as
// EXTEND_TIMEOUT_USEC= from the settings it runs with (sd-notify.ts), which an edited .env and a
// reload may have made longer since.

import { bootTimeoutMs } from '../master/stuck-judgement.js';

/**
 * Seconds systemd waits after SIGTERM before SIGKILL: the drain (the graceful timeout and the
 * stop's exit margin), then the keeper's last journal flush (KEEPER_STOP_MS past the deadline,
 * stop-sequence.ts), then the master's own exit.
 */
export function timeoutStopSec(gracefulTimeout: number): number {
  return gracefulTimeout + 15;
}

/**
 * Seconds systemd waits for READY=1, at the start and after a reload's RELOADING=1 alike (systemd
 * runs TimeoutStartSec for a reload announced by notification). A reload sends READY=1 once the
 * new generation serves and the old one has drained (reload.done), and a drain takes up to
 * CORRAL_GRACEFUL_TIMEOUT: with a fixed 120 s, a graceful timeout above ~115 s and a long request
 * in flight made systemd log "Reload operation timed out" while the reload was going fine. So
 * the boot plus the drain. The boot: twice what the master gives a worker to become ready (60 s,
 * or CORRAL_TIMEOUT when longer: stuck-judgement.ts), a retry's room; a fixed 120 s timed out
 * an app that takes 160 s to load under CORRAL_TIMEOUT=200, restarting corral every 150 s.
 *
 * A reload's new worker must then stay ready for CORRAL_RELOAD_SETTLE before an old one drains:
 * each boot, the retry's too, is that much longer.
 *
 * It stays that size although a reload no longer depends on it alone: it is the whole bound of the
 * first start, which the master does not extend (a start whose workers hang fails after two boots,
 * and Restart= tries again, rather than holding `systemctl start` for CORRAL_BOOT_ATTEMPTS boots),
 * and the first bound of a reload, before the master renews it at each step (reload-bound.ts), and
 * all of it for an older master, which does not.
 */
export function timeoutStartSec(gracefulTimeout: number, timeout: number, reloadSettle: number): number {
  return Math.ceil((2 * (bootTimeoutMs(timeout * 1000) + reloadSettle * 1000)) / 1000) + gracefulTimeout;
}

/**
 * The watchdog is the last resort. The master already kills a worker silent for CORRAL_TIMEOUT and
 * boots another, and it stops pinging only while no worker is healthy and none boots within its boot
 * timeout (status-report.ts): WatchdogSec leaves room for a round of silence past CORRAL_TIMEOUT
 * and the ping interval (half of it) before systemd restarts the whole service.
 */
export function watchdogSec(timeout: number): number {
  return Math.max(30, 2 * timeout + 30);
}
